"""One access log line per request, for both faces, on ``attributionhub.access``.

Each request gets an id: the client's ``X-Request-Id`` when it is sane (1 to 128
characters of letters, digits and ``._:-``), else a new one; it is echoed in the
response's ``X-Request-Id`` and carried, with the client address, by every log record
made while the request is handled (``RequestContextFilter``), so a request's lines can
be found together.

The line's fields (``extra`` of the record): event ``request``, method, path (no query
string: a tracker token may be in it), status, duration_ms, site_id (null before
authentication), client and request_id. Headers are never logged, so no credential can
leak into logs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.http.errors import CLIENT_CLOSED_REQUEST
from adapters.http.request_keys import REQUEST_ID, SITE_ID

logger = logging.getLogger("attributionhub.access")

# False turns the access lines off; request ids are given and echoed all the same.
ACCESS_LOG: web.AppKey[bool] = web.AppKey("adapters.http.access_log", bool)

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    client: str | None


# Set for the task that handles one request (aiohttp runs each request in a task of its
# own, so the value never leaks into another request).
_CURRENT: ContextVar[RequestContext | None] = ContextVar("attributionhub_request", default=None)


def current_request() -> RequestContext | None:
    return _CURRENT.get()


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``client`` to records made while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CURRENT.get()
        if context is not None:
            if not hasattr(record, "request_id"):
                record.request_id = context.request_id
            if not hasattr(record, "client"):
                record.client = context.client
        return True


def request_id_of(request: web.BaseRequest) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    _CURRENT.set(RequestContext(request_id, request.remote))
    status = 500  # what the client sees if something escapes every handler
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:  # a streamed response has sent its headers already
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    except asyncio.CancelledError:
        # aiohttp cancels a handler whose client hung up.
        status = CLIENT_CLOSED_REQUEST
        raise
    finally:
        if request.app.get(ACCESS_LOG, True):
            _log(request, status, started, request_id)


def _log(request: web.Request, status: int, started: float, request_id: str) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    site_id = request.get(SITE_ID)
    logger.info(
        "%s %s %s",
        request.method,
        request.path,
        status,
        extra={
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": duration_ms,
            "site_id": site_id if isinstance(site_id, str) else None,
            "client": request.remote,
            "request_id": request_id,
        },
    )
