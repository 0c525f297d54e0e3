"""Structured access log: one JSON line per request on ``attributionhub.access``.

Fields: method, path (no query string), status, duration_ms and the authenticated
site_id (null before authentication). Headers are never logged, so the API key cannot
leak into logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from rest_compat.app_keys import SITE_ID
from rest_compat.errors import CLIENT_CLOSED_REQUEST

logger = logging.getLogger("attributionhub.access")


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500  # what the client sees if something escapes every handler
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        # aiohttp cancels a handler whose client hung up: logged as nginx logs it.
        status = CLIENT_CLOSED_REQUEST
        raise
    finally:
        site_id = request.get(SITE_ID)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "site_id": site_id if isinstance(site_id, str) else None,
        }
        # The fields ride along as ``extra`` too, for handlers that format records
        # themselves (a JSON formatter, a log shipper).
        logger.info(json.dumps(fields), extra={"access": fields})
