"""Ports: what the core needs from the outside world, as Protocols.

Every store adapter (the embedded SQLite store, MongoDB, the in-memory fake used by unit
tests) implements ``Store`` and passes the same contract suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain.aggregates import AGGREGATE_FIELDS, AggregateRow
from domain.model import Event, Session, Site
from domain.multi_touch import JourneySession, TextKey
from domain.page_report import PageKey, ReportSession, VisitorConversions
from domain.queries import SessionFilters, TimeWindow

# Given every stored event of one visitor (new ones included), the visitor's sessions.
Recut = Callable[[Sequence[Event]], Sequence[Session]]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class BotDetector(Protocol):
    def bot_reason(self, user_agent: str) -> str | None:
        """Why ``user_agent`` is a bot's (what matched, e.g. a crawler's name), or None
        when it is not. The reason is shown to the site owner: short and stable."""
        ...


class RateLimit(Protocol):
    async def retry_after(self, site_id: str) -> int | None:
        """Count one request of the site; None when allowed, else whole seconds to wait."""
        ...


@dataclass(frozen=True, slots=True)
class StoredBatch:
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class DroppedBots:
    """Events of one site dropped as a bot's for one reason (``BotDetector``)."""

    reason: str
    events: int
    last_seen: datetime  # when the service last dropped one, by its clock


@dataclass(frozen=True, slots=True)
class SessionKey:
    """A session's position in the /sessions order: start descending, then visitor_id
    and session_id ascending. Keyset pagination resumes strictly after a key."""

    start: datetime
    visitor_id: str
    session_id: str

    @classmethod
    def of(cls, session: Session) -> SessionKey:
        return cls(session.start, session.visitor_id, session.session_id)


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure or a retention purge deleted: the visitors that lost at least one
    event, and the events."""

    visitors: int
    events: int


class DuplicateSiteError(Exception):
    """A site with that id (or key hash) exists already."""


class StoreUnavailableError(Exception):
    """The store cannot serve right now (unreachable, or it did not answer in time).

    Adapters raise it for outages they expect to pass, so that the edge answers 503 and
    the client tries again; the message says why, for the server log."""


class StoreSnapshot(Protocol):
    """Reads over one committed state of a store (``Store.snapshot``)."""

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int: ...

    async def list_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        limit: int,
        offset: int = 0,
        after: SessionKey | None = None,
    ) -> list[Session]:
        """Matching sessions in the /sessions order (start descending, visitor_id then
        session_id ascending), skipping ``offset`` or resuming strictly after ``after``."""
        ...

    def report_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[ReportSession]]:
        """The report row of every matching session, in chunks, in no particular order
        (the page report's input). Page and visitor keys are the store's own."""
        ...

    def visitor_conversions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[VisitorConversions]]:
        """For every visitor with a matching session that is not the visitor's first
        (ordinal 1 or more: a first session is never in the ``assist`` or ``after``
        scope), the conversions of each session of that visitor's whole history
        (matching or not, in the window or not), in chunks: what those touch scopes are
        judged against."""
        ...

    def journey_sessions(
        self, site_id: str, window: TimeWindow, lookback: timedelta
    ) -> AsyncIterator[Sequence[JourneySession]]:
        """The attribution rows the report needs, in chunks, ordered by visitor key and,
        within a visitor, by start: the report then groups them by visitor in one pass
        (rows in another order give the same report, after a sort). Every session of the
        site starting in ``window`` (both bounds set), and those starting in the
        ``lookback`` before it of every visitor with a converting session still active at
        the window's start or later (its conversions may be in the window). (The others'
        earlier sessions are never part of a path; a store may yield them all the same.)
        Page, visitor and text keys are the store's own (``attribution_texts``)."""
        ...

    def aggregate_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        fields: Collection[str] = AGGREGATE_FIELDS,
    ) -> AsyncIterator[Sequence[AggregateRow]]:
        """The aggregates' row of every matching session, in chunks, in no particular
        order: the ``fields`` asked for (names of ``AggregateSession`` fields), in that
        type's order (``in_row_order``); all of them by default. Visitor, text
        (``attribution_texts``) and page (``page_urls``) keys are the store's own."""
        ...

    async def attribution_texts(self, keys: Collection[TextKey]) -> dict[TextKey, str]:
        """The text of each source, medium or campaign key of ``journey_sessions`` rows,
        or text key of ``aggregate_sessions`` rows (every key the store handed out)."""
        ...

    async def page_keys(self, urls: Collection[str]) -> dict[str, PageKey]:
        """The store's key of each of ``urls`` it has seen (others are left out)."""
        ...

    async def page_urls(self, keys: Collection[PageKey]) -> dict[PageKey, str]:
        """The URL of each page key (every key the store handed out)."""
        ...

    async def dropped_bots(self, site_id: str) -> list[DroppedBots]:
        """The site's counts of events dropped as bots', one per reason, most events
        first (ties by reason); empty when none were."""
        ...


