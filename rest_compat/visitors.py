"""The privacy duties over REST (docs/privacy.md): ``GET`` and ``DELETE
/api/v1/visitors/{visitor_id}`` and ``POST /api/v1/erasures``.

An erasure answers after the store committed: a 200 means the data is gone for good
(from the store; backups are the operator's).
"""

from __future__ import annotations

from datetime import UTC

from aiohttp import web

from adapters.http.authentication import authenticate
from domain.model import Event
from domain.parameters import ParameterError, format_instant
from domain.ports import Erased
from domain.services import VisitorRecord
from rest_compat.app_keys import SERVICE, SETTINGS
from rest_compat.errors import ApiError
from rest_compat.json_body import read_json_object
from rest_compat.request_parameters import checked_async
from rest_compat.responses import json_response
from rest_compat.serializers import JsonObject, session_record

_ERASURE_SHAPE = '{"email": "..."}'


async def visitor_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    visitor_id = request.match_info["visitor_id"]
    record = await checked_async(request.app[SERVICE].visitor_record(site.site_id, visitor_id))
    if record is None:
        raise ApiError(404, f"visitor_id: no data stored for visitor {visitor_id!r} on this site")
    return json_response(visitor_record(record))


async def erase_visitor_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    erase = request.app[SERVICE].erase_visitor(site.site_id, request.match_info["visitor_id"])
    erased = await checked_async(erase)
    return json_response(erasure(erased))


async def erasures_handler(request: web.Request) -> web.Response:
    site = await authenticate(request)
    body = await read_json_object(
        request, max_bytes=request.app[SETTINGS].max_body_bytes, shape=_ERASURE_SHAPE
    )
    unknown = sorted(set(body) - {"email"})
    if unknown:
        raise ApiError(400, f"{unknown[0][:64]!r}: unknown key; expected a body {_ERASURE_SHAPE}")
    try:
        erased = await request.app[SERVICE].erase_email(site.site_id, body.get("email"))
    except ParameterError as err:
        raise ApiError(400, f"{err}; expected a body {_ERASURE_SHAPE}") from None
    return json_response(erasure(erased))


def erasure(erased: Erased) -> JsonObject:
    return {"visitors": erased.visitors, "events": erased.events}


def visitor_record(record: VisitorRecord) -> JsonObject:
    return {
        "visitor_id": record.visitor_id,
        "events": [_event(event) for event in record.events],
        "sessions": [
            {
                "session_id": session.session_id,
                **session_record(session, record.now),
                "path": [
                    {"url": visit.url, "timestamp": format_instant(visit.timestamp)}
                    for visit in session.path
                ],
            }
            for session in record.sessions
        ],
    }


def _event(event: Event) -> JsonObject:
    # The input contract's shape (docs/concepts.md, "Events"); absent fields left out.
    fields: JsonObject = {
        "type": event.type.value,
        "event_id": event.event_id,
        # Milliseconds kept: the order of a visitor's events is part of the answer.
        "timestamp": event.timestamp.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "url": event.url,
        "referrer": event.referrer,
        "user_agent": event.user_agent,
        "email": event.email,
        "meta_type": event.meta_type,
        "meta_id": event.meta_id,
        "value": event.value,
    }
    return {name: value for name, value in fields.items() if value is not None}
