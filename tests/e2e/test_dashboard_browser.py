"""The dashboard in a real headless Chromium, against the real app on SQLite.

The store holds ten days of demo traffic (``attributionhub.demo``) ending a few minutes
ago, so the dashboard's default window (the last 7 days, in the browser's time zone) has
every kind of data. The browser runs in ``America/New_York`` (DevTools'
``Emulation.setTimezoneOverride``), and the tests compute the same window with
``zoneinfo`` to ask GraphQL for the answers the page must show.

Set ``ATTRIBUTIONHUB_UPDATE_SCREENSHOT=1`` to write the README's screenshot,
``docs/dashboard.png``, from the first test.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from attributionhub.demo import generate_events
from tests.e2e.browser_support import CHROMIUM, NO_CHROMIUM, Browser, Tab, chromium

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

ZONE = "America/New_York"
DEMO_EVENTS = 6_000
DEMO_DAYS = 10
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
READY_TIMEOUT = 20.0
JsonDict = dict[str, Any]


@dataclass
class Served:
    client: TestClient[Any, Any]
    api_key: str

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.client.port}"

    async def graphql(self, query: str, variables: JsonDict) -> JsonDict:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authentication": self.api_key},
        )
        body: JsonDict = await response.json()
        assert response.status == 200, body
        assert "errors" not in body, body
        data: JsonDict = body["data"]
        return data


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    store = await SqliteStore.open(tmp_path / "dashboard.db")
    try:
        app = init(Settings(access_log=False), store=store, clock=SystemClock())
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            service = app[SERVICE]
            site = await service.create_site("Dashboard test")
            now = datetime.now(UTC)
            events = list(
                generate_events(
                    count=DEMO_EVENTS,
                    start=now - timedelta(days=DEMO_DAYS),
                    end=now - timedelta(minutes=5),
                )
            )
            for i in range(0, len(events), 5_000):
                await service.ingest(site.site.site_id, events[i : i + 5_000])
            yield Served(client=client, api_key=site.api_key)
    finally:
        await store.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with chromium(tmp_path / "chromium-profile") as browser:
        yield browser


async def open_tab(browser: Browser, *, width: int = 1280, height: int = 900) -> Tab:
    tab = await browser.new_tab()
    await tab.send("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    await tab.set_viewport(width, height, mobile=width < 600)
    return tab


async def sign_in(tab: Tab, served: Served, key: str | None = None) -> None:
    """Types the key and presses Enter, as a keyboard user would."""
    await tab.navigate(served.origin + "/")
    await tab.wait_for(
        "document.readyState === 'complete' && !document.getElementById('sign-in').hidden"
    )
    await tab.evaluate("document.getElementById('api-key').focus()")
    await tab.send("Input.insertText", {"text": key if key is not None else served.api_key})
    await tab.press("Enter", "Enter", 13, "\r")


async def wait_ready(tab: Tab) -> None:
    await tab.wait_for(
        "document.getElementById('main').dataset.state === 'ready'", within=READY_TIMEOUT
    )


async def after(tab: Tab, action: str) -> None:
    """Runs ``action`` in the page and waits until every panel it reloaded is drawn."""
    await tab.evaluate(f"document.getElementById('main').dataset.state = 'stale'; {action}")
    await wait_ready(tab)


async def texts(tab: Tab, selector: str) -> list[str]:
    value = await tab.evaluate(
        f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent.trim())"
    )
    assert isinstance(value, list)
    return [str(v) for v in value]


async def text(tab: Tab, selector: str) -> str:
    [found] = await texts(tab, selector)
    return found


def number(shown: str) -> float:
    return float(shown.replace(",", "").split()[0])


def default_window() -> JsonDict:
    """The dashboard's default: the last 7 days of the browser's zone, today included,
    from the first instant of the first day to the last millisecond of today."""
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    return {
        "startDate": _midnight(today - timedelta(days=6), zone),
        "endDate": _last_ms(today, zone),
    }


def _midnight(day: date, zone: ZoneInfo) -> str:
    return _iso(datetime.combine(day, time(), zone))


def _last_ms(day: date, zone: ZoneInfo) -> str:
    end = datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(milliseconds=1)
    return _iso(end)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


TIMESERIES = """query($f: AggregateFilter, $z: String) {
  timeseries(filter: $f, interval: DAY, timeZone: $z) {
    buckets { sessions conversions convertingSessions }
  }
}"""
BREAKDOWN = """query($f: AggregateFilter, $by: Dimension!) {
  breakdown(filter: $f, by: $by, limit: 10) { totalRows rows { value sessions conversions } }
}"""
PAGES = """query($f: PageFilter) {
  pages(filter: $f) {
    summaryTotals { totalSessions totalUsers totalConversionEvents totalConversionUsers }
    conversionPerformance(limit: 20) { url conversion { sessions users } }
    dropOffPerformance(limit: 20) { url dropOff { sessions users } }
  }
}"""
ATTRIBUTION = """query($f: AttributionFilter) {
  attribution(filter: $f) { rows { value credits { model conversions } } }
}"""
SESSIONS = """query($f: SessionFilter, $page: Int) {
  sessions(filter: $f, page: $page, pageSize: 20) {
    records { source landingPage pages { url } }
    pagination { totalRecords totalPages }
  }
}"""


# --- the tests -------------------------------------------------------------------------


async def test_the_numbers_shown_are_the_graphql_answers_for_the_same_window(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser, height=1100)
    await sign_in(tab, served)
    await wait_ready(tab)
    window = default_window()
    assert await tab.evaluate("document.getElementById('time-zone').value") == ZONE

    series = await served.graphql(TIMESERIES, {"f": window, "z": ZONE})
    buckets = series["timeseries"]["buckets"]
    assert len(buckets) == 7
    for tile, key in [
        ("sessions", "sessions"),
        ("conversions", "conversions"),
        ("converting", "convertingSessions"),
    ]:
        assert number(await text(tab, f"#tile-{tile} dd")) == sum(b[key] for b in buckets)
    assert sum(b["sessions"] for b in buckets) > 100  # the window holds the demo traffic

    for by in ("CHANNEL", "SOURCE", "MEDIUM", "CAMPAIGN", "LANDING_PAGE"):
        answer = (await served.graphql(BREAKDOWN, {"f": window, "by": by}))["breakdown"]
        section = f"#breakdown-{by.lower()}"
        values = await texts(tab, f"{section} tbody td.value")
        sessions = await texts(tab, f"{section} tbody td:nth-child(2)")
        expected = [(r["value"] or "(not set)", r["sessions"]) for r in answer["rows"]]
        assert list(zip(values, map(number, sessions), strict=True)) == expected, by

    report = (await served.graphql(PAGES, {"f": {**window, "touchScope": "ANY"}}))["pages"]
    totals = report["summaryTotals"]
    for tile, key in [
        ("pages-sessions", "totalSessions"),
        ("pages-users", "totalUsers"),
        ("pages-conversions", "totalConversionEvents"),
        ("pages-converted-users", "totalConversionUsers"),
    ]:
        assert number(await text(tab, f"#tile-{tile} dd")) == totals[key]
    shown_pages = await texts(tab, ".pages-conversion tbody td.url")
    assert shown_pages == [p["url"] for p in report["conversionPerformance"]]
    shown_counts = await texts(tab, ".pages-conversion tbody td:nth-child(2)")
    assert shown_counts == [
        f"{p['conversion']['sessions']:,} ({p['conversion']['users']:,})"
        for p in report["conversionPerformance"]
    ]

    attribution = (await served.graphql(ATTRIBUTION, {"f": {**window, "dimension": "CHANNEL"}}))[
        "attribution"
    ]
    shown_rows = await tab.evaluate(
        "[...document.querySelectorAll('#attribution table')[0].tBodies[0].rows]"
        ".map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [r[0] for r in shown_rows] == [r["value"] for r in attribution["rows"]]
    for shown, row in zip(shown_rows, attribution["rows"], strict=True):
        credits = [c["conversions"] for c in row["credits"]]
        # Shown to one decimal.
        assert [number(c) for c in shown[2:]] == pytest.approx(credits, abs=0.05 + 1e-9)

    listed = (await served.graphql(SESSIONS, {"f": window, "page": 1}))["sessions"]
    assert number(await text(tab, "#sessions .frame")) == listed["pagination"]["totalRecords"]
    assert await text(tab, "#sessions-page") == f"Page 1 of {listed['pagination']['totalPages']}"
    assert len(await texts(tab, "#sessions tr.session")) == 20

    shot = await tab.screenshot()
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("ATTRIBUTIONHUB_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(shot)


async def test_clicking_a_source_filters_every_panel_by_it(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    source = (await texts(tab, "#breakdown-source tbody button"))[0]
    await after(tab, "document.querySelector('#breakdown-source tbody button').click()")

    assert await tab.evaluate("document.getElementById('f-source').value") == source
    assert source in await text(tab, "#active")
    window = {**default_window(), "source": source}
    listed = (await served.graphql(SESSIONS, {"f": window, "page": 1}))["sessions"]
    assert number(await text(tab, "#sessions .frame")) == listed["pagination"]["totalRecords"]
    assert {
        r.split(" / ")[0] for r in await texts(tab, "#sessions tr.session td:nth-child(2)")
    } == {source}
    # The source breakdown now holds that source alone, shown as the active filter.
    assert await texts(tab, "#breakdown-source tbody td.value") == [source]
    series = (await served.graphql(TIMESERIES, {"f": window, "z": ZONE}))["timeseries"]
    assert number(await text(tab, "#tile-sessions dd")) == sum(
        b["sessions"] for b in series["buckets"]
    )

    # Removing the filter (its chip is a button) brings the whole window back.
    await after(tab, "document.querySelector('#active button.chip').click()")
    assert await tab.evaluate("document.getElementById('f-source').value") == ""
    everything = (await served.graphql(SESSIONS, {"f": default_window(), "page": 1}))["sessions"]
    assert number(await text(tab, "#sessions .frame")) == everything["pagination"]["totalRecords"]


async def test_switching_the_touch_scope_reloads_the_page_report_for_that_scope(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    any_scope = number(await text(tab, "#tile-pages-sessions dd"))
    await after(
        tab,
        "const s = document.getElementById('touch-scope'); s.value = 'FIRST';"
        " s.dispatchEvent(new Event('change'))",
    )
    report = (await served.graphql(PAGES, {"f": {**default_window(), "touchScope": "FIRST"}}))[
        "pages"
    ]
    first = number(await text(tab, "#tile-pages-sessions dd"))
    assert first == report["summaryTotals"]["totalSessions"]
    assert first < any_scope  # returning visitors' later sessions are not first ones
    assert await texts(tab, ".pages-drop-off tbody td.url") == [
        p["url"] for p in report["dropOffPerformance"]
    ]


async def test_paging_through_sessions_and_opening_one_shows_its_page_path(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    # With the keyboard: focus the button, press Enter.
    await tab.evaluate(
        "document.getElementById('main').dataset.state = 'stale';"
        " document.getElementById('sessions-next').focus()"
    )
    await tab.press("Enter", "Enter", 13, "\r")
    await wait_ready(tab)
    second = (await served.graphql(SESSIONS, {"f": default_window(), "page": 2}))["sessions"]
    total_pages = second["pagination"]["totalPages"]
    assert await text(tab, "#sessions-page") == f"Page 2 of {total_pages}"
    assert await tab.evaluate("document.activeElement.id") == "sessions-page"
    shown = await texts(tab, "#sessions tr.session td.url")
    assert shown == [r["landingPage"] for r in second["records"]]

    # Open the first session of the page: its details row shows the page path, in order.
    await tab.evaluate("document.querySelector('#sessions tr.session button').focus()")
    await tab.press(" ", "Space", 32, " ")
    assert (
        await tab.evaluate(
            "document.querySelector('#sessions tr.session button').getAttribute('aria-expanded')"
        )
        == "true"
    )
    path = await texts(tab, "#sessions tr.session-details:not([hidden]) ol.path li .url")
    assert path == [p["url"] for p in second["records"][0]["pages"]]
    assert path  # a session has at least its landing page

    await after(tab, "document.getElementById('sessions-prev').click()")
    assert await text(tab, "#sessions-page") == f"Page 1 of {total_pages}"


async def test_a_custom_window_in_another_time_zone_asks_for_those_days_there(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    await after(
        tab,
        "const z = document.getElementById('time-zone'); z.value = 'Asia/Tokyo';"
        " z.dispatchEvent(new Event('change'))",
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    last = datetime.now(tokyo).date() - timedelta(days=1)
    first = last - timedelta(days=2)
    await tab.evaluate("document.querySelector('.preset[data-preset=\"custom\"]').click()")
    assert await tab.evaluate("document.activeElement.id") == "start-date"
    await after(
        tab,
        f"document.getElementById('start-date').value = '{first.isoformat()}';"
        f" document.getElementById('end-date').value = '{last.isoformat()}';"
        " document.querySelector('#controls button[type=submit]').click()",
    )
    window = {"startDate": _midnight(first, tokyo), "endDate": _last_ms(last, tokyo)}
    listed = (await served.graphql(SESSIONS, {"f": window, "page": 1}))["sessions"]
    assert number(await text(tab, "#sessions .frame")) == listed["pagination"]["totalRecords"]
    series = (await served.graphql(TIMESERIES, {"f": window, "z": "Asia/Tokyo"}))["timeseries"]
    assert len(series["buckets"]) == 3
    assert number(await text(tab, "#tile-sessions dd")) == sum(
        b["sessions"] for b in series["buckets"]
    )
    assert "(Asia/Tokyo)" in await text(tab, "#active")

    # A custom window that ends before it starts is refused in words, before any request.
    await tab.evaluate(
        f"document.getElementById('start-date').value = '{last.isoformat()}';"
        f" document.getElementById('end-date').value = '{first.isoformat()}';"
        " document.querySelector('#controls button[type=submit]').click()"
    )
    assert await text(tab, "#controls-error") == (
        "The custom window's first day is after its last day."
    )


async def test_panels_say_when_nothing_matches_and_name_a_bad_filter_in_words(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    await after(
        tab,
        "document.getElementById('f-source').value = 'no-such-source';"
        " document.getElementById('f-metaId').value = 'no-such-form';"
        " document.querySelector('#controls button[type=submit]').click()",
    )
    assert await texts(tab, "main .error") == []
    assert await text(tab, "#overview .empty") == "No sessions in this window."
    assert await texts(tab, "#breakdowns .empty") == ["No sessions."] * 5
    assert await text(tab, "#pages .empty") == "No sessions match in this window."
    assert await text(tab, "#attribution .empty") == "No conversions in this window."
    assert await text(tab, "#sessions .empty") == "No sessions in this window."

    # type=url lets an ftp URL through; the service refuses it, and the page says which
    # field is wrong, by its label, in every panel that used it.
    await after(
        tab,
        "document.getElementById('f-source').value = '';"
        " document.getElementById('f-landingPage').value = 'ftp://example.com/offer';"
        " document.querySelector('#controls button[type=submit]').click()",
    )
    expected = "Landing page: expected an absolute http or https URL, got 'ftp://example.com/offer'"
    assert await texts(tab, "main .error") == [expected] * 4  # not attribution: no such filter


async def test_a_wrong_key_is_refused_in_words_and_signing_out_forgets_the_key(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served, key="ahk_not-a-real-key")
    message = await tab.wait_for(
        "document.getElementById('sign-in-error').textContent.includes('not accepted')"
        " && document.getElementById('sign-in-error').textContent"
    )
    assert "API key was not accepted" in message
    assert await tab.evaluate("document.getElementById('app').hidden") is True
    assert await tab.evaluate("sessionStorage.length") == 0

    await tab.evaluate("document.getElementById('api-key').value = ''")
    await tab.evaluate("document.getElementById('api-key').focus()")
    await tab.send("Input.insertText", {"text": served.api_key})
    await tab.press("Enter", "Enter", 13, "\r")
    await wait_ready(tab)
    assert await text(tab, "#site-name") == "Site: Dashboard test"
    assert await tab.evaluate("Object.values(sessionStorage)") == [served.api_key]
    assert await tab.evaluate("document.cookie") == ""
    assert served.api_key not in await tab.evaluate("location.href")

    await tab.evaluate("document.getElementById('sign-out').click()")
    assert await tab.evaluate("sessionStorage.length") == 0
    assert await tab.evaluate("document.getElementById('sign-in').hidden") is False
    assert await tab.evaluate("document.activeElement.id") == "api-key"
    # A reload after signing out asks for the key again.
    await tab.navigate(served.origin + "/dashboard")
    await tab.wait_for("!document.getElementById('sign-in').hidden")


async def test_a_phone_sized_screen_never_scrolls_sideways(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser, width=390, height=844)
    await sign_in(tab, served)
    await wait_ready(tab)
    overflow = "document.documentElement.scrollWidth <= innerWidth"
    assert await tab.evaluate("innerWidth") == 390
    assert await tab.evaluate(overflow) is True
    # Opened details (long URLs in the page path) and a filter chip must fit as well.
    await tab.evaluate("document.querySelector('#sessions tr.session button').click()")
    await after(tab, "document.querySelector('#breakdown-landing_page tbody button').click()")
    assert await tab.evaluate(overflow) is True


async def test_no_request_leaves_the_services_origin_while_the_page_is_used(
    browser: Browser, served: Served
) -> None:
    tab = await open_tab(browser)
    await sign_in(tab, served)
    await wait_ready(tab)
    await after(tab, "document.querySelector('#breakdown-medium tbody button').click()")
    await after(
        tab,
        "const d = document.getElementById('attribution-dimension'); d.value = 'CAMPAIGN';"
        " d.dispatchEvent(new Event('change'))",
    )
    await after(tab, "document.querySelector('.preset[data-preset=\"30\"]').click()")
    await after(tab, "document.getElementById('sessions-next').click()")
    await tab.evaluate("document.querySelector('#sessions tr.session button').click()")
    await tab.evaluate("document.getElementById('sign-out').click()")

    urls = [request.url for request in tab.record.requests.values()]
    assert any(u == served.origin + "/graphql" for u in urls)
    assert any(u.endswith("/dashboard/assets/main.js") for u in urls)
    elsewhere = [u for u in urls if not u.startswith(served.origin + "/")]
    assert elsewhere == []
