"""The /pages report (docs/concepts.md): which role each page plays in the selected sessions.

The report reads one compact row per session (``ReportSession``) instead of sessions:
stores keep those facts ready at ingestion, keyed by their own page and visitor keys (an
integer id, or the URL and visitor id themselves), so a 30-day window costs one pass over
small tuples. The rules (touch scopes, which conversions count, which page holds which
role) live here; keys are turned back into URLs only for the pages of the result.
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from operator import itemgetter
from typing import Final, NamedTuple, Protocol

from domain.model import Session, to_micros
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    TimeWindow,
    TouchScope,
)

# A store's key for a page (an integer id, or the normalized URL itself) and for a visitor
# of one site (an integer id, or the visitor id). Opaque to the report: only compared.
PageKey = Hashable
VisitorKey = Hashable


class CountedConversion(Protocol):
    """What ``CountingRule`` looks at of a conversion (report rows and attribution rows
    both have it)."""

    @property
    def page(self) -> PageKey: ...
    @property
    def meta_type(self) -> str: ...
    @property
    def meta_id(self) -> str | None: ...


class ReportConversion(NamedTuple):
    """What the report reads of one conversion of a session."""

    page: PageKey
    previous_page: PageKey
    meta_type: str
    meta_id: str | None


class ReportSession(NamedTuple):
    """What the report reads of one session. Stores may yield plain tuples in this order.

    ``ordinal`` is the session's position in its visitor's whole history (0: the first
    session ever); ``closes_after`` is ``closes_after(session)``, in microseconds;
    ``conversions`` may be None for a session without any.
    """

    visitor: VisitorKey
    ordinal: int
    landing: PageKey
    exit: PageKey
    exit_previous: PageKey
    closes_after: int
    conversions: tuple[ReportConversion, ...] | None


def closes_after(session: Session) -> int:
    """The instant (microseconds) after which the session counts as closed: a session
    followed by a later one of its visitor is closed already (0), the visitor's last one
    once its inactivity timeout has passed (``Session.is_closed``)."""
    return to_micros(session.inactive_after) if session.is_last else 0


class VisitorConversions(NamedTuple):
    """The conversions of one session of a visitor's history, for the touch scopes."""

    visitor: VisitorKey
    ordinal: int
    conversions: tuple[ReportConversion, ...]


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


# A key no page has: the conversion page of a definition that names a page never seen.
_NO_PAGE = object()


class CountingRule:
    """``ConversionDefinition`` over page keys: which conversions count."""

    __slots__ = ("meta_id", "meta_type", "page")

    def __init__(
        self, definition: ConversionDefinition, *, page_keys: Mapping[str, PageKey] | None = None
    ) -> None:
        """``page_keys`` maps URLs to the store's page keys; None when the keys are the
        URLs themselves. A conversion page missing from it is a page no conversion has."""
        page: PageKey | None = definition.conversion_page
        if page is not None and page_keys is not None:
            page = page_keys.get(definition.conversion_page or "", _NO_PAGE)
        self.page = page
        self.meta_type = definition.meta_type
        self.meta_id = definition.meta_id

    @property
    def counts_every_conversion(self) -> bool:
        return self.page is None and self.meta_type is None and self.meta_id is None

    def counts(self, conversion: CountedConversion) -> bool:
        return (
            (self.page is None or conversion.page == self.page)
            and (self.meta_type is None or conversion.meta_type == self.meta_type)
            and (self.meta_id is None or conversion.meta_id == self.meta_id)
        )

    def counting(
        self, conversions: tuple[ReportConversion, ...] | None
    ) -> tuple[ReportConversion, ...]:
        if not conversions or self.counts_every_conversion:
            return conversions or ()
        return tuple(c for c in conversions if self.counts(c))


