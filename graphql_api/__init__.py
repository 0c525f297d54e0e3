"""The GraphQL API: the REST reads and ingestion for front-end apps, served at
``/graphql`` by the same aiohttp app over the same application service.

The composition root calls ``setup`` while building the app and puts the service under
``SERVICE`` once the store is open.
"""

from __future__ import annotations

from aiohttp import web

from domain.ports import RateLimit
from graphql_api.context import SERVICE, GraphQLContext
from graphql_api.schema import build_schema
from graphql_api.settings import GraphQLSettings
from graphql_api.view import GraphQLEndpoint, OnAuthenticated

__all__ = ["SERVICE", "GraphQLContext", "GraphQLSettings", "build_schema", "setup"]

PATH = "/graphql"


def setup(
    app: web.Application,
    settings: GraphQLSettings,
    *,
    rate_limit: RateLimit | None = None,
    on_authenticated: OnAuthenticated | None = None,
) -> None:
    """Route ``POST /graphql``; ``GET /graphql`` exists only to serve GraphiQL when
    ``settings.ide`` is on (elsewhere aiohttp answers 405). ``rate_limit`` is the one the
    REST layer counts against too."""
    endpoint = GraphQLEndpoint(
        build_schema(settings),
        ide=settings.ide,
        rate_limit=rate_limit,
        on_authenticated=on_authenticated,
    )
    app.router.add_post(PATH, endpoint)
    if settings.ide:
        app.router.add_get(PATH, endpoint, allow_head=False)
