"""Cutting a visitor's events into sessions and building the session record
(docs/concepts.md, "Sessions").

The cut is a pure function of the *set* of events: they are de-duplicated by
``event_id`` and sorted before anything else, so the order and the batches in which
events arrived cannot change the result.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from domain.attribution import session_attribution, touch_attribution
from domain.model import (
    DEFAULT_META_TYPE,
    DEFAULT_SESSION_TIMEOUT,
    TYPE_RANK,
    Attribution,
    Conversion,
    Event,
    EventType,
    PageVisit,
    Session,
)


def sessionize(
    events: Iterable[Event], *, timeout: timedelta = DEFAULT_SESSION_TIMEOUT
) -> list[Session]:
    """Sessions of every (site, visitor) found in ``events``, each visitor's in
    chronological order. Duplicate ``event_id``s count once (the first one seen)."""
    by_visitor: dict[tuple[str, str], dict[str, Event]] = defaultdict(dict)
    for event in events:
        by_visitor[(event.site_id, event.visitor_id)].setdefault(event.event_id, event)
    sessions: list[Session] = []
    for key in sorted(by_visitor):
        ordered = sorted(by_visitor[key].values(), key=_sort_key)
        sessions.extend(_cut(ordered, timeout))
    return sessions


def sessionize_visitor(
    events: Sequence[Event], *, timeout: timedelta = DEFAULT_SESSION_TIMEOUT
) -> list[Session]:
    """``sessionize`` of the events of one visitor of one site (a store's re-cut, the
    ``Recut`` port), without grouping them by visitor first."""
    # Reversed, so that the first event seen with an id is the one kept.
    unique = {event.event_id: event for event in reversed(events)}
    return _cut(sorted(unique.values(), key=_sort_key), timeout)


def _sort_key(event: Event) -> tuple[datetime, int, str]:
    # ``Event.sort_key`` without the property call: this runs once per event re-cut.
    return (event.timestamp, TYPE_RANK[event.type], event.event_id)


@dataclass(frozen=True, slots=True)
class VisitorRecut:
    """Outcome of adding a batch to one visitor's stored history."""

    sessions: tuple[Session, ...]
    added: tuple[Event, ...]
    duplicates: int


def recut_visitor(
    stored: Iterable[Event],
    new: Iterable[Event],
    *,
    timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
) -> VisitorRecut:
    """The incremental form: a visitor's stored events plus a batch of new ones (late,
    duplicated or out of order) give the visitor's sessions, which new events were not
    yet stored, and how many were duplicates."""
    known = {e.event_id: e for e in stored}
    added: dict[str, Event] = {}
    duplicates = 0
    for event in new:
        if event.event_id in known or event.event_id in added:
            duplicates += 1
        else:
            added[event.event_id] = event
    sessions = sessionize([*known.values(), *added.values()], timeout=timeout)
    return VisitorRecut(tuple(sessions), tuple(added.values()), duplicates)


class SessionBounds(Protocol):
    """What ``resume_point`` needs of a stored session (a ``Session`` has it)."""

    @property
    def start(self) -> datetime: ...

    @property
    def last_activity(self) -> datetime: ...


def resume_point(sessions: Iterable[SessionBounds], earliest_new: datetime) -> datetime | None:
    """Where re-cutting a visitor can start when events no earlier than ``earliest_new``
    join the stored history whose sessions are ``sessions``.

    The cut is a left fold: whether an event starts a session depends only on the events
    before it. So the sessions that start before a clean boundary (a session whose start
    is strictly before ``earliest_new`` and strictly after the previous session's last
    activity, so no earlier event shares its instant) stay as they are, and cutting the
    events at or after that boundary on their own gives the rest. Returns the start of the
    latest such session, or None when everything must be re-cut. Stores use it to re-read
    and rewrite only a visitor's tail; the result equals a full re-cut.
    """
    # Two sessions may start at one instant; the one ending first came first.
    ordered = sorted(sessions, key=lambda s: (s.start, s.last_activity))
    for index in range(len(ordered) - 1, -1, -1):
        start = ordered[index].start
        if start >= earliest_new:
            continue
        if index == 0 or ordered[index - 1].last_activity < start:
            return start
    return None


@dataclass(slots=True)
class _SessionBuilder:
    first: Event
    attribution: Attribution
    path: list[PageVisit] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    last_activity: datetime | None = None

    def add(self, event: Event) -> None:
        # A pageview always adds its page (a reload adds it again); a conversion or exit
        # is evidence the visitor was on its page, and adds it only when it is new.
        path = self.path
        if event.type is EventType.PAGEVIEW or not path or path[-1].url != event.page:
            path.append(PageVisit(url=event.page, timestamp=event.timestamp))
        position = len(path) - 1
        if event.type is EventType.CONVERSION:
            self.conversions.append(
                Conversion(
                    event_id=event.event_id,
                    timestamp=event.timestamp,
                    page=event.page,
                    previous_page=_previous_page(self.path, position),
                    email=event.email,
                    meta_type=event.meta_type or DEFAULT_META_TYPE,
                    meta_id=event.meta_id,
                    value=event.value,
                )
            )
        self.last_activity = event.timestamp

    def build(self, *, is_last: bool, timeout: timedelta) -> Session:
        assert self.last_activity is not None  # a builder always holds its first event
        first = self.first
        return Session(
            site_id=first.site_id,
            visitor_id=first.visitor_id,
            session_id=session_id_for(first),
            start=first.timestamp,
            last_activity=self.last_activity,
            attribution=self.attribution,
            path=tuple(self.path),
            conversions=tuple(self.conversions),
            exit_previous_page=_previous_page(self.path, len(self.path) - 1),
            is_last=is_last,
            inactive_after=self.last_activity + timeout,
        )


def _cut(ordered: Sequence[Event], timeout: timedelta) -> list[Session]:
    builders: list[_SessionBuilder] = []
    current: _SessionBuilder | None = None
    for event in ordered:
        idle_too_long = (
            current is not None
            and current.last_activity is not None
            and event.timestamp - current.last_activity > timeout
        )
        if event.type is EventType.EXIT:
            # Exits never start a session; a late one belongs to a session that has
            # already ended (its exit is inferred), so it is ignored.
            if current is not None and not idle_too_long:
                current.add(event)
            continue
        if current is None or idle_too_long or _is_new_campaign_touch(event, current):
            current = _SessionBuilder(first=event, attribution=session_attribution(event))
            builders.append(current)
        current.add(event)
    last = len(builders) - 1
    return [b.build(is_last=i == last, timeout=timeout) for i, b in enumerate(builders)]


def _is_new_campaign_touch(event: Event, current: _SessionBuilder) -> bool:
    if event.type is not EventType.PAGEVIEW:
        return False
    touch = touch_attribution(event)
    return touch is not None and touch != current.attribution


def _previous_page(path: Sequence[PageVisit], position: int) -> str:
    """Walking back from ``position``, the first different page; the page itself when
    there is none (a landing-page conversion, or only reloads before it)."""
    here = path[position].url
    # Indices rather than a reversed slice: no copy of the path per lookup.
    for index in range(position - 1, -1, -1):
        url = path[index].url
        if url != here:
            return url
    return here


def session_id_for(first: Event) -> str:
    material = "\x1f".join((first.site_id, first.visitor_id, first.event_id))
    return "s-" + hashlib.sha256(material.encode()).hexdigest()[:24]
