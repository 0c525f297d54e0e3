"""POST /api/v1/pages (docs/concepts.md, "/pages")."""

from __future__ import annotations

from aiohttp import web

from adapters.http.authentication import authenticate
from domain.parameters import parse_pages_query
from rest_compat.app_keys import SERVICE
from rest_compat.request_parameters import checked, read_parameters
from rest_compat.responses import json_response
from rest_compat.serializers import page_report


async def pages_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    params = await read_parameters(request)
    service = request.app[SERVICE]
    # One reading of the clock: the default window ends at it, and it decides which
    # sessions are closed.
    now = service.now()
    query = checked(lambda: parse_pages_query(params, now=now))
    report = await service.page_report(site.site_id, query, now=now)
    return json_response(page_report(report))
