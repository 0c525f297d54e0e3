"""The aiohttp endpoint: authentication and HTTP-level refusals in front of strawberry.

Authentication is the shared edge's (``adapters/http/authentication.py``), the same path
and the same 401 text as the REST API, and happens before anything of the request body
is looked at; failures keep the GraphQL shape (``errors[0].extensions.code`` =
``UNAUTHENTICATED``, docs/decisions.md, "GraphQL") so that GraphQL clients can read
them. The body is read within the edge's time limit and decoded by the edge's JSON
decoder, so a body that is not UTF-8 or holds a lone surrogate is a 400 here as in REST.
Queries come only by POST; GET serves the GraphiQL page when it is enabled and nothing
else (the page and its files are the service's own: ``graphql_api/ide.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from cross_web import HTTPException
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from adapters.http.authentication import authenticate
from adapters.http.bodies import BAD_REQUEST, decode_json, read_body
from adapters.http.errors import HttpError, store_unavailable
from domain.ports import StoreUnavailableError
from graphql_api import ide
from graphql_api.context import SERVICE, GraphQLContext
from graphql_api.schema import AttributionSchema


class GraphQLEndpoint(GraphQLView[GraphQLContext, None]):
    def __init__(self, schema: AttributionSchema, *, ide: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            if self.graphql_ide and "text/html" in request.headers.get("Accept", ""):
                return await self.render_graphql_ide(request)
            return _error_response(
                405,
                "GraphQL requests must be sent with POST",
                headers={"Allow": "POST"},
            )
        try:
            site = await authenticate(request)
            # Read here, within the edge's limits; strawberry then reads aiohttp's copy.
            await read_body(request, max_bytes=request.client_max_size)
        except HttpError as err:
            return _error_response(err.status, err.message, code=err.code, headers=err.headers)
        except StoreUnavailableError as exc:
            return _unavailable_response(exc)
        context = GraphQLContext(service=request.app[SERVICE], site=site)
        try:
            return await self.run(request, context=context)
        except HttpError as err:  # from decode_json below
            return _error_response(err.status, err.message, code=err.code, headers=err.headers)
        except StoreUnavailableError as exc:  # from process_result below
            return _unavailable_response(exc)
        except HTTPException as err:
            # Malformed requests (no query, body not JSON, a batch): JSON like the rest.
            return _error_response(err.status_code, err.reason, code=BAD_REQUEST)
        finally:
            await context.close()

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        # Our page, not strawberry's: that one loads GraphiQL from a CDN (graphql_api/ide.py).
        return ide.page()

    async def process_result(
        self, request: web.Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # A store outage fails the whole request with the edge's 503, not a partial answer
        # the client would take for data: it can retry the same query in a few seconds.
        for error in result.errors or ():
            if isinstance(error.original_error, StoreUnavailableError):
                raise error.original_error
        return await super().process_result(request, result)

    def decode_json(self, data: str | bytes) -> object:
        # orjson, as the REST API: it refuses invalid UTF-8 and lone surrogates, which
        # json.loads lets through into the resolvers.
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        return decode_json(raw)


def _error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error: dict[str, object] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    return web.json_response({"errors": [error]}, status=status, headers=headers)


def _unavailable_response(error: StoreUnavailableError) -> web.Response:
    err = store_unavailable(error)
    return _error_response(err.status, err.message, code=err.code, headers=err.headers)
