"""Typed keys under which the shared edge keeps its state on the app and the request."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from domain.model import Site
from domain.ports import RateLimit


class SiteLookup(Protocol):
    """Finds the site a credential belongs to (``AttributionService`` is one)."""

    async def site_for_api_key(self, api_key: str) -> Site | None: ...

    async def site_for_tracker_token(self, token: str) -> Site | None: ...


# Set by the composition root once the store is open.
SITE_LOOKUP: web.AppKey[SiteLookup] = web.AppKey("adapters.http.site_lookup")
# Absent: no rate limiting. One limiter counts REST, GraphQL and /collect together.
RATE_LIMITER: web.AppKey[RateLimit] = web.AppKey("adapters.http.rate_limiter")
# The authenticated site, for the access log (the credential itself is never kept).
SITE_ID: web.RequestKey[str] = web.RequestKey("adapters.http.site_id", str)
# The request's id: the client's sane ``X-Request-Id`` or one made up (access_log.py).
REQUEST_ID: web.RequestKey[str] = web.RequestKey("adapters.http.request_id", str)
