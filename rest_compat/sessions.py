"""POST /api/v1/sessions (docs/concepts.md, "/sessions")."""

from __future__ import annotations

from aiohttp import web

from adapters.http.authentication import authenticate
from domain.parameters import parse_sessions_query
from rest_compat.app_keys import SERVICE
from rest_compat.request_parameters import checked, read_parameters
from rest_compat.responses import json_response
from rest_compat.serializers import sessions_page


async def sessions_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    params = await read_parameters(request)
    query = checked(lambda: parse_sessions_query(params))
    page = await request.app[SERVICE].list_sessions(site.site_id, query)
    return json_response(sessions_page(page))
