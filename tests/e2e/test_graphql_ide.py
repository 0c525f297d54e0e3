"""GraphiQL served by the service itself (graphql_api/ide.py): the page names only files
the service serves, each answers with its content type, and the vendored builds come with
their licences. The page in a real browser: ``test_graphql_ide_browser.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings
from tests.e2e.conftest import NOW

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}
VENDORED = ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"]


class References(HTMLParser):
    """Every URL an HTML page loads or links to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value is not None:
                self.urls.append(value)


async def _client(ide: bool) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(access_log=False, graphql_ide=ide)
    app = init(settings, store=MemoryStore(), clock=FixedClock(NOW))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async for served in _client(ide=True):
        yield served


async def page_urls(client: TestClient[Any, Any]) -> list[str]:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status == 200
    parser = References()
    parser.feed(await response.text())
    return parser.urls


async def test_the_ide_page_loads_only_files_the_service_serves(
    client: TestClient[Any, Any],
) -> None:
    urls = await page_urls(client)

    assert [url for url in urls if not url.startswith("data:")] == [
        "/graphql/static/graphiql.min.css",
        "/graphql/static/ide.css",
        "/graphql/static/react.production.min.js",
        "/graphql/static/react-dom.production.min.js",
        "/graphql/static/graphiql.min.js",
        "/graphql/static/ide.js",
    ]
    for url in urls:
        if url.startswith("data:"):
            continue
        response = await client.get(url)
        assert response.status == 200, url
        assert response.content_type == CONTENT_TYPES[url[url.rindex(".") :]], url
        assert len(await response.read()) > 0, url


async def test_the_ide_page_forbids_the_browser_anything_from_elsewhere(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    # GraphiQL's fonts and icons are data: URIs inside its CSS.
    assert policy["font-src"] == "'self' data:"


@pytest.mark.parametrize("name", VENDORED)
async def test_each_vendored_build_is_served_with_its_licence(
    client: TestClient[Any, Any], name: str
) -> None:
    package = name.removesuffix(".min.js").removesuffix(".production")
    script = await client.get(f"/graphql/static/{name}")
    licence = await client.get(f"/graphql/static/LICENSE.{package}")

    assert script.status == 200
    assert licence.status == 200
    assert licence.content_type == "text/plain"
    assert (await licence.text()).startswith("MIT License")


async def test_the_vendored_builds_are_the_umd_builds_the_page_needs(
    client: TestClient[Any, Any],
) -> None:
    # The page loads them as classic scripts that set globals; an ES module build
    # would leave GraphiQL undefined.
    react = await (await client.get("/graphql/static/react.production.min.js")).text()
    graphiql = await (await client.get("/graphql/static/graphiql.min.js")).text()

    assert "@license React" in react
    assert ".GraphiQL=t(e.React,e.ReactDOM)" in graphiql


async def test_a_file_not_in_the_list_is_not_found(client: TestClient[Any, Any]) -> None:
    for path in ("/graphql/static/nothing.js", "/graphql/static/../schema.graphql"):
        response = await client.get(path)
        assert response.status == 404
        assert response.content_type == "application/json"


async def test_without_the_ide_neither_the_page_nor_its_files_are_served() -> None:
    async for client in _client(ide=False):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        script = await client.get("/graphql/static/graphiql.min.js")

        assert page.status == 405
        assert script.status == 404
