"""The aiohttp endpoint: authentication and HTTP-level refusals in front of strawberry.

Authentication happens before anything of the request body is looked at: a missing or
wrong key gets HTTP 401 with one fixed JSON error, the same for every kind of failure
(docs/decisions.md, "GraphQL"), shaped as a GraphQL response
(``errors[0].extensions.code`` = ``UNAUTHENTICATED``) so that GraphQL clients can read it.
Queries come only by POST; GET serves the GraphiQL page when it is enabled and nothing
else.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from cross_web import HTTPException
from strawberry.aiohttp.views import GraphQLView

from domain.credentials import api_key_from_headers
from domain.model import Site
from domain.ports import RateLimit
from graphql_api.context import SERVICE, GraphQLContext
from graphql_api.errors import RATE_LIMITED, UNAUTHENTICATED
from graphql_api.schema import AttributionSchema

# Told which site a request authenticated as (the composition root records it for the
# app-wide access log, which this layer knows nothing of).
OnAuthenticated = Callable[[web.Request, Site], None]

UNAUTHENTICATED_MESSAGE = (
    "missing or invalid API key: send it as 'Authentication: <API key>' "
    "or 'Authorization: Bearer <API key>'"
)


class GraphQLEndpoint(GraphQLView[GraphQLContext, None]):
    def __init__(
        self,
        schema: AttributionSchema,
        *,
        ide: bool,
        rate_limit: RateLimit | None = None,
        on_authenticated: OnAuthenticated | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self._rate_limit = rate_limit
        self._on_authenticated = on_authenticated

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            if self.graphql_ide and "text/html" in request.headers.get("Accept", ""):
                return await self.render_graphql_ide(request)
            return _error_response(
                405,
                "GraphQL requests must be sent with POST",
                headers={"Allow": "POST"},
            )
        service = request.app[SERVICE]
        key = api_key_from_headers(request.headers)
        site = None
        if key is not None:
            site = await service.site_for_api_key(key)
        if site is None:
            return _error_response(401, UNAUTHENTICATED_MESSAGE, code=UNAUTHENTICATED)
        if self._on_authenticated is not None:
            self._on_authenticated(request, site)
        if self._rate_limit is not None:
            wait = await self._rate_limit.retry_after(site.site_id)
            if wait is not None:
                return _error_response(
                    429,
                    f"rate limit exceeded for this API key: retry in {wait} seconds",
                    code=RATE_LIMITED,
                    headers={"Retry-After": str(wait)},
                )
        context = GraphQLContext(service=service, site=site)
        try:
            return await self.run(request, context=context)
        except HTTPException as err:
            # Malformed requests (no query, body not JSON, a batch): JSON like the rest.
            return _error_response(err.status_code, err.reason)
        finally:
            await context.close()


def _error_response(
    status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    error: dict[str, object] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    return web.json_response({"errors": [error]}, status=status, headers=headers)
