"""GraphiQL in a real headless Chromium that can reach nothing but loopback: the editor
renders from the service's own files, every request the page makes goes to the service,
and a query runs with the API key typed into the IDE's headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from tests.e2e.browser_support import CHROMIUM, NO_CHROMIUM, Browser, Tab, chromium
from tests.e2e.conftest import NOW

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')"
# The variables and headers editors share a pane; the one not shown is hidden.
HEADERS_EDITOR = (
    "document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')"
)
RESULT = "document.querySelector('.graphiql-response .CodeMirror')"


@dataclass
class Service:
    origin: str
    api_key: str


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    # As `serve --demo` runs it: the IDE and introspection on.
    settings = Settings(access_log=False, graphql_ide=True, graphql_introspection=True)
    app = init(settings, store=MemoryStore(), clock=FixedClock(NOW))
    async with TestServer(app, host="127.0.0.1") as server:
        new = await app[SERVICE].create_site("IDE test")
        yield Service(f"http://127.0.0.1:{server.port}", new.api_key)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with chromium(tmp_path / "profile") as running:
        yield running


async def open_ide(browser: Browser, service: Service) -> Tab:
    tab = await browser.new_tab()
    await tab.navigate(f"{service.origin}/graphql")
    await tab.wait_for(f"!!{QUERY_EDITOR} && !!{HEADERS_EDITOR}")
    return tab


async def test_the_ide_renders_offline_and_asks_only_the_service(
    browser: Browser, service: Service
) -> None:
    tab = await open_ide(browser, service)

    assert await tab.evaluate("!!document.querySelector('#graphiql .graphiql-container')")
    assert "site {" in await tab.evaluate(f"{QUERY_EDITOR}.CodeMirror.getValue()")
    requests = list(tab.record.requests.values())
    elsewhere = [r.url for r in requests if not r.url.startswith((f"{service.origin}/", "data:"))]
    assert elsewhere == []
    files = {r.url.removeprefix(service.origin): r.status for r in requests if "/static/" in r.url}
    assert files == {
        f"/graphql/static/{name}": 200
        for name in (
            "graphiql.min.css",
            "ide.css",
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "ide.js",
        )
    }
    # Nothing was refused by the page's Content-Security-Policy, nothing threw.
    assert [m for m in tab.record.messages if "Content Security Policy" in m] == []
    assert [m for m in tab.record.messages if m.startswith("exception")] == []


async def test_a_query_runs_with_the_api_key_in_the_ide_s_headers(
    browser: Browser, service: Service
) -> None:
    tab = await open_ide(browser, service)
    headers = json.dumps({"Authentication": service.api_key})
    await tab.evaluate(f"{HEADERS_EDITOR}.CodeMirror.setValue({json.dumps(headers)})")

    # With a key in the headers the IDE fetches the schema again, for its docs.
    introspection = await tab.wait_for_request(
        lambda r: "IntrospectionQuery" in (r.post_data or "") and r.status != 401,
        "introspection with the key",
    )
    assert introspection.status == 200

    await tab.evaluate(f"{QUERY_EDITOR}.CodeMirror.setValue('{{ site {{ name }} }}')")
    await tab.evaluate("document.querySelector('.graphiql-execute-button').click()")
    answer = await tab.wait_for(
        f"(v => v.includes('IDE test') && v)({RESULT}.CodeMirror.getValue())"
    )
    assert json.loads(answer) == {"data": {"site": {"name": "IDE test"}}}
    # The key is kept for the browser tab only, never in localStorage.
    stored = await tab.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    assert service.api_key not in stored
    in_tab = await tab.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
    assert service.api_key in in_tab

    # A reload (a fresh page: the marker is gone) keeps it, once GraphiQL has saved its
    # tabs (it does so a moment after an edit, not at once).
    key = json.dumps(service.api_key)
    await tab.wait_for(
        "Object.keys(sessionStorage).some(name => name.includes('tabState')"
        f" && sessionStorage.getItem(name).includes({key}))"
    )
    await tab.evaluate("window.beforeReload = true; location.reload()")
    has_key = f"{HEADERS_EDITOR}.CodeMirror.getValue().includes({json.dumps(service.api_key)})"
    await tab.wait_for(f"!window.beforeReload && !!{HEADERS_EDITOR} && {has_key}")
