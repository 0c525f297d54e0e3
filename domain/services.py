"""Application services: the use cases that REST, GraphQL and the CLI all call.

They hold the orchestration (validate, drop bots, store, re-cut, read, report) and
depend only on ports, so unit tests run them against the in-memory fake store.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from domain.events import EventError, EventParser
from domain.model import DEFAULT_SESSION_TIMEOUT, Event, Session, Site
from domain.page_report import (
    CountingRule,
    PageReport,
    PageReportBuilder,
    VisitorKey,
    first_converting_ordinals,
)
from domain.ports import BotDetector, Clock, SessionKey, Store, StoreSnapshot
from domain.queries import (
    PagesQuery,
    SessionFilters,
    SessionsQuery,
    TimeWindow,
    TouchScope,
)
from domain.sessionization import sessionize_visitor

MAX_BATCH_EVENTS = 10_000
# Reports that run at once; more wait their turn. A report's Python work holds the GIL, so
# two at once are no faster than one after the other: they only add memory and make
# listings wait longer for the GIL meanwhile.
DEFAULT_REPORT_CONCURRENCY = 1
# Longer than any key or token the service issues: refused without hashing megabytes of
# header.
MAX_CREDENTIAL_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    error: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    accepted: int
    duplicates: int
    bots: int
    rejected: tuple[Rejection, ...]


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    """Events of one batch that passed validation and bot filtering, not yet stored."""

    site_id: str
    events: tuple[Event, ...]
    bots: int
    rejected: tuple[Rejection, ...]


@dataclass(frozen=True, slots=True)
class SessionsPage:
    sessions: tuple[Session, ...]
    current_page: int
    total_pages: int
    total_records: int
    now: datetime  # the instant against which open/closed was decided


@dataclass(frozen=True, slots=True)
class NewSite:
    """A freshly created site with its clear-text credentials, shown only this once."""

    site: Site
    api_key: str
    tracker_token: str


class BatchTooLargeError(ValueError):
    pass


def hash_secret(secret: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: there is nothing to
    # brute-force that a slow KDF would protect.
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_api_key() -> str:
    return "ahk_" + secrets.token_urlsafe(32)


def _new_tracker_token() -> str:
    return "aht_" + secrets.token_urlsafe(24)


class AttributionService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        bots: BotDetector,
        *,
        session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
        report_concurrency: int = DEFAULT_REPORT_CONCURRENCY,
    ) -> None:
        if report_concurrency < 1:
            raise ValueError("report_concurrency: expected an integer >= 1")
        self.store = store
        self.clock = clock
        self.bots = bots
        self.session_timeout = session_timeout
        self.report_slots = asyncio.Semaphore(report_concurrency)

    # --- sites and keys ----------------------------------------------------------
    async def create_site(self, name: str) -> NewSite:
        name = name.strip()
        if not name:
            raise ValueError("name: expected a non-empty site name")
        api_key, tracker_token = _new_api_key(), _new_tracker_token()
        site = Site(
            site_id="site_" + secrets.token_hex(8),
            name=name,
            api_key_hash=hash_secret(api_key),
            tracker_token_hash=hash_secret(tracker_token),
            created_at=self.clock.now(),
        )
        await self.store.add_site(site)
        return NewSite(site=site, api_key=api_key, tracker_token=tracker_token)

    async def rotate_keys(self, site_id: str) -> NewSite | None:
        """New API key and tracker token for a site (for a lost or leaked key): the old
        ones stop working at once. None when there is no such site."""
        api_key, tracker_token = _new_api_key(), _new_tracker_token()
        site = await self.store.replace_site_keys(
            site_id, hash_secret(api_key), hash_secret(tracker_token)
        )
        if site is None:
            return None
        return NewSite(site=site, api_key=api_key, tracker_token=tracker_token)

    async def sites(self) -> list[Site]:
        return await self.store.list_sites()

    async def site_for_api_key(self, api_key: str) -> Site | None:
        if len(api_key) > MAX_CREDENTIAL_LENGTH:
            return None
        digest = hash_secret(api_key)
        site = await self.store.site_by_api_key_hash(digest)
        if site is None or not hmac.compare_digest(site.api_key_hash, digest):
            return None
        return site

    async def site_for_tracker_token(self, token: str) -> Site | None:
        if len(token) > MAX_CREDENTIAL_LENGTH:
            return None
        digest = hash_secret(token)
        site = await self.store.site_by_tracker_token_hash(digest)
        if site is None or not hmac.compare_digest(site.tracker_token_hash, digest):
            return None
        return site

    # --- ingestion ---------------------------------------------------------------
    async def ingest(
        self,
        site_id: str,
        raw_events: Sequence[object],
        *,
        stamp_with_server_time: bool = False,
        max_events: int = MAX_BATCH_EVENTS,
    ) -> IngestReport:
        """Validate, drop bots, store and re-cut the affected visitors' sessions.

        Valid events are stored even when others of the batch are rejected; each
        rejection names its index and field. With ``stamp_with_server_time`` (the
        browser collector) the server's clock replaces the client's timestamps.
        ``max_events`` bounds the batch: the HTTP API keeps the default, a local bulk
        import may pass more to store fewer, larger transactions.
        """
        batch = self.validate_batch(
            site_id,
            raw_events,
            stamp_with_server_time=stamp_with_server_time,
            max_events=max_events,
        )
        return await self.store_batch(batch)

    def validate_batch(
        self,
        site_id: str,
        raw_events: Sequence[object],
        *,
        stamp_with_server_time: bool = False,
        max_events: int = MAX_BATCH_EVENTS,
    ) -> ValidatedBatch:
        """The first half of ``ingest``, apart so that a bulk import can validate one
        batch while the store writes the previous one."""
        if len(raw_events) > max_events:
            raise BatchTooLargeError(
                f"events: expected at most {max_events} events, got {len(raw_events)}"
            )
        now = self.clock.now()
        parser = EventParser(site_id=site_id, now=now)
        stamp = now.astimezone(UTC).isoformat()
        valid: list[Event] = []
        rejected: list[Rejection] = []
        bots = 0
        for index, raw in enumerate(raw_events):
            if stamp_with_server_time and isinstance(raw, Mapping):
                raw = {**raw, "timestamp": stamp}
            try:
                event = parser.parse(raw)
            except EventError as err:
                rejected.append(Rejection(index=index, error=str(err)))
                continue
            if event.user_agent is not None and self.bots.is_bot(event.user_agent):
                bots += 1
                continue
            valid.append(event)
        return ValidatedBatch(site_id, tuple(valid), bots, tuple(rejected))

    async def store_batch(self, batch: ValidatedBatch) -> IngestReport:
        """The second half of ``ingest``: store the valid events and re-cut."""
        accepted = duplicates = 0
        if batch.events:
            stored = await self.store.ingest(
                batch.site_id,
                batch.events,
                partial(sessionize_visitor, timeout=self.session_timeout),
            )
            accepted, duplicates = stored.accepted, stored.duplicates
        return IngestReport(
            accepted=accepted, duplicates=duplicates, bots=batch.bots, rejected=batch.rejected
        )

    # --- reads -------------------------------------------------------------------
    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Reads]:
        """Reads that answer one request, all from one committed state of the store."""
        async with self.store.snapshot() as snapshot:
            yield Reads(self, snapshot)

    async def list_sessions(self, site_id: str, query: SessionsQuery) -> SessionsPage:
        async with self.reading() as reads:
            return await reads.list_sessions(site_id, query)

    async def page_report(
        self, site_id: str, query: PagesQuery, *, now: datetime | None = None
    ) -> PageReport | None:
        async with self.reading() as reads:
            return await reads.page_report(site_id, query, now=now)

    def now(self) -> datetime:
        return self.clock.now()


class Reads:
    """The read use cases over one snapshot (``AttributionService.reading``): a listing
    and its count, or a report's several store reads, agree with each other."""

    def __init__(self, service: AttributionService, snapshot: StoreSnapshot) -> None:
        self._service = service
        self._snapshot = snapshot

    async def list_sessions(self, site_id: str, query: SessionsQuery) -> SessionsPage:
        snapshot = self._snapshot
        total = await snapshot.count_sessions(site_id, query.filters, query.window)
        sessions: list[Session] = []
        if total and (query.page - 1) * query.page_size < total:
            sessions = await snapshot.list_sessions(
                site_id,
                query.filters,
                query.window,
                limit=query.page_size,
                offset=(query.page - 1) * query.page_size,
            )
        return SessionsPage(
            sessions=tuple(sessions),
            current_page=query.page,
            total_pages=math.ceil(total / query.page_size),
            total_records=total,
            now=self._service.clock.now(),
        )

    async def sessions_after(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        after: SessionKey | None,
        limit: int,
    ) -> list[Session]:
        """Keyset pagination: stable while new sessions arrive (they sort before)."""
        return await self._snapshot.list_sessions(
            site_id, filters, window, limit=limit, after=after
        )

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        return await self._snapshot.count_sessions(site_id, filters, window)

    async def page_report(
        self, site_id: str, query: PagesQuery, *, now: datetime | None = None
    ) -> PageReport | None:
        """One pass over the window's report rows. ``now`` decides which sessions are
        closed; give the instant the window's defaults were taken at, so that one
        request reads the clock once. Heavy: at most ``report_concurrency`` run at once,
        the others wait their turn."""
        async with self._service.report_slots:
            return await self._page_report(site_id, query, now or self._service.clock.now())

    async def _page_report(
        self, site_id: str, query: PagesQuery, now: datetime
    ) -> PageReport | None:
        snapshot = self._snapshot
        page = query.definition.conversion_page
        rule = CountingRule(
            query.definition,
            page_keys=await snapshot.page_keys([page]) if page is not None else {},
        )
        first_converting: dict[VisitorKey, int] | None = None
        if query.touch_scope in (TouchScope.ASSIST, TouchScope.AFTER):
            history = snapshot.visitor_conversions(site_id, query.filters, query.window)
            first_converting = first_converting_ordinals(
                [conversions async for chunk in history for conversions in chunk], rule
            )
        builder = PageReportBuilder(query, now, rule=rule, first_converting=first_converting)
        async for rows in snapshot.report_sessions(site_id, query.filters, query.window):
            builder.add(rows)
        # The final counting takes a long moment in one piece: on a thread, the event
        # loop keeps answering other requests meanwhile (the GIL is handed over every
        # few milliseconds) instead of stalling behind it.
        keys = await asyncio.to_thread(builder.page_keys)
        urls = await snapshot.page_urls(keys) if keys else {}
        return await asyncio.to_thread(builder.result, urls)
