"""Application services: the use cases that REST, GraphQL and the CLI all call.

They hold the orchestration (validate, drop bots, store, re-cut, read, report) and
depend only on ports, so unit tests run them against the in-memory fake store.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from typing import TypeVar

from domain.aggregates import (
    BREAKDOWN_FIELDS,
    Breakdown,
    BreakdownBuilder,
    BreakdownQuery,
    Timeseries,
    TimeseriesBuilder,
    parse_breakdown_query,
    parse_timeseries_query,
)
from domain.browser_time import browser_timestamp
from domain.events import MAX_VISITOR_ID_LENGTH, EventError, EventParser
from domain.gc_pause import collection_paused
from domain.model import DEFAULT_SESSION_TIMEOUT, Event, Session, Site
from domain.multi_touch import (
    AttributionQuery,
    AttributionReport,
    JourneySession,
    attribution_report,
)
from domain.page_report import (
    CountingRule,
    PageReport,
    PageReportBuilder,
    VisitorKey,
    first_converting_ordinals,
)
from domain.parameters import (
    ParameterError,
    parse_attribution_query,
    parse_pages_query,
    parse_sessions_query,
)
from domain.ports import BotDetector, Clock, DroppedBots, Erased, SessionKey, Store, StoreSnapshot
from domain.privacy import retention_cutoff
from domain.queries import SESSIONS_PAGE_SIZE, ConversionDefinition, PagesQuery, TouchScope
from domain.sessionization import sessionize_visitor

T = TypeVar("T")

MAX_BATCH_EVENTS = 10_000
_log = logging.getLogger("attributionhub.ingest")
# Reports that run at once; more wait their turn. A report's Python work holds the GIL, so
# two at once are no faster than one after the other: they only add memory and make
# listings wait longer for the GIL meanwhile.
DEFAULT_REPORT_CONCURRENCY = 1
# Sessions a listing may ask for per page (GraphQL's pageSize; REST's is fixed at 50).
MAX_PAGE_SIZE = 200
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
    # Of ``bots``, how many per reason, sorted by reason (the log line names them).
    bot_reasons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    """Events of one batch that passed validation and bot filtering, not yet stored."""

    site_id: str
    events: tuple[Event, ...]
    bots: int
    rejected: tuple[Rejection, ...]
    # Of ``bots``, how many per reason (``BotDetector.bot_reason``), sorted by reason.
    bot_reasons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SessionsPage:
    sessions: tuple[Session, ...]
    # None for a page asked for by cursor: its number is not known without counting
    # what comes before it.
    current_page: int | None
    total_pages: int
    total_records: int
    page_size: int
    has_next_page: bool
    now: datetime  # the instant against which open/closed was decided


@dataclass(frozen=True, slots=True)
class NewSite:
    """A freshly created site with its clear-text credentials, shown only this once."""

    site: Site
    api_key: str
    tracker_token: str


class BatchTooLargeError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class VisitorRecord:
    """Everything stored about one visitor of a site (an access request)."""

    visitor_id: str
    events: tuple[Event, ...]  # in timestamp order
    sessions: tuple[Session, ...]  # in start order
    now: datetime  # the instant against which open/closed was decided


# Visitors a retention purge re-cuts per store transaction: small enough that ingestion
# waits a fraction of a second behind one batch.
PURGE_BATCH_VISITORS = 500


def hash_secret(secret: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: there is nothing to
    # brute-force that a slow KDF would protect.
    # "surrogatepass": a text that is no real key (bytes a web server could not decode,
    # kept as surrogates) hashes to a digest no key has, instead of raising.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


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
        from_browser: bool = False,
        max_events: int = MAX_BATCH_EVENTS,
    ) -> IngestReport:
        """Validate, drop bots, store and re-cut the affected visitors' sessions.

        Valid events are stored even when others of the batch are rejected; each
        rejection names its index and field. With ``from_browser`` (the tracker's
        ``/collect``) an event's ``timestamp`` comes from its ``client_time`` and
        ``sent_at`` checked against the server's clock (``domain.browser_time``).
        ``max_events`` bounds the batch: the HTTP API keeps the default, a local bulk
        import may pass more to store fewer, larger transactions.
        """
        batch = self.validate_batch(
            site_id,
            raw_events,
            from_browser=from_browser,
            max_events=max_events,
        )
        report = await self.store_batch(batch)
        # One line per batch whichever face sent it (docs/deployment.md, "Logs"), and one
        # when bots were dropped: the only trace of events that left nothing behind.
        _log.info(
            "ingested a batch for %s",
            site_id,
            extra={
                "event": "ingest",
                "site_id": site_id,
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "bots": report.bots,
                "rejected": len(report.rejected),
            },
        )
        if report.bots:
            reasons = dict(report.bot_reasons)
            _log.info(
                "dropped %d bot events for %s (%s)",
                report.bots,
                site_id,
                ", ".join(f"{reason}: {n}" for reason, n in report.bot_reasons),
                extra={
                    "event": "bots_dropped",
                    "site_id": site_id,
                    "bots": report.bots,
                    "reasons": reasons,
                },
            )
        return report

    def validate_batch(
        self,
        site_id: str,
        raw_events: Sequence[object],
        *,
        from_browser: bool = False,
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
        valid: list[Event] = []
        rejected: list[Rejection] = []
        bots: Counter[str] = Counter()
        for index, raw in enumerate(raw_events):
            if from_browser and isinstance(raw, Mapping):
                at = browser_timestamp(raw, now).astimezone(UTC)
                raw = {**raw, "timestamp": at.isoformat(timespec="milliseconds")}
            try:
                event = parser.parse(raw)
            except EventError as err:
                rejected.append(Rejection(index=index, error=str(err)))
                continue
            reason = None if event.user_agent is None else self.bots.bot_reason(event.user_agent)
            if reason is not None:
                bots[reason] += 1
                continue
            valid.append(event)
        return ValidatedBatch(
            site_id,
            tuple(valid),
            bots.total(),
            tuple(rejected),
            bot_reasons=tuple(sorted(bots.items())),
        )

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
        if batch.bot_reasons:
            # After the events: the counts are what the site owner sees of dropped
            # events, and must not hold back (or, failing, lose) the events stored.
            await self.store.count_dropped_bots(
                batch.site_id, dict(batch.bot_reasons), self.clock.now()
            )
        return IngestReport(
            accepted=accepted,
            duplicates=duplicates,
            bots=batch.bots,
            rejected=batch.rejected,
            bot_reasons=batch.bot_reasons,
        )

    # --- privacy (docs/privacy.md) -----------------------------------------------
    async def visitor_record(self, site_id: str, visitor_id: str) -> VisitorRecord | None:
        """The visitor's stored events and sessions; None when nothing is stored."""
        _check_visitor_id(visitor_id)
        now = self.clock.now()
        events, sessions = await self.store.visitor_history(site_id, visitor_id)
        if not events and not sessions:
            return None
        ordered = sorted(events, key=lambda e: (e.timestamp, e.event_id))
        return VisitorRecord(visitor_id, tuple(ordered), tuple(sessions), now)

    async def erase_visitor(self, site_id: str, visitor_id: str) -> Erased:
        _check_visitor_id(visitor_id)
        return await self.store.erase_visitor(site_id, visitor_id)

    async def erase_email(self, site_id: str, email: object) -> Erased:
        if not isinstance(email, str) or not email.strip():
            raise ParameterError("email", "expected a non-empty string, the address to erase")
        return await self.store.erase_email(site_id, email)

    async def purge(self, retention_days: int, *, batch: int = PURGE_BATCH_VISITORS) -> Erased:
        """One bounded batch of a retention purge: events older than ``retention_days``
        days, with the sessions made only of them; a session straddling the cut-off is
        re-cut from the events left. Zero events once nothing is left to purge."""
        if retention_days < 1:
            raise ValueError("retention_days: expected a whole number >= 1")
        cutoff = retention_cutoff(self.clock.now(), retention_days)
        recut = partial(sessionize_visitor, timeout=self.session_timeout)
        return await self.store.purge(cutoff, recut, visitors=batch)

    async def purge_all(self, retention_days: int, *, batch: int = PURGE_BATCH_VISITORS) -> Erased:
        """``purge`` batch after batch until nothing is left; the totals."""
        visitors = events = 0
        while (done := await self.purge(retention_days, batch=batch)).events:
            visitors += done.visitors
            events += done.events
        return Erased(visitors=visitors, events=events)

    # --- maintenance -------------------------------------------------------------
    async def repair_pending(self, *, batch: int = PURGE_BATCH_VISITORS) -> int:
        """Re-cut visitors that a failed ingest left with sessions behind their events
        (MongoDB, docs/deployment.md), batch after batch; how many."""
        recut = partial(sessionize_visitor, timeout=self.session_timeout)
        repaired = 0
        while done := await self.store.repair_pending(recut, visitors=batch):
            repaired += done
            if done < batch:
                break
        return repaired

    # --- reads -------------------------------------------------------------------
    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Reads]:
        """Reads that answer one request, all from one committed state of the store and
        one reading of the clock. The store's snapshot opens at the first read that
        needs it, so a request refused for its parameters never touches the store."""
        async with AsyncExitStack() as stack:
            yield Reads(self, stack, self.clock.now())

    async def list_sessions(self, site_id: str, params: Mapping[str, object]) -> SessionsPage:
        """The /sessions use case: ``params`` as the client named them; see
        ``Reads.list_sessions``."""
        async with self.reading() as reads:
            return await reads.list_sessions(site_id, params)

    async def page_report(self, site_id: str, params: Mapping[str, object]) -> PageReport | None:
        """The /pages use case: ``params`` as the client named them; see
        ``Reads.page_report``."""
        async with self.reading() as reads:
            return await reads.page_report(site_id, params)

    async def attribution(
        self, site_id: str, params: Mapping[str, object]
    ) -> AttributionReport | None:
        """The attribution use case: ``params`` as the client named them; see
        ``Reads.attribution``."""
        async with self.reading() as reads:
            return await reads.attribution(site_id, params)

    def now(self) -> datetime:
        return self.clock.now()


