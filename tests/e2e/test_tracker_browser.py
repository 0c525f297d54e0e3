"""The tracker script in a real headless Chromium, against the real app.

The API (``/tracker.js``, ``/collect``, ``/api/v1/sessions``) and a small customer site are
served on two loopback ports, so every ``/collect`` request is a real cross-origin request.
Chromium is driven over the DevTools protocol through aiohttp's websocket client; the tests
then read what the application stored.

How each tracker behaviour is triggered:

- pageview on load: ``Page.navigate``; with an external ``referrer`` for the landing page.
- internal referrer: clicking a link (``element.click()``), as a visitor would.
- html_form: filling the email field and clicking the form's submit button.
- custom / hubspot_form: clicking buttons whose handlers call
  ``window.attributionhub.conversion(...)`` or post HubSpot's ``hsFormCallback`` message.
- single-page navigation: a button calling ``history.pushState``.
- exit: closing the tab (``Page.close``), which hides the page (``visibilitychange`` to
  ``hidden``) and lets the beacon go out; navigating away does the same on every page.
- a late exit beacon: the tracker loaded through a proxy in front of the API
  (``HoldingProxy``) that holds the beacon back until the next page's pageview is stored.

Headless Chromium says ``HeadlessChrome`` in its user agent, which the bot filter rightly
drops (checked below), so the browser runs with a desktop Chrome user agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from domain.model import Event, EventType, Session
from domain.services import AttributionService, NewSite

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary on PATH: the browser tests need one"
    ),
]

DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# The flags keep a headless browser off the network: only loopback traffic is allowed here.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
STARTUP_TIMEOUT = 20.0
COMMAND_TIMEOUT = 10.0
WAIT_TIMEOUT = 5.0
JsonDict = dict[str, Any]


# --- the DevTools protocol -------------------------------------------------------------


class CdpError(Exception):
    pass


class Cdp:
    """One websocket to the browser; commands for a page carry its flat session id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JsonDict]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._pending.pop(data.get("id", -1), None)
            if future is None or future.done():
                continue  # a protocol event: none is needed, the tests poll instead
            if "error" in data:
                future.set_exception(CdpError(f"{data['error']}"))
            else:
                future.set_result(data.get("result", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("the browser closed the DevTools connection"))

    async def send(
        self, method: str, params: JsonDict | None = None, session_id: str | None = None
    ) -> JsonDict:
        command_id = next(self._ids)
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        message: JsonDict = {"id": command_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        await self._ws.send_str(json.dumps(message))
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT)
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {COMMAND_TIMEOUT} s") from None
        finally:
            self._pending.pop(command_id, None)

    async def close(self) -> None:
        await self._ws.close()
        await self._reader


@dataclass
class Tab:
    cdp: Cdp
    session_id: str

    async def send(self, method: str, params: JsonDict | None = None) -> JsonDict:
        return await self.cdp.send(method, params, self.session_id)

    async def navigate(self, url: str, referrer: str | None = None) -> None:
        params: JsonDict = {"url": url}
        if referrer is not None:
            params["referrer"] = referrer
        result = await self.send("Page.navigate", params)
        if "errorText" in result:
            raise CdpError(f"navigating to {url}: {result['errorText']}")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str) -> Any:
        """The first truthy value of ``expression``; a navigation in flight destroys the
        context it is evaluated in, so errors are retried until the deadline."""
        deadline = asyncio.get_running_loop().time() + WAIT_TIMEOUT
        last: object = None
        while asyncio.get_running_loop().time() < deadline:
            try:
                value = await self.evaluate(expression)
            except CdpError as err:
                last = err
            else:
                if value:
                    return value
                last = value
            await asyncio.sleep(0.05)
        pytest.fail(
            f"within {WAIT_TIMEOUT} s the page never made {expression!r} true (last: {last})"
        )

    async def wait_for_tracker_on(self, path: str) -> str:
        """The visitor id, once the tracker ran on the page at ``path``."""
        visitor_id = await self.wait_for(
            f"location.pathname === {json.dumps(path)} && document.readyState === 'complete'"
            " && window.attributionhub && window.attributionhub.visitorId()"
        )
        assert isinstance(visitor_id, str)
        return visitor_id

    async def close(self) -> None:
        await self.send("Page.close")


