"""Reading request bodies: within a time limit, with a cap on unfinished bodies, and
decoded as JSON with errors that say what is wrong (docs/deployment.md, "Timeouts").

A client that sends its body slowly holds a connection and a buffer for as long as it
likes unless something stops it: a body must arrive within ``BodyLimits.timeout``
seconds (else 408), and at most ``BodyLimits.max_pending`` bodies may be arriving at once
(more get a 503 at once). A body that had fully arrived with its headers takes no slot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
from aiohttp import hdrs, web

from adapters.http.errors import HttpError

DEFAULT_BODY_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_PENDING_BODIES = 256
BAD_REQUEST = "BAD_REQUEST"


@dataclass(slots=True)
class BodyLimits:
    timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS
    max_pending: int = DEFAULT_MAX_PENDING_BODIES
    pending: int = field(default=0, init=False)


BODY_LIMITS: web.AppKey[BodyLimits] = web.AppKey("adapters.http.body_limits", BodyLimits)


async def read_body(request: web.Request, *, max_bytes: int) -> bytes:
    """The whole body, at most ``max_bytes``. Raises ``HttpError`` 408 (too slow), 413
    (too large) or 503 (too many bodies arriving at once)."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise HttpError(413, too_large(max_bytes))
    limits = request.app.get(BODY_LIMITS)
    if limits is None or request.content.is_eof():
        return await _read(request, max_bytes)
    if limits.pending >= limits.max_pending:
        raise HttpError(
            503,
            "server busy: too many request bodies are arriving at once; retry shortly",
            headers={hdrs.RETRY_AFTER: "1"},
        )
    limits.pending += 1
    try:
        async with asyncio.timeout(limits.timeout):
            return await _read(request, max_bytes)
    except TimeoutError:
        raise HttpError(
            408, f"body: not received within {limits.timeout:g} seconds; send it at once"
        ) from None
    finally:
        limits.pending -= 1


async def _read(request: web.Request, max_bytes: int) -> bytes:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        # aiohttp's client_max_size caught a body without (or lying about) its length.
        raise HttpError(413, too_large(max_bytes)) from None
    except web.RequestPayloadError:
        # The body's framing broke off (a bad chunk size, a body shorter than its
        # Content-Length): the client's fault, never a 500.
        raise HttpError(
            400, "body: malformed, its transfer framing could not be read; send it again"
        ) from None
    if len(raw) > max_bytes:
        raise HttpError(413, too_large(max_bytes))
    return raw


def too_large(max_bytes: int) -> str:
    return f"body: too large, expected at most {max_bytes} bytes"


def decode_json(raw: bytes) -> object:
    """``raw`` decoded as JSON; ``HttpError`` 400 saying where and what broke."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise HttpError(400, _json_error(raw, err), code=BAD_REQUEST) from None


def _json_error(raw: bytes, err: orjson.JSONDecodeError) -> str:
    if "not valid UTF-8" in err.msg:
        # orjson reports invalid UTF-8 at position 0 whatever its place: find the byte.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return (
                f"body: not UTF-8 text (byte 0x{raw[bad.start]:02x} at offset {bad.start} "
                "cannot start or continue a UTF-8 character); send JSON encoded as UTF-8"
            )
    if "surrogate" in err.msg:
        return (
            f"body: invalid JSON at line {err.lineno}, column {err.colno}: a \\u escape "
            "holds half of a UTF-16 surrogate pair (\\ud800-\\udfff) without its other "
            "half, which is no character"
        )
    return f"body: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
