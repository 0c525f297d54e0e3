"""The read statements of the embedded store, over integer keys.

Filter values are looked up in the dictionaries first: a value the store has never seen
matches nothing, and the statement is not run at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

from adapters.read_model import filter_values
from adapters.sqlite import codec
from adapters.sqlite.codec import Dictionaries
from domain.model import from_micros, to_micros
from domain.ports import SessionKey
from domain.queries import SessionFilters, TimeWindow

_COLUMNS: Final = {
    "source": "source_key",
    "medium": "medium_key",
    "campaign": "campaign_key",
    "content": "content_key",
    "term": "term_key",
    "landing_page": "landing_key",
}


@dataclass(frozen=True, slots=True)
class Selection:
    """A WHERE clause and its parameters over the sessions table."""

    where: str
    params: tuple[int | str, ...]


def selection(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    filters: SessionFilters,
    window: TimeWindow,
    after: SessionKey | None = None,
) -> Selection | None:
    """The sessions of a site matching the filters and window (and after a key); None
    when a site or filter value is unknown to the store, so that nothing can match."""
    site = keys.sites.lookup(conn, [site_id]).get(site_id)
    if site is None:
        return None
    clauses = ["site_key = ?"]
    params: list[int | str] = [site]
    for field, value in filter_values(filters):
        dictionary = keys.pages if field == "landing_page" else keys.texts
        key = dictionary.lookup(conn, [value]).get(value)
        if key is None:
            return None
        clauses.append(f"{_COLUMNS[field]} = ?")
        params.append(key)
    if window.start is not None:
        clauses.append("start >= ?")
        params.append(to_micros(window.start))
    if window.end is not None:
        clauses.append("start <= ?")
        params.append(to_micros(window.end))
    if after is not None:
        start = to_micros(after.start)
        # ``start <= ?`` alone bounds the index range; the rest breaks ties exactly.
        clauses.append("start <= ? AND (start < ? OR (visitor_id, session_id) > (?, ?))")
        params.extend((start, start, after.visitor_id, after.session_id))
    return Selection(" AND ".join(clauses), tuple(params))


LISTING_ORDER: Final = "ORDER BY start DESC, visitor_id, session_id"


def count(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    filters: SessionFilters,
    window: TimeWindow,
) -> int:
    """Matching sessions: the whole UTC days of the window from the per-day counts, the
    partial days at its edges by counting sessions; a combination of filters, which the
    counts do not keep, by counting sessions."""
    chosen = selection(conn, keys, site_id, filters, window)
    if chosen is None:
        return 0
    named = filter_values(filters)
    if len(named) > 1:
        return _count_rows(conn, chosen)
    field, value_key = 0, 0
    if named:
        column = _COLUMNS[named[0][0]]
        field = codec.COUNTED_FIELDS.index(column) + 1
        value_key = int(chosen.params[1])  # the filter's key follows the site's
    start = None if window.start is None else to_micros(window.start)
    end = None if window.end is None else to_micros(window.end)
    # Whole days: those lying entirely inside the window.
    first_day = _MIN_DAY if start is None else -(-start // codec.DAY_MICROS)
    last_day = _MAX_DAY if end is None else (end + 1) // codec.DAY_MICROS - 1
    if first_day > last_day:
        return _count_rows(conn, chosen)
    total = int(
        conn.execute(
            "SELECT coalesce(sum(sessions), 0) FROM session_counts "
            "WHERE site_key = ? AND field = ? AND value_key = ? AND day BETWEEN ? AND ?",
            (chosen.params[0], field, value_key, first_day, last_day),
        ).fetchone()[0]
    )
    if start is not None and start < first_day * codec.DAY_MICROS:
        edge = TimeWindow(window.start, from_micros(first_day * codec.DAY_MICROS - 1))
        total += _count_edge(conn, keys, site_id, filters, edge)
    if end is not None and end >= (last_day + 1) * codec.DAY_MICROS:
        edge = TimeWindow(from_micros((last_day + 1) * codec.DAY_MICROS), window.end)
        total += _count_edge(conn, keys, site_id, filters, edge)
    return total


_MIN_DAY: Final = -(2**40)
_MAX_DAY: Final = 2**40


def _count_edge(
    conn: sqlite3.Connection,
    keys: Dictionaries,
    site_id: str,
    filters: SessionFilters,
    window: TimeWindow,
) -> int:
    chosen = selection(conn, keys, site_id, filters, window)
    return 0 if chosen is None else _count_rows(conn, chosen)


def _count_rows(conn: sqlite3.Connection, chosen: Selection) -> int:
    sql = f"SELECT count(*) FROM sessions WHERE {chosen.where}"
    return int(conn.execute(sql, chosen.params).fetchone()[0])
