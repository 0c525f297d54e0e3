"""CORS on ``/graphql`` and ``/api/v1/`` (adapters/http/cors.py): browser apps on the
listed origins may call both faces and read every answer, errors included; other
origins get no CORS header at all; ``/collect`` keeps its own open CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from domain.ports import StoreSnapshot
from tests.e2e.conftest import NOW

ALLOWED = "https://app.example.com"
ALSO_ALLOWED = "http://localhost:5173"
REFUSED = "https://evil.example"

SITE_QUERY = {"query": "{ site { name } }"}
SESSIONS = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
# Every route of both faces a front end calls, with a body each accepts.
ENDPOINTS: list[tuple[str, object]] = [
    ("/graphql", SITE_QUERY),
    ("/api/v1/sessions", SESSIONS),
    ("/api/v1/pages", SESSIONS),
    ("/api/v1/attribution", SESSIONS),
    ("/api/v1/events", {"events": []}),
]
PATHS = [path for path, _ in ENDPOINTS]


class Served:
    def __init__(self, client: TestClient[Any, Any], api_key: str) -> None:
        self.client = client
        self.api_key = api_key

    async def preflight(
        self, path: str, origin: str, method: str = "POST", headers: str = "authentication"
    ) -> ClientResponse:
        return await self.client.options(
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )

    async def post(
        self, path: str, body: object, *, origin: str | None, key: str | None = None
    ) -> ClientResponse:
        headers = {"Authentication": key or self.api_key}
        if origin is not None:
            headers["Origin"] = origin
        return await self.client.post(path, json=body, headers=headers)


async def serve(settings: Settings, store: MemoryStore | None = None) -> AsyncIterator[Served]:
    app = init(settings, store=store or MemoryStore(), clock=FixedClock(NOW))
    async with TestClient(TestServer(app)) as client:
        new = await app[SERVICE].create_site("CORS")
        yield Served(client, new.api_key)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    settings = Settings(access_log=False, cors_origins=(ALLOWED, ALSO_ALLOWED))
    async for running in serve(settings):
        yield running


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower().startswith("access-")}


def assert_readable_by(response: ClientResponse, origin: str) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After, X-Request-Id"
    assert "Access-Control-Allow-Credentials" not in response.headers


# --- preflight -------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_a_listed_origin_s_preflight_is_answered_with_what_a_client_may_send(
    served: Served, path: str
) -> None:
    response = await served.preflight(path, ALLOWED, headers="authentication, content-type")

    assert response.status == 204
    assert cors_headers(response.headers) == {
        "Access-Control-Allow-Origin": ALLOWED,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": (
            "Authentication, Authorization, Content-Type, X-Request-Id"
        ),
        "Access-Control-Max-Age": "7200",
    }
    assert response.headers["Vary"] == "Origin"


async def test_each_listed_origin_is_answered_with_itself(served: Served) -> None:
    first = await served.preflight("/graphql", ALLOWED)
    second = await served.preflight("/graphql", ALSO_ALLOWED)

    assert first.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert second.headers["Access-Control-Allow-Origin"] == ALSO_ALLOWED


async def test_a_preflight_names_get_where_the_route_has_it() -> None:
    settings = Settings(access_log=False, cors_origins=(ALLOWED,), graphql_ide=True)
    async for served in serve(settings):
        graphql = await served.preflight("/graphql", ALLOWED, method="GET")
        document = await served.preflight("/api/v1/openapi.json", ALLOWED, method="GET")

        assert graphql.headers["Access-Control-Allow-Methods"] == "GET, POST"
        assert document.headers["Access-Control-Allow-Methods"] == "GET"


@pytest.mark.parametrize("path", PATHS)
async def test_another_origin_s_preflight_gets_no_cors_header(served: Served, path: str) -> None:
    response = await served.preflight(path, REFUSED)

    assert response.status == 204
    assert cors_headers(response.headers) == {}
    assert await response.read() == b""


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com:443x",
        "https://app.example.com.evil.example",
        "http://app.example.com",  # another scheme is another origin
        "https://app.example.com:8443",
        "HTTPS://APP.EXAMPLE.COM",  # browsers send it in lower case; nothing else matches
        "null",
    ],
)
async def test_an_origin_is_matched_exactly(served: Served, origin: str) -> None:
    response = await served.preflight("/graphql", origin)

    assert cors_headers(response.headers) == {}


async def test_a_preflight_to_a_path_without_an_endpoint_is_the_router_s_404(
    served: Served,
) -> None:
    response = await served.preflight("/api/v1/sesions", ALLOWED)

    assert response.status == 404
    assert await response.json() == {"error": "not found: no endpoint at /api/v1/sesions"}
    # The allowed origin can still read why.
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_without_listed_origins_no_origin_gets_cors_headers() -> None:
    async for served in serve(Settings(access_log=False)):
        preflight = await served.preflight("/graphql", ALLOWED)
        actual = await served.post("/graphql", SITE_QUERY, origin=ALLOWED)

        assert preflight.status == 204
        assert cors_headers(preflight.headers) == {}
        assert actual.status == 200
        assert cors_headers(actual.headers) == {}
        assert "Vary" not in actual.headers


async def test_an_options_request_that_is_no_preflight_is_refused_as_before(
    served: Served,
) -> None:
    response = await served.client.options("/graphql", headers={"Origin": ALLOWED})

    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


# --- actual requests -------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
async def test_a_listed_origin_may_read_the_answers_of_both_faces(
    served: Served, path: str, body: object
) -> None:
    response = await served.post(path, body, origin=ALLOWED)

    assert response.status == 200, await response.text()
    assert_readable_by(response, ALLOWED)
    assert response.headers["X-Request-Id"]


async def test_the_graphql_answer_to_a_listed_origin_holds_the_data(served: Served) -> None:
    response = await served.post("/graphql", SITE_QUERY, origin=ALSO_ALLOWED)

    assert await response.json() == {"data": {"site": {"name": "CORS"}}}
    assert_readable_by(response, ALSO_ALLOWED)


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
async def test_another_origin_gets_the_answer_without_cors_headers(
    served: Served, path: str, body: object
) -> None:
    # The server answers as to any client; it is the browser that withholds the answer.
    response = await served.post(path, body, origin=REFUSED)

    assert response.status == 200
    assert cors_headers(response.headers) == {}
    # Still marked as varying by Origin: a cache must not serve it to a listed origin.
    assert response.headers["Vary"] == "Origin"


async def test_a_request_without_origin_gets_no_cors_headers(served: Served) -> None:
    response = await served.post("/api/v1/sessions", SESSIONS, origin=None)

    assert response.status == 200
    assert cors_headers(response.headers) == {}


@pytest.mark.parametrize("path", PATHS)
async def test_a_401_is_readable_by_a_listed_origin(served: Served, path: str) -> None:
    response = await served.post(path, {}, origin=ALLOWED, key="not-a-key")

    assert response.status == 401
    assert_readable_by(response, ALLOWED)
    body = await response.json()
    assert "unauthorized" in str(body)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        # A query that does not validate is a GraphQL error in a 200.
        ("/graphql", {"query": "{ site { nosuchfield } }"}, 200),
        ("/graphql", {"variables": {}}, 400),
        ("/api/v1/sessions", {"start_date": "2025-13-01"}, 400),
        ("/api/v1/events", {"events": "none"}, 400),
    ],
)
async def test_a_refusal_of_bad_input_is_readable_by_a_listed_origin(
    served: Served, path: str, body: object, status: int
) -> None:
    response = await served.post(path, body, origin=ALLOWED)

    assert response.status == status
    assert "error" in await response.text()
    assert_readable_by(response, ALLOWED)


async def test_the_router_s_404_and_405_are_readable_by_a_listed_origin(served: Served) -> None:
    missing = await served.post("/api/v1/nothing", {}, origin=ALLOWED)
    wrong_method = await served.client.get("/api/v1/sessions", headers={"Origin": ALLOWED})

    assert (missing.status, wrong_method.status) == (404, 405)
    assert_readable_by(missing, ALLOWED)
    assert_readable_by(wrong_method, ALLOWED)


async def test_a_429_exposes_retry_after_to_a_listed_origin() -> None:
    settings = Settings(access_log=False, cors_origins=(ALLOWED,), rate_limit="1/minute")
    async for served in serve(settings):
        await served.post("/graphql", SITE_QUERY, origin=ALLOWED)
        graphql = await served.post("/graphql", SITE_QUERY, origin=ALLOWED)
        rest = await served.post("/api/v1/sessions", SESSIONS, origin=ALLOWED)

        for response in (graphql, rest):
            assert response.status == 429
            assert int(response.headers["Retry-After"]) > 0
            assert_readable_by(response, ALLOWED)


class BrokenStore(MemoryStore):
    """A store whose reads fail: the server's fault, a 500."""

    def snapshot(self) -> AbstractAsyncContextManager[StoreSnapshot]:
        raise RuntimeError("the disk is on fire")


async def test_a_500_is_readable_by_a_listed_origin(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(access_log=False, cors_origins=(ALLOWED,))
    async for served in serve(settings, BrokenStore()):
        response = await served.post("/api/v1/sessions", SESSIONS, origin=ALLOWED)

        assert response.status == 500
        assert "internal error" in (await response.json())["error"]
        assert_readable_by(response, ALLOWED)


# --- what stays as it was --------------------------------------------------------------


async def test_collect_keeps_its_own_open_cors(served: Served) -> None:
    preflight = await served.preflight("/collect", REFUSED, headers="content-type")
    script = await served.client.get("/tracker.js", headers={"Origin": REFUSED})

    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in script.headers


async def test_paths_outside_the_apis_get_no_cors_headers(served: Served) -> None:
    response = await served.client.get("/healthz", headers={"Origin": ALLOWED})

    assert response.status == 200
    assert cors_headers(response.headers) == {}
