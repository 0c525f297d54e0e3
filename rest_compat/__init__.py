"""The REST compatibility layer: ``/api/v1/sessions``, ``/api/v1/pages`` and
``/api/v1/events`` exactly as the published docs describe them (see docs/concepts.md).

Handlers parse with ``domain.parameters``, call ``domain.services.AttributionService``
and serialize; no business rule lives here.
"""

from __future__ import annotations

from aiohttp import web

from rest_compat.app_keys import SERVICE, SETTINGS
from rest_compat.attribution import attribution_handler
from rest_compat.collect import collect_handler, collect_preflight_handler, tracker_handler
from rest_compat.errors import error_middleware
from rest_compat.events import events_handler
from rest_compat.openapi import docs_routes, openapi_document, openapi_handler
from rest_compat.pages import pages_handler
from rest_compat.sessions import sessions_handler
from rest_compat.settings import RestSettings
from rest_compat.visitors import erase_visitor_handler, erasures_handler, visitor_handler

__all__ = [
    "SERVICE",
    "SETTINGS",
    "RestSettings",
    "openapi_document",
    "setup",
]


def setup(app: web.Application, settings: RestSettings) -> None:
    """Add the REST routes and the app-wide JSON error middleware.

    ``app[SERVICE]`` must be set before the app serves (the composition root does it in
    a cleanup context). Authentication, rate limiting and the access log are the shared
    edge's (``adapters/http/``), wired by the composition root."""
    app[SETTINGS] = settings
    app.middlewares.append(error_middleware)
    app.router.add_post("/api/v1/sessions", sessions_handler)
    # The docs' first /sessions example posts to /conversions; clients copied it.
    app.router.add_post("/api/v1/conversions", sessions_handler)
    app.router.add_post("/api/v1/pages", pages_handler)
    app.router.add_post("/api/v1/attribution", attribution_handler)
    app.router.add_post("/api/v1/events", events_handler)
    app.router.add_get("/api/v1/visitors/{visitor_id}", visitor_handler)
    app.router.add_delete("/api/v1/visitors/{visitor_id}", erase_visitor_handler)
    app.router.add_post("/api/v1/erasures", erasures_handler)
    app.router.add_get("/api/v1/openapi.json", openapi_handler)
    app.router.add_routes(docs_routes())
    app.router.add_get("/tracker.js", tracker_handler)
    app.router.add_post("/collect", collect_handler)
    app.router.add_route("OPTIONS", "/collect", collect_preflight_handler)
