"""CORS for both faces: browser apps on the origins the operator lists may call
``/graphql`` and the REST API under ``/api/v1/`` (docs/deployment.md, "CORS").

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from a
  listed origin is answered 204 with the route's methods (POST, and GET where the route
  has one), the request headers a client needs (the API key's two headers,
  ``Content-Type`` and ``X-Request-Id``) and how long the browser may keep the answer.
- Every other response to a listed origin, errors and 401s included, says that origin
  may read it and exposes ``Retry-After`` and ``X-Request-Id``: a front end must be able
  to read why it was refused and when to retry.
- Other origins get no CORS header at all; their preflight is a plain 204, so the
  browser reports the missing ``Access-Control-Allow-Origin``, which names the cause.
- Never ``Access-Control-Allow-Credentials``: keys travel in headers, never in cookies,
  so no request of another origin carries the user's ambient credentials.

``/collect`` and ``/tracker.js`` are outside this: the tracker keeps its own open CORS
(``rest_compat/collect.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import MatchInfoError

from adapters.http.access_log import REQUEST_ID_HEADER

# Chromium keeps a preflight answer at most two hours, whatever a server says.
MAX_AGE_SECONDS = 7200
ALLOWED_HEADERS = ("Authentication", "Authorization", "Content-Type", REQUEST_ID_HEADER)
EXPOSED_HEADERS = (hdrs.RETRY_AFTER, REQUEST_ID_HEADER)
# Of a route's methods, the ones a preflight names (HEAD needs no preflight).
_CORS_METHODS = (hdrs.METH_GET, hdrs.METH_POST)


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may call which paths: ``paths`` exactly, and everything under each
    of ``prefixes``."""

    origins: frozenset[str]
    paths: frozenset[str]
    prefixes: tuple[str, ...]

    def covers(self, path: str) -> bool:
        return path in self.paths or path.startswith(self.prefixes)

    def allows(self, origin: str | None) -> bool:
        return origin in self.origins


def setup(
    app: web.Application,
    origins: Iterable[str],
    *,
    paths: Iterable[str],
    prefixes: Iterable[str],
) -> None:
    """Answer preflights (a middleware: they must not reach the router's 405) and mark
    every response of a covered path (a response-prepare hook: it sees the JSON errors
    and the router's 404/405 as well as the handlers' answers)."""
    policy = CorsPolicy(frozenset(origins), frozenset(paths), tuple(prefixes))

    @web.middleware
    async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (_is_preflight(request) and policy.covers(request.path)):
            return await handler(request)
        methods = _route_methods(request)
        if not methods:
            return await handler(request)  # e.g. no such endpoint: the router's 404 says so
        if not policy.allows(request.headers.get(hdrs.ORIGIN)):
            return web.Response(status=204, headers=_vary(policy))
        return web.Response(
            status=204,
            headers={
                hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: request.headers[hdrs.ORIGIN],
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(methods),
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ", ".join(ALLOWED_HEADERS),
                hdrs.ACCESS_CONTROL_MAX_AGE: str(MAX_AGE_SECONDS),
                **_vary(policy),
            },
        )

    async def mark_response(request: web.Request, response: web.StreamResponse) -> None:
        if not policy.covers(request.path) or hdrs.ACCESS_CONTROL_ALLOW_ORIGIN in response.headers:
            return
        if policy.origins:
            _add_vary_origin(response)
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and policy.allows(origin):
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = ", ".join(EXPOSED_HEADERS)

    app.middlewares.append(cors_preflight)
    app.on_response_prepare.append(mark_response)


def _is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


def _route_methods(request: web.Request) -> list[str]:
    """The methods of the route at the request's path that a preflight names; none when
    no route is there, or when the route answers OPTIONS itself."""
    match = request.match_info
    if not isinstance(match, MatchInfoError):
        return []
    error = match.http_exception
    if not isinstance(error, web.HTTPMethodNotAllowed):
        return []
    return [method for method in _CORS_METHODS if method in error.allowed_methods]


def _vary(policy: CorsPolicy) -> dict[str, str]:
    # With origins listed, answers differ by Origin: a shared cache must not hand one
    # origin's answer to another.
    return {hdrs.VARY: hdrs.ORIGIN} if policy.origins else {}


def _add_vary_origin(response: web.StreamResponse) -> None:
    present = [v.strip().lower() for v in response.headers.get(hdrs.VARY, "").split(",")]
    if "origin" in present or "*" in present:
        return
    if hdrs.VARY in response.headers:
        response.headers[hdrs.VARY] = f"{response.headers[hdrs.VARY]}, {hdrs.ORIGIN}"
    else:
        response.headers[hdrs.VARY] = hdrs.ORIGIN
