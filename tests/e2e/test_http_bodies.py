"""Request bodies at the shared edge (adapters/http/bodies.py): decoded alike for both
faces, with errors that say what is wrong, and read within a time limit with a cap on
bodies still arriving, so that slow clients cannot hold the server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running

GRAPHQL_INGEST = "mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }"
GRAPHQL_SESSIONS = (
    "query($page: String) { sessions(filter: {landingPage: $page}) { totalRecords } }"
)


async def _graphql(running: Running, key: str, body: bytes) -> tuple[int, Any]:
    response = await running.client.post(
        "/graphql",
        data=body,
        headers={"Authentication": key, "Content-Type": "application/json"},
    )
    return response.status, await response.json()


async def test_a_graphql_body_that_is_not_utf8_is_a_400_in_graphql_shape(
    running: Running,
) -> None:
    new = await running.new_site()
    status, reply = await _graphql(running, new.api_key, b'{"query": "{ site { id } }\xff"}')
    assert status == 400
    [error] = reply["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith("body: not UTF-8 text (byte 0xff at offset 26")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (GRAPHQL_SESSIONS, '{"page": "https://example.com/\\ud800"}'),
        (
            GRAPHQL_INGEST,
            '{"events": [{"type": "pageview", "visitorId": "v\\udc00", '
            '"timestamp": "2025-07-01T10:00:00Z", "url": "https://example.com/"}]}',
        ),
        (
            GRAPHQL_INGEST,
            '{"events": [{"type": "pageview", "visitorId": "v1", '
            '"timestamp": "2025-07-01T10:00:00Z", "url": "https://example.com/\\ud83d"}]}',
        ),
    ],
    ids=["landingPage", "visitorId", "url"],
)
async def test_a_lone_surrogate_in_graphql_variables_is_a_400_in_graphql_shape(
    running: Running, query: str, variables: str
) -> None:
    new = await running.new_site()
    body = f'{{"query": "{query}", "variables": {variables}}}'.encode()
    status, reply = await _graphql(running, new.api_key, body)
    assert status == 400
    [error] = reply["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "surrogate pair" in error["message"]
    assert error["message"].startswith("body: invalid JSON at line 1, column ")


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/events"])
async def test_rest_says_in_words_that_a_body_is_not_utf8(running: Running, path: str) -> None:
    new = await running.new_site()
    response = await running.client.post(
        path, data=b'{"source": "caf\xe9"}', headers={"Authentication": new.api_key}
    )
    assert response.status == 400
    assert await response.json() == {
        "error": "body: not UTF-8 text (byte 0xe9 at offset 15 cannot start or continue a "
        "UTF-8 character); send JSON encoded as UTF-8"
    }


async def test_rest_says_in_words_what_a_lone_surrogate_escape_is(running: Running) -> None:
    new = await running.new_site()
    response = await running.client.post(
        "/api/v1/sessions",
        data=b'{"landing_page": "https://example.com/\\ud800"}',
        headers={"Authentication": new.api_key},
    )
    assert response.status == 400
    message = (await response.json())["error"]
    assert message.startswith("body: invalid JSON at line 1, column ")
    assert "surrogate pair" in message
    assert "str is not valid UTF-8" not in message
