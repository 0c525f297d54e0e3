"""Reading JSON request bodies.

A body that is not JSON gets an error saying where it broke (line and column from the
decoder), because the published docs' own example has a trailing comma and clients copy
it.
"""

from __future__ import annotations

from aiohttp import web

from adapters.http import bodies
from adapters.http.errors import HttpError
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
    """The body, within the edge's time limit and size (``adapters/http/bodies.py``)."""
    return await bodies.read_body(request, max_bytes=max_bytes)


def decode_json(raw: bytes) -> object:
    try:
        return bodies.decode_json(raw)
    except HttpError as err:
        raise ApiError(err.status, err.message) from None


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
