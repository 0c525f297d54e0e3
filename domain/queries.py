"""Typed read queries: what the two endpoints ask for, once parsed and validated.

Parsing from request parameters lives in ``domain.parameters``; these values are what the
application services, the stores and the page report work with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.model import AnySession, Conversion

SESSIONS_PAGE_SIZE = 50


class TouchScope(enum.StrEnum):
    ANY = "any"
    FIRST = "first"
    CONVERTING = "converting"
    ASSIST = "assist"
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class SessionFilters:
    """Exact, case-sensitive matches combined with AND; None means not filtered.
    ``landing_page`` is already normalized."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    landing_page: str | None = None

    def matches(self, session: AnySession) -> bool:
        a = session.attribution
        return (
            (self.source is None or a.source == self.source)
            and (self.medium is None or a.medium == self.medium)
            and (self.campaign is None or a.campaign == self.campaign)
            and (self.content is None or a.content == self.content)
            and (self.term is None or a.term == self.term)
            and (self.landing_page is None or session.landing_page == self.landing_page)
        )


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Inclusive bounds on a session's start; None means unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, instant: datetime) -> bool:
        return (self.start is None or instant >= self.start) and (
            self.end is None or instant <= self.end
        )

    def reaching_back(self, span: timedelta) -> TimeWindow:
        """This window with its start ``span`` earlier (no earlier than the first
        representable instant: a window near the year 1 must not overflow)."""
        if self.start is None:
            return self
        try:
            start = self.start - span
        except OverflowError:
            start = datetime.min.replace(tzinfo=UTC)
        return TimeWindow(start, self.end)


@dataclass(frozen=True, slots=True)
class ConversionDefinition:
    """Which conversion events count (docs/concepts.md, "/pages"); None means any.
    ``conversion_page`` is normalized."""

    conversion_page: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None

    def counts(self, conversion: Conversion) -> bool:
        return (
            (self.conversion_page is None or conversion.page == self.conversion_page)
            and (self.meta_type is None or conversion.meta_type == self.meta_type)
            and (self.meta_id is None or conversion.meta_id == self.meta_id)
        )

    def counting(self, session: AnySession) -> tuple[Conversion, ...]:
        return tuple(c for c in session.conversions if self.counts(c))

    def is_converting(self, session: AnySession) -> bool:
        return any(self.counts(c) for c in session.conversions)


@dataclass(frozen=True, slots=True)
class SessionsQuery:
    filters: SessionFilters
    window: TimeWindow
    page: int = 1
    page_size: int = SESSIONS_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class PagesQuery:
    """``window`` is the effective window after defaults and truncation: both bounds set."""

    filters: SessionFilters
    window: TimeWindow
    definition: ConversionDefinition
    touch_scope: TouchScope = TouchScope.ANY
