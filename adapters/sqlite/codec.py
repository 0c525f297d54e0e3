"""Rows <-> domain values for the embedded store, and the dictionaries that turn repeated
strings (sites, visitors, pages, user agents, attribution values) into integer keys.

Instants are integer microseconds since the Unix epoch (``domain.model.to_micros``);
inside the path and conversion blobs they are offsets from the session's start, which
keeps the blobs short. Blobs are compact JSON arrays written and read by orjson.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import compress
from operator import itemgetter
from typing import Any, Final, NamedTuple

import orjson

from adapters.read_model import chunks
from domain.aggregates import AggregateConversion
from domain.model import (
    EPOCH,
    Attribution,
    Conversion,
    Event,
    EventType,
    PageVisit,
    Session,
    from_micros,
    to_micros,
)
from domain.multi_touch import JourneyConversion
from domain.page_report import ReportConversion, ReportSession, closes_after

Row = tuple[Any, ...]


def column_list(row_type: type[tuple[Any, ...]], prefix: str = "") -> str:
    """The columns of a row type (a ``NamedTuple`` named after them), for SQL: what a
    statement selects and how its rows are decoded come from one list of names."""
    return ", ".join(prefix + name for name in row_type._fields)  # type: ignore[attr-defined]


class EventRow(NamedTuple):
    """A stored event as ``EVENT_SELECT`` reads it."""

    event_id: str
    type: int
    visitor_key: int
    ts: int
    page_key: int
    url: str | None
    referrer_key: int | None
    user_agent_key: int | None
    email: str | None
    meta_type: str | None
    meta_id: str | None
    value: float | None


class SessionRow(NamedTuple):
    """A stored session: the columns ``INSERT_SESSION`` writes and ``SESSION_SELECT``
    reads."""

    site_key: int
    visitor_key: int
    ordinal: int
    start: int
    last_activity: int
    inactive_after: int
    closes_after: int
    landing_key: int
    exit_key: int
    exit_previous_key: int
    source_key: int
    medium_key: int
    campaign_key: int | None
    content_key: int | None
    term_key: int | None
    visitor_id: str
    session_id: str
    conversions: bytes | None
    path: bytes


EVENT_TYPES: Final = (EventType.PAGEVIEW, EventType.CONVERSION, EventType.EXIT)
_TYPE_CODES: Final = {t: i for i, t in enumerate(EVENT_TYPES)}
_V3_EVENT_TYPES: Final = {t.value: t for t in EventType}
_MICROSECOND: Final = timedelta(microseconds=1)

EVENT_COLUMNS: Final = (
    "site_key, event_id, type, visitor_key, ts, page_key, url, referrer_key, user_agent_key, "
    "email, meta_type, meta_id, value"
)
INSERT_EVENT: Final = (
    f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SESSION_COLUMNS: Final = column_list(SessionRow)
INSERT_SESSION: Final = (
    f"INSERT INTO sessions ({SESSION_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Per-day session counts (table ``session_counts``): field 0 counts every session (value
# 0); the others count sessions per value key of one filter column. A session without a
# campaign, content or term is counted under no value of that field (no filter matches).
DAY_MICROS: Final = 86_400_000_000
COUNTED_FIELDS: Final = (
    "source_key",
    "medium_key",
    "campaign_key",
    "content_key",
    "term_key",
    "landing_key",
)
COUNTED_COLUMNS: Final = f"site_key, start, {', '.join(COUNTED_FIELDS)}"
ADD_COUNTS: Final = (
    "INSERT INTO session_counts (site_key, field, value_key, day, sessions) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions"
)
# Every count rebuilt from the sessions (migration 4).
RECOUNT_SESSIONS: Final = (
    "DELETE FROM session_counts",
    f"INSERT INTO session_counts SELECT site_key, 0, 0, start / {DAY_MICROS}, count(*) "
    "FROM sessions GROUP BY 1, 4",
    *(
        f"INSERT INTO session_counts SELECT site_key, {field}, {column}, "
        f"start / {DAY_MICROS}, count(*) FROM sessions WHERE {column} IS NOT NULL "
        "GROUP BY 1, 3, 4"
        for field, column in enumerate(COUNTED_FIELDS, start=1)
    ),
)


_COUNTED_OF_SESSION_ROW: Final = itemgetter(
    *(SESSION_COLUMNS.split(", ").index(column) for column in COUNTED_COLUMNS.split(", "))
)


def counted(session_rows: Iterable[Row]) -> list[Row]:
    """The ``COUNTED_COLUMNS`` of ``INSERT_SESSION`` rows, in that order."""
    return list(map(_COUNTED_OF_SESSION_ROW, session_rows))


def count_changes(removed: Iterable[Row], added: Iterable[Row]) -> list[Row]:
    """``ADD_COUNTS`` rows for sessions removed and added (each a ``COUNTED_COLUMNS``
    row); changes that cancel out are left out."""
    # Sessions are first counted per whole combination (C-level Counter; a batch has far
    # fewer combinations than sessions), then spread over the fields.
    combinations: Counter[Row] = Counter()
    combinations.update((r[0], r[1] // DAY_MICROS, *r[2:]) for r in added)
    combinations.subtract((r[0], r[1] // DAY_MICROS, *r[2:]) for r in removed)
    delta: Counter[tuple[int, int, int, int]] = Counter()
    for (site, day, *values), n in combinations.items():
        if not n:
            continue
        delta[(site, 0, 0, day)] += n
        for field, value in enumerate(values, start=1):
            if value is not None:
                delta[(site, field, value, day)] += n
    return [(*key, n) for key, n in delta.items() if n]


# What the page report reads of a session (``domain.page_report.ReportSession``).
# The columns holding each field of ``ReportSession``, in its order: a report row is that
# tuple as read, but for the conversions blob.
_REPORT_SOURCES: Final = {
    "visitor": "visitor_key",
    "ordinal": "ordinal",
    "landing": "landing_key",
    "exit": "exit_key",
    "exit_previous": "exit_previous_key",
    "closes_after": "closes_after",
    "conversions": "conversions",
}
REPORT_COLUMNS: Final = ", ".join(_REPORT_SOURCES[field] for field in ReportSession._fields)
_REPORT_CONVERSIONS: Final = ReportSession._fields.index("conversions")
_IN_KEYS: Final = "IN (SELECT value FROM json_each(?))"
# Dictionaries are small (pages, user agents, attribution values); past this many
# characters cached a cache starts over rather than grow with every distinct URL or
# referrer a client can send (a value may be kilobytes long).
_CACHE_LIMIT_CHARS: Final = 8_000_000


class _Dictionary:
    """One string <-> integer dictionary table, cached in memory both ways.

    Entries are never changed or removed, so a cached pair stays true, provided it was
    committed: pairs learnt inside a write transaction wait in ``_pending`` until the
    transaction commits (``commit``) and are dropped if it rolls back (``rollback``),
    so a key freed by a rollback is never served from the cache.
    """

    def __init__(self, table: str, key: str, value: str) -> None:
        self._insert = f"INSERT OR IGNORE INTO {table} ({value}) SELECT value FROM json_each(?)"
        self._by_value = f"SELECT {value}, {key} FROM {table} WHERE {value} {_IN_KEYS}"
        self._by_key = f"SELECT {key}, {value} FROM {table} WHERE {key} {_IN_KEYS}"
        self._keys: dict[str, int] = {}
        self._values: dict[int, str] = {}
        self._pending: dict[str, int] = {}
        self._chars = 0

    def keys(self, conn: sqlite3.Connection, values: Iterable[str]) -> dict[str, int]:
        """Keys of ``values``, creating missing entries (inside the write transaction)."""
        found = {}
        missing = []
        for value in set(values):
            key = self._keys.get(value)
            if key is None:
                key = self._pending.get(value)
            if key is None:
                missing.append(value)
            else:
                found[value] = key
        for chunk in chunks(missing):
            blob = orjson.dumps(chunk)
            conn.execute(self._insert, (blob,))
            learnt = dict(conn.execute(self._by_value, (blob,)).fetchall())
            self._pending.update(learnt)
            found.update(learnt)
        return found

    def lookup(self, conn: sqlite3.Connection, values: Iterable[str]) -> dict[str, int]:
        """Keys of the ``values`` that have one, creating nothing (a reader's connection,
        never the writer's: what it learns is cached as committed)."""
        found = {}
        missing = []
        for value in set(values):
            key = self._keys.get(value)
            if key is None:
                missing.append(value)
            else:
                found[value] = key
        for chunk in chunks(missing):
            learnt = dict(conn.execute(self._by_value, (orjson.dumps(chunk),)).fetchall())
            found.update(learnt)
            # Committed rows (readers never see a write in progress): true for good.
            self._remember((key, value) for value, key in learnt.items())
        return found

    def values(self, conn: sqlite3.Connection, keys: Iterable[int]) -> dict[int, str]:
        """The value of each key (keys read from committed rows: every one exists)."""
        found = {}
        missing = []
        for key in set(keys):
            value = self._values.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        for chunk in chunks(missing):
            learnt = dict(conn.execute(self._by_key, (orjson.dumps(chunk),)).fetchall())
            found.update(learnt)
            self._remember(learnt.items())
        return found

    def _remember(self, pairs: Iterable[tuple[int, str]]) -> None:
        for key, value in pairs:
            if self._chars > _CACHE_LIMIT_CHARS:
                self._values.clear()
                self._keys.clear()
                self._chars = 0
            if key not in self._values:
                self._chars += len(value)
            self._values[key] = value
            self._keys[value] = key

    def commit(self) -> None:
        self._remember((key, value) for value, key in self._pending.items())
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()


class Dictionaries:
    """Every dictionary of one store, and the row codecs that need them."""

    def __init__(self, conn: sqlite3.Connection | None = None) -> None:
        # ``conn``: the connection the row codecs use (the writer, or a migration's).
        self.conn = conn
        self.sites = _Dictionary("site_keys", "site_key", "site_id")
        self.pages = _Dictionary("pages", "page_key", "url")
        self.texts = _Dictionary("texts", "text_key", "value")
        self._all = (self.sites, self.pages, self.texts)

    def commit(self) -> None:
        for dictionary in self._all:
            dictionary.commit()

    def rollback(self) -> None:
        for dictionary in self._all:
            dictionary.rollback()

    def _writer(self) -> sqlite3.Connection:
        assert self.conn is not None, "row codecs need the writing connection"
        return self.conn

    def site_key(self, site_id: str) -> int:
        return self.sites.keys(self._writer(), [site_id])[site_id]

    def visitor_keys(self, site_key: int, visitor_ids: Iterable[str]) -> dict[str, int]:
        """Keys of the visitors (created when new)."""
        conn = self._writer()
        found: dict[str, int] = {}
        for chunk in chunks(sorted(set(visitor_ids))):
            blob = orjson.dumps(chunk)
            conn.execute(
                "INSERT OR IGNORE INTO visitors (site_key, visitor_id) "
                "SELECT ?, value FROM json_each(?)",
                (site_key, blob),
            )
            found.update(
                conn.execute(
                    f"SELECT visitor_id, visitor_key FROM visitors "
                    f"WHERE site_key = ? AND visitor_id {_IN_KEYS}",
                    (site_key, blob),
                ).fetchall()
            )
        return found

    def event_rows(self, events: Sequence[Event]) -> list[Row]:
        """Rows of ``events``, which may belong to several sites (a migration's)."""
        conn = self._writer()
        sites = self.sites.keys(conn, {e.site_id for e in events})
        visitors: dict[tuple[str, str], int] = {}
        for site_id, key in sites.items():
            ids = {e.visitor_id for e in events if e.site_id == site_id}
            for visitor_id, visitor_key in self.visitor_keys(key, ids).items():
                visitors[(site_id, visitor_id)] = visitor_key
        pages = self.pages.keys(conn, {e.page for e in events})
        # User agents and referrers repeat a great deal: both are dictionary texts.
        texts = self.texts.keys(
            conn,
            {e.user_agent for e in events if e.user_agent}
            | {e.referrer for e in events if e.referrer},
        )
        return [
            (
                sites[e.site_id],
                e.event_id,
                _TYPE_CODES[e.type],
                visitors[(e.site_id, e.visitor_id)],
                to_micros(e.timestamp),
                pages[e.page],
                # Most URLs are their page exactly: those are not stored twice.
                None if e.url == e.page else e.url,
                texts[e.referrer] if e.referrer else None,
                texts[e.user_agent] if e.user_agent else None,
                e.email,
                e.meta_type,
                e.meta_id,
                e.value,
            )
            for e in events
        ]

    def session_rows(
        self,
        numbered: Iterable[tuple[Session, int]],
        visitors: Mapping[tuple[str, str], int] | None = None,
    ) -> list[Row]:
        """Rows of sessions, each with its ordinal in its visitor's history. ``visitors``
        maps ``(site_id, visitor_id)`` to visitor keys when the caller knows them."""
        conn = self._writer()
        sessions = list(numbered)
        sites = self.sites.keys(conn, {s.site_id for s, _ in sessions})
        if visitors is None:
            found: dict[tuple[str, str], int] = {}
            for site_id, key in sites.items():
                ids = {s.visitor_id for s, _ in sessions if s.site_id == site_id}
                for visitor_id, visitor_key in self.visitor_keys(key, ids).items():
                    found[(site_id, visitor_id)] = visitor_key
            visitors = found
        pages = self.pages.keys(
            conn,
            {v.url for s, _ in sessions for v in s.path}
            | {c.previous_page for s, _ in sessions for c in s.conversions}
            | {s.exit_previous_page for s, _ in sessions},
        )
        texts = self.texts.keys(
            conn,
            {
                value
                for s, _ in sessions
                for value in (
                    s.attribution.source,
                    s.attribution.medium,
                    s.attribution.campaign,
                    s.attribution.content,
                    s.attribution.term,
                )
                if value is not None
            },
        )
        return [
            session_row(
                s, ordinal, sites[s.site_id], visitors[(s.site_id, s.visitor_id)], pages, texts
            )
            for s, ordinal in sessions
        ]


def session_row(
    s: Session,
    ordinal: int,
    site_key: int,
    visitor_key: int,
    pages: Mapping[str, int],
    texts: Mapping[str, int],
) -> Row:
    a = s.attribution
    start = to_micros(s.start)
    first = s.start
    path: list[int] = []
    for visit in s.path:
        path.append(pages[visit.url])
        # Offsets from the start, as timedelta arithmetic (exact, one C operation).
        path.append((visit.timestamp - first) // _MICROSECOND)
    conversions = [
        (
            c.event_id,
            (c.timestamp - first) // _MICROSECOND,
            pages[c.page],
            pages[c.previous_page],
            c.email,
            c.meta_type,
            c.meta_id,
            c.value,
        )
        for c in s.conversions
    ]
    return (
        site_key,
        visitor_key,
        ordinal,
        start,
        to_micros(s.last_activity),
        to_micros(s.inactive_after),
        closes_after(s),
        pages[s.path[0].url],
        pages[s.path[-1].url],
        pages[s.exit_previous_page],
        texts[a.source],
        texts[a.medium],
        None if a.campaign is None else texts[a.campaign],
        None if a.content is None else texts[a.content],
        None if a.term is None else texts[a.term],
        s.visitor_id,
        s.session_id,
        orjson.dumps(conversions) if conversions else None,
        orjson.dumps(path),
    )


def report_conversions(blob: bytes) -> tuple[ReportConversion, ...]:
    return tuple([ReportConversion(c[2], c[3], c[5], c[6]) for c in orjson.loads(blob)])


def report_rows(rows: list[Row]) -> list[Row]:
    """Rows of ``REPORT_COLUMNS`` as ``ReportSession`` tuples: only the conversions blob,
    present on a few percent of sessions, needs decoding."""
    at = _REPORT_CONVERSIONS
    return [
        row if row[at] is None else (*row[:at], report_conversions(row[at]), *row[at + 1 :])
        for row in rows
    ]


# What attribution reads of a session (``JourneySession`` but for the text keys).
JOURNEY_COLUMNS: Final = "visitor_key, start, source_key, medium_key, campaign_key, conversions"


def journey_rows(rows: list[Row]) -> list[Row]:
    """Rows of ``JOURNEY_COLUMNS`` as ``JourneySession`` tuples, text keys left as keys
    (``attribution_texts``): only the conversions blob, on a few percent of sessions,
    needs decoding: those rows are found in C and replaced in place, the others are
    left as they came."""
    for i in compress(range(len(rows)), map(_JOURNEY_BLOB, rows)):
        row = rows[i]
        rows[i] = (
            *row[:5],
            tuple(
                [
                    # value: absent from older blobs
                    JourneyConversion(row[1] + c[1], c[2], c[5], c[6], c[7] if len(c) > 7 else None)
                    for c in orjson.loads(row[5])
                ]
            ),
        )
    return rows


_JOURNEY_BLOB: Final = itemgetter(5)


# The column holding each field of ``domain.aggregates.AggregateSession``.
_AGGREGATE_SOURCES: Final = {
    "visitor": "visitor_key",
    "start": "start",
    "source": "source_key",
    "medium": "medium_key",
    "campaign": "campaign_key",
    "content": "content_key",
    "term": "term_key",
    "landing": "landing_key",
    "conversions": "conversions",
}


def aggregate_columns(fields: tuple[str, ...]) -> str:
    """The select list of rows of ``fields`` (``in_row_order``)."""
    return ", ".join(_AGGREGATE_SOURCES[field] for field in fields)


def aggregate_rows(rows: list[Row], conversions_at: int | None) -> list[Row]:
    """Rows of ``aggregate_columns`` as aggregate rows, keys left as keys: only the
    conversions blob (at ``conversions_at``, if read), on a few percent of sessions,
    needs decoding, and only those rows are touched."""
    if conversions_at is None:
        return rows
    at = conversions_at
    for i in compress(range(len(rows)), map(itemgetter(at), rows)):
        row = rows[i]
        rows[i] = (
            *row[:at],
            tuple([AggregateConversion(c[2], c[5], c[6]) for c in orjson.loads(row[at])]),
            *row[at + 1 :],
        )
    return rows


# --- reading whole values back (listings, re-cuts) ---------------------------------------
SESSION_SELECT: Final = f"SELECT {SESSION_COLUMNS} FROM sessions"


def sessions_from_rows(
    conn: sqlite3.Connection, keys: Dictionaries, site_id: str, rows: Sequence[Row]
) -> list[Session]:
    """Sessions of ``rows`` (``SessionRow`` columns), dictionary keys resolved in two
    reads."""
    decoded = [
        (row, orjson.loads(row.path), _json_or_empty(row.conversions))
        for row in map(SessionRow._make, rows)
    ]
    page_keys: set[int] = set()
    text_keys: set[int] = set()
    for row, path, conversions in decoded:
        page_keys.update(path[0::2])
        page_keys.add(row.exit_previous_key)
        page_keys.update(c[3] for c in conversions)
        text_keys.update(k for k in _attribution_keys(row) if k is not None)
    pages = keys.pages.values(conn, page_keys)
    texts = keys.texts.values(conn, text_keys)
    sessions = []
    for row, path, conversions in decoded:
        start = from_micros(row.start)
        campaign, content, term = (
            None if k is None else texts[k] for k in _attribution_keys(row)[2:]
        )
        sessions.append(
            Session(
                site_id=site_id,
                visitor_id=row.visitor_id,
                session_id=row.session_id,
                start=start,
                last_activity=from_micros(row.last_activity),
                attribution=Attribution(
                    texts[row.source_key], texts[row.medium_key], campaign, content, term
                ),
                path=tuple(
                    PageVisit(pages[path[i]], start + timedelta(0, 0, path[i + 1]))
                    for i in range(0, len(path), 2)
                ),
                conversions=tuple(
                    Conversion(
                        c[0],
                        start + timedelta(0, 0, c[1]),
                        pages[c[2]],
                        pages[c[3]],
                        c[4],
                        c[5],
                        c[6],
                        # Blobs written before values existed have seven fields.
                        c[7] if len(c) > 7 else None,
                    )
                    for c in conversions
                ),
                exit_previous_page=pages[row.exit_previous_key],
                is_last=row.closes_after != 0,
                inactive_after=from_micros(row.inactive_after),
            )
        )
    return sessions


def _attribution_keys(row: SessionRow) -> tuple[int | None, ...]:
    return (row.source_key, row.medium_key, row.campaign_key, row.content_key, row.term_key)


def _json_or_empty(blob: bytes | None) -> list[Any]:
    return [] if blob is None else list(orjson.loads(blob))


EVENT_SELECT: Final = f"SELECT {column_list(EventRow, 'e.')} FROM events AS e"


def events_from_rows(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    visitor_ids: Mapping[int, str],
    rows: Sequence[Row],
) -> Iterator[Event]:
    """Events of ``rows`` (``EventRow`` columns); ``visitor_ids`` maps their visitor
    keys."""
    stored = list(map(EventRow._make, rows))
    pages = keys.pages.values(conn, {row.page_key for row in stored})
    texts = keys.texts.values(
        conn,
        {k for row in stored for k in (row.referrer_key, row.user_agent_key) if k is not None},
    )
    for row in stored:
        page = pages[row.page_key]
        yield Event(
            site_id=site_id,
            event_id=row.event_id,
            type=EVENT_TYPES[row.type],
            visitor_id=visitor_ids[row.visitor_key],
            timestamp=EPOCH + timedelta(0, 0, row.ts),
            url=row.url or page,
            page=page,
            referrer=None if row.referrer_key is None else texts[row.referrer_key],
            user_agent=None if row.user_agent_key is None else texts[row.user_agent_key],
            email=row.email,
            meta_type=row.meta_type,
            meta_id=row.meta_id,
            value=row.value,
        )


# --- schema version 3, read once by migration 4 -----------------------------------------
class V3EventRow(NamedTuple):
    site_id: str
    event_id: str
    type: str
    visitor_id: str
    ts: int
    url: str
    page: str
    referrer: str | None
    user_agent: str | None
    email: str | None
    meta_type: str | None
    meta_id: str | None


class V3SessionRow(NamedTuple):
    site_id: str
    session_id: str
    visitor_id: str
    start: int
    last_activity: int
    inactive_after: int
    is_last: int
    source: str
    medium: str
    campaign: str | None
    content: str | None
    term: str | None
    landing_page: str
    exit_page: str
    exit_previous_page: str
    path: bytes
    conversions: bytes | None


def v3_event(raw: Row) -> Event:
    row = V3EventRow._make(raw)
    return Event(
        site_id=row.site_id,
        event_id=row.event_id,
        type=_V3_EVENT_TYPES[row.type],
        visitor_id=row.visitor_id,
        timestamp=EPOCH + timedelta(0, 0, row.ts),
        url=row.url,
        page=row.page,
        referrer=row.referrer,
        user_agent=row.user_agent,
        email=row.email,
        meta_type=row.meta_type,
        meta_id=row.meta_id,
    )


def v3_session(raw: Row) -> Session:
    row = V3SessionRow._make(raw)
    iso = datetime.fromisoformat
    return Session(
        site_id=row.site_id,
        visitor_id=row.visitor_id,
        session_id=row.session_id,
        start=from_micros(row.start),
        last_activity=from_micros(row.last_activity),
        attribution=Attribution(row.source, row.medium, row.campaign, row.content, row.term),
        path=tuple(PageVisit(url, iso(at)) for url, at in orjson.loads(row.path)),
        conversions=tuple(
            Conversion(c[0], iso(c[1]), c[2], c[3], c[4], c[5], c[6])
            for c in (orjson.loads(row.conversions) if row.conversions is not None else ())
        ),
        exit_previous_page=row.exit_previous_page,
        is_last=bool(row.is_last),
        inactive_after=from_micros(row.inactive_after),
    )
