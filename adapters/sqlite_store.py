"""The embedded store: one SQLite file in WAL mode, implementing ``domain.ports.Store``.

Raw events are kept for re-cutting; sessions are materialized at ingestion time, so reads
never re-sessionize. Timestamps are integer microseconds since the Unix epoch (UTC),
which keeps comparisons exact and the indexes small.

Threading: one connection writes, on a dedicated single-thread executor, so writes are
serialized inside a process (and across processes by ``BEGIN IMMEDIATE``). Reads use a
small pool of their own connections on a separate executor: in WAL mode they see the last
committed state while a write is in progress.

This module is the only one that imports ``sqlite3``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import orjson

from domain.model import (
    Attribution,
    Conversion,
    Event,
    EventType,
    PageVisit,
    Session,
    SessionOutline,
    Site,
)
from domain.page_report import JourneyFold, VisitorJourney
from domain.ports import DuplicateSiteError, Recut, SessionKey, StoredBatch
from domain.queries import ConversionDefinition, SessionFilters, TimeWindow
from domain.sessionization import resume_point

# A migration is a sequence of statements applied in one transaction. Append only: the
# position in this list is the schema version recorded in ``PRAGMA user_version``.
Migration = Sequence[str]

MIGRATIONS: Final[Sequence[Migration]] = (
    (
        """CREATE TABLE sites (
            site_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            api_key_hash TEXT NOT NULL UNIQUE,
            tracker_token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL
        )""",
        # No foreign key to sites: the Store contract lets any site id receive events
        # (the service authenticates the site before it ever calls ingest).
        """CREATE TABLE events (
            site_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            visitor_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            url TEXT NOT NULL,
            page TEXT NOT NULL,
            referrer TEXT,
            user_agent TEXT,
            email TEXT,
            meta_type TEXT,
            meta_id TEXT,
            PRIMARY KEY (site_id, event_id)
        )""",
        "CREATE INDEX events_by_visitor ON events (site_id, visitor_id)",
        """CREATE TABLE sessions (
            site_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            visitor_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            last_activity INTEGER NOT NULL,
            inactive_after INTEGER NOT NULL,
            is_last INTEGER NOT NULL,
            source TEXT NOT NULL,
            medium TEXT NOT NULL,
            campaign TEXT,
            content TEXT,
            term TEXT,
            landing_page TEXT NOT NULL,
            exit_page TEXT NOT NULL,
            exit_previous_page TEXT NOT NULL,
            path BLOB NOT NULL,
            conversions BLOB
        )""",
        # Every listing index ends in the full /sessions order, so a filtered listing
        # reads the index in order and stops after a page instead of sorting. content
        # and term are rare, narrow filters: the start index serves them within the
        # site and window, and sparing two indexes keeps ingestion fast.
        """CREATE INDEX sessions_by_start
            ON sessions (site_id, start DESC, visitor_id, session_id)""",
        """CREATE INDEX sessions_by_source
            ON sessions (site_id, source, start DESC, visitor_id, session_id)""",
        """CREATE INDEX sessions_by_medium
            ON sessions (site_id, medium, start DESC, visitor_id, session_id)""",
        """CREATE INDEX sessions_by_campaign
            ON sessions (site_id, campaign, start DESC, visitor_id, session_id)""",
        """CREATE INDEX sessions_by_landing_page
            ON sessions (site_id, landing_page, start DESC, visitor_id, session_id)""",
        "CREATE INDEX sessions_by_visitor ON sessions (site_id, visitor_id)",
    ),
    # Re-cutting reads only a visitor's tail (``domain.sessionization.resume_point``):
    # session bounds and events by time, within the visitor.
    (
        "DROP INDEX sessions_by_visitor",
        """CREATE INDEX sessions_by_visitor
            ON sessions (site_id, visitor_id, start, last_activity)""",
        "DROP INDEX events_by_visitor",
        "CREATE INDEX events_by_visitor ON events (site_id, visitor_id, ts)",
    ),
    # Visitor journeys read each window visitor's whole history; holding what they read
    # (session_id, and the conversions, NULL for most sessions) in the visitor index
    # spares one random table read per session.
    (
        "DROP INDEX sessions_by_visitor",
        """CREATE INDEX sessions_by_visitor
            ON sessions (site_id, visitor_id, start, last_activity, session_id, conversions)""",
    ),
)


class SchemaVersionError(RuntimeError):
    """The file was written by a newer version of the schema than this code knows."""


class MigrationError(RuntimeError):
    """A migration failed; it was rolled back and the file keeps its previous version."""


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EVENT_TYPES: Final = {t.value: t for t in EventType}
# Each chunk is one hop between the reader thread and the event loop; measured over a
# 30-day window of 1M events: 100 -> 1.19 s, 400 -> 1.06 s, 1,000 -> 1.16 s, 2,000 ->
# 1.22 s (larger chunks keep more sessions alive at once and cost the GC more).
_FETCH_CHUNK: Final = 400
_KEYS_PER_QUERY: Final = 5000
_BUSY_TIMEOUT_MS: Final = 30_000
_IDLE_READERS: Final = 4
# Background checkpoints every so many stored events (measured best between 2,000
# and 20,000 in 50,000-event imports); SQLite's own would run on the commit path.
_CHECKPOINT_EVERY_EVENTS: Final = 10_000
_WAL_BACKSTOP_PAGES: Final = 100_000
_PRAGMA_NAME: Final = re.compile(r"[a-z_]+")

_EVENT_COLUMNS: Final = (
    "site_id, event_id, type, visitor_id, ts, url, page, referrer, user_agent, email, "
    "meta_type, meta_id"
)
_INSERT_EVENT: Final = (
    f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SESSION_COLUMNS: Final = (
    "site_id, session_id, visitor_id, start, last_activity, inactive_after, is_last, "
    "source, medium, campaign, content, term, landing_page, exit_page, exit_previous_page, "
    "path, conversions"
)
# Everything but the path: the page report needs only its two ends, stored apart.
_OUTLINE_COLUMNS: Final = _SESSION_COLUMNS.replace("path, ", "")
_INSERT_SESSION: Final = (
    f"INSERT INTO sessions ({_SESSION_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# A JSON array bound as one parameter: any number of keys without hitting the limit on
# bound variables, and the planner still probes the index once per key.
_IN_KEYS: Final = "IN (SELECT value FROM json_each(?))"

_FILTER_COLUMNS: Final = ("source", "medium", "campaign", "content", "term", "landing_page")

T = TypeVar("T")
Row = tuple[Any, ...]


class SqliteStore:
    """``Store`` on one SQLite file. Create with ``await SqliteStore.open(path)``."""

    def __init__(self, path: Path, writer: sqlite3.Connection, write_executor: ThreadPoolExecutor):
        self.path = path
        self._writer = writer
        self._write_executor = write_executor
        self._read_executor = ThreadPoolExecutor(2, thread_name_prefix="sqlite-read")
        self._idle_readers: list[sqlite3.Connection] = []
        self._interrupted: dict[sqlite3.Connection, asyncio.Future[Any]] = {}
        self._closed = False
        # Checkpoints run on a thread and connection of their own, off the commit path:
        # the WAL is copied into the database while the next batch is prepared.
        self._checkpoint_executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpointer: list[sqlite3.Connection] = []
        self._checkpoint: asyncio.Future[None] | None = None
        self._written_since_checkpoint = 0

    @classmethod
    async def open(
        cls, path: str | Path, *, migrations: Sequence[Migration] = MIGRATIONS
    ) -> SqliteStore:
        """Open (creating the file and its directory when missing) and migrate."""
        path = Path(path)
        executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
        try:
            writer = await asyncio.get_running_loop().run_in_executor(
                executor, _open_writer, path, migrations
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, writer, executor)

    # --- plumbing ----------------------------------------------------------------
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(
            self._write_executor, fn, self._writer
        )

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        conn = await self._acquire_reader()
        try:
            return await self._on_reader(conn, fn, conn)
        finally:
            self._release_reader(conn)

    async def _on_reader(self, conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the read executor for ``conn``. A cancelled caller does not stop
        the thread, so the connection is marked busy until the job really ends."""
        job = asyncio.get_running_loop().run_in_executor(self._read_executor, fn, *args)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            if not job.done():
                self._interrupted[conn] = job
            raise

    async def _acquire_reader(self) -> sqlite3.Connection:
        if self._idle_readers:
            return self._idle_readers.pop()
        # The pool grows on demand rather than blocking, so nested streams cannot deadlock.
        return await asyncio.get_running_loop().run_in_executor(
            self._read_executor, _open_reader, self.path
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

    async def _stream(
        self, queries: Iterator[tuple[str, Row]]
    ) -> AsyncGenerator[SessionOutline, None]:
        """Outlines of every query (``_OUTLINE_COLUMNS``), fetched in chunks inside one read
        transaction, so a stream sees one consistent state even while ingestion goes on."""
        self._check_open()
        conn = await self._acquire_reader()
        cursor = conn.cursor()
        attributions: dict[Row, Attribution] = {}
        try:
            await self._on_reader(conn, _begin_read, conn)
            for sql, params in queries:
                await self._on_reader(conn, cursor.execute, sql, params)
                while chunk := await self._on_reader(conn, _fetch_outlines, cursor, attributions):
                    for session in chunk:
                        yield session
        finally:
            ended = False
            try:
                if conn not in self._interrupted:
                    await self._on_reader(conn, _end_read, conn, cursor)
                    ended = True
            finally:
                # A read transaction left open would pin the WAL: such a connection is
                # closed (which ends the transaction) rather than pooled.
                self._release_reader(conn, reusable=ended)

    # --- sites -------------------------------------------------------------------
    async def add_site(self, site: Site) -> None:
        row = (
            site.site_id,
            site.name,
            site.api_key_hash,
            site.tracker_token_hash,
            _to_us(site.created_at),
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO sites (site_id, name, api_key_hash, tracker_token_hash, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    row,
                )
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
        sql = (
            "SELECT site_id, name, api_key_hash, tracker_token_hash, created_at "
            f"FROM sites WHERE {column} = ?"
        )
        row = await self._read(lambda c: c.execute(sql, (value,)).fetchone())
        if row is None:
            return None
        return Site(row[0], row[1], row[2], row[3], _from_us(row[4]))

    async def list_sites(self) -> list[Site]:
        sql = (
            "SELECT site_id, name, api_key_hash, tracker_token_hash, created_at "
            "FROM sites ORDER BY created_at, site_id"
        )
        rows = await self._read(lambda c: c.execute(sql).fetchall())
        return [Site(r[0], r[1], r[2], r[3], _from_us(r[4])) for r in rows]

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
        # Built here, on the caller's thread, so the writer thread (the bottleneck of a
        # bulk import) only runs what needs the database.
        rows = [_event_row(site_id, e) for e in events]
        stored = await self._write(lambda conn: _ingest(conn, site_id, events, rows, recut))
        self._written_since_checkpoint += stored.accepted
        if self._written_since_checkpoint >= _CHECKPOINT_EVERY_EVENTS and (
            self._checkpoint is None or self._checkpoint.done()
        ):
            self._written_since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().run_in_executor(
                self._checkpoint_executor, _checkpoint, self.path, self._checkpointer
            )
        return stored

    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE site_id = ? AND visitor_id = ?"
        rows = await self._read(lambda c: c.execute(sql, (site_id, visitor_id)).fetchall())
        return [_event(row) for row in rows]

    # --- reads -------------------------------------------------------------------
    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        where, params = _where(site_id, filters, window, None)
        sql = f"SELECT count(*) FROM sessions WHERE {where}"
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return int(row[0])

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
        sql, params = _listing(site_id, filters, window, after, limit, max(offset, 0))
        return await self._read(lambda c: [_session(r) for r in c.execute(sql, params)])

    def stream_outlines(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncGenerator[SessionOutline, None]:
        where, params = _where(site_id, filters, window, None)
        sql = f"SELECT {_OUTLINE_COLUMNS} FROM sessions WHERE {where}"
        return self._stream(iter([(sql, params)]))

    async def window_journeys(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        definition: ConversionDefinition,
    ) -> dict[str, VisitorJourney]:
        where, params = _where(site_id, filters, window, None)
        # Both searches read indexes only: the window's visitors from the start (or a
        # filter) index, their histories from the visitor index.
        sql = (
            "SELECT visitor_id, start, session_id, conversions FROM sessions "
            f"WHERE site_id = ? AND visitor_id IN (SELECT visitor_id FROM sessions WHERE {where})"
        )
        return await self._read(lambda c: _fold_journeys(c, sql, (site_id, *params), definition))

    # --- diagnostics -------------------------------------------------------------
    async def explain(
        self,
        operation: Literal["count", "list", "stream"],
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        after: SessionKey | None = None,
    ) -> list[str]:
        """The ``EXPLAIN QUERY PLAN`` lines of the statement an operation runs."""
        if operation == "list":
            sql, params = _listing(site_id, filters, window, after, 50, 0)
        else:
            where, params = _where(site_id, filters, window, None)
            columns = "count(*)" if operation == "count" else _OUTLINE_COLUMNS
            sql = f"SELECT {columns} FROM sessions WHERE {where}"
        rows = await self._read(lambda c: c.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        return [str(row[3]) for row in rows]

    async def pragma(self, name: str) -> object:
        """The value of a read-only pragma such as ``journal_mode`` or ``user_version``."""
        if not _PRAGMA_NAME.fullmatch(name):
            raise ValueError(f"pragma: expected a pragma name, got {name!r}")
        row = await self._read(lambda c: c.execute(f"PRAGMA {name}").fetchone())
        return None if row is None else row[0]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._checkpoint is not None:
            await self._checkpoint
        for conn in self._checkpointer:
            conn.close()
        self._checkpoint_executor.shutdown(wait=True)
        await loop.run_in_executor(self._write_executor, _close_writer, self._writer)
        for conn in self._idle_readers:
            conn.close()
        self._idle_readers.clear()
        self._write_executor.shutdown(wait=True)
        self._read_executor.shutdown(wait=True)


# --- connections and migrations ------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly, so their extent is visible.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _open_writer(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"could not switch {path} to WAL mode (got {mode!r})")
        # A commit returns only once the WAL is on disk: a 2xx means durable.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA temp_store = MEMORY")
        # The store checkpoints in the background (``_checkpoint``); this is the backstop
        # for a WAL that grows anyway, e.g. while a long read pins it.
        conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_BACKSTOP_PAGES}")
        _migrate(conn, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_reader(path: Path) -> sqlite3.Connection:
    conn = _connect(path)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    while True:
        # One transaction per migration, the version re-read under the write lock:
        # another process may have migrated the file meanwhile.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current: int = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > len(migrations):
                raise SchemaVersionError(
                    f"schema version {current} is newer than this program knows ({len(migrations)})"
                )
            if current == len(migrations):
                conn.execute("COMMIT")
                return
            try:
                for statement in migrations[current]:
                    conn.execute(statement)
            except sqlite3.Error as err:
                raise MigrationError(f"migration {current + 1} failed: {err}") from err
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _checkpoint(path: Path, connection: list[sqlite3.Connection]) -> None:
    """Copy the WAL into the database file without blocking writers (PASSIVE). Commits
    are durable in the WAL already (``synchronous = FULL``); this only bounds its size,
    so a failure is left to the next checkpoint (or the writer's backstop)."""
    with suppress(sqlite3.Error):
        if not connection:
            connection.append(_connect(path))
        connection[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _close_writer(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()


def _begin_read(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")


def _end_read(conn: sqlite3.Connection, cursor: sqlite3.Cursor) -> None:
    cursor.close()
    if conn.in_transaction:
        conn.execute("COMMIT")


# --- ingestion ---------------------------------------------------------------------
def _ingest(
    conn: sqlite3.Connection, site_id: str, events: Sequence[Event], rows: list[Row], recut: Recut
) -> StoredBatch:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Rows are appended to the events table, so while this transaction holds the
        # write lock, every row with a larger rowid is one this batch inserted.
        last_rowid: int = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        before = conn.total_changes
        conn.executemany(_INSERT_EVENT, rows)
        accepted = conn.total_changes - before
        if accepted:
            _recut_sessions(conn, site_id, events, last_rowid, recut)
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have rolled back on its own.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return StoredBatch(accepted=accepted, duplicates=len(events) - accepted)


def _recut_sessions(
    conn: sqlite3.Connection,
    site_id: str,
    events: Sequence[Event],
    last_rowid: int,
    recut: Recut,
) -> None:
    by_id: dict[str, Event] = {}
    for event in events:
        by_id.setdefault(event.event_id, event)
    added: dict[str, list[Event]] = defaultdict(list)
    # The in-memory events stand for the rows just inserted: same values, no decoding.
    for (event_id,) in conn.execute("SELECT event_id FROM events WHERE rowid > ?", (last_rowid,)):
        event = by_id[event_id]
        added[event.visitor_id].append(event)
    resume_us = _resume_points(conn, site_id, added)
    # Only each visitor's tail is re-read, re-cut and rewritten; a visitor with no clean
    # boundary before its new events is re-cut whole (a resume point of -1).
    history: dict[str, list[Event]] = {visitor: list(new) for visitor, new in added.items()}
    pairs = [[visitor, resume_us.get(visitor, -1)] for visitor in added]
    for chunk in _chunks(pairs):
        for row in conn.execute(_OLDER_EVENTS, (orjson.dumps(chunk), site_id, last_rowid)):
            history[row[3]].append(_event(row))
    rows = [
        _session_row(site_id, session)
        for visitor_events in history.values()
        for session in recut(visitor_events)
    ]
    conn.executemany(
        "DELETE FROM sessions WHERE site_id = ? AND visitor_id = ? AND start >= ?",
        [(site_id, visitor, point) for visitor, point in pairs],
    )
    conn.executemany(_INSERT_SESSION, rows)


def _resume_points(
    conn: sqlite3.Connection, site_id: str, added: dict[str, list[Event]]
) -> dict[str, int]:
    """Per visitor with stored sessions, the resume point in microseconds."""
    bounds: dict[str, list[_Bounds]] = defaultdict(list)
    for chunk in _chunks(list(added)):
        for visitor, start, last in conn.execute(_SESSION_BOUNDS, (site_id, orjson.dumps(chunk))):
            bounds[visitor].append(_Bounds(_from_us(start), _from_us(last)))
    points: dict[str, int] = {}
    for visitor, stored in bounds.items():
        earliest = min(e.timestamp for e in added[visitor])
        point = resume_point(stored, earliest)
        if point is not None:
            points[visitor] = _to_us(point)
    return points


@dataclass(frozen=True, slots=True)
class _Bounds:
    """What ``resume_point`` reads of a stored session."""

    start: datetime
    last_activity: datetime


_SESSION_BOUNDS: Final = (
    "SELECT visitor_id, start, last_activity FROM sessions "
    f"WHERE site_id = ? AND visitor_id {_IN_KEYS}"
)
# Per [visitor, resume point] pair, the visitor's stored events from that point on that
# this batch did not insert (those are in memory already).
_OLDER_EVENTS: Final = (
    f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))} "
    # CROSS JOIN fixes the order: one index probe per pair, never a scan of the site.
    "FROM json_each(?) AS j CROSS JOIN events AS e "
    "ON e.site_id = ? AND e.visitor_id = j.value ->> 0 AND e.ts >= j.value ->> 1 "
    "WHERE e.rowid <= ?"
)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _KEYS_PER_QUERY):
        yield items[i : i + _KEYS_PER_QUERY]


# --- queries -------------------------------------------------------------------------
def _where(
    site_id: str, filters: SessionFilters, window: TimeWindow, after: SessionKey | None
) -> tuple[str, Row]:
    clauses = ["site_id = ?"]
    params: list[object] = [site_id]
    for column in _FILTER_COLUMNS:
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if window.start is not None:
        clauses.append("start >= ?")
        params.append(_to_us(window.start))
    if window.end is not None:
        clauses.append("start <= ?")
        params.append(_to_us(window.end))
    if after is not None:
        start = _to_us(after.start)
        # ``start <= ?`` alone bounds the index range; the rest breaks ties exactly.
        clauses.append("start <= ? AND (start < ? OR (visitor_id, session_id) > (?, ?))")
        params.extend((start, start, after.visitor_id, after.session_id))
    return " AND ".join(clauses), tuple(params)


def _listing(
    site_id: str,
    filters: SessionFilters,
    window: TimeWindow,
    after: SessionKey | None,
    limit: int,
    offset: int,
) -> tuple[str, Row]:
    where, params = _where(site_id, filters, window, after)
    sql = (
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE {where} "
        "ORDER BY start DESC, visitor_id, session_id LIMIT ? OFFSET ?"
    )
    return sql, (*params, limit, offset)


# --- rows <-> values -----------------------------------------------------------------
def _to_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)


def _event_row(site_id: str, e: Event) -> Row:
    return (
        site_id,
        e.event_id,
        e.type.value,
        e.visitor_id,
        (e.timestamp - _EPOCH) // _MICROSECOND,
        e.url,
        e.page,
        e.referrer,
        e.user_agent,
        e.email,
        e.meta_type,
        e.meta_id,
    )


def _event(row: Row) -> Event:
    return Event(
        row[0],
        row[1],
        _EVENT_TYPES[row[2]],
        row[3],
        _EPOCH + timedelta(0, 0, row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
    )


def _utc(instant: datetime) -> datetime:
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


def _session_row(site_id: str, s: Session) -> Row:
    a = s.attribution
    # Instants inside the blobs are ISO 8601 text: orjson writes it natively and
    # ``datetime.fromisoformat`` reads it back several times faster than any arithmetic.
    path = [(v.url, _utc(v.timestamp)) for v in s.path]
    conversions = [
        (c.event_id, _utc(c.timestamp), c.page, c.previous_page, c.email, c.meta_type, c.meta_id)
        for c in s.conversions
    ]
    return (
        site_id,
        s.session_id,
        s.visitor_id,
        _to_us(s.start),
        _to_us(s.last_activity),
        _to_us(s.inactive_after),
        int(s.is_last),
        a.source,
        a.medium,
        a.campaign,
        a.content,
        a.term,
        s.path[0].url,
        s.path[-1].url,
        s.exit_previous_page,
        orjson.dumps(path),
        orjson.dumps(conversions) if conversions else None,
    )


def _session(row: Row) -> Session:
    iso = datetime.fromisoformat
    return Session(
        row[0],
        row[2],
        row[1],
        _EPOCH + timedelta(0, 0, row[3]),
        _EPOCH + timedelta(0, 0, row[4]),
        Attribution(*row[7:12]),
        tuple([PageVisit(url, iso(at)) for url, at in orjson.loads(row[15])]),
        _conversions(row[16]),
        row[14],
        bool(row[6]),
        _EPOCH + timedelta(0, 0, row[5]),
    )


def _conversions(blob: bytes | None) -> tuple[Conversion, ...]:
    if blob is None:
        return ()
    iso = datetime.fromisoformat
    return tuple(
        [Conversion(c[0], iso(c[1]), c[2], c[3], c[4], c[5], c[6]) for c in orjson.loads(blob)]
    )


def _outline(row: Row, attributions: dict[Row, Attribution]) -> SessionOutline:
    # Columns as in _OUTLINE_COLUMNS: the session columns without the path.
    key = row[7:12]
    # Sessions share few distinct attributions: one value each saves time and memory.
    attribution = attributions.get(key) or attributions.setdefault(key, Attribution(*key))
    return SessionOutline(
        row[0],
        row[2],
        row[1],
        _EPOCH + timedelta(0, 0, row[3]),
        _EPOCH + timedelta(0, 0, row[4]),
        attribution,
        row[12],
        row[13],
        _conversions(row[15]),
        row[14],
        bool(row[6]),
        _EPOCH + timedelta(0, 0, row[5]),
    )


def _fold_journeys(
    conn: sqlite3.Connection, sql: str, params: Row, definition: ConversionDefinition
) -> dict[str, VisitorJourney]:
    fold = JourneyFold(definition)
    add = fold.add
    no_conversions: tuple[Conversion, ...] = ()
    for visitor, start, session_id, blob in conn.execute(sql, params):
        key = (_EPOCH + timedelta(0, 0, start), session_id)
        add(visitor, key, no_conversions if blob is None else _conversions(blob))
    return fold.journeys()


def _fetch_outlines(
    cursor: sqlite3.Cursor, attributions: dict[Row, Attribution]
) -> list[SessionOutline]:
    if len(attributions) > 10_000:
        attributions.clear()
    return [_outline(row, attributions) for row in cursor.fetchmany(_FETCH_CHUNK)]
