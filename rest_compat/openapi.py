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
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from adapters.http.static_files import (
    PackageFile,
    asset_response,
    content_security_policy,
    page_response,
)
from rest_compat.errors import ApiError
from rest_compat.responses import json_response

OPENAPI_FILE = "openapi.json"
DOCS_PATH = "/api/docs"

# Swagger UI styles its elements inline and shows images as data: URIs; nothing else is
# needed, and nothing may come from another origin.
DOCS_CONTENT_SECURITY_POLICY = content_security_policy()
_MAX_QUOTED = 64


def _asset(resource: str, content_type: str) -> PackageFile:
    return PackageFile("rest_compat", resource, content_type)


# Served by name, from this list only: no path from the URL ever reaches the file system.
DOCS_ASSETS: dict[str, PackageFile] = {
    "api-docs.js": _asset("static/api-docs.js", "text/javascript"),
    "swagger-ui-bundle.js": _asset("static/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": _asset("static/swagger-ui/swagger-ui.css", "text/css"),
    "LICENSE": _asset("static/swagger-ui/LICENSE", "text/plain"),
    "NOTICE": _asset("static/swagger-ui/NOTICE", "text/plain"),
    "swagger-ui-bundle.js.LICENSE.txt": _asset(
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


async def docs_page_handler(request: web.Request) -> web.Response:
    return page_response(
        PackageFile("rest_compat", "static/api-docs.html", "text/html"),
        DOCS_CONTENT_SECURITY_POLICY,
    )


async def docs_asset_handler(request: web.Request) -> web.Response:
    name = request.match_info["asset"]
    asset = DOCS_ASSETS.get(name)
    if asset is None:
        known = ", ".join(sorted(DOCS_ASSETS))
        shown = name if len(name) <= _MAX_QUOTED else name[:_MAX_QUOTED] + "…"
        raise ApiError(404, f"not found: no file {shown!r} under {DOCS_PATH}/ (files: {known})")
    return asset_response(asset)


def docs_routes() -> list[web.RouteDef]:
    """The reading page and its files."""
    return [
        web.get(DOCS_PATH, docs_page_handler),
        web.get(DOCS_PATH + "/{asset}", docs_asset_handler),
    ]