def first_converting_ordinals(
    history: Iterable[VisitorConversions], rule: CountingRule
) -> dict[VisitorKey, int]:
    """Per visitor, the ordinal of the first session holding a counting conversion, from
    the conversions of the visitors' whole histories (in any order)."""
    first: dict[VisitorKey, int] = {}
    for visitor, ordinal, conversions in history:
        known = first.get(visitor)
        if (known is None or ordinal < known) and rule.counting(conversions):
            first[visitor] = ordinal
    return first


def in_touch_scope(
    scope: TouchScope, ordinal: int, converting: bool, first_converting: int | None
) -> bool:
    """Touch scopes (docs/concepts.md), judged against the visitor's whole history:
    ``ordinal`` is the session's position in it, ``first_converting`` that of the
    visitor's first converting session (None: the visitor never converted)."""
    if scope is TouchScope.ANY:
        return True
    if scope is TouchScope.FIRST:
        return ordinal == 0
    if scope is TouchScope.CONVERTING:
        return converting
    if first_converting is None:
        return False
    if scope is TouchScope.ASSIST:
        return 0 < ordinal < first_converting
    return ordinal > first_converting  # TouchScope.AFTER


class _Section:
    """Three roles per page, index 0 the one the section is ordered by. Each role keeps
    the page of every session that gave it and the visitor beside it; counting happens
    once, at the end, in C (``Counter``, ``set``, ``map``), not once per session."""

    __slots__ = ("pages", "visitors")

    def __init__(self, *, shared_visitors: bool = False) -> None:
        self.pages: tuple[list[PageKey], list[PageKey], list[PageKey]] = ([], [], [])
        # A section whose three roles come from the same sessions keeps one list of their
        # visitors for all three (``add_rows``), and checks it for repeats once.
        if shared_visitors:
            visitors: list[VisitorKey] = []
            self.visitors = (visitors, visitors, visitors)
        else:
            self.visitors = ([], [], [])

    def add_rows(self, rows: list[ReportSession]) -> None:
        """Sessions whose roles are their exit page (first role), its previous page
        (second) and their landing page (third): the drop-off section."""
        self.visitors[0].extend(map(_VISITOR, rows))
        for role, column in enumerate((_EXIT, _EXIT_PREVIOUS, _LANDING)):
            self.pages[role].extend(map(column, rows))

    def add(self, role: int, page: PageKey, visitor: VisitorKey) -> None:
        self.pages[role].append(page)
        self.visitors[role].append(visitor)

    def keys(self) -> set[PageKey]:
        return {*self.pages[0], *self.pages[1], *self.pages[2]}

    def ordered(
        self, urls: Mapping[PageKey, str], repeat_visitors: set[VisitorKey]
    ) -> list[tuple[str, RoleCount, RoleCount, RoleCount]]:
        """Rows of the section, ordered. ``repeat_visitors`` are the visitors with more
        than one session in the report: only their (page, visitor) pairs can repeat, so
        users are sessions less the repeats among those pairs."""
        masks: dict[int, list[bool]] = {}
        counts: list[tuple[Counter[PageKey], Counter[PageKey], Counter[PageKey]]] = []
        for pages, visitors in zip(self.pages, self.visitors, strict=True):
            repeats: Counter[PageKey] = Counter()
            distinct: Counter[PageKey] = Counter()
            if repeat_visitors:
                mask = masks.get(id(visitors))
                if mask is None:
                    mask = masks[id(visitors)] = list(map(repeat_visitors.__contains__, visitors))
                pairs = list(compress(zip(pages, visitors, strict=True), mask))
                repeats = Counter(map(_PAGE_OF_PAIR, pairs))
                distinct = Counter(map(_PAGE_OF_PAIR, set(pairs)))
            counts.append((Counter(pages), repeats, distinct))

        def role(page: PageKey, index: int) -> RoleCount:
            sessions, repeats, distinct = counts[index]
            n = sessions[page]
            return RoleCount(n, n - repeats[page] + distinct[page])

        rows = [(urls[page], role(page, 0), role(page, 1), role(page, 2)) for page in self.keys()]
        rows.sort(key=lambda row: (-row[1].sessions, row[0]))
        return rows


