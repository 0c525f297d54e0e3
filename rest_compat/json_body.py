"""Reading JSON request bodies.

A body that is not JSON gets an error saying where it broke (line and column from the
decoder), because the published docs' own example has a trailing comma and clients copy
it.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from domain.json_kinds import json_kind
from rest_compat.errors import ApiError


async def read_json_object(
    request: web.Request, *, max_bytes: int, shape: str | None = None
) -> dict[str, object]:
    """The body as a JSON object; an empty body is ``{}`` (every parameter optional).
    ``shape``, an example of the object expected, is shown to a client that sent
    something else."""
    raw = await read_body(request, max_bytes=max_bytes)
    if not raw.strip():
        return {}
    value = decode_json(raw)
    if not isinstance(value, dict):
        expected = "a JSON object" if shape is None else f"a JSON object {shape}"
        hint = ""
        if shape is not None and isinstance(value, list):
            hint = f"; wrap the array: {shape}"
        raise ApiError(400, f"body: expected {expected}, got {json_kind(value)}{hint}")
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
