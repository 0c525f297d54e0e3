"""What every resolver is given: the application service and the caller's site."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from domain.model import Site
from domain.services import AttributionService

SERVICE: web.AppKey[AttributionService] = web.AppKey("graphql_api.service", AttributionService)


@dataclass(frozen=True, slots=True)
class GraphQLContext:
    """``site`` is the one the request's API key belongs to. Resolvers take the site from
    here and nowhere else (no argument names a site), which is what keeps tenants apart."""

    service: AttributionService
    site: Site
