"""The read statements of the embedded store, over integer keys.

Filter values are looked up in the dictionaries first: a value the store has never seen
matches nothing, and the statement is not run at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

from adapters.read_model import filter_values
from adapters.sqlite.codec import Dictionaries
from domain.model import to_micros
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
    params: tuple[object, ...]


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
    params: list[object] = [site]
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
