"""Serving the app so that even what aiohttp refuses before any middleware runs is
answered in JSON.

aiohttp's HTTP parser rejects some requests itself (a NUL in a header, a header line over
8 KB, a malformed ``Content-Length`` or ``Transfer-Encoding``, garbage instead of a
request line). Those never reach the app's middlewares: ``RequestHandler.handle_error``
answers them, in aiohttp 3.14 with ``text/plain`` bodies that may echo the client's bytes.
The documented way to change that answer is to serve with a ``RequestHandler`` that
overrides ``handle_error``; aiohttp's ``Server`` builds plain ``RequestHandler``s, so
``AppRunner`` here makes a ``Server`` that builds ours (``JsonErrorRequestHandler``).
Every such error becomes ``{"error": "<fixed message>"}`` that never quotes the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from http import HTTPStatus

import orjson
from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from adapters.http.access_log import REQUEST_ID_HEADER, request_id_of
from adapters.http.errors import HttpError

logger = logging.getLogger("attributionhub.server")

INTERNAL_ERROR = "internal error: the request could not be processed; it has been logged"
# An idle keep-alive connection, or one whose request line and headers have not all
# arrived, is closed after this long (aiohttp's default is an hour).
KEEPALIVE_TIMEOUT_SECONDS = 75.0

# Most specific first: each parser error class gets one fixed message.
_PARSER_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (
        http_exceptions.LineTooLong,
        "bad request: the request line or a header is too long (at most 8190 bytes each)",
    ),
    (
        http_exceptions.TransferEncodingError,
        "bad request: malformed chunked body (Transfer-Encoding)",
    ),
    (http_exceptions.ContentLengthError, "bad request: the body does not match Content-Length"),
    (http_exceptions.BadStatusLine, "bad request: malformed request line"),
    (
        http_exceptions.InvalidHeader,
        "bad request: malformed header (or malformed Content-Length or Transfer-Encoding)",
    ),
)
_MALFORMED = (
    "bad request: not a well-formed HTTP/1.1 request (request line, headers, "
    "Content-Length or Transfer-Encoding)"
)


def parser_error_message(status: int, exc: BaseException | None) -> str:
    """The fixed message for an error aiohttp raised outside the app."""
    if status >= 500:
        return INTERNAL_ERROR
    if status == 400:
        for kind, message in _PARSER_ERRORS:
            if isinstance(exc, kind):
                return message
        return _MALFORMED
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"HTTP {status}"


class JsonErrorRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, HttpError):  # not raised by aiohttp, but never lose its text
            status, text = exc.status, exc.message
        else:
            text = parser_error_message(status, exc)
        extra = {"event": "bad_request", "status": status, "client": request.remote}
        if status >= 500:
            # The server is at fault: the traceback belongs in the log.
            logger.error("error handling a request", exc_info=exc, extra=extra)
        else:
            # A client's malformed request: no traceback, and not its bytes either.
            logger.info(
                "refused a request the HTTP parser could not read (%s)",
                type(exc).__name__ if exc is not None else "unknown",
                extra=extra,
            )
        if request.writer.output_size > 0:
            # Part of an answer went out already: as aiohttp does, give up on the connection.
            raise ConnectionError("a response was partly sent; no error response can follow")
        response = web.Response(
            status=status,
            body=orjson.dumps({"error": text}),
            content_type="application/json",
            headers={REQUEST_ID_HEADER: request_id_of(request)},
        )
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    """``web.Server`` whose connections are handled by ``JsonErrorRequestHandler``."""

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``JsonErrorServer``."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return JsonErrorServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


def run_app(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    print: Callable[[str], None],
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, like ``web.run_app`` but with ``AppRunner``
    above. aiohttp's own access log is off: ``access_log.py`` writes ours."""
    serving = _serve(app, host=host, port=port, shutdown_timeout=shutdown_timeout, print=print)
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(serving)


async def _serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    print: Callable[[str], None],
) -> None:
    runner = AppRunner(
        app,
        handle_signals=True,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=KEEPALIVE_TIMEOUT_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        logger.info("serving on %s", site.name, extra={"event": "started", "address": site.name})
        print(site.name)
        await asyncio.Event().wait()  # until a signal ends the loop
    finally:
        logger.info("stopping", extra={"event": "stopping"})
        await runner.cleanup()
