"""The OpenAPI document of the REST API and a page to read it.

``GET /api/v1/openapi.json`` serves the committed OpenAPI 3.1 document
(``rest_compat/openapi.json``); ``tests/e2e/test_rest_openapi_conformance.py`` holds it to
the running server with schemathesis. ``GET /api/docs`` serves Swagger UI reading that
document. Every file the page loads is served from ``/api/docs/``, out of this package
(``static/swagger-ui/`` is the unmodified swagger-ui-dist, with its licence): the page
works offline and tells no third party who reads it. Its Content-Security-Policy makes the
browser refuse anything from elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import hdrs, web

from rest_compat.errors import ApiError
from rest_compat.responses import json_response

OPENAPI_FILE = "openapi.json"
DOCS_PATH = "/api/docs"

# Swagger UI styles its elements inline and shows images as data: URIs; nothing else is
# needed, and nothing may come from another origin.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# The vendored files change only with the package version; an hour is what /tracker.js
# gets too.
_ASSET_CACHE_CONTROL = "public, max-age=3600"
_MAX_QUOTED = 64


@dataclass(frozen=True, slots=True)
class DocsAsset:
    resource: str  # path inside the rest_compat package
    content_type: str


# Served by name, from this list only: no path from the URL ever reaches the file system.
DOCS_ASSETS: dict[str, DocsAsset] = {
    "api-docs.js": DocsAsset("static/api-docs.js", "text/javascript"),
    "swagger-ui-bundle.js": DocsAsset("static/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": DocsAsset("static/swagger-ui/swagger-ui.css", "text/css"),
    "LICENSE": DocsAsset("static/swagger-ui/LICENSE", "text/plain"),
    "NOTICE": DocsAsset("static/swagger-ui/NOTICE", "text/plain"),
    "swagger-ui-bundle.js.LICENSE.txt": DocsAsset(
        "static/swagger-ui/swagger-ui-bundle.js.LICENSE.txt", "text/plain"
    ),
}


@cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("rest_compat").joinpath(OPENAPI_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


async def openapi_handler(request: web.Request) -> web.Response:
    return json_response(openapi_document())


@cache
def _package_file(resource: str) -> bytes:
    return resources.files("rest_compat").joinpath(resource).read_bytes()


async def docs_page_handler(request: web.Request) -> web.Response:
    return web.Response(
        body=_package_file("static/api-docs.html"),
        content_type="text/html",
        charset="utf-8",
        headers={
            hdrs.CONTENT_SECURITY_POLICY: DOCS_CONTENT_SECURITY_POLICY,
            hdrs.CACHE_CONTROL: "no-cache",
        },
    )


async def docs_asset_handler(request: web.Request) -> web.Response:
    name = request.match_info["asset"]
    asset = DOCS_ASSETS.get(name)
    if asset is None:
        known = ", ".join(sorted(DOCS_ASSETS))
        shown = name if len(name) <= _MAX_QUOTED else name[:_MAX_QUOTED] + "…"
        raise ApiError(404, f"not found: no file {shown!r} under {DOCS_PATH}/ (files: {known})")
    return web.Response(
        body=_package_file(asset.resource),
        content_type=asset.content_type,
        charset="utf-8",
        headers={hdrs.CACHE_CONTROL: _ASSET_CACHE_CONTROL},
    )


def docs_routes() -> list[web.RouteDef]:
    """The reading page and its files."""
    return [
        web.get(DOCS_PATH, docs_page_handler),
        web.get(DOCS_PATH + "/{asset}", docs_asset_handler),
    ]
