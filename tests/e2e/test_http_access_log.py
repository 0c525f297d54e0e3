"""The access log of both faces (adapters/http/access_log.py): one line per request with
its site, client and request id, never the key."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.http.access_log import access_log_middleware
from adapters.memory_store import MemoryStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from rest_compat.errors import error_middleware
from tests.e2e.conftest import Running
from tests.e2e.http_support import post, serve
from tests.e2e.rest_support import post_json


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=True)


FIELDS = ("event", "method", "path", "status", "duration_ms", "site_id", "client", "request_id")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {name: getattr(record, name) for name in FIELDS}
        for record in caplog.records
        if record.name == "attributionhub.access"
    ]


async def test_each_request_logs_method_path_status_duration_site_client_and_request_id(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    await post_json(running.client, "/api/v1/sessions", new.api_key, {}, params={"page": "1"})
    (line,) = access_lines(caplog)
    assert line["event"] == "request"
    assert line["client"] == "127.0.0.1"
    assert isinstance(line["request_id"], str)
    assert len(line["request_id"]) == 32
    assert line["method"] == "POST"
    assert line["path"] == "/api/v1/sessions"  # no query string
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["site_id"] == new.site.site_id


async def test_the_key_never_reaches_the_log(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.DEBUG)
    await post_json(running.client, "/api/v1/pages", new.api_key, {})
    await post_json(running.client, "/api/v1/sessions", new.api_key + "x", {})
    assert caplog.records
    assert all(new.api_key not in record.getMessage() for record in caplog.records)
    assert all(new.api_key not in repr(record.__dict__) for record in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("POST", "/api/v1/sessions", "wrong", 401),
        ("POST", "/api/v1/nothing", None, 404),
        ("GET", "/api/v1/pages", None, 405),
        ("GET", "/healthz", None, 200),
    ],
)
async def test_failed_and_anonymous_requests_are_logged_without_a_site(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    key: str | None,
    status: int,
) -> None:
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    headers = {"Authentication": key} if key else {}
    response = await running.client.request(method, path, headers=headers)
    assert response.status == status
    (line,) = access_lines(caplog)
    assert (line["method"], line["path"], line["status"], line["site_id"]) == (
        method,
        path,
        status,
        None,
    )


async def test_an_unexpected_failure_is_a_generic_json_500_logged_with_details(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO)
    # A store that fails under the service: nothing the client sent can explain it.
    await running.service.store.close()
    status, reply = await post_json(running.client, "/api/v1/sessions", new.api_key, {})
    assert status == 500
    assert reply == {
        "error": "internal error: the request could not be processed; it has been logged"
    }
    (failure,) = [r for r in caplog.records if r.name == "attributionhub.rest"]
    assert failure.levelno == logging.ERROR
    assert failure.exc_info is not None
    (line,) = access_lines(caplog)
    assert line["status"] == 500
    assert line["site_id"] is None  # the failure came before authentication finished


async def test_graphql_requests_name_their_site_in_the_access_log(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    response = await running.client.post(
        "/graphql", headers={"Authentication": new.api_key}, json={"query": "{ site { id } }"}
    )
    assert response.status == 200
    (line,) = access_lines(caplog)
    assert (line["path"], line["status"]) == ("/graphql", 200)
    assert line["site_id"] == new.site.site_id


async def test_a_collected_event_names_its_site_in_the_access_log(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    event = {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/"}
    await running.client.post(f"/collect?token={new.tracker_token}", json=event)
    (line,) = access_lines(caplog)
    assert line["path"] == "/collect"  # the token in the query string is not logged
    assert line["site_id"] == new.site.site_id
    assert new.tracker_token not in json.dumps(line)


async def test_a_client_that_hangs_up_mid_body_is_no_server_error(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.INFO)
    server = running.client.server
    _, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /api/v1/sessions HTTP/1.1\r\nHost: test\r\n"
        + f"Authentication: {new.api_key}\r\n".encode()
        + b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"page": '
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    # The server notices the hang-up when it next reads; give it the chance.
    for _ in range(100):
        if access_lines(caplog):
            break
        await asyncio.sleep(0.01)

    (line,) = access_lines(caplog)
    assert line["status"] == 499  # "client closed request", as nginx logs it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_connection_lost_while_reading_the_body_is_logged_as_499_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # When the body stream breaks under a handler that is not cancelled, the read raises
    # ConnectionResetError: the same 499, no "unhandled error".
    async def reads_a_lost_body(request: web.Request) -> web.Response:
        raise ConnectionResetError("Connection lost")

    app = web.Application(middlewares=[access_log_middleware, error_middleware])
    app.router.add_post("/lost", reads_a_lost_body)
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/lost", data=b"{}")

    assert response.status == 499
    (line,) = access_lines(caplog)
    assert line["status"] == 499
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/sessions", "/graphql", "/collect"])
async def test_a_client_that_hangs_up_mid_upload_leaves_a_499_and_no_traceback(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Served as `attributionhub serve` serves, on a real socket: the client sends its
    # headers and part of the body, then closes the connection.
    app = init(Settings(access_log=True), store=MemoryStore())
    caplog.set_level(logging.DEBUG)
    async for served in serve(app):
        new = await app[SERVICE].create_site("Example")
        credential = (
            f"X-Tracker-Token: {new.tracker_token}"
            if path == "/collect"
            else f"Authentication: {new.api_key}"
        )
        _, writer = await asyncio.open_connection(served.host, served.port)
        writer.write(post(path, b'{"events": [', credential.encode(), content_length=5000))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(200):
            if access_lines(caplog):
                break
            await asyncio.sleep(0.01)

    (line,) = access_lines(caplog)
    assert (line["path"], line["status"]) == (path, 499)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_sane_request_id_is_kept_echoed_and_logged(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    response = await running.client.get("/healthz", headers={"X-Request-Id": "lb-7f3a:0001"})
    assert response.headers["X-Request-Id"] == "lb-7f3a:0001"
    (line,) = access_lines(caplog)
    assert line["request_id"] == "lb-7f3a:0001"


@pytest.mark.parametrize("incoming", ["", "a b", "x" * 129, "<script>", "id\u00e9"])
async def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(
    running: Running, caplog: pytest.LogCaptureFixture, incoming: str
) -> None:
    caplog.set_level(logging.INFO, logger="attributionhub.access")
    response = await running.client.post(
        "/api/v1/nothing", headers={"X-Request-Id": incoming} if incoming else {}
    )
    assert response.status == 404
    echoed = response.headers["X-Request-Id"]
    assert echoed != incoming
    assert len(echoed) == 32
    (line,) = access_lines(caplog)
    assert line["request_id"] == echoed


async def test_every_request_gets_its_own_id(running: Running) -> None:
    ids = {(await running.client.get("/healthz")).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


async def test_a_client_error_is_logged_without_a_traceback(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    new = await running.new_site()
    caplog.set_level(logging.DEBUG)
    for body in (b"{not json", b'{"page": "x"}', b'{"start_date": "2025-13-01"}'):
        response = await running.client.post(
            "/api/v1/sessions", data=body, headers={"Authentication": new.api_key}
        )
        assert response.status == 400
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_with_the_access_log_off_requests_still_get_an_id_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    app = init(Settings(access_log=False), store=MemoryStore())
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/healthz", headers={"X-Request-Id": "abc-1"})
    assert response.headers["X-Request-Id"] == "abc-1"
    assert access_lines(caplog) == []
