"""The aiohttp application factory: the composition root of the running service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import partial
from typing import Any

from aiohttp import web

import graphql_api
import rest_compat
from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.http import cors
from adapters.http.access_log import ACCESS_LOG, access_log_middleware
from adapters.http.bodies import BODY_LIMITS, BodyLimits
from adapters.http.request_keys import RATE_LIMITER, SITE_LOOKUP
from adapters.rate_limiter import RateLimiter
from attributionhub import dashboard
from attributionhub.config import Settings
from attributionhub.stores import open_store
from domain.ports import BotDetector, Clock, Store
from domain.services import AttributionService

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
SERVICE: web.AppKey[AttributionService] = web.AppKey("service", AttributionService)
STORE: web.AppKey[Store] = web.AppKey("store")

# The REST API's paths (rest_compat): reads, events, attribution, the OpenAPI document.
API_PREFIX = "/api/v1/"

# /healthz waits this long for the store's ping before it reports the store unavailable.
HEALTH_TIMEOUT_SECONDS = 2.0
STORE_UNAVAILABLE_MESSAGE = (
    f"store unavailable: it did not answer a ping within {HEALTH_TIMEOUT_SECONDS:g} seconds "
    "(the server log has the reason)"
)

health_logger = logging.getLogger("attributionhub.health")
retention_logger = logging.getLogger("attributionhub.retention")

# The retention sweep runs at start and then this often (docs/privacy.md, "Retention").
RETENTION_SWEEP_SECONDS = 3600.0
# The repair of visitors a failed ingest left pending (MongoDB; docs/deployment.md) runs
# at start and then this often: a crashed writer's lease is 15 s by default.
REPAIR_SWEEP_SECONDS = 60.0
repair_logger = logging.getLogger("attributionhub.repair")


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
        app[STORE] = opened
        app[SERVICE] = service
        app[SITE_LOOKUP] = service
        app[rest_compat.SERVICE] = service
        app[graphql_api.SERVICE] = service
        try:
            yield
        finally:
            if store is None:
                await opened.close()

    app.cleanup_ctx.append(service_ctx)
    app.cleanup_ctx.append(partial(_in_background, _repair_sweep))
    if settings.retention_days is not None:
        sweep = partial(_retention_sweep, settings.retention_days)
        app.cleanup_ctx.append(partial(_in_background, sweep))
    # The shared edge of both faces (adapters/http/): request ids and one access log
    # (outermost, so it records the status the JSON error middleware settled on), one
    # authentication path
    # and one rate limiter (switching API must not double a site's budget), one reading
    # of request bodies.
    app.middlewares.append(access_log_middleware)
    app[ACCESS_LOG] = settings.access_log
    # Browser apps on the listed origins may call both APIs; /collect has its own CORS.
    cors.setup(app, settings.cors_origins, paths=[graphql_api.PATH], prefixes=[API_PREFIX])
    app[BODY_LIMITS] = BodyLimits(
        timeout=settings.body_timeout_seconds, max_pending=settings.max_pending_bodies
    )
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
    if limiter is not None:
        app[RATE_LIMITER] = limiter
        app.cleanup_ctx.append(partial(_closing, limiter))
    app.router.add_get("/healthz", _healthz)
    # The dashboard: static files that read only through /graphql, like any front end.
    for path in dashboard.PAGE_PATHS:
        app.router.add_get(path, dashboard.page_handler)
    app.router.add_static(dashboard.ASSETS_PATH, dashboard.ASSETS_DIR, follow_symlinks=False)
    rest_compat.setup(app, rest_compat.RestSettings(max_body_bytes=settings.max_body_bytes))
    graphql_api.setup(
        app,
        graphql_api.GraphQLSettings(
            ide=settings.graphql_ide, introspection=settings.graphql_introspection
        ),
    )
    return app


async def _in_background(
    work: Callable[[AttributionService], Coroutine[Any, Any, None]], app: web.Application
) -> AsyncIterator[None]:
    """Run ``work`` (a loop that never returns) for as long as the app serves."""
    task = asyncio.create_task(work(app[SERVICE]))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _retention_sweep(days: int, service: AttributionService) -> None:
    """The periodic retention purge (docs/privacy.md, "Retention")."""
    await sweep_forever(service, days, RETENTION_SWEEP_SECONDS)


async def sweep_forever(service: AttributionService, days: int, interval: float) -> None:
    """Purge now, then every ``interval`` seconds. Each batch is one short store
    transaction, and the loop yields between batches, so requests are served meanwhile;
    a failed sweep is logged and tried again at the next interval."""
    while True:
        try:
            visitors = events = 0
            while (done := await service.purge(days)).events:
                visitors += done.visitors
                events += done.events
                await asyncio.sleep(0)
            if events:
                retention_logger.info(
                    "purged %d events older than %d days",
                    events,
                    days,
                    extra={"event": "retention", "visitors": visitors, "events": events},
                )
        except Exception:
            retention_logger.exception("the retention sweep failed", extra={"event": "retention"})
        await asyncio.sleep(interval)


async def _repair_sweep(service: AttributionService) -> None:
    """The periodic repair of visitors left pending (docs/deployment.md)."""
    await repair_forever(service, REPAIR_SWEEP_SECONDS)


async def repair_forever(service: AttributionService, interval: float) -> None:
    """Repair now, then every ``interval`` seconds; a failed round (the store is
    unreachable, say) is logged and tried again at the next interval."""
    while True:
        try:
            await service.repair_pending()
        except Exception:
            repair_logger.exception(
                "the repair of pending visitors failed", extra={"event": "repair"}
            )
        await asyncio.sleep(interval)


async def _closing(limiter: RateLimiter, app: web.Application) -> AsyncIterator[None]:
    yield
    await limiter.close()


async def _healthz(request: web.Request) -> web.Response:
    # Serving at all means the app started; the ping says the store answers now.
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await request.app[STORE].ping()
    except Exception:
        # A 503 is the server's fault: the reason, with its traceback, goes to the log.
        health_logger.exception("the store did not answer a ping", extra={"event": "unhealthy"})
        return web.json_response(
            {"status": "unavailable", "error": STORE_UNAVAILABLE_MESSAGE}, status=503
        )
    return web.json_response({"status": "ok"})