# Positions in a ``ReportSession`` (stores may hand plain tuples): the report reads rows
# by position, in loops that run once per session of the window. Literals, so that the
# type checker knows each position's type (a wrong one fails every report test).
_VISITOR_AT: Final = 0
_ORDINAL: Final = 1
_LANDING_AT: Final = 2
_EXIT_AT: Final = 3
_EXIT_PREVIOUS_AT: Final = 4
_CLOSES_AFTER: Final = 5
_CONVERSIONS: Final = 6
_VISITOR = itemgetter(_VISITOR_AT)
_LANDING = itemgetter(_LANDING_AT)
_EXIT = itemgetter(_EXIT_AT)
_EXIT_PREVIOUS = itemgetter(_EXIT_PREVIOUS_AT)
_CONVERSIONS_OF = itemgetter(_CONVERSIONS)
_ORDINAL_OF = itemgetter(_ORDINAL)
_PAGE_OF_PAIR = itemgetter(0)


class PageReportBuilder:
    """Accumulates the report from ``ReportSession`` rows of the window's sessions that
    match the query's filters (the store selected them).

    Memory grows with the number of sessions of the window (a few references each), never
    with the visitors' history.
    """

    def __init__(
        self,
        query: PagesQuery,
        now: datetime,
        *,
        rule: CountingRule,
        first_converting: Mapping[VisitorKey, int] | None = None,
    ) -> None:
        if query.touch_scope in (TouchScope.ASSIST, TouchScope.AFTER) and first_converting is None:
            raise ValueError(
                f"touch scope {query.touch_scope.value!r} needs first_converting_ordinals"
            )
        self._query = query
        self._now = to_micros(now)
        self._rule = rule
        self._first_converting = first_converting or {}
        self._sessions = 0
        self._visits: Counter[VisitorKey] = Counter()
        self._conversion_events = 0
        self._conversion_users: set[VisitorKey] = set()
        self._conversions = _Section()
        self._drop_offs = _Section(shared_visitors=True)

    def add(self, rows: Iterable[ReportSession]) -> None:
        """Feed rows; those outside the touch scope are left out here."""
        scope = self._query.touch_scope
        if scope is TouchScope.ANY:
            selected = rows if isinstance(rows, list) else list(rows)
        else:
            selected = self._in_scope(rows, scope)
        self._sessions += len(selected)
        self._visits.update(map(_VISITOR, selected))
        now = self._now
        # Most sessions hold no conversion at all: they are drop-offs once closed (an
        # open session has not dropped off, yet), sorted out in one comprehension.
        dropped = [r for r in selected if r[_CONVERSIONS] is None and now > r[_CLOSES_AFTER]]
        counting_of = self._rule.counting
        section = self._conversions
        for row in filter(_CONVERSIONS_OF, selected):
            counting = counting_of(row[_CONVERSIONS])
            if not counting:
                if now > row[_CLOSES_AFTER]:
                    dropped.append(row)
                continue
            visitor = row[_VISITOR_AT]
            self._conversion_events += len(counting)
            self._conversion_users.add(visitor)
            # Sets: a role counts once per session, however many conversions share it.
            for page in {c.page for c in counting}:
                section.add(0, page, visitor)
            for page in {c.previous_page for c in counting}:
                section.add(1, page, visitor)
            section.add(2, row[_LANDING_AT], visitor)
        self._drop_offs.add_rows(dropped)

    def _in_scope(self, rows: Iterable[ReportSession], scope: TouchScope) -> list[ReportSession]:
        first_converting = self._first_converting
        counting_of = self._rule.counting
        rows = rows if isinstance(rows, list) else list(rows)
        # A necessary condition of the scope sifts the rows in C first (most sessions of a
        # window are no visitor's first, hold no conversion, or are of visitors who never
        # converted); ``in_touch_scope`` has the last word on those left.
        candidates: Iterable[ReportSession]
        if scope is TouchScope.FIRST:
            candidates = compress(rows, map(operator.not_, map(_ORDINAL_OF, rows)))
        elif scope is TouchScope.CONVERTING:
            candidates = filter(_CONVERSIONS_OF, rows)
        else:
            candidates = compress(rows, map(first_converting.__contains__, map(_VISITOR, rows)))
        return [
            row
            for row in candidates
            if in_touch_scope(
                scope,
                row[_ORDINAL],
                bool(row[_CONVERSIONS] and counting_of(row[_CONVERSIONS])),
                first_converting.get(row[_VISITOR_AT]),
            )
        ]

    def page_keys(self) -> set[PageKey]:
        """The pages the result will list: their URLs are what ``result`` needs."""
        return self._conversions.keys() | self._drop_offs.keys()

    def result(self, urls: Mapping[PageKey, str]) -> PageReport | None:
        """The report, or None when no session qualified ("No page data found").
        ``urls`` maps every key of ``page_keys()`` to its URL."""
        if self._sessions == 0:
            return None
        repeat = {visitor for visitor, sessions in self._visits.items() if sessions > 1}
        return PageReport(
            time_frame=self._query.window,
            summary=SummaryTotals(
                total_sessions=self._sessions,
                total_users=len(self._visits),
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
                for url, first, assist, landing in self._conversions.ordered(urls, repeat)
            ),
            drop_off_performance=tuple(
                DropOffPageStats(
                    url=url,
                    drop_off=first,
                    drop_off_assist=assist,
                    landing_assisted_drop_off=landing,
                )
                for url, first, assist, landing in self._drop_offs.ordered(urls, repeat)
            ),
        )


