"""Typed keys under which the REST layer keeps its state on the app and the request."""

from __future__ import annotations

from aiohttp import web

from domain.services import AttributionService
from rest_compat.settings import RestSettings

SERVICE: web.AppKey[AttributionService] = web.AppKey("rest_compat.service", AttributionService)
SETTINGS: web.AppKey[RestSettings] = web.AppKey("rest_compat.settings", RestSettings)
