"""``site { droppedBots }``: events the bot filter dropped, per reason, visible to the
site's owner through GraphQL whichever face received them, and to that site only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import Running

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
QUERY = "{ site { droppedBots { reason events lastSeen } } }"


def pageview(event_id: str, user_agent: str) -> dict[str, Any]:
    return {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": "v1",
        "url": "https://example.com/",
        "timestamp": "2025-07-01T10:00:00Z",
        "user_agent": user_agent,
    }


async def dropped_bots(running: Running, api_key: str) -> list[dict[str, Any]]:
    response = await running.client.post(
        "/graphql", json={"query": QUERY}, headers={"Authentication": api_key}
    )
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert "errors" not in answer, answer
    rows: list[dict[str, Any]] = answer["data"]["site"]["droppedBots"]
    return rows


async def test_a_site_without_bots_has_no_dropped_bots(running: Running) -> None:
    new = await running.new_site()
    assert await dropped_bots(running, new.api_key) == []


async def test_bots_dropped_by_rest_and_collect_are_counted_per_reason(running: Running) -> None:
    new = await running.new_site()
    other = await running.new_site("Other")
    first_seen = running.clock.now()
    reply = await running.client.post(
        "/api/v1/events",
        json={
            "events": [
                pageview("e1", GOOGLEBOT),
                pageview("e2", FIREFOX),
                pageview("e3", GOOGLEBOT),
            ]
        },
        headers={"Authentication": new.api_key},
    )
    assert (await reply.json())["bots"] == 2
    running.clock.advance(timedelta(minutes=3))
    # The tracker's own endpoint, as a headless browser running the page would send it.
    reply = await running.client.post(
        f"/collect?token={new.tracker_token}", json={"events": [pageview("e4", HEADLESS)]}
    )
    assert reply.status == 200, await reply.text()
    running.clock.advance(timedelta(minutes=3))
    await running.client.post(
        "/api/v1/events",
        json={"events": [pageview("e5", HEADLESS), pageview("e6", HEADLESS)]},
        headers={"Authentication": new.api_key},
    )

    rows = await dropped_bots(running, new.api_key)
    assert [(r["reason"], r["events"], datetime.fromisoformat(r["lastSeen"])) for r in rows] == [
        ("Headless", 3, first_seen + timedelta(minutes=6)),
        ("Googlebot", 2, first_seen),
    ]
    assert await dropped_bots(running, other.api_key) == []