@dataclass
class Browser:
    cdp: Cdp

    async def new_tab(self) -> Tab:
        target = await self.cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        tab = Tab(self.cdp, attached["sessionId"])
        await tab.send("Page.enable")
        return tab


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while line := await process.stderr.readline():
        text = line.decode(errors="replace").strip()
        if text.startswith("DevTools listening on "):
            return text.removeprefix("DevTools listening on ")
    raise CdpError(f"chromium exited (status {await process.wait()}) before listening")


async def _drain(stream: asyncio.StreamReader) -> None:
    # An unread stderr pipe would fill up and stall the browser.
    while await stream.read(65536):
        pass


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--user-agent={DESKTOP_UA}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        # Its own process group: the launcher script, the browser and its helpers end
        # together.
        start_new_session=True,
    )
    drain: asyncio.Task[None] | None = None
    try:
        url = await asyncio.wait_for(_devtools_url(process), STARTUP_TIMEOUT)
        assert process.stderr is not None
        drain = asyncio.create_task(_drain(process.stderr))
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, max_msg_size=0)
            cdp = Cdp(ws)
            try:
                yield Browser(cdp)
            finally:
                await cdp.close()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if drain is not None:
            await drain


# --- the application and a customer's site ----------------------------------------------


@dataclass
class Api:
    client: TestClient[Any, Any]
    service: AttributionService
    site: NewSite

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.client.port}"

    async def events(self, visitor_id: str) -> list[Event]:
        return await self.service.store.visitor_events(self.site.site.site_id, visitor_id)

    async def wait_for_events(
        self, visitor_id: str, done: Callable[[list[Event]], bool], what: str
    ) -> list[Event]:
        """The visitor's stored events once ``done`` holds; fails after WAIT_TIMEOUT."""
        deadline = asyncio.get_running_loop().time() + WAIT_TIMEOUT
        while True:
            events = await self.events(visitor_id)
            if done(events):
                return events
            if asyncio.get_running_loop().time() > deadline:
                stored = [_summary(e) for e in events]
                pytest.fail(f"within {WAIT_TIMEOUT} s no {what} was stored; stored: {stored}")
            await asyncio.sleep(0.05)

    async def sessions(self) -> list[JsonDict]:
        response = await self.client.post(
            "/api/v1/sessions", json={}, headers={"Authentication": self.site.api_key}
        )
        assert response.status == 200
        records: list[JsonDict] = (await response.json())["records"]
        return records


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    store = await SqliteStore.open(tmp_path / "tracker.db")
    try:
        # The real clock: /collect stamps events with the server's time.
        app = init(Settings(access_log=False), store=store, clock=SystemClock())
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            service = app[SERVICE]
            site = await service.create_site("Browser test")
            yield Api(client=client, service=service, site=site)
    finally:
        await store.close()


PAGES: dict[str, str] = {
    "/landing": '<h1>Welcome</h1><a id="next" href="/pricing">Pricing</a>',
    "/pricing": '<h1>Pricing</h1><a id="next" href="/signup">Sign up</a>',
    "/signup": (
        # A hidden field named "id" shadows the form's ``id`` property in the DOM.
        '<form id="signup" method="post" action="/thanks">'
        '<input type="hidden" name="id" value="42">'
        '<input type="email" name="email"><input type="text" name="name">'
        '<button id="send" type="submit">Sign up</button></form>'
    ),
    "/thanks": "<h1>Thank you</h1>",
    "/demo": (
        '<button id="custom" onclick="window.attributionhub.conversion('
        "{email: 'cara@example.org', meta_id: 'demo-request', value: '250.5'})\">"
        "Book a demo</button>"
        '<button id="hubspot" onclick="window.postMessage({type: \'hsFormCallback\','
        " eventName: 'onFormSubmitted', id: 'form-7',"
        " data: {submissionValues: {email: 'hugo@example.org'}}}, '*')\">HubSpot</button>"
    ),
    "/app": (
        "<button id=\"settings\" onclick=\"history.pushState({}, '', '/app/settings')\">"
        "Settings</button>"
    ),
}


