"""A log line per ingested batch, and one when bot events were dropped, whichever face
ingested it (attributionhub/app.py, ``IngestLoggingService``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.e2e.conftest import Running

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIELDS = ("site_id", "accepted", "duplicates", "bots", "rejected")


def events() -> list[dict[str, Any]]:
    return [
        {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/", **extra}
        for extra in (
            {"timestamp": "2025-07-01T10:00:00Z"},
            {"timestamp": "2025-07-01T10:00:00Z"},  # the same event again: a duplicate
            {"timestamp": "2025-07-01T10:01:00Z", "user_agent": GOOGLEBOT},
            {"timestamp": "not a time"},
        )
    ]


async def _ingest(running: Running, face: str) -> str:
    new = await running.new_site()
    batch = events()
    if face == "rest":
        response = await running.client.post(
            "/api/v1/events", json={"events": batch}, headers={"Authentication": new.api_key}
        )
    elif face == "collect":
        response = await running.client.post(
            f"/collect?token={new.tracker_token}", json={"events": batch}
        )
    else:
        query = "mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }"
        variables = {
            "events": [
                {
                    "type": e["type"],
                    "visitorId": e["visitor_id"],
                    "url": e["url"],
                    "timestamp": e["timestamp"],
                    **({"userAgent": e["user_agent"]} if "user_agent" in e else {}),
                }
                for e in batch
            ]
        }
        response = await running.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authentication": new.api_key},
        )
    assert response.status == 200, await response.text()
    return new.site.site_id


def records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


@pytest.mark.parametrize("face", ["rest", "collect", "graphql"])
async def test_each_batch_is_logged_with_its_site_and_counts(
    running: Running, caplog: pytest.LogCaptureFixture, face: str
) -> None:
    caplog.set_level(logging.INFO)
    site_id = await _ingest(running, face)
    (line,) = records(caplog, "ingest")
    counts = {name: getattr(line, name) for name in FIELDS}
    if face == "collect":
        # The server's clock stamps /collect's events: the three that are no bot become
        # one event at one instant (the unreadable timestamp is replaced, not rejected).
        expected = {"accepted": 1, "duplicates": 2, "bots": 1, "rejected": 0}
    else:
        expected = {"accepted": 1, "duplicates": 1, "bots": 1, "rejected": 1}
    assert counts == {"site_id": site_id, **expected}


async def test_dropped_bots_get_a_line_of_their_own(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    site_id = await _ingest(running, "rest")
    (line,) = records(caplog, "bots_dropped")
    assert (line.site_id, line.bots) == (site_id, 1)  # type: ignore[attr-defined]
    assert line.reasons == {"Googlebot": 1}  # type: ignore[attr-defined]
    assert "(Googlebot: 1)" in line.getMessage()


async def test_a_batch_without_bots_has_no_bot_line(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO)
    await running.client.post(
        "/api/v1/events", json={"events": events()[:1]}, headers={"Authentication": new.api_key}
    )
    assert len(records(caplog, "ingest")) == 1
    assert records(caplog, "bots_dropped") == []
