"""POST /api/v1/pages end to end: the docs' examples, every touch scope on the
hand-worked journeys dataset (see rest_support), conversion definitions and the 30-day
window (docs/concepts.md, "/pages")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.e2e.rest_support import JOURNEYS, SITE, key_header, pageview, post_json, seed

NO_PAGE_DATA = {"message": "No page data found for the given parameters."}
JULY = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
JULY_FRAME = {"start": "2025-07-01T00:00:00Z", "end": "2025-07-31T23:59:59Z"}


def r(sessions: int, users: int) -> dict[str, int]:
    return {"sessions": sessions, "users": users}


def conv(path: str, conversion: Any, assist: Any, landing: Any) -> dict[str, Any]:
    return {
        "url": SITE + path,
        "conversion": conversion,
        "conversion_assist": assist,
        "landing_assisted_conversion": landing,
    }


def drop(path: str, drop_off: Any, assist: Any, landing: Any) -> dict[str, Any]:
    return {
        "url": SITE + path,
        "drop_off": drop_off,
        "drop_off_assist": assist,
        "landing_assisted_drop_off": landing,
    }


def totals(sessions: int, users: int, events: int, conversion_users: int) -> dict[str, int]:
    return {
        "total_sessions": sessions,
        "total_users": users,
        "total_conversion_events": events,
        "total_conversion_users": conversion_users,
    }


# Converting sessions A2, B1, C2, E3: conversions on /signup (A2, C2, E3) and /pricing
# (B1); previous page /pricing in all four; landing pages /blog (A2), /pricing (B1, E3),
# /home (C2).
JULY_CONVERSIONS = [
    conv("/signup", r(3, 3), r(0, 0), r(0, 0)),
    conv("/pricing", r(1, 1), r(4, 4), r(2, 2)),
    conv("/blog", r(0, 0), r(0, 0), r(1, 1)),
    conv("/home", r(0, 0), r(0, 0), r(1, 1)),
]
# Closed non-converting sessions (exit, its previous page, landing):
# A1 (/pricing, /home, /home), A3 (/features, /home, /home), C1 (/features x3),
# E1 (/blog x3), E2 (/pricing, /features, /features). /features and /pricing tie at 2
# drop-offs: url ascending.
JULY_DROP_OFFS = [
    drop("/features", r(2, 2), r(2, 2), r(2, 2)),
    drop("/pricing", r(2, 2), r(0, 0), r(0, 0)),
    drop("/blog", r(1, 1), r(1, 1), r(1, 1)),
    drop("/home", r(0, 0), r(2, 1), r(2, 1)),
]

SCOPES: dict[str, Any] = {
    # All nine July sessions of A, B, C, E; four converting.
    "any": {
        "summary_totals": totals(9, 4, 4, 4),
        "conversion_performance": JULY_CONVERSIONS,
        "drop_off_performance": JULY_DROP_OFFS,
    },
    # First sessions: A1, B1 (converting on its landing page), C1, E1.
    "first": {
        "summary_totals": totals(4, 4, 1, 1),
        "conversion_performance": [conv("/pricing", r(1, 1), r(1, 1), r(1, 1))],
        "drop_off_performance": [
            drop("/blog", r(1, 1), r(1, 1), r(1, 1)),
            drop("/features", r(1, 1), r(1, 1), r(1, 1)),
            drop("/pricing", r(1, 1), r(0, 0), r(0, 0)),
            drop("/home", r(0, 0), r(1, 1), r(1, 1)),
        ],
    },
    # A2, B1, C2, E3: the same conversions as "any", and nothing drops off.
    "converting": {
        "summary_totals": totals(4, 4, 4, 4),
        "conversion_performance": JULY_CONVERSIONS,
        "drop_off_performance": [],
    },
    # Only E2 lies strictly between a first session (E1) and a first converting one (E3).
    "assist": {
        "summary_totals": totals(1, 1, 0, 0),
        "conversion_performance": [],
        "drop_off_performance": [
            drop("/pricing", r(1, 1), r(0, 0), r(0, 0)),
            drop("/features", r(0, 0), r(1, 1), r(1, 1)),
        ],
    },
    # Only A3 comes after a first converting session (A2).
    "after": {
        "summary_totals": totals(1, 1, 0, 0),
        "conversion_performance": [],
        "drop_off_performance": [
            drop("/features", r(1, 1), r(0, 0), r(0, 0)),
            drop("/home", r(0, 0), r(1, 1), r(1, 1)),
        ],
    },
}


@pytest.fixture
async def key(running: Running) -> str:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS)
    return new.api_key


async def test_docs_time_frame_example_as_written_reports_the_window(
    running: Running, key: str
) -> None:
    # As in the docs, with its trailing comma fixed.
    body = b'{\n "start_date": "2025-07-15",\n "end_date": "2025-07-30"\n}'
    response = await running.client.post(
        "/api/v1/pages", data=body, headers={**key_header(key), "Content-Type": "application/json"}
    )
    assert response.status == 200
    # S = C1, C2, A3. C2 converts on /signup after /pricing, landing /home; C1 bounces on
    # /features; A3 leaves /features after /home.
    assert await response.json() == {
        "time_frame": {"start": "2025-07-15T00:00:00Z", "end": "2025-07-30T23:59:59Z"},
        "summary_totals": totals(3, 2, 1, 1),
        "conversion_performance": [
            conv("/signup", r(1, 1), r(0, 0), r(0, 0)),
            conv("/home", r(0, 0), r(0, 0), r(1, 1)),
            conv("/pricing", r(0, 0), r(1, 1), r(0, 0)),
        ],
        "drop_off_performance": [
            drop("/features", r(2, 2), r(1, 1), r(1, 1)),
            drop("/home", r(0, 0), r(1, 1), r(1, 1)),
        ],
    }


async def test_docs_touch_scope_example_reports_google_converting_sessions(
    running: Running, key: str
) -> None:
    body = {
        "start_date": "2025-07-01",
        "end_date": "2025-07-31",
        "source": "google.com",
        "touch_scope": "converting",
    }
    status, reply = await post_json(running.client, "/api/v1/pages", key, body)
    assert status == 200
    # google.com sessions: A1, B1, A3; converting among them: B1 only, on its landing page.
    assert reply == {
        "time_frame": JULY_FRAME,
        "summary_totals": totals(1, 1, 1, 1),
        "conversion_performance": [conv("/pricing", r(1, 1), r(1, 1), r(1, 1))],
        "drop_off_performance": [],
    }
    assert list(reply) == [
        "time_frame",
        "summary_totals",
        "conversion_performance",
        "drop_off_performance",
    ]


@pytest.mark.parametrize("scope", sorted(SCOPES))
async def test_each_touch_scope_gives_the_hand_worked_report(
    running: Running, key: str, scope: str
) -> None:
    status, reply = await post_json(
        running.client, "/api/v1/pages", key, {**JULY, "touch_scope": scope}
    )
    assert status == 200
    assert reply == {"time_frame": JULY_FRAME, **SCOPES[scope]}


async def test_no_touch_scope_means_any(running: Running, key: str) -> None:
    _, reply = await post_json(running.client, "/api/v1/pages", key, JULY)
    assert reply == {"time_frame": JULY_FRAME, **SCOPES["any"]}


async def test_touch_scope_in_the_query_string_is_honoured(running: Running, key: str) -> None:
    _, reply = await post_json(
        running.client, "/api/v1/pages", key, JULY, params={"touch_scope": "after"}
    )
    assert reply["summary_totals"] == SCOPES["after"]["summary_totals"]


async def test_meta_type_defines_which_conversions_count(running: Running, key: str) -> None:
    _, reply = await post_json(
        running.client, "/api/v1/pages", key, {**JULY, "meta_type": "hubspot_form"}
    )
    # Only C2's conversion counts; A2, B1 and E3 become closed non-converting sessions.
    # Drop-offs (exit, previous, landing): A1 (/pricing, /home, /home), A2 (/thank-you,
    # /signup, /blog), A3 (/features, /home, /home), B1 (/pricing x3), C1 (/features x3),
    # E1 (/blog x3), E2 (/pricing, /features, /features), E3 (/signup, /pricing, /pricing).
    assert reply == {
        "time_frame": JULY_FRAME,
        "summary_totals": totals(9, 4, 1, 1),
        "conversion_performance": [
            conv("/signup", r(1, 1), r(0, 0), r(0, 0)),
            conv("/home", r(0, 0), r(0, 0), r(1, 1)),
            conv("/pricing", r(0, 0), r(1, 1), r(0, 0)),
        ],
        "drop_off_performance": [
            drop("/pricing", r(3, 3), r(2, 2), r(2, 2)),
            drop("/features", r(2, 2), r(2, 2), r(2, 2)),
            drop("/blog", r(1, 1), r(1, 1), r(2, 2)),
            drop("/signup", r(1, 1), r(1, 1), r(0, 0)),
            drop("/thank-you", r(1, 1), r(0, 0), r(0, 0)),
            drop("/home", r(0, 0), r(2, 1), r(2, 1)),
        ],
    }


@pytest.mark.parametrize(
    ("definition", "converting_sessions", "conversion_users"),
    [
        ({"conversion_page": "https://example.com/pricing/?x=1"}, 1, 1),  # B1, normalized
        ({"conversion_page": "https://example.com/signup"}, 3, 3),  # A2, C2, E3
        ({"meta_id": "form-7"}, 1, 1),  # C2
        ({"meta_type": "custom"}, 2, 2),  # A2, B1: the default meta type
        ({"meta_type": "html_form", "meta_id": "contact"}, 1, 1),  # E3
        ({"meta_type": "html_form", "meta_id": "form-7"}, 0, 0),
    ],
)
async def test_conversion_definition_filters_combine(
    running: Running,
    key: str,
    definition: dict[str, str],
    converting_sessions: int,
    conversion_users: int,
) -> None:
    _, reply = await post_json(running.client, "/api/v1/pages", key, {**JULY, **definition})
    assert reply["summary_totals"] == totals(9, 4, converting_sessions, conversion_users)
    served = sum(entry["conversion"]["sessions"] for entry in reply["conversion_performance"])
    assert served == converting_sessions


async def test_touch_scope_uses_the_conversion_definition(running: Running, key: str) -> None:
    _, reply = await post_json(
        running.client,
        "/api/v1/pages",
        key,
        {**JULY, "touch_scope": "after", "meta_type": "html_form"},
    )
    # E's first html_form conversion is in E3, its last session: nothing comes after.
    assert reply == NO_PAGE_DATA
    _, reply = await post_json(
        running.client,
        "/api/v1/pages",
        key,
        {**JULY, "touch_scope": "assist", "meta_type": "custom"},
    )
    # Custom conversions: A2 (A's first converting; assist would lie between A1 and A2:
    # none) and B1. Nothing is an assist session.
    assert reply == NO_PAGE_DATA


async def test_session_filters_narrow_the_session_set(running: Running, key: str) -> None:
    _, reply = await post_json(
        running.client, "/api/v1/pages", key, {**JULY, "landing_page": "https://example.com/home"}
    )
    # A1, C2, A3 land on /home; C2 converts.
    assert reply["summary_totals"] == totals(3, 2, 1, 1)


async def test_nothing_in_the_window_is_the_documented_message_with_status_200(
    running: Running, key: str
) -> None:
    status, reply = await post_json(
        running.client,
        "/api/v1/pages",
        key,
        {"start_date": "2025-05-01", "end_date": "2025-05-31"},
    )
    assert (status, reply) == (200, NO_PAGE_DATA)


# --- the window --------------------------------------------------------------------


async def test_default_window_is_the_last_thirty_days_and_open_sessions_do_not_drop_off(
    running: Running, key: str
) -> None:
    status, reply = await post_json(running.client, "/api/v1/pages", key, None)
    assert status == 200
    # NOW is 2025-08-01T12:00:00Z; 30 days earlier is 2025-07-02T12:00:00Z.
    assert reply["time_frame"] == {"start": "2025-07-02T12:00:00Z", "end": "2025-08-01T12:00:00Z"}
    # The July sessions plus D1, open: counted in the totals, absent from drop-offs.
    assert reply["summary_totals"] == totals(10, 5, 4, 4)
    assert reply["drop_off_performance"] == JULY_DROP_OFFS


@pytest.mark.parametrize(
    ("window", "time_frame"),
    [
        # The docs' own example: exactly 30 days from start to the end's midnight, kept.
        (JULY, JULY_FRAME),
        # 60 days: truncated to the end's midnight minus 30 days.
        (
            {"start_date": "2025-06-01", "end_date": "2025-07-31"},
            {"start": "2025-07-01T00:00:00Z", "end": "2025-07-31T23:59:59Z"},
        ),
        (
            {"start_date": "2025-06-01", "end_date": "2025-07-31T12:00:00Z"},
            {"start": "2025-07-01T12:00:00Z", "end": "2025-07-31T12:00:00Z"},
        ),
        (
            {"start_date": "2025-07-15"},
            {"start": "2025-07-15T00:00:00Z", "end": "2025-08-01T12:00:00Z"},
        ),
        (
            {"end_date": "2025-07-10"},
            {"start": "2025-06-10T00:00:00Z", "end": "2025-07-10T23:59:59Z"},
        ),
        (
            {"start_date": "2025-07-01T08:30:00+02:00", "end_date": "2025-07-02T00:00:00Z"},
            {"start": "2025-07-01T06:30:00Z", "end": "2025-07-02T00:00:00Z"},
        ),
    ],
)
async def test_time_frame_reports_the_effective_window(
    running: Running, window: dict[str, str], time_frame: dict[str, str]
) -> None:
    new = await running.new_site()
    # A few sessions at 06:30 in June and July, so that every window above holds one.
    days = ["2025-06-01", "2025-06-10", "2025-06-20", "2025-07-01", "2025-07-10", "2025-07-20"]
    events = [pageview(f"v-{day}", f"{day}T06:30:00Z", "/home") for day in days]
    await seed(running.service, new.site.site_id, events)
    status, reply = await post_json(running.client, "/api/v1/pages", new.api_key, window)
    assert status == 200
    assert reply["time_frame"] == time_frame


async def test_truncated_window_leaves_out_sessions_before_its_start(
    running: Running, key: str
) -> None:
    site = await running.new_site()
    await seed(
        running.service,
        site.site.site_id,
        [*JOURNEYS, pageview("G", "2025-06-15T10:00:00Z", "/june")],
    )
    _, truncated = await post_json(
        running.client,
        "/api/v1/pages",
        site.api_key,
        {"start_date": "2025-06-01", "end_date": "2025-07-31"},
    )
    # Truncated to July: G's June session is out, the nine July sessions are in.
    assert truncated["summary_totals"] == totals(9, 4, 4, 4)
    _, june = await post_json(
        running.client,
        "/api/v1/pages",
        site.api_key,
        {"start_date": "2025-06-01", "end_date": "2025-06-30"},
    )
    assert june["summary_totals"] == totals(1, 1, 0, 0)
    assert june["drop_off_performance"] == [drop("/june", r(1, 1), r(1, 1), r(1, 1))]
