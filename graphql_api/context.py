"""What every resolver is given: the application service, the caller's site, and the one
snapshot of the store that every field of the request reads."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from aiohttp import web

from domain.model import Site
from domain.services import AttributionService, Reads

SERVICE: web.AppKey[AttributionService] = web.AppKey("graphql_api.service", AttributionService)


class GraphQLContext:
    """``site`` is the one the request's API key belongs to. Resolvers take the site from
    here and nowhere else (no argument names a site), which is what keeps tenants apart.

    ``reads()`` is the request's one ``AttributionService.reading()``, entered at first
    use: every field of one request answers from one committed state of the store and
    one reading of the clock; ``close()`` ends it with the request.
    """

    __slots__ = ("_lock", "_reads", "_stack", "service", "site")

    def __init__(self, service: AttributionService, site: Site) -> None:
        self.service = service
        self.site = site
        self._stack = AsyncExitStack()
        self._reads: Reads | None = None
        self._lock = asyncio.Lock()

    async def reads(self) -> Reads:
        async with self._lock:
            if self._reads is None:
                self._reads = await self._stack.enter_async_context(self.service.reading())
            return self._reads

    async def close(self) -> None:
        self._reads = None
        await self._stack.aclose()
