"""JSON responses, serialized with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

JSON_CONTENT_TYPE = "application/json"


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # orjson keeps the insertion order of dicts: the documented key order is the order
    # the serializers build.
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        content_type=JSON_CONTENT_TYPE,
        headers=headers,
    )
