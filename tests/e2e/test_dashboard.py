"""The dashboard's files over plain HTTP: the page at ``/`` and ``/dashboard``, and every
asset it references (transitively, through the JavaScript modules' imports) served by
the service itself with the content type a browser needs to use it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings

CONTENT_TYPES = {
    ".js": {"application/javascript", "text/javascript"},
    ".css": {"text/css"},
    ".svg": {"image/svg+xml"},
}
# Static imports and dynamic ``import("…")`` of the ES modules.
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']""")


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value and not value.startswith("#"):
                self.urls.append(value)


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    # The dashboard never touches the store: the in-memory one is enough.
    app = init(Settings(access_log=False), store=MemoryStore())
    async with TestClient(TestServer(app)) as client:
        yield client


async def _page_references(client: TestClient[Any, Any], path: str) -> list[str]:
    response = await client.get(path)
    parser = References()
    parser.feed(await response.text())
    return parser.urls


@pytest.mark.parametrize("path", ["/", "/dashboard"])
async def test_the_page_is_served_at_the_root_and_at_dashboard(
    client: TestClient[Any, Any], path: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.charset == "utf-8"
    html = await response.text()
    assert "<title>AttributionHub dashboard</title>" in html
    assert 'id="sign-in-form"' in html


async def test_posting_to_the_page_is_a_json_405_naming_the_methods_it_accepts(
    client: TestClient[Any, Any],
) -> None:
    response = await client.post("/")
    assert response.status == 405
    assert response.headers["Allow"] == "GET,HEAD"
    assert await response.json() == {"error": "method not allowed: POST / accepts GET, HEAD"}


async def test_the_page_may_only_load_and_call_its_own_origin(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert directives[directive] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_every_asset_the_page_references_is_served_locally_with_its_content_type(
    client: TestClient[Any, Any],
) -> None:
    base = "http://dashboard.test/"
    queue = [urljoin(base, u) for u in await _page_references(client, "/")]
    seen: set[str] = set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        # No CDN and no other host: every reference resolves to this service.
        assert (parts.scheme, parts.netloc) == ("http", "dashboard.test"), url
        response = await client.get(parts.path)
        assert response.status == 200, parts.path
        suffix = parts.path[parts.path.rfind(".") :]
        assert response.content_type in CONTENT_TYPES[suffix], (parts.path, response.content_type)
        if suffix == ".js":
            source = await response.text()
            queue.extend(urljoin(url, ref) for ref in IMPORT.findall(source))
    paths = {urlsplit(u).path for u in seen}
    # The page, its stylesheet, its icon and the modules main.js imports (a check that
    # the walk above followed the imports at all).
    assert {
        "/dashboard/assets/main.js",
        "/dashboard/assets/api.js",
        "/dashboard/assets/chart.js",
        "/dashboard/assets/dashboard.css",
        "/dashboard/assets/favicon.svg",
    } <= paths


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/assets/missing.js",
        "/dashboard/assets/../__init__.py",
        "/dashboard/assets/%2e%2e/__init__.py",
        "/dashboard/assets/",
    ],
)
async def test_nothing_outside_the_assets_folder_is_served(
    client: TestClient[Any, Any], path: str
) -> None:
    response = await client.get(path)
    assert response.status in {403, 404}
    assert "AttributionHub" not in await response.text()