class Reads:
    """The read use cases over one snapshot and one instant (``AttributionService.
    reading``): a listing and its count, or a report's several store reads, agree with
    each other, and every field of a request decides "open or closed" at the same
    ``now``."""

    def __init__(self, service: AttributionService, stack: AsyncExitStack, now: datetime) -> None:
        self._service = service
        self._stack = stack
        self._snapshot: StoreSnapshot | None = None
        # Fields of one GraphQL request resolve concurrently: one of them opens it.
        self._opening = asyncio.Lock()
        # The window's rows, read once for all the breakdowns of this reading that share.
        self._breakdown_rows: dict[Hashable, list[Sequence[object]]] = {}
        self.now = now

    async def snapshot(self) -> StoreSnapshot:
        async with self._opening:
            if self._snapshot is None:
                self._snapshot = await self._stack.enter_async_context(
                    self._service.store.snapshot()
                )
            return self._snapshot

    async def list_sessions(
        self,
        site_id: str,
        params: Mapping[str, object],
        *,
        page_size: int | None = None,
        after: SessionKey | None = None,
    ) -> SessionsPage:
        """One page of the /sessions listing, newest first, with the totals.

        ``params`` are the /sessions parameters by their REST names (``page`` among
        them); ``page_size`` defaults to the documented 50; ``after`` (a session's key)
        pages by position instead of by number: stable while new sessions arrive (they
        sort before). Raises ``ParameterError``."""
        query = parse_sessions_query(params)
        size = _page_size(page_size)
        if after is not None and query.page != 1:
            raise ParameterError("page", "cannot be combined with after: page by one or the other")
        snapshot = await self.snapshot()
        total = await snapshot.count_sessions(site_id, query.filters, query.window)
        total_pages = -(-total // size)
        if after is not None:
            # One more than asked tells whether another page follows.
            found = await snapshot.list_sessions(
                site_id, query.filters, query.window, limit=size + 1, after=after
            )
            return SessionsPage(
                sessions=tuple(found[:size]),
                current_page=None,
                total_pages=total_pages,
                total_records=total,
                page_size=size,
                has_next_page=len(found) > size,
                now=self.now,
            )
        sessions: list[Session] = []
        offset = (query.page - 1) * size
        if offset < total:
            sessions = await snapshot.list_sessions(
                site_id, query.filters, query.window, limit=size, offset=offset
            )
        return SessionsPage(
            sessions=tuple(sessions),
            current_page=query.page,
            total_pages=total_pages,
            total_records=total,
            page_size=size,
            has_next_page=query.page < total_pages,
            now=self.now,
        )

    async def page_report(self, site_id: str, params: Mapping[str, object]) -> PageReport | None:
        """The /pages report over one pass of the window's report rows; None when no
        session matches. ``params`` are the /pages parameters by their REST names; the
        default window ends at this reading's ``now``, which also decides which
        sessions are closed. Heavy: at most ``report_concurrency`` run at once, the
        others wait their turn. Raises ``ParameterError``."""
        query = parse_pages_query(params, now=self.now)
        async with self._service.report_slots:
            return await self._page_report(site_id, query)

    async def attribution(
        self, site_id: str, params: Mapping[str, object]
    ) -> AttributionReport | None:
        """Which values of a dimension earn the window's conversions under each model
        asked for (docs/attribution.md); None when no conversion counts. ``params`` are
        the attribution parameters by their REST names; the default window ends at this
        reading's ``now``. Heavy: it waits for a report slot like the page report.
        Raises ``ParameterError``."""
        query = parse_attribution_query(params, now=self.now)
        async with self._service.report_slots:
            return await _attribution_report(await self.snapshot(), site_id, query)

    async def timeseries(self, site_id: str, params: Mapping[str, object]) -> Timeseries:
        """Sessions, users and conversions per hour, day, week or month of a time zone
        over the window's matching sessions (docs/concepts.md, "Aggregates"), every
        bucket from the window's first to its last. ``params`` by their REST names
        (``interval``, ``time_zone`` beside the /pages ones but ``touch_scope``); the
        default window ends at this reading's ``now``. Waits for a report slot like the
        page report. Raises ``ParameterError``."""
        query = parse_timeseries_query(params, now=self.now)
        async with self._service.report_slots:
            snapshot = await self.snapshot()
            builder = TimeseriesBuilder(query, await _counting_rule(snapshot, query.definition))
            async for rows in snapshot.aggregate_sessions(
                site_id, query.filters, query.window, builder.fields
            ):
                with collection_paused():  # many small objects kept to the end
                    builder.add(rows)
            with collection_paused():
                return builder.result()

    async def breakdown(
        self, site_id: str, params: Mapping[str, object], *, shared: bool = False
    ) -> Breakdown:
        """Sessions, users and conversions per value of one dimension over the window's
        matching sessions (docs/concepts.md, "Aggregates"), the ``limit`` largest and
        the number of values. ``params`` by their REST names (``by``, ``limit`` beside
        the /pages ones but ``touch_scope``). Waits for a report slot like the page
        report. ``shared``: several breakdowns of this reading read the window once (the
        rows of every breakdown field are kept in memory for the others: a dashboard asks
        for five at once). Raises ``ParameterError``."""
        query = parse_breakdown_query(params, now=self.now)
        async with self._service.report_slots:
            snapshot = await self.snapshot()
            builder = BreakdownBuilder(query, await _counting_rule(snapshot, query.definition))
            chunks = (
                self._shared_breakdown_rows(snapshot, site_id, query, builder.fields)
                if shared
                else snapshot.aggregate_sessions(
                    site_id, query.filters, query.window, builder.fields
                )
            )
            async for rows in chunks:
                needed = builder.texts_needed(rows)
                if needed:
                    builder.learn(await snapshot.attribution_texts(needed))
                with collection_paused():  # many small objects kept to the end
                    builder.add(rows)
            keys = builder.keys()
            texts: Mapping[Hashable, str] = {}
            if keys and builder.by_page:
                texts = await snapshot.page_urls(keys)
            elif keys:
                texts = await snapshot.attribution_texts(keys)
            with collection_paused():
                return builder.result(texts)

    async def dropped_bots(self, site_id: str) -> list[DroppedBots]:
        """The site's events dropped as bots', per reason, most first."""
        snapshot = await self.snapshot()
        return await snapshot.dropped_bots(site_id)

    async def _shared_breakdown_rows(
        self,
        snapshot: StoreSnapshot,
        site_id: str,
        query: BreakdownQuery,
        fields: tuple[str, ...],
    ) -> AsyncIterator[Sequence[Sequence[object]]]:
        key = (site_id, query.filters, query.window)
        rows = self._breakdown_rows.get(key)
        if rows is None:
            rows = [
                row
                async for chunk in snapshot.aggregate_sessions(
                    site_id, query.filters, query.window, BREAKDOWN_FIELDS
                )
                for row in chunk
            ]
            self._breakdown_rows[key] = rows
        pick = itemgetter(*(BREAKDOWN_FIELDS.index(name) for name in fields))
        yield list(map(pick, rows))

    async def _page_report(self, site_id: str, query: PagesQuery) -> PageReport | None:
        snapshot = await self.snapshot()
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
        builder = PageReportBuilder(query, self.now, rule=rule, first_converting=first_converting)
        async for rows in snapshot.report_sessions(site_id, query.filters, query.window):
            # Its counts hold many small objects to the end, as attribution's paths do.
            with collection_paused():
                builder.add(rows)
        # The final counting takes a long moment in one piece: on a thread, the event
        # loop keeps answering other requests meanwhile (the GIL is handed over every
        # few milliseconds) instead of stalling behind it.
        keys = await asyncio.to_thread(_paused, builder.page_keys)
        urls = await snapshot.page_urls(keys) if keys else {}
        return await asyncio.to_thread(_paused, lambda: builder.result(urls))


def _paused(compute: Callable[[], T]) -> T:
    """``compute()`` with the cyclic collector paused (``domain.gc_pause``)."""
    with collection_paused():
        return compute()


async def _counting_rule(snapshot: StoreSnapshot, definition: ConversionDefinition) -> CountingRule:
    page = definition.conversion_page
    return CountingRule(
        definition, page_keys=await snapshot.page_keys([page]) if page is not None else {}
    )


async def _attribution_report(
    snapshot: StoreSnapshot, site_id: str, query: AttributionQuery
) -> AttributionReport | None:
    page = query.definition.conversion_page
    rule = CountingRule(
        query.definition,
        page_keys=await snapshot.page_keys([page]) if page is not None else {},
    )
    sessions: list[JourneySession] = []
    async for chunk in snapshot.journey_sessions(site_id, query.window, query.lookback):
        sessions.extend(chunk)
    # A handful of distinct (source, medium, campaign) among many sessions.
    keys = {key for triple in set(map(itemgetter(2, 3, 4), sessions)) for key in triple}
    keys.discard(None)
    texts = await snapshot.attribution_texts(keys) if keys else {}

    # One piece of pure computation: on a thread, as the page report's counting. Its
    # paths are many small objects that live to the end: the cyclic collector's walks
    # over them (and over the rows) cost a fifth of the computation.
    return await asyncio.to_thread(
        _paused, lambda: attribution_report(sessions, query, rule, texts)
    )


def _check_visitor_id(visitor_id: str) -> None:
    # No event can name such a visitor: a client's mistake rather than an unknown id.
    if len(visitor_id) > MAX_VISITOR_ID_LENGTH:
        raise ParameterError(
            "visitor_id",
            f"expected at most {MAX_VISITOR_ID_LENGTH} characters, got {len(visitor_id)}",
        )


def _page_size(value: int | None) -> int:
    if value is None:
        return SESSIONS_PAGE_SIZE
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ParameterError(
            "page_size", f"expected an integer from 1 to {MAX_PAGE_SIZE}, got {value}"
        )
    return value