# --- from whole sessions (the in-memory store and the tests) -----------------------------
def report_conversions(session: Session) -> tuple[ReportConversion, ...]:
    return tuple(
        ReportConversion(c.page, c.previous_page, c.meta_type, c.meta_id)
        for c in session.conversions
    )


def report_session(session: Session, ordinal: int) -> ReportSession:
    """The report's row of a session whose keys are its URLs and visitor id."""
    return ReportSession(
        visitor=session.visitor_id,
        ordinal=ordinal,
        landing=session.landing_page,
        exit=session.exit_page,
        exit_previous=session.exit_previous_page,
        closes_after=closes_after(session),
        conversions=report_conversions(session) or None,
    )


def with_ordinals(history: Iterable[Session]) -> list[tuple[Session, int]]:
    """Every session with its position in its visitor's history (``history`` must hold
    every session of the visitors it names, in any order)."""
    by_visitor: dict[str, list[Session]] = defaultdict(list)
    for session in history:
        by_visitor[session.visitor_id].append(session)
    numbered: list[tuple[Session, int]] = []
    for sessions in by_visitor.values():
        sessions.sort(key=lambda s: s.order_key)
        numbered.extend((session, ordinal) for ordinal, session in enumerate(sessions))
    return numbered


def build_page_report(
    history: Iterable[Session], query: PagesQuery, now: datetime
) -> PageReport | None:
    """The report over whole sessions: ``history`` holds every session of the visitors
    it names; the window, filters and touch scope select among them."""
    numbered = with_ordinals(history)
    rule = CountingRule(query.definition)
    first_converting = first_converting_ordinals(
        (
            VisitorConversions(s.visitor_id, ordinal, report_conversions(s))
            for s, ordinal in numbered
            if s.conversions
        ),
        rule,
    )
    selected = _selected(query.filters, query.window)
    builder = PageReportBuilder(query, now, rule=rule, first_converting=first_converting)
    builder.add(report_session(s, ordinal) for s, ordinal in numbered if selected(s))
    return builder.result({page: str(page) for page in builder.page_keys()})


def _selected(filters: SessionFilters, window: TimeWindow) -> Callable[[Session], bool]:
    return lambda s: window.contains(s.start) and filters.matches(s)
