"""GET /api/docs: a page to read the OpenAPI document, every file of it served by the
service itself (rest_compat/openapi.py)."""

from __future__ import annotations

import fnmatch
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from rest_compat.openapi import DOCS_ASSETS
from tests.e2e.conftest import Running

ROOT = Path(__file__).resolve().parents[2]


class Links(HTMLParser):
    """Every URL a page loads or links to: src and href attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in {"src", "href"} and value)


async def test_the_page_is_html_that_may_load_nothing_from_elsewhere(running: Running) -> None:
    response = await running.client.get("/api/docs")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.charset == "utf-8"
    policy = response.headers["Content-Security-Policy"]
    directives: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    assert directives["default-src"] == "'none'"
    # Only the page's own origin (and inline data for images) anywhere in the policy.
    sources = {source for value in directives.values() for source in value.split()}
    assert sources <= {"'self'", "'none'", "'unsafe-inline'", "data:"}, sources


async def test_every_file_the_page_loads_is_served_here_with_its_content_type(
    running: Running,
) -> None:
    page = await (await running.client.get("/api/docs")).text()
    links = Links()
    links.feed(page)
    loaded = [url for url in links.urls if not url.startswith("data:")]
    assert "/api/docs/swagger-ui-bundle.js" in loaded
    assert "/api/docs/swagger-ui.css" in loaded
    for url in loaded:
        # A path on this origin: no scheme, no host, no protocol-relative //host.
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        response = await running.client.get(url)
        assert response.status == 200, url
        if url.startswith("/api/docs/"):
            asset = DOCS_ASSETS[url.removeprefix("/api/docs/")]
            assert response.content_type == asset.content_type


@pytest.mark.parametrize("name", sorted(DOCS_ASSETS))
async def test_each_asset_answers_200_with_its_content_type(running: Running, name: str) -> None:
    response = await running.client.get(f"/api/docs/{name}")
    assert response.status == 200
    assert response.content_type == DOCS_ASSETS[name].content_type
    assert len(await response.read()) > 0


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("api-docs.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("LICENSE", "text/plain"),
    ],
)
async def test_scripts_styles_and_the_licence_have_the_content_types_browsers_need(
    running: Running, name: str, content_type: str
) -> None:
    response = await running.client.get(f"/api/docs/{name}")
    assert response.content_type == content_type


async def test_the_vendored_swagger_ui_is_served_with_its_licence(running: Running) -> None:
    licence = await (await running.client.get("/api/docs/LICENSE")).text()
    assert "Apache License" in licence
    notice = await (await running.client.get("/api/docs/NOTICE")).text()
    assert "SmartBear" in notice


@pytest.mark.parametrize("path", ["/api/docs/nothing.js", "/api/docs/..%2F..%2Fopenapi.json"])
async def test_an_unknown_file_is_a_json_404_naming_the_files_there_are(
    running: Running, path: str
) -> None:
    response = await running.client.get(path)
    assert response.status == 404
    assert response.content_type == "application/json"
    message = (await response.json())["error"]
    assert "swagger-ui-bundle.js" in message


def test_the_package_ships_every_file_the_page_needs() -> None:
    # An installed (not editable) package holds only what package-data names.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["rest_compat"]
    needed = ["static/api-docs.html", *(asset.resource for asset in DOCS_ASSETS.values())]
    for resource in needed:
        assert resources.files("rest_compat").joinpath(resource).is_file(), resource
        assert any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns), resource
