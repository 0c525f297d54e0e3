"""Opening, tuning and closing the embedded store's SQLite connections.

One connection writes, on a dedicated thread; reads use pooled connections of their own
(in WAL mode a reader sees the last committed state while a write is in progress);
checkpoints run on a third thread, off the commit path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Final

from adapters.sqlite.schema import Migration, migrate

_BUSY_TIMEOUT_MS: Final = 30_000
# Page cache per connection, in KiB (negative: a size, not a page count). The writer's
# is large because re-cuts probe indexes all over the file; readers scan windows that
# are mostly in the OS page cache anyway, and there are several of them.
_WRITER_CACHE_KIB: Final = 65_536
_READER_CACHE_KIB: Final = 4_096
_WAL_BACKSTOP_PAGES: Final = 100_000
# ANALYZE reads at most this many rows per index: statistics good enough for the
# planner at a cost of milliseconds, whatever the size of the store.
ANALYSIS_LIMIT: Final = 2_000


def _connect(path: Path, cache_kib: int) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly, so their extent is visible.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size = -{cache_kib}")
    conn.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    return conn


def open_writer(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, _WRITER_CACHE_KIB)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"could not switch {path} to WAL mode (got {mode!r})")
        # A commit returns only once the WAL is on disk: a 2xx means durable.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA temp_store = MEMORY")
        # The store checkpoints in the background; this is the backstop for a WAL that
        # grows anyway, e.g. while a long read pins it.
        conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_BACKSTOP_PAGES}")
        migrate(conn, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    conn = _connect(path, _READER_CACHE_KIB)
    conn.execute("PRAGMA query_only = ON")
    return conn


def open_checkpointer(path: Path) -> sqlite3.Connection:
    return _connect(path, 1_024)


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the database file without blocking writers (PASSIVE). Commits
    are durable in the WAL already (``synchronous = FULL``); this only bounds its size,
    so a failure is left to the next checkpoint (or the writer's backstop)."""
    with suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def analyzed_rows(conn: sqlite3.Connection) -> int:
    """How many events the planner's statistics describe (0: none gathered yet)."""
    try:
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'events_by_id'").fetchone()
    except sqlite3.OperationalError:  # no sqlite_stat1 before the first ANALYZE
        return 0
    return int(str(row[0]).split()[0]) if row else 0


def analyze(conn: sqlite3.Connection) -> int:
    """Refresh the planner's statistics (bounded by ``ANALYSIS_LIMIT``); the rows they now
    describe. Run outside any transaction."""
    conn.execute("ANALYZE")
    return analyzed_rows(conn)


def close_writer(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()


def begin_read(conn: sqlite3.Connection) -> None:
    """Open a read transaction; WAL fixes its snapshot at the first read inside it."""
    conn.execute("BEGIN")


def end_read(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")
