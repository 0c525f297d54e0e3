"""Reading JSON request bodies.

A body that is not JSON gets an error saying where it broke (line and column from the
decoder), because the published docs' own example has a trailing comma and clients copy
it.
"""

from __future__ import annotations

from aiohttp import web

from adapters.http import bodies
from adapters.http.errors import HttpError
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
    """The body, within the edge's time limit and size (``adapters/http/bodies.py``)."""
    return await bodies.read_body(request, max_bytes=max_bytes)


def decode_json(raw: bytes) -> object:
    try:
        return bodies.decode_json(raw)
    except HttpError as err:
        raise ApiError(err.status, err.message) from None