@pytest.fixture
async def site(api: Api) -> AsyncIterator[str]:
    """A customer's site on its own port, each page embedding the tracker; its origin."""
    async with _customer_site(api.origin, api.site.tracker_token) as origin:
        yield origin


@contextlib.asynccontextmanager
async def _customer_site(tracker_origin: str, token: str) -> AsyncIterator[str]:
    """The customer's site, loading the tracker from ``tracker_origin`` (which its
    ``/collect`` requests then go to)."""
    tracker = f'<script src="{tracker_origin}/tracker.js" data-token="{token}"></script>'

    async def page(request: web.Request) -> web.Response:
        body = PAGES.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        html = f"<!doctype html><html><head>{tracker}</head><body>{body}</body></html>"
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


class HoldingProxy:
    """Forwards every request to the API, except that it holds back the ``/collect``
    request carrying the exit event of the page at ``held_path`` until ``release`` is
    set: the beacon is then delivered late, as a slow network delivers it. With
    ``strip_browser_time`` the held event loses ``client_time`` and ``sent_at`` on the
    way, which is what the tracker sent before it had them."""

    _DROPPED_HEADERS = frozenset(
        {"host", "content-length", "connection", "transfer-encoding", "content-encoding"}
    )

    def __init__(self, api_origin: str, held_path: str, *, strip_browser_time: bool) -> None:
        self.api_origin = api_origin
        self.held_path = held_path
        self.strip_browser_time = strip_browser_time
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def _is_held(self, request: web.Request, body: bytes) -> bool:
        if request.method != "POST" or request.path != "/collect":
            return False
        with contextlib.suppress(ValueError):
            event = json.loads(body)
            url = event.get("url")
            return bool(
                event.get("type") == "exit"
                and isinstance(url, str)
                and urlsplit(url).path == self.held_path
            )
        return False

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._is_held(request, body):
            self.holding.set()
            await self.release.wait()
            if self.strip_browser_time:
                event = json.loads(body)
                event.pop("client_time")
                event.pop("sent_at")
                body = json.dumps(event).encode()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in self._DROPPED_HEADERS
        }
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method, self.api_origin + request.path_qs, data=body, headers=headers
            ) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                headers={
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in self._DROPPED_HEADERS
                },
            )


@contextlib.asynccontextmanager
async def _serve_proxy(proxy: HoldingProxy) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", proxy.forward)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        proxy.release.set()  # a request still held ends with the test
        await server.close()


def _summary(event: Event) -> tuple[str, str, str | None, str | None, str | None, str | None]:
    return (
        event.type.value,
        event.url,
        event.referrer,
        event.email,
        event.meta_type,
        event.meta_id,
    )


