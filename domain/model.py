"""Entities and values of the attribution domain.

Only the standard library is imported here: this module is the vocabulary every other
layer speaks, and it must stay importable without any framework or driver.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

DEFAULT_SESSION_TIMEOUT = timedelta(minutes=30)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)


def to_micros(instant: datetime) -> int:
    """Microseconds since the Unix epoch: the exact integer form of an aware instant that
    stores index and read models compare."""
    return (instant - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(0, 0, micros)


class EventType(enum.StrEnum):
    PAGEVIEW = "pageview"
    CONVERSION = "conversion"
    EXIT = "exit"


# Events at the same instant are ordered pageview, conversion, exit.
TYPE_RANK = {EventType.PAGEVIEW: 0, EventType.CONVERSION: 1, EventType.EXIT: 2}

DEFAULT_META_TYPE = "custom"


@dataclass(frozen=True, slots=True)
class Event:
    """One validated tracking event. ``page`` is the normalized form of ``url``."""

    site_id: str
    event_id: str
    type: EventType
    visitor_id: str
    timestamp: datetime  # timezone-aware, UTC
    url: str
    page: str
    referrer: str | None = None
    user_agent: str | None = None
    email: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None
    # A conversion's worth in the site's currency (docs/attribution.md); None: not given.
    value: float | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        return (self.timestamp, TYPE_RANK[self.type], self.event_id)


@dataclass(frozen=True, slots=True)
class Attribution:
    """How a session arrived (docs/concepts.md, "Source and medium"). ``source`` and
    ``medium`` are always known."""

    source: str
    medium: str
    campaign: str | None = None
    content: str | None = None
    term: str | None = None


@dataclass(frozen=True, slots=True)
class PageVisit:
    """One entry of a session's page path."""

    url: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Conversion:
    """A conversion event as it happened inside a session."""

    event_id: str
    timestamp: datetime
    page: str
    previous_page: str
    email: str | None
    meta_type: str
    meta_id: str | None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Exit:
    exit_page: str
    previous_page: str
    timestamp: datetime


class _SessionLifecycle:
    """What a session and its outline both answer: chronology, closedness, exit.

    Whether a session is closed depends on the moment it is looked at, so sessions keep
    what is needed to decide (``is_last``, ``inactive_after``) rather than a verdict.
    """

    __slots__ = ()
    session_id: str
    start: datetime
    last_activity: datetime
    conversions: tuple[Conversion, ...]
    exit_previous_page: str
    is_last: bool
    inactive_after: datetime
    if TYPE_CHECKING:
        # A field of the outline, derived from the path on a full session; declared for
        # the type checker only, so that it does not become a dataclass default.
        @property
        def exit_page(self) -> str: ...

    @property
    def conversion(self) -> Conversion | None:
        """The earliest conversion, the one the session record reports."""
        return self.conversions[0] if self.conversions else None

    @property
    def order_key(self) -> tuple[datetime, str]:
        """Chronological position of the session within its visitor's history."""
        return (self.start, self.session_id)

    def is_closed(self, now: datetime) -> bool:
        """Closed when a later session exists or the timeout has passed
        (docs/concepts.md, "Open and closed sessions")."""
        return not self.is_last or now > self.inactive_after

    def exit(self, now: datetime) -> Exit | None:
        if not self.is_closed(now):
            return None
        return Exit(
            exit_page=self.exit_page,
            previous_page=self.exit_previous_page,
            timestamp=self.last_activity,
        )

    def duration_seconds(self, now: datetime) -> int | None:
        if not self.is_closed(now):
            return None
        # From the instants as records show them (to the second, sub-seconds dropped):
        # 10:00:58.9 to 10:01:00.1 is written 10:00:58 to 10:01:00 and lasts 2, not 1.
        shown_start = self.start.replace(microsecond=0)
        shown_end = self.last_activity.replace(microsecond=0)
        return (shown_end - shown_start) // _SECOND


@dataclass(frozen=True, slots=True)
class Session(_SessionLifecycle):
    """A visitor's run of activity, derived from events by ``domain.sessionization``."""

    site_id: str
    visitor_id: str
    session_id: str
    start: datetime
    last_activity: datetime
    attribution: Attribution
    path: tuple[PageVisit, ...]
    conversions: tuple[Conversion, ...]
    exit_previous_page: str
    is_last: bool
    inactive_after: datetime

    @property
    def landing_page(self) -> str:
        return self.path[0].url

    @property
    def exit_page(self) -> str:
        return self.path[-1].url

    @property
    def outline(self) -> SessionOutline:
        return SessionOutline(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            session_id=self.session_id,
            start=self.start,
            last_activity=self.last_activity,
            attribution=self.attribution,
            landing_page=self.landing_page,
            exit_page=self.exit_page,
            conversions=self.conversions,
            exit_previous_page=self.exit_previous_page,
            is_last=self.is_last,
            inactive_after=self.inactive_after,
        )


@dataclass(frozen=True, slots=True)
class SessionOutline(_SessionLifecycle):
    """A session without its page path: all the page report and visitor journeys read.

    Stores stream outlines for the report because decoding every page of every session in
    a 30-day window is most of the report's cost, and it uses only the path's two ends.
    """

    site_id: str
    visitor_id: str
    session_id: str
    start: datetime
    last_activity: datetime
    attribution: Attribution
    landing_page: str
    exit_page: str
    conversions: tuple[Conversion, ...]
    exit_previous_page: str
    is_last: bool
    inactive_after: datetime


# Anything the page report, the filters and the conversion definition can read.
AnySession = Session | SessionOutline


@dataclass(frozen=True, slots=True)
class Site:
    """A tenant. Keys are kept only as hashes; the clear text is shown once, at creation."""

    site_id: str
    name: str
    api_key_hash: str
    tracker_token_hash: str
    created_at: datetime
