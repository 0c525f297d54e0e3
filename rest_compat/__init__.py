"""The REST compatibility layer: ``/api/v1/sessions``, ``/api/v1/pages`` and
``/api/v1/events`` exactly as the published docs describe them (see docs/concepts.md).

Handlers parse with ``domain.parameters``, call ``domain.services.AttributionService``
and serialize; no business rule lives here.
"""

from __future__ import annotations

from aiohttp import web

from domain.ports import RateLimit
from rest_compat.access_log import access_log_middleware
from rest_compat.app_keys import RATE_LIMITER, SERVICE, SETTINGS, SITE_ID
from rest_compat.collect import collect_handler, collect_preflight_handler, tracker_handler
from rest_compat.errors import error_middleware
from rest_compat.events import events_handler
from rest_compat.openapi import docs_routes, openapi_document, openapi_handler
from rest_compat.pages import pages_handler
from rest_compat.sessions import sessions_handler
from rest_compat.settings import RestSettings

__all__ = [
    "RATE_LIMITER",
    "SERVICE",
    "SETTINGS",
    "SITE_ID",
    "RestSettings",
    "openapi_document",
    "setup",
]


def setup(
    app: web.Application, settings: RestSettings, *, rate_limit: RateLimit | None = None
) -> None:
    """Add the REST routes and the app-wide middlewares (access log outermost, so it
    records the status the JSON error middleware settled on).

    ``app[SERVICE]`` must be set before the app serves (the composition root does it in
    a cleanup context). ``rate_limit``, when given, is counted per site on every
    authenticated request."""
    app[SETTINGS] = settings
    if settings.access_log:
        app.middlewares.append(access_log_middleware)
    app.middlewares.append(error_middleware)
    if rate_limit is not None:
        app[RATE_LIMITER] = rate_limit
    app.router.add_post("/api/v1/sessions", sessions_handler)
    # The docs' first /sessions example posts to /conversions; clients copied it.
    app.router.add_post("/api/v1/conversions", sessions_handler)
    app.router.add_post("/api/v1/pages", pages_handler)
    app.router.add_post("/api/v1/events", events_handler)
    app.router.add_get("/api/v1/openapi.json", openapi_handler)
    app.router.add_routes(docs_routes())
    app.router.add_get("/tracker.js", tracker_handler)
    app.router.add_post("/collect", collect_handler)
    app.router.add_route("OPTIONS", "/collect", collect_preflight_handler)
