"""JSON errors (docs/concepts.md, "Errors"): every failure a client can see is ``{"error": "..."}``.

Handlers raise ``ApiError`` (or the shared edge's ``HttpError``, of which it is one);
``error_middleware`` turns it, aiohttp's own HTTP errors
(404, 405, 413 from the router and the body reader) and anything unexpected into JSON
responses, so no input ever reaches the client as an HTML page or a bare 500 traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from adapters.http.errors import CLIENT_CLOSED_REQUEST, HttpError, store_unavailable
from domain.ports import StoreUnavailableError
from rest_compat.responses import json_response

logger = logging.getLogger("attributionhub.rest")

# Headers of an aiohttp HTTP error worth keeping on the JSON version (Allow on a 405).
_KEPT_HEADERS = (hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.WWW_AUTHENTICATE)

INTERNAL_ERROR = "internal error: the request could not be processed; it has been logged"


class ApiError(HttpError):
    """A failure with the status and message the client should get."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers=headers)


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpError as err:
        return error_response(err.status, err.message, err.headers)
    except StoreUnavailableError as exc:
        unavailable = store_unavailable(exc)
        return error_response(unavailable.status, unavailable.message, unavailable.headers)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise  # redirects are no errors; a JSON error of another layer stays as it is
        kept = {str(name): exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
        return error_response(exc.status, _http_error_message(request, exc), kept)
    except ConnectionResetError:
        # The client hung up while its request was being read: no server error, and
        # nobody left to answer. 499 ("client closed request", as nginx logs it) is what
        # the access log records.
        logger.info("client closed the connection during %s %s", request.method, request.path)
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    except Exception:
        # The details stay in the server log: they may hold internals a client has no
        # business seeing.
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, INTERNAL_ERROR)


def _http_error_message(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return f"not found: no endpoint at {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method not allowed: {request.method} {request.path} accepts {allowed}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return f"body: too large, expected at most {request.client_max_size} bytes"
    default_text = f"{exc.status}: {exc.reason}"
    if exc.text and exc.text != default_text:
        return exc.text
    return exc.reason.lower() if exc.reason else f"HTTP {exc.status}"
