"""POST /api/v1/sessions (docs/concepts.md, "/sessions")."""

from __future__ import annotations

from aiohttp import web

from adapters.http.authentication import authenticate
from rest_compat.app_keys import SERVICE
from rest_compat.request_parameters import checked_async, read_parameters
from rest_compat.responses import json_response
from rest_compat.serializers import sessions_page


async def sessions_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    params = await read_parameters(request)
    page = await checked_async(request.app[SERVICE].list_sessions(site.site_id, params))
    return json_response(sessions_page(page))
