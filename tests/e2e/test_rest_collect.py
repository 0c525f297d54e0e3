"""The browser collector and the tracker script."""

from __future__ import annotations

from .conftest import NOW, Running


async def test_tracker_script_is_served_as_javascript(running: Running) -> None:
    response = await running.client.get("/tracker.js")
    assert response.status == 200
    assert response.content_type == "application/javascript"
    script = await response.text()
    for expected in (
        "sendBeacon",
        "visibilitychange",
        "pushState",
        "hsFormCallback",
        "html_form",
        "hubspot_form",
        '"custom"',
        "/collect",
    ):
        assert expected in script


async def test_collect_stores_an_event_stamped_with_server_time(running: Running) -> None:
    site = await running.new_site()
    response = await running.client.post(
        f"/collect?token={site.tracker_token}",
        data='{"type": "pageview", "visitor_id": "v1", "timestamp": "1999-01-01T00:00:00Z",'
        ' "url": "https://example.com/pricing", "referrer": "https://www.google.com/"}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert (await response.json())["accepted"] == 1
    sessions = await running.client.post(
        "/api/v1/sessions", json={}, headers={"Authentication": site.api_key}
    )
    [record] = (await sessions.json())["records"]
    assert record["timestamp"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (record["source"], record["medium"]) == ("google.com", "organic")


async def test_collect_accepts_a_small_batch(running: Running) -> None:
    site = await running.new_site()
    events = [
        {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/a"},
        {"type": "exit", "visitor_id": "v1", "url": "https://example.com/a"},
        {"type": "pageview", "url": "https://example.com/a"},
    ]
    response = await running.client.post(
        f"/collect?token={site.tracker_token}", json={"events": events}
    )
    body = await response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [2]
    assert body["rejected"][0]["error"].startswith("visitor_id:")


async def test_collect_refuses_the_api_key_and_unknown_tokens_alike(running: Running) -> None:
    site = await running.new_site()
    event = {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/a"}
    wrong = await running.client.post(f"/collect?token={site.api_key}", json=event)
    missing = await running.client.post("/collect", json=event)
    assert wrong.status == missing.status == 401
    assert await wrong.json() == await missing.json()
    assert wrong.headers["Access-Control-Allow-Origin"] == "*"


async def test_tracker_token_cannot_read(running: Running) -> None:
    site = await running.new_site()
    response = await running.client.post(
        "/api/v1/sessions", json={}, headers={"Authentication": site.tracker_token}
    )
    assert response.status == 401


async def test_collect_preflight_allows_any_origin(running: Running) -> None:
    response = await running.client.options(
        "/collect",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_collect_refuses_large_batches(running: Running) -> None:
    site = await running.new_site()
    event = {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/a"}
    response = await running.client.post(
        f"/collect?token={site.tracker_token}", json={"events": [event] * 51}
    )
    assert response.status == 413
    assert "events" in (await response.json())["error"]
