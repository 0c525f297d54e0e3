"""Reading JSON request bodies.

A body that is not JSON gets an error saying where it broke (line and column from the
decoder), because the published docs' own example has a trailing comma and clients copy
it.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from rest_compat.errors import ApiError


async def read_json_object(request: web.Request, *, max_bytes: int) -> dict[str, object]:
    """The body as a JSON object; an empty body is ``{}`` (every parameter optional)."""
    raw = await read_body(request, max_bytes=max_bytes)
    if not raw.strip():
        return {}
    value = decode_json(raw)
    if not isinstance(value, dict):
        raise ApiError(400, f"body: expected a JSON object, got {json_kind(value)}")
    return value


async def read_body(request: web.Request, *, max_bytes: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError(413, _too_large(max_bytes))
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        # aiohttp's client_max_size caught a body without (or lying about) its length.
        raise ApiError(413, _too_large(max_bytes)) from None
    if len(raw) > max_bytes:
        raise ApiError(413, _too_large(max_bytes))
    return raw


def decode_json(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ApiError(
            400, f"body: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None


def _too_large(max_bytes: int) -> str:
    return f"body: too large, expected at most {max_bytes} bytes"


def json_kind(value: object) -> str:
    """How a decoded JSON value is named in error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"
