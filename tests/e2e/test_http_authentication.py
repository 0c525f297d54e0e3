"""One authentication path for both faces (adapters/http/authentication.py): the same 401
text for REST and GraphQL, each in its own shape, and credentials that cannot be a key
(bytes that are not UTF-8 among them) refused like any wrong key."""

from __future__ import annotations

from aiohttp import hdrs

from tests.e2e.conftest import Running
from tests.e2e.http_support import RawResponse, exchange, post

GRAPHQL_QUERY = b'{"query": "{ site { id } }"}'


async def test_rest_and_graphql_refuse_a_bad_key_with_one_message(running: Running) -> None:
    rest = await running.client.post("/api/v1/sessions", json={}, headers={"Authentication": "x"})
    graphql = await running.client.post(
        "/graphql", json={"query": "{ site { id } }"}, headers={"Authentication": "x"}
    )
    assert rest.status == graphql.status == 401
    rest_message = (await rest.json())["error"]
    assert await graphql.json() == {
        "errors": [{"message": rest_message, "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert rest.headers[hdrs.WWW_AUTHENTICATE] == graphql.headers[hdrs.WWW_AUTHENTICATE]


async def _raw(running: Running, request: bytes) -> RawResponse:
    server = running.client.server
    assert server.host is not None
    assert server.port is not None
    return await exchange(server.host, server.port, request)


async def test_bytes_that_are_not_utf8_in_a_key_get_the_same_401_as_a_wrong_key(
    running: Running,
) -> None:
    new = await running.new_site()
    key = new.api_key.encode()
    for path, body in (("/api/v1/sessions", b"{}"), ("/graphql", GRAPHQL_QUERY)):
        wrong = await _raw(running, post(path, body, b"Authentication: ahk_wrong"))
        assert wrong.status == 401
        for header in (
            b"Authentication: " + key + b"\xff",
            b"Authentication: \xc3\x28" + key,
            b"Authorization: Bearer " + key + b"\xfe\xff",
        ):
            refused = await _raw(running, post(path, body, header))
            assert (refused.status, refused.body) == (401, wrong.body), (path, header)


async def test_bytes_that_are_not_utf8_in_a_tracker_token_get_the_same_401_as_a_wrong_one(
    running: Running,
) -> None:
    new = await running.new_site()
    event = b'{"type": "pageview", "visitor_id": "v1", "url": "https://example.com/"}'
    wrong = await _raw(running, post("/collect", event, b"X-Tracker-Token: aht_wrong"))
    refused = await _raw(
        running,
        post("/collect", event, b"X-Tracker-Token: " + new.tracker_token.encode() + b"\xff"),
    )
    assert wrong.status == 401
    assert (refused.status, refused.body) == (401, wrong.body)


async def test_the_tracker_token_header_authenticates_collect(running: Running) -> None:
    new = await running.new_site()
    event = {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/"}
    response = await running.client.post(
        "/collect", json=event, headers={"X-Tracker-Token": new.tracker_token}
    )
    assert response.status == 200
    assert (await response.json())["accepted"] == 1