def _has(kind: EventType, url: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(e.type is kind and e.url == url for e in events)


# --- the tests -------------------------------------------------------------------------


async def test_a_visit_is_tracked_from_an_email_campaign_to_a_form_conversion(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    landing = f"{site}/landing?utm_source=newsletter&utm_campaign=july"
    # The site is plain http: an https referrer would be withheld on the downgrade.
    await tab.navigate(landing, referrer="http://mail.google.com/mail/u/0/")
    visitor = await tab.wait_for_tracker_on("/landing")

    await tab.evaluate("document.getElementById('next').click()")
    assert await tab.wait_for_tracker_on("/pricing") == visitor
    await tab.evaluate("document.getElementById('next').click()")
    assert await tab.wait_for_tracker_on("/signup") == visitor
    await tab.evaluate(
        "document.querySelector('input[name=email]').value = 'ann@example.org';"
        "document.querySelector('input[name=name]').value = 'Ann';"
        "document.getElementById('send').click()"
    )
    assert await tab.wait_for_tracker_on("/thanks") == visitor
    assert await tab.evaluate("localStorage.getItem('attributionhub_vid')") == visitor
    await tab.close()

    events = await api.wait_for_events(visitor, lambda events: len(events) >= 9, "set of 9 events")
    summaries = {_summary(e) for e in events}
    # Every page load is a pageview whose referrer is the page before; every page hide
    # (navigating on, closing the tab) an exit; the form submission one conversion.
    assert summaries == {
        # Cross-origin, the browser's default referrer policy sends the origin only.
        ("pageview", landing, "http://mail.google.com/", None, None, None),
        ("exit", landing, None, None, None, None),
        ("pageview", f"{site}/pricing", landing, None, None, None),
        ("exit", f"{site}/pricing", None, None, None, None),
        ("pageview", f"{site}/signup", f"{site}/pricing", None, None, None),
        ("conversion", f"{site}/signup", None, "ann@example.org", "html_form", "signup"),
        ("exit", f"{site}/signup", None, None, None, None),
        ("pageview", f"{site}/thanks", f"{site}/signup", None, None, None),
        ("exit", f"{site}/thanks", None, None, None, None),
    }
    assert len(events) == len(summaries)
    assert {e.user_agent for e in events} == {DESKTOP_UA}

    [record] = await api.sessions()
    # utm_source overrides the source; the medium still comes from the webmail referrer.
    assert (record["source"], record["medium"], record["campaign"]) == (
        "newsletter",
        "email",
        "july",
    )
    assert record["landing_page"] == f"{site}/landing"
    conversion = record["conversion"]
    assert conversion["email"] == "ann@example.org"
    assert conversion["conversion_page"] == f"{site}/signup"
    assert conversion["previous_page"] == f"{site}/pricing"


async def test_the_visitor_id_survives_a_new_tab_of_the_same_browser(
    browser: Browser, api: Api, site: str
) -> None:
    first = await browser.new_tab()
    await first.navigate(f"{site}/landing")
    visitor = await first.wait_for_tracker_on("/landing")
    await first.close()
    second = await browser.new_tab()
    await second.navigate(f"{site}/pricing")
    assert await second.wait_for_tracker_on("/pricing") == visitor

    events = await api.wait_for_events(
        visitor, _has(EventType.PAGEVIEW, f"{site}/pricing"), "pageview of /pricing"
    )
    assert {(e.type, e.url) for e in events} >= {
        (EventType.PAGEVIEW, f"{site}/landing"),
        (EventType.PAGEVIEW, f"{site}/pricing"),
    }


async def test_custom_and_hubspot_conversions_are_recorded(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.navigate(f"{site}/demo")
    visitor = await tab.wait_for_tracker_on("/demo")
    await tab.evaluate("document.getElementById('custom').click()")
    await tab.evaluate("document.getElementById('hubspot').click()")

    def both(events: list[Event]) -> bool:
        return len([e for e in events if e.type is EventType.CONVERSION]) >= 2

    events = await api.wait_for_events(visitor, both, "pair of conversions")
    conversions = {_summary(e) for e in events if e.type is EventType.CONVERSION}
    assert conversions == {
        ("conversion", f"{site}/demo", None, "cara@example.org", "custom", "demo-request"),
        ("conversion", f"{site}/demo", None, "hugo@example.org", "hubspot_form", "form-7"),
    }
    values = {e.meta_type: e.value for e in events if e.type is EventType.CONVERSION}
    assert values == {"custom": 250.5, "hubspot_form": None}


async def test_single_page_navigation_is_a_pageview_referred_by_the_previous_url(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.navigate(f"{site}/app")
    visitor = await tab.wait_for_tracker_on("/app")
    # Two requests in flight could arrive in either order; the order is asserted below.
    await api.wait_for_events(visitor, _has(EventType.PAGEVIEW, f"{site}/app"), "pageview")
    await tab.evaluate("document.getElementById('settings').click()")
    await tab.wait_for("location.pathname === '/app/settings'")

    events = await api.wait_for_events(
        visitor, _has(EventType.PAGEVIEW, f"{site}/app/settings"), "SPA pageview"
    )
    assert [_summary(e) for e in events] == [
        ("pageview", f"{site}/app", None, None, None, None),
        ("pageview", f"{site}/app/settings", f"{site}/app", None, None, None),
    ]
    [record] = await api.sessions()
    assert (record["source"], record["medium"]) == ("direct", "none")
    assert record["landing_page"] == f"{site}/app"


async def test_a_headless_browser_user_agent_is_dropped_as_a_bot(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.send("Emulation.setUserAgentOverride", {"userAgent": "HeadlessChrome/126.0"})
    await tab.navigate(f"{site}/landing")
    visitor = await tab.wait_for_tracker_on("/landing")
    # The drop is silent to the page, so wait for the request itself to be answered.
    report = await tab.evaluate(
        "fetch(document.querySelector('script').src.replace('/tracker.js', '/collect')"
        f" + '?token={api.site.tracker_token}', {{method: 'POST', body: JSON.stringify("
        f"{{type: 'pageview', visitor_id: '{visitor}', url: location.href,"
        " user_agent: navigator.userAgent})}).then(r => r.json())"
    )
    assert report["accepted"] == 0
    assert await api.events(visitor) == []
    # Not without a trace: the site's owner sees it counted, with the reason.
    async with api.service.reading() as reads:
        [dropped] = await reads.dropped_bots(api.site.site.site_id)
    assert dropped.reason == "Headless"
    assert dropped.events >= 1  # the tracker's own pageview may be counted too


async def test_going_back_to_a_page_restored_from_the_cache_is_a_pageview(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.navigate(f"{site}/landing")
    visitor = await tab.wait_for_tracker_on("/landing")
    await tab.evaluate(
        "window.addEventListener('pageshow', e => { window.restored = e.persisted; })"
    )
    await tab.evaluate("document.getElementById('next').click()")
    await tab.wait_for_tracker_on("/pricing")
    await tab.evaluate("history.back()")
    await tab.wait_for_tracker_on("/landing")
    # The test is about the back/forward cache: the page must not have been reloaded.
    assert await tab.wait_for("window.restored === true")

    # Five events, in no fixed order: the beacon of the page put into the cache often
    # reaches the server after the pageview of the restored page.
    events = await api.wait_for_events(visitor, lambda events: len(events) >= 5, "5 events")
    assert Counter(_summary(e) for e in events) == Counter(
        [
            ("pageview", f"{site}/landing", None, None, None, None),
            ("exit", f"{site}/landing", None, None, None, None),
            ("pageview", f"{site}/pricing", f"{site}/landing", None, None, None),
            ("exit", f"{site}/pricing", None, None, None, None),
            # Restored from the cache: referred by the page the visitor came back from.
            ("pageview", f"{site}/landing", f"{site}/pricing", None, None, None),
        ]
    )


async def test_a_change_of_the_fragment_or_of_the_query_alone_is_no_new_pageview(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.navigate(f"{site}/app")
    visitor = await tab.wait_for_tracker_on("/app")
    await api.wait_for_events(visitor, _has(EventType.PAGEVIEW, f"{site}/app"), "pageview")
    await tab.evaluate("location.hash = '#pricing'")
    await tab.evaluate("history.pushState({}, '', '#faq')")
    await tab.evaluate("history.replaceState({}, '', '?tab=2')")
    await tab.wait_for("location.search === '?tab=2'")
    # Then a real navigation: once its pageview is stored, the earlier ones would be too.
    await tab.evaluate("document.getElementById('settings').click()")
    events = await api.wait_for_events(
        visitor, _has(EventType.PAGEVIEW, f"{site}/app/settings"), "SPA pageview"
    )
    assert [(e.type.value, e.url) for e in events] == [
        ("pageview", f"{site}/app"),
        ("pageview", f"{site}/app/settings"),
    ]


async def test_a_browser_clock_hours_off_still_gives_server_aligned_timestamps(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    # The visitor's computer is three hours behind.
    await tab.send(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": "(() => { const real = Date.now;"
            " Date.now = () => real() - 3 * 3600 * 1000; })();"
        },
    )
    before = datetime.now(UTC)
    await tab.navigate(f"{site}/landing")
    visitor = await tab.wait_for_tracker_on("/landing")
    [event] = await api.wait_for_events(
        visitor, _has(EventType.PAGEVIEW, f"{site}/landing"), "pageview"
    )
    after = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= event.timestamp <= after
    # Millisecond precision is kept from the browser's clock.
    assert event.timestamp.microsecond % 1000 == 0


async def test_a_message_from_another_window_is_no_hubspot_conversion(
    browser: Browser, api: Api, site: str
) -> None:
    tab = await browser.new_tab()
    await tab.navigate(f"{site}/demo")
    visitor = await tab.wait_for_tracker_on("/demo")
    # A frame of another origin (a data: URL's is opaque) posts HubSpot's message.
    forged = (
        "<script>parent.postMessage({type: 'hsFormCallback', eventName: 'onFormSubmitted',"
        " id: 'forged', data: {submissionValues: {email: 'x@evil.example'}}}, '*');"
        "</script>"
    )
    await tab.evaluate(
        "new Promise(done => { const f = document.createElement('iframe');"
        f" f.src = 'data:text/html,' + encodeURIComponent({json.dumps(forged)});"
        " f.onload = () => setTimeout(() => done(true), 200);"
        " document.body.appendChild(f); })"
    )
    # Posted by the page itself it counts: HubSpot's embed script runs in the page.
    await tab.evaluate("document.getElementById('hubspot').click()")
    events = await api.wait_for_events(
        visitor, _has(EventType.CONVERSION, f"{site}/demo"), "conversion"
    )
    assert [e.meta_id for e in events if e.type is EventType.CONVERSION] == ["form-7"]


async def _visit_with_a_late_exit_beacon(
    browser: Browser, api: Api, *, strip_browser_time: bool
) -> tuple[list[Event], Session]:
    """/landing, then a link to /pricing, with the exit beacon of /landing held back by a
    proxy in front of the API until the pageview of /pricing is stored; then delivered.
    The visitor's stored events, and the one session they make."""
    proxy = HoldingProxy(api.origin, "/landing", strip_browser_time=strip_browser_time)
    async with (
        _serve_proxy(proxy) as proxy_origin,
        _customer_site(proxy_origin, api.site.tracker_token) as site,
    ):
        landing, pricing = f"{site}/landing", f"{site}/pricing"
        tab = await browser.new_tab()
        await tab.navigate(landing)
        visitor = await tab.wait_for_tracker_on("/landing")
        await api.wait_for_events(visitor, _has(EventType.PAGEVIEW, landing), "first pageview")
        await tab.evaluate("document.getElementById('next').click()")
        assert await tab.wait_for_tracker_on("/pricing") == visitor
        await asyncio.wait_for(proxy.holding.wait(), WAIT_TIMEOUT)
        await api.wait_for_events(visitor, _has(EventType.PAGEVIEW, pricing), "next pageview")
        assert not _has(EventType.EXIT, landing)(await api.events(visitor))

        proxy.release.set()
        events = await api.wait_for_events(visitor, _has(EventType.EXIT, landing), "late exit")
    page = await api.service.list_sessions(api.site.site.site_id, {})
    [session] = page.sessions
    return events, session


async def test_an_exit_beacon_delivered_after_the_next_pageview_keeps_the_visit_order(
    browser: Browser, api: Api
) -> None:
    events, session = await _visit_with_a_late_exit_beacon(browser, api, strip_browser_time=False)
    landing, pricing = sorted({e.url for e in events})
    exit_of_landing = next(e for e in events if e.type is EventType.EXIT)
    next_pageview = next(e for e in events if e.type is EventType.PAGEVIEW and e.url == pricing)
    # Stored last, stamped first: the browser's clock saw the exit before the pageview.
    assert exit_of_landing.timestamp < next_pageview.timestamp
    assert [visit.url for visit in session.path] == [landing, pricing]
    assert (session.exit_page, session.exit_previous_page) == (pricing, landing)


async def test_without_the_browser_clock_a_late_exit_beacon_puts_the_page_out_of_order(
    browser: Browser, api: Api
) -> None:
    # The same delivery without client_time and sent_at, as the tracker sent it before:
    # the arrival time decides, and the session comes out wrong. This is what the
    # browser's clock fixes (the test above).
    events, session = await _visit_with_a_late_exit_beacon(browser, api, strip_browser_time=True)
    landing, pricing = sorted({e.url for e in events})
    assert [visit.url for visit in session.path] == [landing, pricing, landing]
    assert session.exit_page == landing
