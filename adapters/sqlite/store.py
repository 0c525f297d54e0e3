"""``SqliteStore``: ``domain.ports.Store`` on one SQLite file in WAL mode.

Raw events are kept for re-cutting; sessions are materialized at ingestion time with the
facts the reports read, so reads never re-sessionize. Writes are serialized on one
connection and thread (across processes by ``BEGIN IMMEDIATE``); every request's reads
run inside one read transaction (``snapshot``) on a pooled connection of their own.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

import orjson

from adapters.read_model import OwnSnapshotReads
from adapters.sqlite import codec, connections, ingest, privacy, queries
from adapters.sqlite.codec import Dictionaries
from adapters.sqlite.schema import MIGRATIONS, Migration
from domain.aggregates import AGGREGATE_FIELDS, AggregateRow, in_row_order
from domain.gc_pause import collection_paused
from domain.model import Event, Session, Site, from_micros, to_micros
from domain.multi_touch import JourneySession, TextKey
from domain.page_report import PageKey, ReportSession, VisitorConversions
from domain.ports import DroppedBots, DuplicateSiteError, Erased, Recut, SessionKey, StoredBatch
from domain.queries import SessionFilters, TimeWindow

T = TypeVar("T")

_READ_THREADS: Final = 2
# Connections kept open between requests: as many as requests commonly in flight, so
# that a busy server reuses warm page caches instead of opening cold connections.
_IDLE_READERS: Final = 32
# Rows per hop between a reader thread and the event loop: small enough that a report
# leaves the loop free for other requests between chunks, large enough to amortize a hop.
_REPORT_CHUNK: Final = 4_096
# Attribution reads every session of its window (and more): fewer, larger hops.
_JOURNEY_CHUNK: Final = 32_768
# The aggregates read the next chunk while counting one: chunks small enough to overlap.
_AGGREGATE_CHUNK: Final = 8_192
# Background checkpoints every so many stored events; SQLite's own would run on the
# commit path.
_CHECKPOINT_EVERY_EVENTS: Final = 10_000
_PRAGMA_NAME: Final = re.compile(r"[a-z_]+")


class _SiteRow(NamedTuple):
    site_id: str
    name: str
    api_key_hash: str
    tracker_token_hash: str
    created_at: int


_SITE_COLUMNS: Final = codec.column_list(_SiteRow)


class SqliteStore(OwnSnapshotReads):
    """``Store`` on one SQLite file. Create with ``await SqliteStore.open(path)``."""

    def __init__(
        self,
        path: Path,
        writer: sqlite3.Connection,
        write_executor: ThreadPoolExecutor,
        analyzed: int,
    ) -> None:
        self.path = path
        self._writer = writer
        self._write_executor = write_executor
        self._keys = Dictionaries(writer)
        # One thread for short reads (sites, listings, counts) and one for the long scans
        # of reports: a listing never queues behind a report's chunks, and no more threads
        # contend for the GIL than there is work to overlap.
        self._read_executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-read")
        self._report_executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-report")
        self._idle_readers: list[sqlite3.Connection] = []
        self._interrupted: dict[sqlite3.Connection, asyncio.Future[Any]] = {}
        self._closed = False
        self._checkpoint_executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._written_since_checkpoint = 0
        # The planner's statistics describe ``_analyzed`` events; they are refreshed each
        # time the store doubles, so no plan is chosen for a store a fraction of its size.
        self._analyzed = analyzed
        self._written_since_analyze = 0

    @classmethod
    async def open(
        cls, path: str | Path, *, migrations: Sequence[Migration] = MIGRATIONS
    ) -> SqliteStore:
        """Open (creating the file and its directory when missing) and migrate."""
        path = Path(path)
        executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
        loop = asyncio.get_running_loop()
        try:
            writer = await loop.run_in_executor(executor, connections.open_writer, path, migrations)
            analyzed = await loop.run_in_executor(executor, connections.analyzed_rows, writer)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, writer, executor, analyzed)

    # --- plumbing ----------------------------------------------------------------
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(
            self._write_executor, fn, self._writer
        )

    async def _on_reader(
        self,
        conn: sqlite3.Connection,
        fn: Callable[..., T],
        *args: Any,
        executor: ThreadPoolExecutor | None = None,
    ) -> T:
        """Run ``fn`` on a read executor for ``conn``. A cancelled caller does not stop
        the thread, so the connection is marked busy until the job really ends."""
        job = asyncio.get_running_loop().run_in_executor(executor or self._read_executor, fn, *args)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            if not job.done():
                self._interrupted[conn] = job
            raise

    async def _acquire_reader(self) -> sqlite3.Connection:
        if self._idle_readers:
            return self._idle_readers.pop()
        # The pool grows on demand rather than blocking, so nested snapshots cannot
        # deadlock; only ``_IDLE_READERS`` stay open once the load is gone.
        return await asyncio.get_running_loop().run_in_executor(
            self._read_executor, connections.open_reader, self.path
        )

    def _release_reader(self, conn: sqlite3.Connection, *, reusable: bool = True) -> None:
        job = self._interrupted.pop(conn, None)
        if job is not None:
            # Still in use by a thread: close it once that job is over, never reuse it.
            job.add_done_callback(lambda _: conn.close())
        elif not reusable or self._closed or len(self._idle_readers) >= _IDLE_READERS:
            conn.close()
        else:
            self._idle_readers.append(conn)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the SQLite store is closed")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteSnapshot]:
        self._check_open()
        conn = await self._acquire_reader()
        snapshot = SqliteSnapshot(self, conn)
        try:
            yield snapshot
        finally:
            if conn in self._interrupted or not snapshot.begun:
                self._release_reader(conn)
            else:
                # Ending the read transaction is not waited for: the connection goes back
                # to the pool once it has. One left open would pin the WAL, so a
                # connection whose COMMIT failed is closed (ending it) rather than pooled.
                job = asyncio.get_running_loop().run_in_executor(
                    self._read_executor, connections.end_read, conn
                )
                job.add_done_callback(
                    lambda done: self._release_reader(
                        conn, reusable=not done.cancelled() and done.exception() is None
                    )
                )

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One read of its own: ``fn`` runs on a pooled connection in one hop, its
        statements each in their own implicit transaction."""
        self._check_open()
        conn = await self._acquire_reader()
        try:
            return await self._on_reader(conn, fn, conn)
        finally:
            self._release_reader(conn)

    # --- sites -------------------------------------------------------------------
    async def add_site(self, site: Site) -> None:
        row = _SiteRow(
            site_id=site.site_id,
            name=site.name,
            api_key_hash=site.api_key_hash,
            tracker_token_hash=site.tracker_token_hash,
            created_at=to_micros(site.created_at),
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO sites ({_SITE_COLUMNS}) VALUES (?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError as err:
                raise DuplicateSiteError(site.site_id) from err

        await self._write(insert)

    async def get_site(self, site_id: str) -> Site | None:
        return await self._site_where("site_id", site_id)

    async def site_by_api_key_hash(self, key_hash: str) -> Site | None:
        return await self._site_where("api_key_hash", key_hash)

    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None:
        return await self._site_where("tracker_token_hash", token_hash)

    async def _site_where(
        self, column: Literal["site_id", "api_key_hash", "tracker_token_hash"], value: str
    ) -> Site | None:
        sql = f"SELECT {_SITE_COLUMNS} FROM sites WHERE {column} = ?"
        row = await self._read(lambda c: c.execute(sql, (value,)).fetchone())
        return None if row is None else _site(row)

    async def list_sites(self) -> list[Site]:
        sql = f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY created_at, site_id"
        rows = await self._read(lambda c: c.execute(sql).fetchall())
        return [_site(r) for r in rows]

    async def replace_site_keys(
        self, site_id: str, api_key_hash: str, tracker_token_hash: str
    ) -> Site | None:
        def update(conn: sqlite3.Connection) -> int:
            try:
                cursor = conn.execute(
                    "UPDATE sites SET api_key_hash = ?, tracker_token_hash = ? WHERE site_id = ?",
                    (api_key_hash, tracker_token_hash, site_id),
                )
            except sqlite3.IntegrityError as err:
                raise DuplicateSiteError(site_id) from err
            return cursor.rowcount

        if not await self._write(update):
            return None
        return await self.get_site(site_id)

    # --- ingestion ---------------------------------------------------------------
    async def ingest(self, site_id: str, events: Sequence[Event], recut: Recut) -> StoredBatch:
        if not events:
            return StoredBatch(accepted=0, duplicates=0)
        keys = self._keys
        stored = await self._write(lambda conn: ingest.ingest(conn, keys, site_id, events, recut))
        self._written_since_checkpoint += stored.accepted
        self._written_since_analyze += stored.accepted
        loop = asyncio.get_running_loop()
        if self._written_since_analyze > max(self._analyzed, 1_000):
            self._written_since_analyze = 0
            self._analyzed = await self._write(connections.analyze)
        if self._written_since_checkpoint >= _CHECKPOINT_EVERY_EVENTS and (
            self._checkpoint is None or self._checkpoint.done()
        ):
            self._written_since_checkpoint = 0
            self._checkpoint = loop.run_in_executor(self._checkpoint_executor, self._run_checkpoint)
        return stored

    def _run_checkpoint(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = connections.open_checkpointer(self.path)
        connections.checkpoint(self._checkpointer)

    async def count_dropped_bots(
        self, site_id: str, reasons: Mapping[str, int], at: datetime
    ) -> None:
        rows = [(site_id, reason, events, to_micros(at)) for reason, events in reasons.items()]

        def add(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_ADD_DROPPED_BOTS, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        if rows:
            await self._write(add)

    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        keys = self._keys
        return await self._read(lambda conn: _visitor_events(conn, keys, site_id, visitor_id))

    async def visitor_history(
        self, site_id: str, visitor_id: str
    ) -> tuple[list[Event], list[Session]]:
        keys = self._keys

        def read(conn: sqlite3.Connection) -> tuple[list[Event], list[Session]]:
            # One read transaction: an ingest committing between the two reads cannot
            # make the sessions disagree with the events.
            connections.begin_read(conn)
            try:
                events = _visitor_events(conn, keys, site_id, visitor_id)
                return events, privacy.visitor_sessions(conn, keys, site_id, visitor_id)
            finally:
                connections.end_read(conn)

        return await self._read(read)

    # --- privacy -----------------------------------------------------------------
    async def visitor_sessions(self, site_id: str, visitor_id: str) -> list[Session]:
        keys = self._keys
        return await self._read(
            lambda conn: privacy.visitor_sessions(conn, keys, site_id, visitor_id)
        )

    async def erase_visitor(self, site_id: str, visitor_id: str) -> Erased:
        keys = self._keys
        return await self._write(
            lambda conn: privacy.erase_visitor(conn, keys, site_id, visitor_id)
        )

    async def erase_email(self, site_id: str, email: str) -> Erased:
        keys = self._keys
        return await self._write(lambda conn: privacy.erase_email(conn, keys, site_id, email))

    async def repair_pending(self, recut: Recut, *, visitors: int) -> int:
        return 0  # each batch is one transaction: a failed one leaves nothing behind

    async def purge(self, before: datetime, recut: Recut, *, visitors: int) -> Erased:
        keys, cutoff = self._keys, to_micros(before)
        return await self._write(lambda conn: privacy.purge(conn, keys, cutoff, recut, visitors))

    # --- diagnostics -------------------------------------------------------------
    async def explain(
        self,
        operation: Literal["count", "list", "report"],
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        after: SessionKey | None = None,
    ) -> list[str]:
        """The ``EXPLAIN QUERY PLAN`` lines of the statement an operation runs."""
        keys = self._keys

        def plan(conn: sqlite3.Connection) -> list[str]:
            chosen = queries.selection(conn, keys, site_id, filters, window, after)
            if chosen is None:
                return []
            sql = {
                "count": f"SELECT count(*) FROM sessions WHERE {chosen.where}",
                "list": f"{codec.SESSION_SELECT} WHERE {chosen.where} {queries.LISTING_ORDER} "
                "LIMIT 50",
                "report": f"SELECT {codec.REPORT_COLUMNS} FROM sessions WHERE {chosen.where}",
            }[operation]
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql, chosen.params).fetchall()
            # EXPLAIN QUERY PLAN rows: id, parent, notused, detail.
            return [str(detail) for _id, _parent, _notused, detail in rows]

        return await self._read(plan)

    async def analyzed_events(self) -> int:
        """How many events the planner's statistics describe (0: none gathered yet)."""
        return await self._read(connections.analyzed_rows)

    async def pragma(self, name: str) -> object:
        """The value of a read-only pragma such as ``journal_mode`` or ``user_version``."""
        if not _PRAGMA_NAME.fullmatch(name):
            raise ValueError(f"pragma: expected a pragma name, got {name!r}")
        row = await self._read(lambda c: c.execute(f"PRAGMA {name}").fetchone())
        return None if row is None else row[0]

    async def ping(self) -> None:  # Store port
        # Reads the schema's first page: the file must still be a readable database.
        await self._read(lambda c: c.execute("SELECT 1 FROM sqlite_schema LIMIT 1").fetchall())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._checkpoint is not None:
            await self._checkpoint
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._checkpoint_executor.shutdown(wait=True)
        await loop.run_in_executor(self._write_executor, connections.close_writer, self._writer)
        for conn in self._idle_readers:
            conn.close()
        self._idle_readers.clear()
        self._write_executor.shutdown(wait=True)
        self._read_executor.shutdown(wait=True)
        self._report_executor.shutdown(wait=True)


class SqliteSnapshot:
    """Reads inside one read transaction of one pooled connection. Calls are serialized:
    a connection runs one statement at a time."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self._keys = store._keys
        self._lock = asyncio.Lock()
        self.begun = False

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, scan: bool = False) -> T:
        """``fn(connection)`` on this snapshot's connection; ``scan`` for the long reads of
        reports, which run on a thread of their own."""
        store = self._store
        executor = store._report_executor if scan else None
        async with self._lock:
            if self.begun:
                return await store._on_reader(self._conn, fn, self._conn, executor=executor)
            # The read transaction starts with the first read, in the same hop.
            self.begun = True
            return await store._on_reader(
                self._conn, _in_transaction, fn, self._conn, executor=executor
            )

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        keys = self._keys

        return await self.run(lambda conn: queries.count(conn, keys, site_id, filters, window))

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
        if limit <= 0:
            return []
        keys = self._keys

        def listing(conn: sqlite3.Connection) -> list[Session]:
            chosen = queries.selection(conn, keys, site_id, filters, window, after)
            if chosen is None:
                return []
            # First the page's primary keys, walking the listing index alone (skipping
            # an offset costs no table reads), then those sessions' rows.
            sql = (
                f"SELECT start, visitor_key, ordinal FROM sessions WHERE {chosen.where} "
                f"{queries.LISTING_ORDER} LIMIT ? OFFSET ?"
            )
            page = conn.execute(sql, (*chosen.params, limit, max(offset, 0))).fetchall()
            if not page:
                return []
            found = {
                (row.start, row.visitor_key, row.ordinal): row
                for row in map(
                    codec.SessionRow._make,
                    conn.execute(_PAGE_ROWS, (orjson.dumps(page), chosen.params[0])),
                )
            }
            rows = [found[tuple(key)] for key in page]
            return codec.sessions_from_rows(conn, keys, site_id, rows)

        return await self.run(listing)

    async def report_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[ReportSession]]:
        keys = self._keys
        cursor = self._conn.cursor()

        def start(conn: sqlite3.Connection) -> bool:
            chosen = queries.selection(conn, keys, site_id, filters, window)
            if chosen is None:
                return False
            sql = f"SELECT {codec.REPORT_COLUMNS} FROM sessions WHERE {chosen.where}"
            cursor.execute(sql, chosen.params)
            return True

        def fetch(_: sqlite3.Connection) -> list[codec.Row]:
            # Rows that live until the report is done, as attribution's (_journey_chunk).
            with collection_paused():
                return codec.report_rows(cursor.fetchmany(_REPORT_CHUNK))

        try:
            if await self.run(start, scan=True):
                while rows := await self.run(fetch, scan=True):
                    yield rows  # type: ignore[misc]  # rows are ReportSession tuples
        finally:
            cursor.close()

    async def journey_sessions(
        self, site_id: str, window: TimeWindow, lookback: timedelta
    ) -> AsyncIterator[Sequence[JourneySession]]:
        keys = self._keys
        start = window.start
        assert start is not None
        reach = window.reaching_back(lookback)

        def statement(conn: sqlite3.Connection) -> tuple[str, tuple[object, ...]] | None:
            site = queries.selection(conn, keys, site_id, SessionFilters(), window)
            if site is None:
                return None
            # The ordinal rides along only to order ties on start as the sessions were cut.
            select = f"SELECT {codec.JOURNEY_COLUMNS}, ordinal FROM sessions WHERE "
            parts, params = [select + site.where], site.params
            if reach.start is not None and reach.start < start:
                before = TimeWindow(reach.start, start - timedelta(microseconds=1))
                early = queries.selection(conn, keys, site_id, SessionFilters(), before)
                converting = queries.selection(conn, keys, site_id, SessionFilters(), reach)
                assert early is not None
                assert converting is not None
                # Earlier sessions only of visitors who may have converted in the window:
                # a converting session still active at the window's start (a scan in C
                # of the reach's rows). The others' are never part of a path, and they
                # are most of the lookback's sessions.
                parts.append(
                    select + early.where + " AND visitor_key IN (SELECT visitor_key FROM "
                    f"sessions WHERE {converting.where} AND conversions IS NOT NULL "
                    "AND last_activity >= ?)"
                )
                params = (*params, *early.params, *converting.params, to_micros(start))
            # In the port's order, sorted by SQLite in C: the report then groups the rows
            # by visitor in one pass instead of sorting them in Python.
            union = " UNION ALL ".join(parts)
            return (
                f"SELECT {codec.JOURNEY_COLUMNS} FROM ({union}) "
                "ORDER BY visitor_key, start, ordinal",
                params,
            )

        chosen = await self.run(statement, scan=True)
        if chosen is None:
            return
        cursor = self._conn.cursor()
        try:
            await self.run(partial(_execute, cursor, *chosen), scan=True)
            while rows := await self.run(partial(_journey_chunk, cursor), scan=True):
                yield rows  # type: ignore[misc]  # rows are JourneySession tuples
        finally:
            cursor.close()

    async def aggregate_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        fields: Collection[str] = AGGREGATE_FIELDS,
    ) -> AsyncIterator[Sequence[AggregateRow]]:
        keys = self._keys
        cursor = self._conn.cursor()
        ordered = in_row_order(fields)
        columns = codec.aggregate_columns(ordered)

        def start(conn: sqlite3.Connection) -> bool:
            chosen = queries.selection(conn, keys, site_id, filters, window)
            if chosen is None:
                return False
            cursor.execute(f"SELECT {columns} FROM sessions WHERE {chosen.where}", chosen.params)
            return True

        at = ordered.index("conversions") if "conversions" in ordered else None
        fetch = partial(_aggregate_chunk, cursor, at)
        ahead: asyncio.Future[list[codec.Row]] | None = None
        try:
            if await self.run(start, scan=True):
                ahead = asyncio.ensure_future(self.run(fetch, scan=True))
                while rows := await ahead:
                    # The next chunk is read on the report thread while the caller counts
                    # this one: SQLite's part of a read runs without the GIL.
                    ahead = asyncio.ensure_future(self.run(fetch, scan=True))
                    yield rows
        finally:
            if ahead is not None and not ahead.done():
                # As for a cancelled read (``_on_reader``): the connection is retired
                # once the thread is done with it.
                ahead.cancel()
                await asyncio.wait([ahead])
            cursor.close()

    async def visitor_conversions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[VisitorConversions]]:
        keys = self._keys

        def read(conn: sqlite3.Connection) -> list[VisitorConversions]:
            chosen = queries.selection(conn, keys, site_id, filters, window)
            if chosen is None:
                return []
            # The converting sessions (a partial index) of the window's returning visitors.
            sql = (
                "SELECT visitor_key, ordinal, conversions FROM sessions "
                "INDEXED BY sessions_converting WHERE conversions IS NOT NULL AND "
                "visitor_key IN (SELECT visitor_key FROM sessions "
                f"WHERE {chosen.where} AND ordinal > 0)"
            )
            return [
                VisitorConversions(visitor, ordinal, codec.report_conversions(blob))
                for visitor, ordinal, blob in conn.execute(sql, chosen.params)
            ]

        yield await self.run(read, scan=True)

    async def attribution_texts(self, keys: Collection[TextKey]) -> dict[TextKey, str]:
        texts = self._keys.texts
        ints = [int(key) for key in keys]  # type: ignore[call-overload]  # this store's keys are ints
        found = await self.run(lambda conn: texts.values(conn, ints))
        return dict(found.items())

    async def page_keys(self, urls: Collection[str]) -> dict[str, PageKey]:
        keys = self._keys
        return dict(await self.run(lambda conn: keys.pages.lookup(conn, urls)))

    async def page_urls(self, keys: Collection[PageKey]) -> dict[PageKey, str]:
        pages = self._keys.pages
        ints = [int(key) for key in keys]  # type: ignore[call-overload]  # this store's keys are ints
        found = await self.run(lambda conn: pages.values(conn, ints))
        return dict(found.items())

    async def dropped_bots(self, site_id: str) -> list[DroppedBots]:
        sql = (
            "SELECT reason, events, last_seen FROM dropped_bots WHERE site_id = ?"
            " ORDER BY events DESC, reason"
        )
        rows = await self.run(lambda conn: conn.execute(sql, (site_id,)).fetchall())
        return [DroppedBots(reason, events, from_micros(seen)) for reason, events, seen in rows]


# One addition to a count, in one statement: other writers (other processes) add to the
# same row under SQLite's write lock, so no increment is lost.
_ADD_DROPPED_BOTS: Final = (
    "INSERT INTO dropped_bots (site_id, reason, events, last_seen) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (site_id, reason) DO UPDATE SET events = events + excluded.events,"
    " last_seen = max(last_seen, excluded.last_seen)"
)


# The sessions of a list of [start, visitor_key, ordinal] primary keys of one site.
_PAGE_ROWS: Final = (
    "SELECT "
    + codec.column_list(codec.SessionRow, "s.")
    + " FROM json_each(?) AS j CROSS JOIN sessions AS s ON s.site_key = ?"
    " AND s.start = j.value ->> 0 AND s.visitor_key = j.value ->> 1"
    " AND s.ordinal = j.value ->> 2"
)


def _visitor_events(
    conn: sqlite3.Connection, keys: Dictionaries, site_id: str, visitor_id: str
) -> list[Event]:
    found = conn.execute(
        "SELECT v.visitor_key FROM site_keys AS s JOIN visitors AS v "
        "ON v.site_key = s.site_key WHERE s.site_id = ? AND v.visitor_id = ?",
        (site_id, visitor_id),
    ).fetchone()
    if found is None:
        return []
    rows = conn.execute(f"{codec.EVENT_SELECT} WHERE e.visitor_key = ?", (found[0],)).fetchall()
    return list(codec.events_from_rows(conn, keys, site_id, {found[0]: visitor_id}, rows))


def _execute(
    cursor: sqlite3.Cursor, sql: str, params: Sequence[object], _: sqlite3.Connection
) -> None:
    cursor.execute(sql, params)


def _journey_chunk(cursor: sqlite3.Cursor, _: sqlite3.Connection) -> list[codec.Row]:
    # Tens of thousands of rows that live until the report is done: the cyclic collector
    # would walk them again and again as they pile up (a sixth of the read).
    with collection_paused():
        return codec.journey_rows(cursor.fetchmany(_JOURNEY_CHUNK))


def _aggregate_chunk(
    cursor: sqlite3.Cursor, conversions_at: int | None, _: sqlite3.Connection
) -> list[codec.Row]:
    with collection_paused():  # as _journey_chunk
        return codec.aggregate_rows(cursor.fetchmany(_AGGREGATE_CHUNK), conversions_at)


def _in_transaction(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    connections.begin_read(conn)
    return fn(conn)


def _site(raw: codec.Row) -> Site:
    row = _SiteRow._make(raw)
    return Site(
        site_id=row.site_id,
        name=row.name,
        api_key_hash=row.api_key_hash,
        tracker_token_hash=row.tracker_token_hash,
        created_at=from_micros(row.created_at),
    )