class Store(Protocol):
    """Persistence of sites, raw events and materialized sessions.

    Any method may raise ``StoreUnavailableError`` while the store cannot be reached."""

    # --- sites -------------------------------------------------------------------
    async def add_site(self, site: Site) -> None:
        """Raises ``DuplicateSiteError`` when the id is taken."""
        ...

    async def get_site(self, site_id: str) -> Site | None: ...

    async def site_by_api_key_hash(self, key_hash: str) -> Site | None: ...

    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None: ...

    async def list_sites(self) -> list[Site]:
        """Every site, oldest first (ties by id)."""
        ...

    async def replace_site_keys(
        self, site_id: str, api_key_hash: str, tracker_token_hash: str
    ) -> Site | None:
        """Store new key hashes for a site: its old keys stop working at once. Returns
        the updated site, or None when there is no such site."""
        ...

    # --- ingestion ---------------------------------------------------------------
    async def ingest(self, site_id: str, events: Sequence[Event], recut: Recut) -> StoredBatch:
        """Store the events whose ``(site_id, event_id)`` is not stored yet, then for
        every visitor that received a new event replace that visitor's sessions with
        ``recut(all of the visitor's stored events)``.

        Idempotent, also under concurrent calls with overlapping events: each event is
        accepted by exactly one call. Durable on return; on error nothing is written.
        ``events`` may repeat an ``event_id``: the repeat counts as a duplicate.
        """
        ...

    async def repair_pending(self, recut: Recut, *, visitors: int) -> int:
        """Re-cut up to ``visitors`` visitors whose sessions an ingest that failed half-way
        left behind their events (``recut(all of the visitor's stored events)``, as
        ``ingest`` would have); the number re-cut, zero once none is left. Stores whose
        writes are atomic never leave one behind and answer zero."""
        ...

    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        """Every stored event of one visitor, in no particular order."""
        ...

    async def count_dropped_bots(
        self, site_id: str, reasons: Mapping[str, int], at: datetime
    ) -> None:
        """Add ``reasons`` (events dropped as bots' per reason) to the site's counts, and
        make ``at`` the reasons' ``last_seen`` unless a later one is stored. Concurrent
        calls add up: none is lost. Durable on return."""
        ...

    # --- privacy (docs/privacy.md) ------------------------------------------------
    async def visitor_history(
        self, site_id: str, visitor_id: str
    ) -> tuple[list[Event], list[Session]]:
        """The visitor's stored events and sessions, read from one committed state (the
        sessions are the re-cut of exactly those events), as an access request needs.
        MongoDB without snapshot reads reads them one after the other."""
        ...

    async def visitor_sessions(self, site_id: str, visitor_id: str) -> list[Session]:
        """Every stored session of one visitor, in start order."""
        ...

    async def erase_visitor(self, site_id: str, visitor_id: str) -> Erased:
        """Delete every event and session of one visitor of the site. Idempotent (a
        second call deletes nothing), durable on return."""
        ...

    async def erase_email(self, site_id: str, email: str) -> Erased:
        """Delete every event and session of each visitor of the site holding a
        conversion whose email equals ``email`` ignoring case
        (``domain.privacy.same_email``). Idempotent, durable on return."""
        ...

    async def purge(self, before: datetime, recut: Recut, *, visitors: int) -> Erased:
        """Delete the events older than ``before`` of at most ``visitors`` visitors (of
        any site) that have some, and replace each one's sessions with ``recut(its
        events left)``: a session made only of deleted events goes, one straddling
        ``before`` is re-cut. Repeat until it answers zero events. Durable on return."""
        ...

    # --- reads -------------------------------------------------------------------
    def snapshot(self) -> AbstractAsyncContextManager[StoreSnapshot]:
        """One committed state of the store, for every read that answers one request:
        the state as of its first read; what is written after that is not seen through
        it."""
        ...

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        """``count_sessions`` of a snapshot of its own."""
        ...

    async def list_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        limit: int,
        offset: int = 0,
        after: SessionKey | None = None,
    ) -> list[Session]:
        """``list_sessions`` of a snapshot of its own."""
        ...

    async def ping(self) -> None:
        """Return once the store has answered a trivial read; raise when it cannot serve
        (closed, unreachable). Cheap enough for every health check, and bounded in time
        by the store itself (a few seconds at most)."""
        ...

    async def close(self) -> None: ...
