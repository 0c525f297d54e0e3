"""Rate limiting per API key: 429 with Retry-After once a key's budget is spent."""

from __future__ import annotations

import pytest
from aiohttp import hdrs

from attributionhub.config import Settings
from tests.e2e.conftest import Running
from tests.e2e.rest_support import assert_matches_openapi, key_header, post_json


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False, rate_limit="3/minute")


async def test_fourth_request_in_a_minute_is_429_with_retry_after(running: Running) -> None:
    key = (await running.new_site()).api_key
    for path in ("/api/v1/sessions", "/api/v1/pages", "/api/v1/events"):
        status, _ = await post_json(
            running.client, path, key, {"events": []} if "events" in path else {}
        )
        assert status == 200
    response = await running.client.post("/api/v1/sessions", headers=key_header(key), json={})
    assert response.status == 429
    retry_after = int(response.headers[hdrs.RETRY_AFTER])
    # The moving window frees the first hit 60 s after it was made.
    assert 1 <= retry_after <= 60
    reply = await response.json()
    assert reply == {
        "error": f"rate limit exceeded for this API key: retry in {retry_after} seconds"
    }
    assert_matches_openapi("POST", "/api/v1/sessions", 429, reply)


async def test_each_key_has_its_own_budget(running: Running) -> None:
    busy = (await running.new_site("Busy")).api_key
    quiet = (await running.new_site("Quiet")).api_key
    statuses = [
        (await post_json(running.client, "/api/v1/sessions", busy, {}))[0] for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    status, _ = await post_json(running.client, "/api/v1/sessions", quiet, {})
    assert status == 200


async def test_requests_without_a_valid_key_are_refused_before_counting(
    running: Running,
) -> None:
    key = (await running.new_site()).api_key
    for _ in range(5):
        status, _ = await post_json(running.client, "/api/v1/sessions", "wrong", {})
        assert status == 401
    status, _ = await post_json(running.client, "/api/v1/sessions", key, {})
    assert status == 200


def test_a_malformed_limit_is_refused_at_start_up() -> None:
    from adapters.rate_limiter import RateLimiter

    with pytest.raises(
        ValueError,
        match=r"rate_limit: expected a limit such as '600/minute', got '3 per fortnight'",
    ):
        RateLimiter("3 per fortnight")


async def test_graphql_requests_count_against_the_same_budget(running: Running) -> None:
    key = (await running.new_site()).api_key
    for _ in range(3):
        status, _ = await post_json(running.client, "/api/v1/sessions", key, {})
        assert status == 200
    response = await running.client.post(
        "/graphql", headers=key_header(key), json={"query": "{ site { id } }"}
    )
    assert response.status == 429
    assert 1 <= int(response.headers[hdrs.RETRY_AFTER]) <= 60
    reply = await response.json()
    assert reply["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
