"""POST /api/v1/events: server-side ingestion with the API key.

The response is sent only after ``AttributionService.ingest`` returned, which is after
the store committed: a 2xx means every accepted event is durable. Per-event failures are
results, not request errors, so a batch with rejections is still a 200.
"""

from __future__ import annotations

from aiohttp import web

from adapters.http.authentication import authenticate
from domain.json_kinds import json_kind
from domain.services import BatchTooLargeError
from rest_compat.app_keys import SERVICE, SETTINGS
from rest_compat.errors import ApiError
from rest_compat.json_body import read_json_object
from rest_compat.responses import json_response
from rest_compat.serializers import ingest_report

_ALLOWED_KEYS = frozenset({"events"})
_SHAPE = '{"events": [...]}'
_MAX_QUOTED = 64


async def events_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    body = await read_json_object(
        request, max_bytes=request.app[SETTINGS].max_body_bytes, shape=_SHAPE
    )
    unknown = sorted(set(body) - _ALLOWED_KEYS)
    if unknown:
        name = unknown[0] if len(unknown[0]) <= _MAX_QUOTED else unknown[0][:_MAX_QUOTED] + "…"
        raise ApiError(400, f"{name!r}: unknown key; expected a body {_SHAPE}")
    if "events" not in body:
        raise ApiError(400, f"events: missing; expected a body {_SHAPE}")
    events = body["events"]
    if not isinstance(events, list):
        raise ApiError(400, f"events: expected an array of event objects, got {json_kind(events)}")
    try:
        report = await request.app[SERVICE].ingest(site.site_id, events)
    except BatchTooLargeError as err:
        raise ApiError(413, str(err)) from None
    return json_response(ingest_report(report))
