"""POST /api/v1/attribution (docs/attribution.md)."""

from __future__ import annotations

from aiohttp import web

from adapters.http.authentication import authenticate
from rest_compat.app_keys import SERVICE
from rest_compat.request_parameters import checked_async, read_parameters
from rest_compat.responses import json_response
from rest_compat.serializers import attribution_report


async def attribution_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    params = await read_parameters(request)
    report = await checked_async(request.app[SERVICE].attribution(site.site_id, params))
    return json_response(attribution_report(report))
