"""The GraphQL API: the REST reads and ingestion for front-end apps, served at
``/graphql`` by the same aiohttp app over the same application service.

The composition root calls ``setup`` while building the app and puts the service under
``SERVICE`` once the store is open.
"""

from __future__ import annotations

from aiohttp import web

from graphql_api import ide
from graphql_api.context import SERVICE, GraphQLContext
from graphql_api.schema import build_schema
from graphql_api.settings import GraphQLSettings
from graphql_api.view import GraphQLEndpoint

__all__ = ["SERVICE", "GraphQLContext", "GraphQLSettings", "build_schema", "setup"]

PATH = "/graphql"


def setup(app: web.Application, settings: GraphQLSettings) -> None:
    """Route ``POST /graphql``; ``GET /graphql`` and the files under ``/graphql/static/``
    exist only to serve GraphiQL when ``settings.ide`` is on (elsewhere aiohttp answers
    405 and 404). Authentication and rate limiting are the shared edge's
    (``adapters/http/``), as for the REST API."""
    endpoint = GraphQLEndpoint(build_schema(settings), ide=settings.ide)
    app.router.add_post(PATH, endpoint)
    if settings.ide:
        app.router.add_get(PATH, endpoint, allow_head=False)
        app.router.add_routes(ide.asset_routes())
