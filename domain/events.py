"""Validation of raw tracking events into ``Event`` values.

The rules: docs/concepts.md, "Sites, visitors, events", and docs/decisions.md, "Events".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.instants import InstantError, read_instant
from domain.json_kinds import json_kind
from domain.model import DEFAULT_META_TYPE, Event, EventType
from domain.urls import InvalidURLError, normalize_url

MAX_FUTURE_SKEW = timedelta(minutes=10)
MAX_VISITOR_ID_LENGTH = 200
MAX_EVENT_ID_LENGTH = 200
# Generous bounds: they exist so that one hostile event cannot bloat the store.
MAX_URL_LENGTH = 4096
MAX_TEXT_LENGTH = 2048

_DATE_TIME = "an ISO 8601 date-time"
# No text of an event may hold U+0000: stores and tools cut texts at it.
_NUL = "contains the character U+0000 (NUL), which no text of an event may hold"
_TYPES = ", ".join(t.value for t in EventType)
# A dict lookup: calling the enum by value costs several times more, once per event.
_TYPE_BY_NAME = {t.value: t for t in EventType}


class EventError(ValueError):
    """An event field is missing or invalid; ``str()`` names the field first."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class EventParser:
    """Turns one raw JSON object into an ``Event``, or raises ``EventError``.

    Unknown keys are ignored rather than rejected: trackers in the field may be newer
    than the server, and an extra key loses nothing.
    """

    site_id: str
    now: datetime

    def parse(self, raw: object) -> Event:
        # ``type(...) is dict`` first: decoded JSON objects are dicts, and the abstract
        # Mapping check costs more than the rest of a field's validation.
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise EventError("event", f"expected a JSON object, got {json_kind(raw)}")
        type_ = _event_type(raw.get("type"))
        visitor_id = _required_text(raw, "visitor_id", MAX_VISITOR_ID_LENGTH)
        timestamp = parse_timestamp(raw.get("timestamp"))
        if timestamp > self.now + MAX_FUTURE_SKEW:
            raise EventError(
                "timestamp",
                f"is more than 10 minutes in the future ({timestamp.isoformat()})",
            )
        url = _url(raw.get("url"))
        event_id = _optional_text(raw, "event_id", MAX_EVENT_ID_LENGTH)
        if event_id is None:
            event_id = derive_event_id(self.site_id, type_, visitor_id, timestamp, url)
        referrer = _optional_text(raw, "referrer", MAX_URL_LENGTH)
        meta_type = _optional_text(raw, "meta_type", MAX_TEXT_LENGTH)
        if type_ is EventType.CONVERSION and meta_type is None:
            meta_type = DEFAULT_META_TYPE
        value = _value(raw.get("value")) if type_ is EventType.CONVERSION else None
        return Event(
            site_id=self.site_id,
            event_id=event_id,
            type=type_,
            visitor_id=visitor_id,
            timestamp=timestamp,
            url=url,
            page=normalize_url(url),
            referrer=referrer,
            user_agent=_optional_text(raw, "user_agent", MAX_TEXT_LENGTH),
            email=_optional_text(raw, "email", MAX_TEXT_LENGTH),
            meta_type=meta_type,
            meta_id=_optional_text(raw, "meta_id", MAX_TEXT_LENGTH),
            value=value,
        )


def parse_event(raw: object, *, site_id: str, now: datetime) -> Event:
    return EventParser(site_id=site_id, now=now).parse(raw)


def derive_event_id(
    site_id: str, type_: EventType, visitor_id: str, instant: datetime, url: str
) -> str:
    """Deterministic id for events sent without one, so that a retried delivery is
    recognised. The instant is hashed in one canonical UTC spelling: ``Z`` and
    ``+00:00`` spellings of one instant are one event."""
    canonical = instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    material = "\x1f".join((site_id, type_.value, visitor_id, canonical, url))
    return "d-" + hashlib.sha256(material.encode()).hexdigest()[:32]


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    """An ISO 8601 date-time in the service's one grammar (``domain.instants``); ``Z``
    or an offset, none meaning UTC. Returns UTC."""
    if value is None or value == "":
        raise EventError(field, f"is required ({_DATE_TIME})")
    if not isinstance(value, str):
        raise EventError(field, f"expected {_DATE_TIME} string, got {json_kind(value)}")
    try:
        written = read_instant(value.strip())
    except InstantError as err:
        if err.malformed:
            raise EventError(field, f"expected {_DATE_TIME}, got {_quote(value)}") from None
        raise EventError(field, f"expected {_DATE_TIME}, got {_quote(value)}: {err}") from None
    if written.date_only:
        raise EventError(
            field, f"expected {_DATE_TIME} (a date alone has no time of day), got {_quote(value)}"
        )
    return written.instant


def _event_type(value: object) -> EventType:
    if value is None or value == "":
        raise EventError("type", f"is required (one of {_TYPES})")
    if isinstance(value, str) and (known := _TYPE_BY_NAME.get(value)) is not None:
        return known
    raise EventError("type", f"expected one of {_TYPES}, got {_quote(value)}")


def _url(value: object) -> str:
    if value is None or value == "":
        raise EventError("url", "is required (an absolute http or https URL)")
    if not isinstance(value, str):
        raise EventError("url", f"expected an absolute http or https URL, got {json_kind(value)}")
    if len(value) > MAX_URL_LENGTH:
        raise EventError("url", f"is longer than {MAX_URL_LENGTH} characters")
    if "\x00" in value:
        raise EventError("url", _NUL)
    try:
        normalize_url(value)
    except InvalidURLError:
        raise EventError(
            "url", f"expected an absolute http or https URL, got {_quote(value)}"
        ) from None
    return value.strip()


def _value(value: object) -> float | None:
    """A conversion's value: a finite number >= 0 (JSON number; not a string, so that
    ``"1,5"`` is never read as 15 or 1.5)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError("value", f"expected a finite number >= 0, got {json_kind(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number) or number < 0:
        # repr() of an int of thousands of digits raises; such a value needs no echo.
        shown = (
            "a very large number" if isinstance(value, int) and math.isinf(number) else repr(value)
        )
        raise EventError("value", f"expected a finite number >= 0, got {shown}")
    return number


def _required_text(raw: Mapping[str, object], field: str, limit: int) -> str:
    value = _optional_text(raw, field, limit)
    if value is None:
        raise EventError(field, "is required (a non-empty string)")
    return value


def _optional_text(raw: Mapping[str, object], field: str, limit: int) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(field, f"expected a string, got {json_kind(value)}")
    if value.strip() == "":
        return None
    if len(value) > limit:
        raise EventError(field, f"expected at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise EventError(field, _NUL)
    return value


def _quote(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text)
