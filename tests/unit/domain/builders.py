"""Small builders for domain tests: events from a few readable arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.events import parse_event
from domain.model import Event

T0 = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
SITE = "https://example.com"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(
    type_: str,
    minute: float,
    path: str = "/",
    *,
    visitor: str = "v-1",
    event_id: str | None = None,
    referrer: str | None = None,
    site_id: str = "site-a",
    **extra: str,
) -> Event:
    raw: dict[str, object] = {
        "type": type_,
        "visitor_id": visitor,
        "timestamp": at(minute).isoformat(),
        "url": SITE + path,
        **extra,
    }
    if event_id is not None:
        raw["event_id"] = event_id
    if referrer is not None:
        raw["referrer"] = referrer
    return parse_event(raw, site_id=site_id, now=at(60 * 24 * 365))


def pageview(minute: float, path: str = "/", **kw: str) -> Event:
    return event("pageview", minute, path, **kw)


def conversion(minute: float, path: str = "/", **kw: str) -> Event:
    return event("conversion", minute, path, **kw)


def exit_(minute: float, path: str = "/", **kw: str) -> Event:
    return event("exit", minute, path, **kw)
