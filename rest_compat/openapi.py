"""GET /api/v1/openapi.json: the committed OpenAPI 3.1 document of the REST API."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from rest_compat.responses import json_response

OPENAPI_FILE = "openapi.json"


@cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("rest_compat").joinpath(OPENAPI_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


async def openapi_handler(request: web.Request) -> web.Response:
    return json_response(openapi_document())
