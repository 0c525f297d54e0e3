"""Storing a batch of events and re-cutting the sessions of the visitors it touched, in
one write transaction on the writer's connection.

Only each visitor's tail is re-read, re-cut and rewritten
(``domain.sessionization.resume_point``); the sessions kept before it keep their
ordinals, and the re-cut ones are numbered after them.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import orjson

from adapters.read_model import chunks
from adapters.sqlite import codec
from adapters.sqlite.codec import Dictionaries
from domain.model import Event, Session, from_micros, to_micros
from domain.ports import Recut, StoredBatch
from domain.sessionization import resume_point

_IN_KEYS: Final = "IN (SELECT value FROM json_each(?))"
# A resume point before every instant the store can hold (year 1 is about -6.2e16 µs):
# -1 was one, until events before 1970 (negative instants) were stored.
_WHOLE_HISTORY: Final = -(2**62)
# Where ``INSERT_EVENT`` rows (``Dictionaries.event_rows``) hold the visitor's key.
_VISITOR_KEY: Final = codec.EVENT_COLUMNS.split(", ").index("visitor_key")
_SESSION_BOUNDS: Final = (
    "SELECT visitor_key, start, last_activity FROM sessions INDEXED BY sessions_by_visitor "
    f"WHERE visitor_key {_IN_KEYS}"
)
# Per [visitor key, resume point] pair, the visitor's stored events from that point on
# that this batch did not insert (those are in memory already). CROSS JOIN fixes the
# order, one index probe per pair, whatever the planner's statistics say.
_OLDER_EVENTS: Final = (
    f"{codec.EVENT_SELECT.replace('FROM events AS e', '')}"
    "FROM json_each(?) AS j CROSS JOIN events AS e INDEXED BY events_by_visitor "
    "ON e.visitor_key = j.value ->> 0 AND e.ts >= j.value ->> 1 "
    "WHERE e.rowid <= ?"
)


# The counted columns of the sessions a re-cut replaces (per [visitor key, resume point]).
_TAIL_SESSIONS: Final = (
    f"SELECT {', '.join('s.' + c for c in codec.COUNTED_COLUMNS.split(', '))} "
    "FROM json_each(?) AS j CROSS JOIN sessions AS s INDEXED BY sessions_by_visitor "
    "ON s.visitor_key = j.value ->> 0 AND s.start >= j.value ->> 1"
)


class _Bounds:
    """What ``resume_point`` reads of a stored session."""

    __slots__ = ("last_activity", "start")

    def __init__(self, start: int, last_activity: int) -> None:
        self.start = from_micros(start)
        self.last_activity = from_micros(last_activity)


def ingest(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    events: Sequence[Event],
    recut: Recut,
) -> StoredBatch:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Rows are appended to the events table, so while this transaction holds the
        # write lock, every row with a larger rowid is one this batch inserted.
        last_rowid: int = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        # Likewise visitor keys: a visitor with a larger key is new, with nothing stored.
        last_visitor: int = conn.execute(
            "SELECT coalesce(max(visitor_key), 0) FROM visitors"
        ).fetchone()[0]
        # Events stored already are left out before any row is built: a re-sent batch
        # (a client's retry, a re-import) costs one index probe per event.
        fresh = _not_stored(conn, keys, site_id, events)
        accepted = 0
        if fresh:
            rows = keys.event_rows(fresh)
            before = conn.total_changes
            conn.executemany(codec.INSERT_EVENT, rows)
            accepted = conn.total_changes - before
        if accepted:
            _recut(conn, keys, site_id, fresh, rows, (last_rowid, last_visitor), recut)
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have rolled back on its own.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        keys.rollback()
        raise
    keys.commit()
    return StoredBatch(accepted=accepted, duplicates=len(events) - accepted)


def _not_stored(
    conn: sqlite3.Connection, keys: Dictionaries, site_id: str, events: Sequence[Event]
) -> list[Event]:
    site = keys.sites.keys(conn, [site_id])[site_id]
    stored: set[str] = set()
    for chunk in chunks([e.event_id for e in events]):
        stored.update(
            event_id for (event_id,) in conn.execute(_STORED_IDS, (site, orjson.dumps(chunk)))
        )
    if not stored:
        return list(events)
    return [e for e in events if e.event_id not in stored]


_STORED_IDS: Final = (
    "SELECT event_id FROM events INDEXED BY events_by_id "
    f"WHERE site_key = ? AND event_id {_IN_KEYS}"
)


def _recut(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    events: Sequence[Event],
    rows: Sequence[codec.Row],
    before: tuple[int, int],
    recut: Recut,
) -> None:
    last_rowid, last_visitor = before
    by_id: dict[str, tuple[Event, int]] = {}
    for event, row in zip(events, rows, strict=True):
        by_id.setdefault(event.event_id, (event, row[_VISITOR_KEY]))
    added: dict[int, list[Event]] = defaultdict(list)
    visitor_ids: dict[int, str] = {}
    # The in-memory events stand for the rows just inserted: same values, no decoding.
    for (event_id,) in conn.execute("SELECT event_id FROM events WHERE rowid > ?", (last_rowid,)):
        event, visitor_key = by_id[event_id]
        added[visitor_key].append(event)
        visitor_ids[visitor_key] = event.visitor_id

    known = [visitor_key for visitor_key in added if visitor_key <= last_visitor]
    bounds: dict[int, list[_Bounds]] = defaultdict(list)
    for chunk in chunks(known):
        for visitor_key, start, last in conn.execute(_SESSION_BOUNDS, (orjson.dumps(chunk),)):
            bounds[visitor_key].append(_Bounds(start, last))
    # Per visitor: where its tail starts (_WHOLE_HISTORY: re-cut whole) and how many
    # sessions precede.
    points: dict[int, tuple[int, int]] = {}
    for visitor_key in added:
        stored = bounds.get(visitor_key, [])
        point = resume_point(stored, min(e.timestamp for e in added[visitor_key]))
        if point is None:
            points[visitor_key] = (_WHOLE_HISTORY, 0)
        else:
            kept = sum(1 for b in stored if b.start < point)
            points[visitor_key] = (to_micros(point), kept)

    history: dict[int, list[Event]] = {v: list(new) for v, new in added.items()}
    key_of = {visitor_id: key for key, visitor_id in visitor_ids.items()}
    pairs: list[tuple[int, int]] = [(key, point) for key, (point, _) in points.items()]
    for some in chunks([pair for pair in pairs if pair[0] <= last_visitor]):
        older = conn.execute(_OLDER_EVENTS, (orjson.dumps(some), last_rowid)).fetchall()
        for event in codec.events_from_rows(conn, keys, site_id, visitor_ids, older):
            history[key_of[event.visitor_id]].append(event)

    numbered: list[tuple[Session, int]] = []
    for visitor_key, visitor_events in history.items():
        kept = points[visitor_key][1]
        sessions = sorted(recut(visitor_events), key=lambda s: s.order_key)
        numbered.extend((session, kept + i) for i, session in enumerate(sessions))
    removed: list[codec.Row] = []
    stored_pairs = [pair for pair in pairs if bounds.get(pair[0])]
    for some in chunks(stored_pairs):
        removed.extend(conn.execute(_TAIL_SESSIONS, (orjson.dumps(some),)).fetchall())
    conn.executemany(
        "DELETE FROM sessions WHERE visitor_key = ? AND start >= ?",
        stored_pairs,
    )
    visitor_keys = {(site_id, visitor_id): key for visitor_id, key in key_of.items()}
    rows = keys.session_rows(numbered, visitor_keys)
    conn.executemany(codec.INSERT_SESSION, rows)
    conn.executemany(codec.ADD_COUNTS, codec.count_changes(removed, codec.counted(rows)))
