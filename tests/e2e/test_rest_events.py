"""POST /api/v1/events end to end: per-event results, idempotency, limits."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Running
from tests.e2e.rest_support import (
    assert_matches_openapi,
    bearer_header,
    pageview,
    post_json,
)

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
async def key(running: Running) -> str:
    return (await running.new_site()).api_key


def batch() -> list[object]:
    first = {**pageview("v1", "2025-07-20T10:00:00Z", "/home"), "event_id": "e-1"}
    return [
        {**first, "user_agent": BROWSER},
        first,  # the same event_id again: a duplicate
        {**pageview("v2", "2025-07-20T10:00:00Z", "/home"), "user_agent": BOT},
        {"type": "pageview", "visitor_id": "v3", "timestamp": "2025-07-20T10:00:00Z"},
        pageview("v4", "2025-08-01T12:11:00Z", "/home"),  # 11 minutes after NOW
        "not an event",
    ]


async def test_batch_reports_accepted_duplicates_bots_and_rejections_by_index(
    running: Running, key: str
) -> None:
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": batch()})
    assert status == 200
    assert list(reply) == ["accepted", "duplicates", "bots", "rejected"]
    assert (reply["accepted"], reply["duplicates"], reply["bots"]) == (1, 1, 1)
    rejected = reply["rejected"]
    assert [r["index"] for r in rejected] == [3, 4, 5]
    assert rejected[0]["error"].startswith("url: ")
    assert rejected[1]["error"].startswith("timestamp: ")
    assert rejected[2]["error"].startswith("event: ")
    assert_matches_openapi("POST", "/api/v1/events", status, reply)


async def test_accepted_events_are_readable_as_soon_as_the_response_arrives(
    running: Running, key: str
) -> None:
    await post_json(running.client, "/api/v1/events", key, {"events": batch()})
    _, reply = await post_json(running.client, "/api/v1/sessions", key, {})
    # Only v1's pageview was stored (the bot's was dropped).
    assert reply["pagination"]["total_records"] == 1
    assert reply["records"][0]["landing_page"] == "https://example.com/home"


async def test_sending_the_same_batch_again_stores_nothing_new(running: Running, key: str) -> None:
    await post_json(running.client, "/api/v1/events", key, {"events": batch()})
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": batch()})
    assert status == 200
    # Both copies of e-1 are duplicates now; the bot and the invalid events as before.
    assert (reply["accepted"], reply["duplicates"], reply["bots"]) == (0, 2, 1)
    assert len(reply["rejected"]) == 3


async def test_events_without_event_id_are_deduplicated_by_content(
    running: Running, key: str
) -> None:
    events = [
        pageview("v1", "2025-07-20T10:00:00Z", "/home"),
        pageview("v1", "2025-07-20T10:00:00+00:00", "/home"),
    ]
    _, reply = await post_json(running.client, "/api/v1/events", key, {"events": events})
    assert (reply["accepted"], reply["duplicates"]) == (1, 1)


async def test_bearer_key_ingests_too(running: Running, key: str) -> None:
    response = await running.client.post(
        "/api/v1/events",
        headers=bearer_header(key),
        json={"events": [pageview("v1", "2025-07-20T10:00:00Z", "/home")]},
    )
    assert response.status == 200
    assert (await response.json())["accepted"] == 1


async def test_an_empty_batch_is_fine(running: Running, key: str) -> None:
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": []})
    assert (status, reply) == (200, {"accepted": 0, "duplicates": 0, "bots": 0, "rejected": []})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'events: missing; expected a body {"events": [...]}'),
        (
            {"events": {"type": "pageview"}},
            "events: expected an array of event objects, got an object",
        ),
        ({"events": None}, "events: expected an array of event objects, got null"),
        (
            {"events": [], "site_id": "x"},
            "'site_id': unknown key; expected a body {\"events\": [...]}",
        ),
        (
            [{"type": "pageview"}],
            'body: expected a JSON object {"events": [...]}, got an array; wrap the array: '
            '{"events": [...]}',
        ),
        (7, 'body: expected a JSON object {"events": [...]}, got a number'),
    ],
)
async def test_a_body_of_the_wrong_shape_is_400(
    running: Running, key: str, body: object, message: str
) -> None:
    status, reply = await post_json(running.client, "/api/v1/events", key, body)
    assert (status, reply) == (400, {"error": message})
    assert_matches_openapi("POST", "/api/v1/events", status, reply)


async def test_ten_thousand_events_are_one_batch_but_one_more_is_413(
    running: Running, key: str
) -> None:
    status, reply = await post_json(
        running.client, "/api/v1/events", key, {"events": [{}] * 10_000}
    )
    assert status == 200
    assert len(reply["rejected"]) == 10_000
    status, reply = await post_json(
        running.client, "/api/v1/events", key, {"events": [{}] * 10_001}
    )
    assert (status, reply) == (413, {"error": "events: expected at most 10000 events, got 10001"})


async def test_events_of_one_site_never_reach_another(running: Running, key: str) -> None:
    other = await running.new_site("Other")
    await post_json(
        running.client,
        "/api/v1/events",
        other.api_key,
        {"events": [pageview("v9", "2025-07-20T10:00:00Z", "/other")]},
    )
    _, mine = await post_json(running.client, "/api/v1/sessions", key, {})
    _, theirs = await post_json(running.client, "/api/v1/sessions", other.api_key, {})
    assert mine == {"message": "No sessions found for the given parameters."}
    assert [r["landing_page"] for r in theirs["records"]] == ["https://example.com/other"]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_a_timestamp_beyond_the_representable_years_rejects_that_event_only(
    running: Running, key: str, stamp: str
) -> None:
    events = [
        pageview("v1", "2025-07-20T10:00:00Z", "/home"),
        pageview("v2", stamp, "/home"),
        pageview("v3", "2025-07-20T11:00:00Z", "/pricing"),
    ]
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": events})
    assert status == 200
    assert reply["accepted"] == 2
    assert reply["rejected"] == [
        {
            "index": 1,
            "error": f"timestamp: expected an ISO 8601 date-time, got {stamp!r}: "
            "outside the years 0001-9999 once converted to UTC",
        }
    ]
    _, listed = await post_json(running.client, "/api/v1/sessions", key, {})
    assert sorted(r["landing_page"] for r in listed["records"]) == [
        "https://example.com/home",
        "https://example.com/pricing",
    ]


async def test_an_event_in_the_first_representable_year_is_stored_and_listed(
    running: Running, key: str
) -> None:
    events = [pageview("v1", "0001-01-01T00:00:00Z", "/home")]
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": events})
    assert (status, reply["accepted"]) == (200, 1)
    status, listed = await post_json(running.client, "/api/v1/sessions", key, {})
    assert status == 200
    assert [r["timestamp"] for r in listed["records"]] == ["0001-01-01T00:00:00Z"]
    status, report = await post_json(
        running.client,
        "/api/v1/pages",
        key,
        {"start_date": "0001-01-01", "end_date": "0001-01-20"},
    )
    assert status == 200
    assert report["time_frame"]["start"] == "0001-01-01T00:00:00Z"


async def test_an_event_holding_u0000_is_rejected_alone_and_the_batch_stored(
    running: Running, key: str
) -> None:
    events = [
        pageview("v1", "2025-07-20T10:00:00Z", "/home"),
        pageview("a\x00b", "2025-07-20T10:00:00Z", "/home"),
        {**pageview("v3", "2025-07-20T10:00:00Z", "/home"), "user_agent": "x\x00y"},
    ]
    status, reply = await post_json(running.client, "/api/v1/events", key, {"events": events})
    assert status == 200
    assert reply["accepted"] == 1
    assert [(r["index"], r["error"].split(":")[0]) for r in reply["rejected"]] == [
        (1, "visitor_id"),
        (2, "user_agent"),
    ]
