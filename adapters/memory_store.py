"""In-memory ``Store``: the hand-written fake the service-layer tests run against.

It passes the same contract suite as the real stores, so a test that passes against it
says something true about them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from operator import itemgetter

from adapters.read_model import OwnSnapshotReads
from domain.aggregates import AGGREGATE_FIELDS, AggregateRow, aggregate_session, projected
from domain.model import Event, Session, Site
from domain.multi_touch import JourneySession, TextKey, journey_session
from domain.page_report import (
    PageKey,
    ReportSession,
    VisitorConversions,
    report_conversions,
    report_session,
)
from domain.ports import DroppedBots, DuplicateSiteError, Erased, Recut, SessionKey, StoredBatch
from domain.privacy import same_email
from domain.queries import SessionFilters, TimeWindow


class MemoryStore(OwnSnapshotReads):
    def __init__(self) -> None:
        self._sites: dict[str, Site] = {}
        self._events: dict[str, dict[str, Event]] = defaultdict(dict)  # site -> id -> event
        self._visitor_events: dict[tuple[str, str], list[Event]] = defaultdict(list)
        self._sessions: dict[tuple[str, str], list[Session]] = {}  # (site, visitor) -> sessions
        self._bots: dict[tuple[str, str], DroppedBots] = {}  # (site, reason) -> counts
        self._lock = asyncio.Lock()
        self._closed = False

    async def add_site(self, site: Site) -> None:
        if site.site_id in self._sites:
            raise DuplicateSiteError(site.site_id)
        self._sites[site.site_id] = site

    async def get_site(self, site_id: str) -> Site | None:
        return self._sites.get(site_id)

    async def site_by_api_key_hash(self, key_hash: str) -> Site | None:
        return next((s for s in self._sites.values() if s.api_key_hash == key_hash), None)

    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None:
        return next((s for s in self._sites.values() if s.tracker_token_hash == token_hash), None)

    async def list_sites(self) -> list[Site]:
        return sorted(self._sites.values(), key=lambda s: (s.created_at, s.site_id))

    async def replace_site_keys(
        self, site_id: str, api_key_hash: str, tracker_token_hash: str
    ) -> Site | None:
        site = self._sites.get(site_id)
        if site is None:
            return None
        updated = replace(site, api_key_hash=api_key_hash, tracker_token_hash=tracker_token_hash)
        self._sites[site_id] = updated
        return updated

    async def ingest(self, site_id: str, events: Sequence[Event], recut: Recut) -> StoredBatch:
        async with self._lock:
            stored = self._events[site_id]
            new: dict[str, Event] = {}
            for event in events:
                if event.event_id not in stored:
                    new.setdefault(event.event_id, event)
            by_visitor: dict[str, list[Event]] = defaultdict(list)
            for event in new.values():
                by_visitor[event.visitor_id].append(event)
            # Every re-cut runs before anything is written: if one raises, nothing is.
            histories = {
                visitor: [*self._visitor_events.get((site_id, visitor), []), *added]
                for visitor, added in by_visitor.items()
            }
            # In history order: a session's position in its visitor's list is its ordinal.
            sessions = {
                visitor: sorted(recut(history), key=lambda s: s.order_key)
                for visitor, history in histories.items()
            }
            stored.update(new)
            for visitor, history in histories.items():
                self._visitor_events[(site_id, visitor)] = history
                self._sessions[(site_id, visitor)] = sessions[visitor]
            return StoredBatch(accepted=len(new), duplicates=len(events) - len(new))

    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        return list(self._visitor_events.get((site_id, visitor_id), []))

    async def visitor_history(
        self, site_id: str, visitor_id: str
    ) -> tuple[list[Event], list[Session]]:
        # No await between the two: nothing can run in between.
        return (
            list(self._visitor_events.get((site_id, visitor_id), [])),
            list(self._sessions.get((site_id, visitor_id), [])),
        )

    async def visitor_sessions(self, site_id: str, visitor_id: str) -> list[Session]:
        return list(self._sessions.get((site_id, visitor_id), []))

    async def erase_visitor(self, site_id: str, visitor_id: str) -> Erased:
        async with self._lock:
            return self._erase(site_id, [visitor_id])

    async def erase_email(self, site_id: str, email: str) -> Erased:
        async with self._lock:
            holders = {
                visitor
                for (site, visitor), events in self._visitor_events.items()
                if site == site_id
                and any(e.email is not None and same_email(e.email, email) for e in events)
            }
            return self._erase(site_id, sorted(holders))

    def _erase(self, site_id: str, visitor_ids: Sequence[str]) -> Erased:
        visitors = events = 0
        for visitor in visitor_ids:
            history = self._visitor_events.pop((site_id, visitor), [])
            self._sessions.pop((site_id, visitor), None)
            for event in history:
                del self._events[site_id][event.event_id]
            visitors += bool(history)
            events += len(history)
        return Erased(visitors=visitors, events=events)

    async def repair_pending(self, recut: Recut, *, visitors: int) -> int:
        return 0  # every write happens under one lock: none is ever left half-done

    async def purge(self, before: datetime, recut: Recut, *, visitors: int) -> Erased:
        async with self._lock:
            touched = [
                key
                for key, history in self._visitor_events.items()
                if any(e.timestamp < before for e in history)
            ][:visitors]
            kept = {
                key: [e for e in self._visitor_events[key] if e.timestamp >= before]
                for key in touched
            }
            # Every re-cut runs before anything is written: if one raises, nothing is.
            sessions = {
                key: sorted(recut(left), key=lambda s: s.order_key) if left else []
                for key, left in kept.items()
            }
            deleted = 0
            for (site_id, visitor), left in kept.items():
                old = self._visitor_events[(site_id, visitor)]
                for event in old:
                    if event.timestamp < before:
                        del self._events[site_id][event.event_id]
                deleted += len(old) - len(left)
                if left:
                    self._visitor_events[(site_id, visitor)] = left
                    self._sessions[(site_id, visitor)] = sessions[(site_id, visitor)]
                else:
                    del self._visitor_events[(site_id, visitor)]
                    self._sessions.pop((site_id, visitor), None)
            return Erased(visitors=len(touched), events=deleted)

    async def count_dropped_bots(
        self, site_id: str, reasons: Mapping[str, int], at: datetime
    ) -> None:
        # No await between read and write: concurrent calls cannot interleave here.
        for reason, events in reasons.items():
            last_seen = at
            seen = self._bots.get((site_id, reason))
            if seen is not None:
                events += seen.events
                last_seen = max(at, seen.last_seen)
            self._bots[(site_id, reason)] = DroppedBots(reason, events, last_seen)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
        # Ingestion replaces a visitor's list of sessions, never changes one in place:
        # a copy of the mapping is a committed state.
        yield MemorySnapshot(dict(self._sessions), dict(self._bots))

    async def ping(self) -> None:  # Store port
        if self._closed:
            raise RuntimeError("the in-memory store is closed")

    async def close(self) -> None:
        self._closed = True


def _listing_order(session: Session) -> tuple[float, str, str]:
    return (-session.start.timestamp(), session.visitor_id, session.session_id)


def _key_order(key: SessionKey) -> tuple[float, str, str]:
    return (-key.start.timestamp(), key.visitor_id, key.session_id)


class MemorySnapshot:
    """Reads over one state of the in-memory store; page keys are the URLs themselves
    and visitor keys the visitor ids."""

    def __init__(
        self,
        sessions: dict[tuple[str, str], list[Session]],
        bots: dict[tuple[str, str], DroppedBots] | None = None,
    ) -> None:
        self._sessions = sessions
        self._bots = bots or {}

    def _matching(self, site_id: str, filters: SessionFilters, window: TimeWindow) -> list[Session]:
        return [
            s
            for (site, _), sessions in self._sessions.items()
            if site == site_id
            for s in sessions
            if window.contains(s.start) and filters.matches(s)
        ]

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        return len(self._matching(site_id, filters, window))

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
        ordered = sorted(self._matching(site_id, filters, window), key=_listing_order)
        if after is not None:
            ordered = [s for s in ordered if _listing_order(s) > _key_order(after)]
        return ordered[offset : offset + limit]

    async def report_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[ReportSession]]:
        selected = {id(s) for s in self._matching(site_id, filters, window)}
        rows = [
            report_session(session, ordinal)
            for visitor in self._visitors(site_id, filters, window)
            for ordinal, session in enumerate(self._sessions[(site_id, visitor)])
            if id(session) in selected
        ]
        yield rows

    async def visitor_conversions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[VisitorConversions]]:
        matching = {id(s) for s in self._matching(site_id, filters, window)}
        returning = {
            visitor
            for (site, visitor), sessions in self._sessions.items()
            if site == site_id and any(id(s) in matching for s in sessions[1:])
        }
        yield [
            VisitorConversions(visitor, ordinal, report_conversions(session))
            for visitor in returning
            for ordinal, session in enumerate(self._sessions[(site_id, visitor)])
            if session.conversions
        ]

    async def journey_sessions(
        self, site_id: str, window: TimeWindow, lookback: timedelta
    ) -> AsyncIterator[Sequence[JourneySession]]:
        # Every session of the reach: the port allows the others' earlier sessions.
        assert window.start is not None
        window = window.reaching_back(lookback)
        rows = [
            journey_session(s)
            for (site, _), sessions in self._sessions.items()
            if site == site_id
            for s in sessions
            if window.contains(s.start)
        ]
        # A visitor's sessions are kept in order: a stable sort keeps their ties so.
        rows.sort(key=itemgetter(0, 1))
        yield rows

    async def aggregate_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        fields: Collection[str] = AGGREGATE_FIELDS,
    ) -> AsyncIterator[Sequence[AggregateRow]]:
        yield [
            projected(aggregate_session(s), fields)
            for s in self._matching(site_id, filters, window)
        ]

    async def attribution_texts(self, keys: Collection[TextKey]) -> dict[TextKey, str]:
        return {key: str(key) for key in keys}

    def _visitors(self, site_id: str, filters: SessionFilters, window: TimeWindow) -> set[str]:
        return {s.visitor_id for s in self._matching(site_id, filters, window)}

    async def page_keys(self, urls: Collection[str]) -> dict[str, PageKey]:
        return {url: url for url in urls}

    async def page_urls(self, keys: Collection[PageKey]) -> dict[PageKey, str]:
        return {key: str(key) for key in keys}

    async def dropped_bots(self, site_id: str) -> list[DroppedBots]:
        found = [counts for (site, _), counts in self._bots.items() if site == site_id]
        return sorted(found, key=lambda c: (-c.events, c.reason))
