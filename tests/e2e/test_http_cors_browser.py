"""CORS in a real headless Chromium: a front end served from another loopback port calls
``/graphql`` with ``fetch``. From a listed origin it gets the data (and can read a
refusal, its status and its request id); from any other origin the browser refuses the
call, as the CORS protocol has it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from tests.e2e.browser_support import CHROMIUM, NO_CHROMIUM, Browser, Request, Tab, chromium
from tests.e2e.conftest import NOW

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]


async def _front_end(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><title>Front end</title>", content_type="text/html")


@dataclass
class Setup:
    api: str  # the service's origin
    api_key: str
    listed: str  # the origin of a front end named in ATTRIBUTIONHUB_CORS_ORIGINS
    other: str  # the origin of one that is not


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    front = web.Application()
    front.router.add_get("/", _front_end)
    async with (
        TestServer(front, host="127.0.0.1") as listed,
        TestServer(front, host="127.0.0.1") as other,
    ):
        listed_origin = f"http://127.0.0.1:{listed.port}"
        settings = Settings(access_log=False, cors_origins=(listed_origin,))
        app = init(settings, store=MemoryStore(), clock=FixedClock(NOW))
        async with TestServer(app, host="127.0.0.1") as api:
            new = await app[SERVICE].create_site("Cross-origin")
            yield Setup(
                api=f"http://127.0.0.1:{api.port}",
                api_key=new.api_key,
                listed=listed_origin,
                other=f"http://127.0.0.1:{other.port}",
            )


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with chromium(tmp_path / "profile") as running:
        yield running


async def front_end_at(browser: Browser, origin: str) -> Tab:
    tab = await browser.new_tab()
    await tab.navigate(f"{origin}/")
    await tab.wait_for(f"location.origin === {json.dumps(origin)}")
    return tab


def graphql_fetch(setup: Setup, key: str) -> str:
    """A page's ``fetch`` of ``{ site { name } }``, with the headers a front end sends
    (they make the browser ask first); what it could read, or the error it got."""
    init = {
        "method": "POST",
        "headers": {"Authentication": key, "Content-Type": "application/json"},
        "body": json.dumps({"query": "{ site { name } }"}),
    }
    return (
        f"fetch({json.dumps(setup.api + '/graphql')}, {json.dumps(init)})"
        ".then(async r => ({status: r.status, body: await r.json(),"
        " requestId: r.headers.get('X-Request-Id')}))"
        ".catch(e => ({failed: String(e)}))"
    )


def _sent(method: str, origin: str) -> Callable[[Request], bool]:
    return lambda request: request.method == method and request.url.startswith(origin)


async def api_calls(tab: Tab, setup: Setup) -> dict[str, int | None]:
    """The status of the preflight and of the query the page sent to the service (None:
    no answer), once the browser has reported both."""
    statuses: dict[str, int | None] = {}
    for method in ("OPTIONS", "POST"):
        request = await tab.wait_for_request(_sent(method, setup.api), f"{method} to the service")
        statuses[method] = request.status
    calls = [r for r in tab.record.requests.values() if r.url.startswith(setup.api)]
    assert len(calls) == 2, calls
    return statuses


async def test_a_front_end_on_a_listed_origin_gets_the_data(browser: Browser, setup: Setup) -> None:
    tab = await front_end_at(browser, setup.listed)

    result = await tab.evaluate(graphql_fetch(setup, setup.api_key))

    assert result["status"] == 200
    assert result["body"] == {"data": {"site": {"name": "Cross-origin"}}}
    assert result["requestId"]  # an exposed header
    # The preflight, then the query (the browser reports them in either order).
    assert await api_calls(tab, setup) == {"OPTIONS": 204, "POST": 200}


async def test_a_front_end_on_a_listed_origin_can_read_why_it_was_refused(
    browser: Browser, setup: Setup
) -> None:
    tab = await front_end_at(browser, setup.listed)

    result = await tab.evaluate(graphql_fetch(setup, "not-a-key"))

    assert result["status"] == 401
    [error] = result["body"]["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert result["requestId"]


async def test_a_front_end_on_another_origin_is_refused_by_the_browser(
    browser: Browser, setup: Setup
) -> None:
    tab = await front_end_at(browser, setup.other)

    result = await tab.evaluate(graphql_fetch(setup, setup.api_key))

    assert result == {"failed": "TypeError: Failed to fetch"}
    # The preflight was answered without CORS headers, so the query itself was never
    # sent, and the browser says why.
    assert await api_calls(tab, setup) == {"OPTIONS": 204, "POST": None}
    blocked = await tab.wait_for_message("blocked by CORS policy")
    assert "No 'Access-Control-Allow-Origin' header is present" in blocked
