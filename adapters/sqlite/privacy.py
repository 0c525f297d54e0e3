"""Erasure and retention on the writer's connection, each in one write transaction
(docs/privacy.md). The per-day ``session_counts`` follow every session removed or
re-cut; the visitors' dictionary rows stay (a key, an id and the site), as the other
dictionaries' rows do.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import orjson

from adapters.read_model import chunks
from adapters.sqlite import codec
from adapters.sqlite.codec import Dictionaries
from domain.model import Event, EventType, Session
from domain.ports import Erased, Recut
from domain.privacy import same_email

T = TypeVar("T")

_IN_KEYS: Final = "IN (SELECT value FROM json_each(?))"
_CONVERSION: Final = codec.EVENT_TYPES.index(EventType.CONVERSION)
_COUNTED: Final = codec.COUNTED_COLUMNS
_EVENT_VISITOR: Final = codec.EventRow._fields.index("visitor_key")


def _write(conn: sqlite3.Connection, keys: Dictionaries, fn: Callable[[], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have rolled back on its own.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        keys.rollback()
        raise
    keys.commit()
    return result


def _site_key(conn: sqlite3.Connection, site_id: str) -> int | None:
    row = conn.execute("SELECT site_key FROM site_keys WHERE site_id = ?", (site_id,)).fetchone()
    return None if row is None else int(row[0])


def erase_visitor(
    conn: sqlite3.Connection, keys: Dictionaries, site_id: str, visitor_id: str
) -> Erased:
    def erase() -> Erased:
        site = _site_key(conn, site_id)
        if site is None:
            return Erased(0, 0)
        found = conn.execute(
            "SELECT visitor_key FROM visitors WHERE site_key = ? AND visitor_id = ?",
            (site, visitor_id),
        ).fetchone()
        return _erase(conn, [] if found is None else [found[0]])

    return _write(conn, keys, erase)


def erase_email(conn: sqlite3.Connection, keys: Dictionaries, site_id: str, email: str) -> Erased:
    def erase() -> Erased:
        site = _site_key(conn, site_id)
        if site is None:
            return Erased(0, 0)
        # No index on emails: an erasure request is rare, a scan of the site's events
        # cheaper than an index every stored conversion would pay for.
        holders = {
            visitor_key
            for visitor_key, stored in conn.execute(
                "SELECT DISTINCT visitor_key, email FROM events "
                "WHERE site_key = ? AND type = ? AND email IS NOT NULL",
                (site, _CONVERSION),
            )
            if same_email(stored, email)
        }
        return _erase(conn, sorted(holders))

    return _write(conn, keys, erase)


def _erase(conn: sqlite3.Connection, visitor_keys: Sequence[int]) -> Erased:
    visitors = events = 0
    removed: list[codec.Row] = []
    for chunk in chunks(visitor_keys):
        blob = orjson.dumps(chunk)
        for _, n in conn.execute(
            f"SELECT visitor_key, count(*) FROM events WHERE visitor_key {_IN_KEYS} "
            "GROUP BY visitor_key",
            (blob,),
        ):
            visitors += 1
            events += n
        conn.execute(f"DELETE FROM events WHERE visitor_key {_IN_KEYS}", (blob,))
        removed.extend(_sessions_of(conn, blob))
        conn.execute(f"DELETE FROM sessions WHERE visitor_key {_IN_KEYS}", (blob,))
    conn.executemany(codec.ADD_COUNTS, codec.count_changes(removed, []))
    return Erased(visitors=visitors, events=events)


def _sessions_of(conn: sqlite3.Connection, blob: bytes) -> list[codec.Row]:
    return conn.execute(
        f"SELECT {_COUNTED} FROM sessions WHERE visitor_key {_IN_KEYS}", (blob,)
    ).fetchall()


def visitor_sessions(
    conn: sqlite3.Connection, keys: Dictionaries, site_id: str, visitor_id: str
) -> list[Session]:
    rows = conn.execute(
        f"{codec.SESSION_SELECT} WHERE visitor_key = (SELECT v.visitor_key FROM site_keys "
        "AS s JOIN visitors AS v ON v.site_key = s.site_key "
        "WHERE s.site_id = ? AND v.visitor_id = ?) ORDER BY start, ordinal",
        (site_id, visitor_id),
    ).fetchall()
    return codec.sessions_from_rows(conn, keys, site_id, rows)


def purge(
    conn: sqlite3.Connection, keys: Dictionaries, before: int, recut: Recut, limit: int
) -> Erased:
    def run() -> Erased:
        # No index leads with the time: this scan stops at the first ``limit`` visitors
        # found, and reads the whole table only when nothing is left to purge.
        found = [
            key
            for (key,) in conn.execute(
                "SELECT DISTINCT visitor_key FROM events WHERE ts < ? LIMIT ?", (before, limit)
            )
        ]
        if not found:
            return Erased(0, 0)
        blob = orjson.dumps(found)
        owners: dict[int, tuple[str, str]] = {
            key: (site_id, visitor_id)
            for key, visitor_id, site_id in conn.execute(
                "SELECT v.visitor_key, v.visitor_id, s.site_id FROM visitors AS v "
                f"JOIN site_keys AS s ON s.site_key = v.site_key WHERE v.visitor_key {_IN_KEYS}",
                (blob,),
            )
        }
        before_changes = conn.total_changes
        conn.execute(f"DELETE FROM events WHERE visitor_key {_IN_KEYS} AND ts < ?", (blob, before))
        deleted = conn.total_changes - before_changes
        left: dict[str, dict[int, list[Event]]] = defaultdict(dict)
        for key, (site_id, _) in owners.items():
            left[site_id][key] = []
        rows = conn.execute(f"{codec.EVENT_SELECT} WHERE e.visitor_key {_IN_KEYS}", (blob,))
        by_key: dict[int, list[codec.Row]] = defaultdict(list)
        for row in rows.fetchall():
            by_key[row[_EVENT_VISITOR]].append(row)
        numbered: list[tuple[Session, int]] = []
        visitor_keys: dict[tuple[str, str], int] = {}
        for site_id, visitors in left.items():
            ids = {key: owners[key][1] for key in visitors}
            key_of = {visitor_id: key for key, visitor_id in ids.items()}
            site_rows = [row for key in visitors for row in by_key[key]]
            for event in codec.events_from_rows(conn, keys, site_id, ids, site_rows):
                visitors[key_of[event.visitor_id]].append(event)
            for key, events in visitors.items():
                visitor_keys[(site_id, ids[key])] = key
                if events:
                    sessions = sorted(recut(events), key=lambda s: s.order_key)
                    numbered.extend((session, i) for i, session in enumerate(sessions))
        removed = _sessions_of(conn, blob)
        conn.execute(f"DELETE FROM sessions WHERE visitor_key {_IN_KEYS}", (blob,))
        added = keys.session_rows(numbered, visitor_keys)
        conn.executemany(codec.INSERT_SESSION, added)
        conn.executemany(codec.ADD_COUNTS, codec.count_changes(removed, codec.counted(added)))
        return Erased(visitors=len(found), events=deleted)

    return _write(conn, keys, run)
