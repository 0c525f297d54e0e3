"""The embedded store's schema and its migrations.

A migration is applied in one transaction and is either SQL statements or a function of
the connection (for a change that rewrites rows, such as migration 4). Append only: the
position in ``MIGRATIONS`` is the schema version recorded in ``PRAGMA user_version``.

Layout since version 4 (the read model the reports need):

- dictionaries give every repeated string an integer: ``site_keys``, ``visitors`` (per
  site), ``pages`` (normalized URLs) and ``texts`` (user agents, attribution values);
- ``events`` keep the raw input for re-cutting, with integer keys and the URL only where
  it differs from its normalized page;
- ``sessions`` hold the materialized sessions with the facts reports read as integers:
  the visitor, the session's ``ordinal`` in its visitor's history (0 = first), landing,
  exit and previous pages, attribution values; the page path and conversions as compact
  blobs. Touch scopes read ``ordinal`` and the conversions of converting sessions only,
  never whole histories.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

from adapters.sqlite import codec

Migration = Sequence[str] | Callable[[sqlite3.Connection], None]


class SchemaVersionError(RuntimeError):
    """The file was written by a newer version of the schema than this code knows."""


class MigrationError(RuntimeError):
    """A migration failed; it was rolled back and the file keeps its previous version."""


_V4_TABLES: Final = (
    """CREATE TABLE site_keys (
        site_key INTEGER PRIMARY KEY,
        site_id TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE visitors (
        visitor_key INTEGER PRIMARY KEY,
        site_key INTEGER NOT NULL,
        visitor_id TEXT NOT NULL,
        UNIQUE (site_key, visitor_id)
    )""",
    "CREATE TABLE pages (page_key INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE)",
    "CREATE TABLE texts (text_key INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)",
    # No foreign keys: the Store contract lets any site id receive events (the service
    # authenticates the site before it ever calls ingest), and dictionaries only grow.
    """CREATE TABLE events_v4 (
        site_key INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        type INTEGER NOT NULL,
        visitor_key INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        page_key INTEGER NOT NULL,
        url TEXT,
        referrer_key INTEGER,
        user_agent_key INTEGER,
        email TEXT,
        meta_type TEXT,
        meta_id TEXT
    )""",
    # Clustered by site and start (WITHOUT ROWID): a report's window is one contiguous
    # run of the table, read in order, instead of one index probe per session. Columns
    # the report reads come first; the blobs only listings decode come last.
    """CREATE TABLE sessions_v4 (
        site_key INTEGER NOT NULL,
        start INTEGER NOT NULL,
        visitor_key INTEGER NOT NULL,
        ordinal INTEGER NOT NULL,
        landing_key INTEGER NOT NULL,
        exit_key INTEGER NOT NULL,
        exit_previous_key INTEGER NOT NULL,
        closes_after INTEGER NOT NULL,
        conversions BLOB,
        last_activity INTEGER NOT NULL,
        inactive_after INTEGER NOT NULL,
        source_key INTEGER NOT NULL,
        medium_key INTEGER NOT NULL,
        campaign_key INTEGER,
        content_key INTEGER,
        term_key INTEGER,
        visitor_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        path BLOB NOT NULL,
        PRIMARY KEY (site_key, start, visitor_key, ordinal)
    ) WITHOUT ROWID""",
)

# Sessions per site and UTC day, in all and per value of each single filter
# (``codec.COUNTED_FIELDS``), kept in the write transaction that changes the sessions:
# a /sessions count sums a few dozen rows instead of counting every session.
_V4_COUNTS: Final = """CREATE TABLE session_counts (
    site_key INTEGER NOT NULL,
    field INTEGER NOT NULL,
    value_key INTEGER NOT NULL,
    day INTEGER NOT NULL,
    sessions INTEGER NOT NULL,
    PRIMARY KEY (site_key, field, value_key, day)
) WITHOUT ROWID"""

_V4_INDEXES: Final = (
    "CREATE UNIQUE INDEX events_by_id ON events (site_key, event_id)",
    # A visitor key belongs to one site: no site column needed in the visitor indexes.
    "CREATE INDEX events_by_visitor ON events (visitor_key, ts)",
    # The /sessions order in full, so that a listing and its deep pages walk this index
    # alone; the filter indexes are narrow (the few ties on start are sorted in memory).
    """CREATE INDEX sessions_by_start
        ON sessions (site_key, start DESC, visitor_id, session_id)""",
    # Filter indexes end in the primary key, so they need not repeat it.
    "CREATE INDEX sessions_by_source ON sessions (site_key, source_key)",
    "CREATE INDEX sessions_by_medium ON sessions (site_key, medium_key)",
    "CREATE INDEX sessions_by_campaign ON sessions (site_key, campaign_key)",
    "CREATE INDEX sessions_by_landing ON sessions (site_key, landing_key)",
    # A re-cut's tail: bounds and deletion by visitor and start (the last activity of the
    # few stored sessions of a returning visitor is read from the table).
    "CREATE INDEX sessions_by_visitor ON sessions (visitor_key, start)",
    # Touch scopes: the converting sessions of the window's visitors, a few percent,
    # with their conversions, so that the probe of each visitor reads this index alone.
    """CREATE INDEX sessions_converting ON sessions (visitor_key, ordinal, conversions)
        WHERE conversions IS NOT NULL""",
)


# The new tables take their final names once the old ones are dropped. Events as version 4
# had them: the columns of today's rows but the last, ``value`` (version 5).
_V4_EVENT_COLUMNS: Final = codec.EVENT_COLUMNS.removesuffix(", value")
_INSERT_EVENT_V4: Final = (
    f"INSERT OR IGNORE INTO events_v4 ({_V4_EVENT_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_V4_EVENT_COLUMNS.split(', ')))})"
)
_INSERT_SESSION_V4: Final = codec.INSERT_SESSION.replace("INTO sessions ", "INTO sessions_v4 ")


def _migration_4(conn: sqlite3.Connection) -> None:
    """Version 3 (strings everywhere, one wide covering index per filter) to the integer
    read model: every event and session is carried over as it is (sessions are not
    re-cut), numbered within its visitor's history."""
    for statement in _V4_TABLES:
        conn.execute(statement)
    keys = codec.Dictionaries(conn)
    events = conn.execute(
        f"SELECT {codec.column_list(codec.V3EventRow)} FROM events ORDER BY rowid"
    )
    while rows := events.fetchmany(5_000):
        decoded = [codec.v3_event(row) for row in rows]
        conn.executemany(_INSERT_EVENT_V4, [row[:-1] for row in keys.event_rows(decoded)])
    # Each row: the v3 session's columns, then its ordinal among its visitor's sessions.
    sessions = conn.execute(
        f"SELECT {codec.column_list(codec.V3SessionRow)}, row_number() OVER ("
        "PARTITION BY site_id, visitor_id ORDER BY start, session_id) - 1 "
        "FROM sessions"
    )
    while rows := sessions.fetchmany(5_000):
        numbered = [(codec.v3_session(row[:-1]), row[-1]) for row in rows]
        conn.executemany(_INSERT_SESSION_V4, keys.session_rows(numbered))
    for statement in (
        "DROP TABLE events",
        "DROP TABLE sessions",
        "ALTER TABLE events_v4 RENAME TO events",
        "ALTER TABLE sessions_v4 RENAME TO sessions",
        *_V4_INDEXES,
        _V4_COUNTS,
        *codec.RECOUNT_SESSIONS,
        "ANALYZE",
    ):
        conn.execute(statement)


MIGRATIONS: Final[Sequence[Migration]] = (
    (
        """CREATE TABLE sites (
            site_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            api_key_hash TEXT NOT NULL UNIQUE,
            tracker_token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL
        )""",
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
    (
        "DROP INDEX sessions_by_visitor",
        """CREATE INDEX sessions_by_visitor
            ON sessions (site_id, visitor_id, start, last_activity)""",
        "DROP INDEX events_by_visitor",
        "CREATE INDEX events_by_visitor ON events (site_id, visitor_id, ts)",
    ),
    (
        "DROP INDEX sessions_by_visitor",
        """CREATE INDEX sessions_by_visitor
            ON sessions (site_id, visitor_id, start, last_activity, session_id, conversions)""",
    ),
    _migration_4,
    # Conversion values (docs/attribution.md); sessions carry them in their conversion
    # blobs, which older blobs simply lack.
    ("ALTER TABLE events ADD COLUMN value REAL",),
    # Events dropped as bots', per site and reason (a handful of rows per site: plain
    # texts, no dictionaries); ``last_seen`` in microseconds.
    (
        """CREATE TABLE dropped_bots (
            site_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            events INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            PRIMARY KEY (site_id, reason)
        ) WITHOUT ROWID""",
    ),
)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
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
            migration = migrations[current]
            try:
                if callable(migration):
                    migration(conn)
                else:
                    for statement in migration:
                        conn.execute(statement)
            except sqlite3.Error as err:
                raise MigrationError(f"migration {current + 1} failed: {err}") from err
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
