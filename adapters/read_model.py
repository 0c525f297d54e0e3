"""What every store's read model shares, so that the SQLite and MongoDB adapters say it
once: the session filter fields, the /sessions order, and how lists of keys are cut into
bounded queries. Instants are integer microseconds (``domain.model.to_micros``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, TypeVar

from domain.model import Session, to_micros
from domain.ports import SessionKey, StoreSnapshot
from domain.queries import SessionFilters, TimeWindow

T = TypeVar("T")

# The session fields a /sessions or /pages filter can name, in the order queries list them.
FILTER_FIELDS: Final = ("source", "medium", "campaign", "content", "term", "landing_page")

# Keys per query when a store looks up many visitors, pages or events at once: large
# enough to amortize a round trip, small enough for any driver's parameter limits.
KEYS_PER_QUERY: Final = 5_000


def filter_values(filters: SessionFilters) -> list[tuple[str, str]]:
    """The ``(field, value)`` pairs a filter sets, in ``FILTER_FIELDS`` order."""
    pairs = []
    for field in FILTER_FIELDS:
        value = getattr(filters, field)
        if value is not None:
            pairs.append((field, value))
    return pairs


def listing_key(start_us: int, visitor_id: str, session_id: str) -> tuple[int, str, str]:
    """The /sessions order as one sortable key: start descending, then visitor id and
    session id ascending."""
    return (-start_us, visitor_id, session_id)


def after_key(after: SessionKey) -> tuple[int, str, str]:
    return listing_key(to_micros(after.start), after.visitor_id, after.session_id)


def chunks(items: Sequence[T], size: int = KEYS_PER_QUERY) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class OwnSnapshotReads:
    """``Store.count_sessions`` and ``Store.list_sessions``, each one read of a snapshot
    of its own, for every store that has ``snapshot()``."""

    def snapshot(self) -> AbstractAsyncContextManager[StoreSnapshot]:
        raise NotImplementedError

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        async with self.snapshot() as snapshot:
            return await snapshot.count_sessions(site_id, filters, window)

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
        async with self.snapshot() as snapshot:
            return await snapshot.list_sessions(
                site_id, filters, window, limit=limit, offset=offset, after=after
            )
