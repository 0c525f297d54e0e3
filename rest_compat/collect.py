"""The browser side of ingestion: ``GET /tracker.js`` and ``POST /collect``.

``/collect`` is called cross-origin from customers' pages, with the public tracker token
(write-only) in the query string because ``navigator.sendBeacon`` cannot set headers. The
server's clock stamps the events: a browser's clock is not to be trusted.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import hdrs, web

from adapters.http.authentication import Credential, authenticate
from adapters.http.errors import HttpError
from domain.json_kinds import json_kind
from rest_compat.app_keys import SERVICE
from rest_compat.errors import ApiError
from rest_compat.json_body import read_json_object
from rest_compat.responses import json_response
from rest_compat.serializers import ingest_report

# A browser sends one event, or the few a page queued; anything larger is not a tracker.
MAX_COLLECT_EVENTS = 50
MAX_COLLECT_BYTES = 64 * 1024

CORS_HEADERS: dict[str, str] = {
    hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*",
    hdrs.ACCESS_CONTROL_ALLOW_METHODS: "POST, OPTIONS",
    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "Content-Type, X-Tracker-Token",
    hdrs.ACCESS_CONTROL_MAX_AGE: "86400",
}


@cache
def tracker_script() -> bytes:
    return resources.files("rest_compat").joinpath("static/tracker.js").read_bytes()


async def tracker_handler(request: web.Request) -> web.Response:
    return web.Response(
        body=tracker_script(),
        content_type="application/javascript",
        charset="utf-8",
        headers={hdrs.CACHE_CONTROL: "public, max-age=3600", **CORS_HEADERS},
    )


async def collect_preflight_handler(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS_HEADERS)


async def collect_handler(request: web.Request) -> web.Response:
    try:
        return await _collect(request)
    except HttpError as err:
        # Without CORS headers the page could not even read why it failed.
        raise ApiError(err.status, err.message, headers={**err.headers, **CORS_HEADERS}) from None


async def _collect(request: web.Request) -> web.Response:
    site = await authenticate(request, Credential.TRACKER_TOKEN)
    body = await read_json_object(request, max_bytes=MAX_COLLECT_BYTES)
    events = body.get("events", [body])
    if not isinstance(events, list):
        raise ApiError(400, f"events: expected an array of event objects, got {json_kind(events)}")
    if len(events) > MAX_COLLECT_EVENTS:
        raise ApiError(
            413, f"events: expected at most {MAX_COLLECT_EVENTS} events, got {len(events)}"
        )
    report = await request.app[SERVICE].ingest(site.site_id, events, stamp_with_server_time=True)
    return json_response(ingest_report(report), headers=CORS_HEADERS)
