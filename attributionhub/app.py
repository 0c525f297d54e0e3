"""The aiohttp application factory: the composition root of the running service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

import graphql_api
import rest_compat
from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.rate_limiter import RateLimiter
from attributionhub.config import Settings
from attributionhub.stores import open_store
from domain.model import Site
from domain.ports import BotDetector, Clock, Store
from domain.services import AttributionService

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
SERVICE: web.AppKey[AttributionService] = web.AppKey("service", AttributionService)


def init(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    bots: BotDetector | None = None,
) -> web.Application:
    """Build the application. ``store``, ``clock`` and ``bots`` replace the configured
    adapters (tests pass fakes); a given store is not closed by the app."""
    settings = settings or Settings.from_env()
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings

    async def service_ctx(app: web.Application) -> AsyncIterator[None]:
        opened = store if store is not None else await open_store(settings)
        service = AttributionService(
            opened,
            clock or SystemClock(),
            bots or CrawlerDetectBots(),
            session_timeout=settings.session_timeout,
            report_concurrency=settings.report_concurrency,
        )
        app[SERVICE] = service
        app[rest_compat.SERVICE] = service
        app[graphql_api.SERVICE] = service
        try:
            yield
        finally:
            if store is None:
                await opened.close()

    app.cleanup_ctx.append(service_ctx)
    app.router.add_get("/healthz", _healthz)
    # One limiter for both APIs: switching API must not double a site's budget.
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
    if limiter is not None:
        app.cleanup_ctx.append(partial(_closing, limiter))
    rest_compat.setup(
        app,
        rest_compat.RestSettings(
            max_body_bytes=settings.max_body_bytes, access_log=settings.access_log
        ),
        rate_limit=limiter,
    )
    graphql_api.setup(
        app,
        graphql_api.GraphQLSettings(
            ide=settings.graphql_ide, introspection=settings.graphql_introspection
        ),
        rate_limit=limiter,
        on_authenticated=_record_site,
    )
    return app


def _record_site(request: web.Request, site: Site) -> None:
    # The access log is installed app-wide by the REST layer; GraphQL requests name their
    # site in it too.
    request[rest_compat.SITE_ID] = site.site_id


async def _closing(limiter: RateLimiter, app: web.Application) -> AsyncIterator[None]:
    yield
    await limiter.close()


async def _healthz(request: web.Request) -> web.Response:
    # Reached only once cleanup_ctx has opened the store, so "ok" means it can serve.
    return web.json_response({"status": "ok"})
