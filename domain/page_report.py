"""The /pages report (SPEC 9): which role each page plays in the selected sessions.

The report is computed in one streaming pass so that a request over a large window keeps
only per-page state in memory, never the sessions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.model import AnySession, Conversion
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    TimeWindow,
    TouchScope,
)

OrderKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class RoleCount:
    """Sessions in which a page held one role, and the distinct visitors among them."""

    sessions: int
    users: int


@dataclass(frozen=True, slots=True)
class SummaryTotals:
    total_sessions: int
    total_users: int
    total_conversion_events: int
    total_conversion_users: int


@dataclass(frozen=True, slots=True)
class ConversionPageStats:
    url: str
    conversion: RoleCount
    conversion_assist: RoleCount
    landing_assisted_conversion: RoleCount


@dataclass(frozen=True, slots=True)
class DropOffPageStats:
    url: str
    drop_off: RoleCount
    drop_off_assist: RoleCount
    landing_assisted_drop_off: RoleCount


@dataclass(frozen=True, slots=True)
class PageReport:
    time_frame: TimeWindow
    summary: SummaryTotals
    conversion_performance: tuple[ConversionPageStats, ...]
    drop_off_performance: tuple[DropOffPageStats, ...]


@dataclass(frozen=True, slots=True)
class VisitorJourney:
    """The landmarks of a visitor's whole history that touch scopes are measured against.

    ``first_converting_key`` is None when the visitor never converted under the
    definition the journey was computed for.
    """

    first_session_key: OrderKey
    first_converting_key: OrderKey | None


def visitor_journey(
    sessions: Iterable[AnySession], definition: ConversionDefinition
) -> VisitorJourney:
    """Landmarks of one visitor's history; ``sessions`` must be all of it, in any order."""
    first: OrderKey | None = None
    first_converting: OrderKey | None = None
    visitor_id: str | None = None
    for session in sessions:
        if visitor_id is None:
            visitor_id = session.visitor_id
        elif session.visitor_id != visitor_id:
            raise ValueError("a journey is made of the sessions of a single visitor")
        key = session.order_key
        if first is None or key < first:
            first = key
        if (first_converting is None or key < first_converting) and definition.is_converting(
            session
        ):
            first_converting = key
    if first is None:
        raise ValueError("a visitor journey needs at least one session")
    return VisitorJourney(first_session_key=first, first_converting_key=first_converting)


class JourneyFold:
    """Visitor journeys accumulated one session at a time, from only what journeys read
    of a session, so that a store can fold whole histories without building sessions."""

    __slots__ = ("_definition", "_first", "_first_converting")

    def __init__(self, definition: ConversionDefinition) -> None:
        self._definition = definition
        self._first: dict[str, OrderKey] = {}
        self._first_converting: dict[str, OrderKey] = {}

    def add(self, visitor_id: str, key: OrderKey, conversions: tuple[Conversion, ...]) -> None:
        """Feed one session of the visitor's history: its ``order_key`` and conversions."""
        first = self._first.get(visitor_id)
        if first is None or key < first:
            self._first[visitor_id] = key
        if conversions:
            converting = self._first_converting.get(visitor_id)
            if (converting is None or key < converting) and any(
                self._definition.counts(c) for c in conversions
            ):
                self._first_converting[visitor_id] = key

    def journeys(self) -> dict[str, VisitorJourney]:
        """Per visitor fed, the journey of the sessions fed (their whole history, if so)."""
        converting = self._first_converting
        return {
            visitor: VisitorJourney(first, converting.get(visitor))
            for visitor, first in self._first.items()
        }


def in_touch_scope(
    session: AnySession,
    journey: VisitorJourney,
    scope: TouchScope,
    definition: ConversionDefinition,
) -> bool:
    """SPEC 9 touch scopes, judged against the visitor's whole history."""
    if scope is TouchScope.ANY:
        return True
    if scope is TouchScope.CONVERTING:
        return definition.is_converting(session)
    key = session.order_key
    if scope is TouchScope.FIRST:
        return key == journey.first_session_key
    converting = journey.first_converting_key
    if converting is None:
        return False
    if scope is TouchScope.ASSIST:
        return journey.first_session_key < key < converting
    return key > converting  # TouchScope.AFTER


class _Role:
    """Counts for one (page, role): sessions, and the visitors behind them."""

    __slots__ = ("sessions", "users")

    def __init__(self) -> None:
        self.sessions = 0
        self.users: set[str] = set()

    def add(self, visitor_id: str) -> None:
        self.sessions += 1
        self.users.add(visitor_id)

    def count(self) -> RoleCount:
        return RoleCount(sessions=self.sessions, users=len(self.users))


class _Section:
    """Three roles per page; index 0 is the role the section is ordered by."""

    __slots__ = ("pages",)

    def __init__(self) -> None:
        self.pages: dict[str, tuple[_Role, _Role, _Role]] = {}

    def add(self, role: int, page: str, visitor_id: str) -> None:
        roles = self.pages.get(page)
        if roles is None:
            roles = (_Role(), _Role(), _Role())
            self.pages[page] = roles
        roles[role].add(visitor_id)

    def ordered(self) -> list[tuple[str, RoleCount, RoleCount, RoleCount]]:
        rows = [
            (url, roles[0].count(), roles[1].count(), roles[2].count())
            for url, roles in self.pages.items()
        ]
        rows.sort(key=lambda row: (-row[1].sessions, row[0]))
        return rows


_FIRST_ROLE, _ASSIST_ROLE, _LANDING_ROLE = 0, 1, 2


class PageReportBuilder:
    """Accumulates the report one session at a time.

    Memory grows with distinct pages times visitors (the distinct-user sets), not with the
    number of sessions fed.
    """

    def __init__(self, query: PagesQuery, now: datetime) -> None:
        self._query = query
        self._now = now
        self._sessions = 0
        self._users: set[str] = set()
        self._conversion_events = 0
        self._conversion_users: set[str] = set()
        self._conversions = _Section()
        self._drop_offs = _Section()
        self._filtered = query.filters != SessionFilters()

    def add(self, session: AnySession, journey: VisitorJourney | None) -> None:
        """Feed one session; those outside the window, filters or touch scope are ignored.

        ``journey`` is the session's visitor's; it may be None only for ``TouchScope.ANY``.
        """
        query = self._query
        if not query.window.contains(session.start) or (
            self._filtered and not query.filters.matches(session)
        ):
            return
        scope = query.touch_scope
        if scope is not TouchScope.ANY:
            if journey is None:
                raise ValueError(f"touch scope {scope.value!r} needs the visitor's journey")
            if not in_touch_scope(session, journey, scope, query.definition):
                return

        visitor = session.visitor_id
        self._sessions += 1
        self._users.add(visitor)
        # Most sessions hold no conversion: skip the definition's filtering for them.
        counting = query.definition.counting(session) if session.conversions else ()
        if counting:
            self._conversion_events += len(counting)
            self._conversion_users.add(visitor)
            section = self._conversions
            # Sets, because a role counts once per session however many conversions share
            # a page.
            for page in {c.page for c in counting}:
                section.add(_FIRST_ROLE, page, visitor)
            for page in {c.previous_page for c in counting}:
                section.add(_ASSIST_ROLE, page, visitor)
            section.add(_LANDING_ROLE, session.landing_page, visitor)
            return
        if not session.is_closed(self._now):
            # Still in progress: it has not dropped off (yet).
            return
        section = self._drop_offs
        section.add(_FIRST_ROLE, session.exit_page, visitor)
        section.add(_ASSIST_ROLE, session.exit_previous_page, visitor)
        section.add(_LANDING_ROLE, session.landing_page, visitor)

    def result(self) -> PageReport | None:
        """The report, or None when no session qualified ("No page data found")."""
        if self._sessions == 0:
            return None
        return PageReport(
            time_frame=self._query.window,
            summary=SummaryTotals(
                total_sessions=self._sessions,
                total_users=len(self._users),
                total_conversion_events=self._conversion_events,
                total_conversion_users=len(self._conversion_users),
            ),
            conversion_performance=tuple(
                ConversionPageStats(
                    url=url,
                    conversion=first,
                    conversion_assist=assist,
                    landing_assisted_conversion=landing,
                )
                for url, first, assist, landing in self._conversions.ordered()
            ),
            drop_off_performance=tuple(
                DropOffPageStats(
                    url=url,
                    drop_off=first,
                    drop_off_assist=assist,
                    landing_assisted_drop_off=landing,
                )
                for url, first, assist, landing in self._drop_offs.ordered()
            ),
        )


def build_page_report(
    sessions: Iterable[AnySession],
    journeys: Mapping[str, VisitorJourney],
    query: PagesQuery,
    now: datetime,
) -> PageReport | None:
    """The report over ``sessions``; ``journeys`` is keyed by visitor_id and may omit
    visitors only when the touch scope is ``any``."""
    builder = PageReportBuilder(query, now)
    for session in sessions:
        builder.add(session, journeys.get(session.visitor_id))
    return builder.result()
