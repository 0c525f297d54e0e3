"""The MongoDB store, through motor: ``domain.ports.Store`` for replica sets and clusters.

This module is the only one that imports motor or pymongo. Motor is deprecated upstream
in favour of PyMongo's ``AsyncMongoClient``; the switch touches this file only.

Collections (database from the URL path, default ``attributionhub``):

- ``sites``: ``_id`` is the site id; unique indexes on both key hashes.
- ``events``: raw events, unique on ``(site_id, event_id)`` (idempotent ingestion).
- ``sessions``: materialized sessions, path and conversions embedded, unique on
  ``(site_id, visitor_id, session_id)``; indexed by site and start, and by each filter
  field followed by start, in the full /sessions order.
- ``visitors``: one document per visitor of a site, holding the re-cut lock (below) and a
  ``pending`` flag.

Time: every instant is stored twice, as a BSON date under its name (readable, usable in
aggregations and TTL indexes) and as exact integer microseconds since the Unix epoch under
``<name>_us``. BSON dates keep milliseconds only, and the contract needs microseconds
(window bounds, keyset positions, the exact round trip of stored values), so queries,
sorts and decoding use the ``_us`` fields.

Concurrent re-cuts. Standalone servers have no transactions, and replacing a visitor's
sessions takes several writes, so ingestion serializes per visitor with a lock document:
every event of visitor V is inserted, and V's sessions rewritten, only while holding V's
lock. So the holder reads the complete set of V's events, and the last holder leaves the
re-cut of all of them. Locks are taken in sorted visitor order (a partially acquired set
keeps only its sorted prefix), which rules out deadlocks between overlapping batches; each
lock is a lease, so a crashed process blocks its visitors for ``lock_lease`` at most.

"Nothing written on error": the re-cut runs before anything is written, so a failing
re-cut writes nothing. A failure after the events are inserted (network, crash) cannot be
undone without transactions; the visitor stays flagged ``pending`` and the next batch that
names that visitor - a client retrying the same batch included - re-cuts it, even when all
its events turn out to be duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import (
    ASCENDING,
    DESCENDING,
    DeleteMany,
    IndexModel,
    ReplaceOne,
    ReturnDocument,
    WriteConcern,
)
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    DuplicateKeyError,
    InvalidURI,
    PyMongoError,
    ServerSelectionTimeoutError,
)

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

DEFAULT_DATABASE: Final = "attributionhub"
SERVER_SELECTION_TIMEOUT: Final = 5.0  # seconds: start-up fails fast, not after 30 s
DEFAULT_LOCK_LEASE: Final = timedelta(seconds=60)

_DUPLICATE_KEY: Final = 11000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EVENT_TYPES: Final = {t.value: t for t in EventType}
_CURSOR_BATCH: Final = 500
# Keeps each $in list (and so each query document) far below the 16 MB BSON limit.
_KEYS_PER_QUERY: Final = 5_000
_FILTER_FIELDS: Final = ("source", "medium", "campaign", "content", "term", "landing_page")
_LISTING_ORDER: Final = [
    ("start_us", DESCENDING),
    ("visitor_id", ASCENDING),
    ("session_id", ASCENDING),
]
_USERINFO: Final = re.compile(r"(?<=://)[^@/]*@")

Document = dict[str, Any]


class MongoUnavailableError(RuntimeError):
    """The MongoDB server cannot be reached or used; the message says why."""


class VisitorLockTimeoutError(RuntimeError):
    """A visitor's re-cut lock stayed taken for longer than its lease allows."""


class MongoStore:
    """``Store`` on MongoDB. Create with ``await MongoStore.open(url)``."""

    def __init__(
        self,
        client: Any,
        database: Any,
        *,
        owns_client: bool,
        w: int | str,
        lock_lease: timedelta = DEFAULT_LOCK_LEASE,
    ) -> None:
        self._client = client
        self._w = w
        self._db = database
        self._owns_client = owns_client
        self._lock_lease = lock_lease
        self._closed = False

    def _collection(self, name: str) -> Any:
        # Also an injected client, which close() leaves open, is then refused.
        if self._closed:
            raise RuntimeError("the MongoDB store is closed")
        return self._db[name]

    @property
    def _sites(self) -> Any:
        return self._collection("sites")

    @property
    def _events(self) -> Any:
        return self._collection("events")

    @property
    def _sessions(self) -> Any:
        return self._collection("sessions")

    @property
    def _visitors(self) -> Any:
        return self._collection("visitors")

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        write_concern: str = "majority",
        database: str | None = None,
        client: object | None = None,
        server_selection_timeout: float = SERVER_SELECTION_TIMEOUT,
        lock_lease: timedelta = DEFAULT_LOCK_LEASE,
    ) -> MongoStore:
        """Connect, check the server answers, create the indexes.

        ``write_concern`` is a ``w`` value: ``majority`` (default), a number of members,
        or a tag set name. ``client`` replaces the connection made from ``url`` (tests pass
        a mongomock-motor client); the store then leaves closing it to the caller.
        ``server_selection_timeout`` (seconds) bounds how long start-up waits for a
        server; ``lock_lease`` how long a crashed ingest can keep its visitors locked.
        Raises ``MongoUnavailableError`` when the server is unreachable or refuses us.
        """
        where = redact(url)
        name = database or database_from_url(url) or DEFAULT_DATABASE
        owns_client = client is None
        connection: Any = client
        if connection is None:
            try:
                connection = AsyncIOMotorClient(
                    url,
                    serverSelectionTimeoutMS=int(server_selection_timeout * 1000),
                    tz_aware=True,
                )
            except (InvalidURI, ConfigurationError, ValueError) as exc:
                raise MongoUnavailableError(f"invalid MongoDB URL {where}: {exc}") from exc
        w = _w_value(write_concern)
        if w == 0:
            # Unacknowledged writes report no duplicate keys: idempotency would be lost.
            raise ValueError("write_concern: expected an acknowledged write concern, got 0")
        db = connection.get_database(name, write_concern=WriteConcern(w=w))
        store = cls(connection, db, owns_client=owns_client, w=w, lock_lease=lock_lease)
        try:
            await connection.admin.command("ping")
            await store._create_indexes()
        except ServerSelectionTimeoutError as exc:
            await store.close()
            # The driver's message goes on with a whole topology description.
            reason = str(exc).split(", Timeout:")[0]
            raise MongoUnavailableError(
                f"cannot reach MongoDB at {where} within {server_selection_timeout:g} s: {reason}"
            ) from exc
        except PyMongoError as exc:
            await store.close()
            raise MongoUnavailableError(
                f"cannot use MongoDB at {where} (database {name!r}): {exc}"
            ) from exc
        return store

    async def _create_indexes(self) -> None:
        await self._sites.create_indexes(
            [
                IndexModel([("api_key_hash", ASCENDING)], unique=True, name="by_api_key"),
                IndexModel([("tracker_token_hash", ASCENDING)], unique=True, name="by_token"),
            ]
        )
        await self._events.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("event_id", ASCENDING)],
                    unique=True,
                    name="event_identity",
                ),
                IndexModel([("site_id", ASCENDING), ("visitor_id", ASCENDING)], name="by_visitor"),
            ]
        )
        tail = [("start_us", DESCENDING), ("visitor_id", ASCENDING), ("session_id", ASCENDING)]
        await self._sessions.create_indexes(
            [
                # Also serves every "sessions of these visitors" query (its prefix).
                IndexModel(
                    [("site_id", ASCENDING), ("visitor_id", ASCENDING), ("session_id", ASCENDING)],
                    unique=True,
                    name="session_identity",
                ),
                # Each listing index ends in the full /sessions order, so a filtered page
                # is read from the index in order instead of sorted in memory.
                IndexModel([("site_id", ASCENDING), *tail], name="by_start"),
                *(
                    IndexModel(
                        [("site_id", ASCENDING), (field, ASCENDING), *tail], name=f"by_{field}"
                    )
                    for field in _FILTER_FIELDS
                ),
            ]
        )
        await self._visitors.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("visitor_id", ASCENDING)],
                    unique=True,
                    name="visitor_identity",
                )
            ]
        )

    @property
    def database_name(self) -> str:
        return str(self._db.name)

    @property
    def write_concern(self) -> int | str:
        """The ``w`` of every write."""
        return self._w

    async def drop(self) -> None:
        """Drop this store's whole database: for throwaway test databases only."""
        self._collection("sites")  # refuses a closed store
        await self._client.drop_database(self._db.name)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.close()

    # --- sites -------------------------------------------------------------------
    async def add_site(self, site: Site) -> None:
        document = {
            "_id": site.site_id,
            "name": site.name,
            "api_key_hash": site.api_key_hash,
            "tracker_token_hash": site.tracker_token_hash,
            **_instant("created_at", site.created_at),
        }
        try:
            await self._sites.insert_one(document)
        except DuplicateKeyError as exc:
            raise DuplicateSiteError(site.site_id) from exc

    async def get_site(self, site_id: str) -> Site | None:
        return _site(await self._sites.find_one({"_id": site_id}))

    async def site_by_api_key_hash(self, key_hash: str) -> Site | None:
        return _site(await self._sites.find_one({"api_key_hash": key_hash}))

    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None:
        return _site(await self._sites.find_one({"tracker_token_hash": token_hash}))

    async def list_sites(self) -> list[Site]:
        cursor = self._sites.find({}).sort([("created_at_us", 1), ("_id", 1)])
        return [site async for doc in cursor if (site := _site(doc)) is not None]

    async def replace_site_keys(
        self, site_id: str, api_key_hash: str, tracker_token_hash: str
    ) -> Site | None:
        try:
            doc = await self._sites.find_one_and_update(
                {"_id": site_id},
                {"$set": {"api_key_hash": api_key_hash, "tracker_token_hash": tracker_token_hash}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise DuplicateSiteError(site_id) from exc
        return _site(doc)

    # --- ingestion ---------------------------------------------------------------
    async def ingest(self, site_id: str, events: Sequence[Event], recut: Recut) -> StoredBatch:
        if not events:
            return StoredBatch(accepted=0, duplicates=0)
        unique: dict[str, Event] = {}
        for event in events:
            unique.setdefault(event.event_id, event)  # a repeat inside the batch: duplicate
        stored_ids = await self._stored_event_ids(site_id, unique)
        candidates = {i: e for i, e in unique.items() if i not in stored_ids}
        named = {e.visitor_id for e in unique.values()}
        known = await self._visitor_states(site_id, named)
        to_lock = {e.visitor_id for e in candidates.values()} | {
            v for v, pending in known.items() if pending
        }
        if not to_lock:
            return StoredBatch(accepted=0, duplicates=len(events))
        await self._ensure_visitors(site_id, to_lock - known.keys())
        token = uuid.uuid4().hex
        pending = await self._lock(site_id, sorted(to_lock), token)
        succeeded = False
        try:
            accepted = await self._ingest_locked(site_id, candidates, pending, recut)
            succeeded = True
        finally:
            await self._unlock(site_id, to_lock, token, clear_pending=succeeded)
        return StoredBatch(accepted=accepted, duplicates=len(events) - accepted)

    async def _ingest_locked(
        self,
        site_id: str,
        candidates: Mapping[str, Event],
        pending: Mapping[str, bool],
        recut: Recut,
    ) -> int:
        # Checked again now that the visitors are ours: an ingest that held them before
        # may have stored some of these events meanwhile.
        stored_ids = await self._stored_event_ids(site_id, candidates)
        new = [e for i, e in candidates.items() if i not in stored_ids]
        affected = {e.visitor_id for e in new} | {v for v, flag in pending.items() if flag}
        if not affected:
            return 0
        histories = await self._histories(site_id, affected)
        for event in new:
            histories[event.visitor_id].append(event)
        # Re-cut before writing anything: a failing re-cut leaves the store untouched.
        plans = {v: list(recut(histories[v])) for v in affected}
        if not new:
            await self._replace_sessions(site_id, plans)
            return 0
        for chunk in _chunks(sorted(affected)):
            await self._visitors.update_many(
                {"site_id": site_id, "visitor_id": {"$in": chunk}}, {"$set": {"pending": True}}
            )
        inserted = await self._insert_events(new)
        lost = {e.visitor_id for e in new if e.event_id not in inserted}
        if lost:
            # Another visitor's ingest stored the same event_id first (the lock is per
            # visitor, the identity per site): re-cut from what is really stored.
            real = await self._histories(site_id, lost)
            plans.update({v: list(recut(real[v])) for v in lost})
        await self._replace_sessions(site_id, plans)
        return len(inserted)

    async def _stored_event_ids(self, site_id: str, event_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(event_ids)):
            cursor = self._events.find(
                {"site_id": site_id, "event_id": {"$in": chunk}},
                {"_id": 0, "event_id": 1},
                batch_size=_CURSOR_BATCH,
            )
            found.update([doc["event_id"] async for doc in cursor])
        return found

    async def _visitor_states(self, site_id: str, visitor_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each existing visitor document is flagged ``pending``."""
        states: dict[str, bool] = {}
        for chunk in _chunks(sorted(visitor_ids)):
            cursor = self._visitors.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}},
                {"_id": 0, "visitor_id": 1, "pending": 1},
                batch_size=_CURSOR_BATCH,
            )
            async for doc in cursor:
                states[doc["visitor_id"]] = bool(doc.get("pending"))
        return states

    async def _ensure_visitors(self, site_id: str, visitor_ids: Iterable[str]) -> None:
        documents = [
            {
                "site_id": site_id,
                "visitor_id": v,
                "lock": None,
                "lock_expires": None,
                "pending": False,
            }
            for v in sorted(visitor_ids)
        ]
        if documents:
            await _insert_ignoring_duplicates(self._visitors, documents)

    async def _lock(self, site_id: str, visitors: list[str], token: str) -> dict[str, bool]:
        """Take every visitor's lock; returns their ``pending`` flags once all are held."""
        remaining = visitors
        held: dict[str, bool] = {}
        delay = 0.002
        # Past this, the holder's lease has run out and we would have taken the lock.
        deadline = time.monotonic() + 2 * self._lock_lease.total_seconds() + 5
        try:
            while remaining:
                now = datetime.now(UTC)
                free = {"$or": [{"lock": None}, {"lock_expires": {"$lt": now}}]}
                for chunk in _chunks(remaining):
                    await self._visitors.update_many(
                        {"site_id": site_id, "visitor_id": {"$in": chunk}, **free},
                        {"$set": {"lock": token, "lock_expires": now + self._lock_lease}},
                    )
                got = await self._held_by(site_id, remaining, token)
                # Keep the sorted prefix only, so we wait solely on a visitor greater than
                # any we hold: no cycle of waiting batches can form.
                prefix = 0
                while prefix < len(remaining) and remaining[prefix] in got:
                    held[remaining[prefix]] = got[remaining[prefix]]
                    prefix += 1
                if prefix == len(remaining):
                    return held
                beyond = [v for v in remaining[prefix:] if v in got]
                if beyond:
                    await self._unlock(site_id, beyond, token, clear_pending=False)
                remaining = remaining[prefix:]
                if time.monotonic() > deadline:
                    raise VisitorLockTimeoutError(
                        f"visitor {remaining[0]!r} of site {site_id!r} stayed locked"
                    )
                delay = 0.002 if prefix else min(delay * 2, 0.25)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
        except BaseException:
            # The token guards the filter: this releases exactly what this call took.
            with contextlib.suppress(PyMongoError):
                await self._unlock(site_id, visitors, token, clear_pending=False)
            raise
        return held

    async def _held_by(self, site_id: str, visitors: list[str], token: str) -> dict[str, bool]:
        held: dict[str, bool] = {}
        for chunk in _chunks(visitors):
            cursor = self._visitors.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}, "lock": token},
                {"_id": 0, "visitor_id": 1, "pending": 1},
                batch_size=_CURSOR_BATCH,
            )
            async for doc in cursor:
                held[doc["visitor_id"]] = bool(doc.get("pending"))
        return held

    async def _unlock(
        self, site_id: str, visitors: Iterable[str], token: str, *, clear_pending: bool
    ) -> None:
        release: Document = {"lock": None, "lock_expires": None}
        if clear_pending:
            release["pending"] = False
        for chunk in _chunks(sorted(visitors)):
            await self._visitors.update_many(
                {"site_id": site_id, "visitor_id": {"$in": chunk}, "lock": token},
                {"$set": release},
            )

    async def _histories(self, site_id: str, visitors: Iterable[str]) -> dict[str, list[Event]]:
        histories: dict[str, list[Event]] = defaultdict(list)
        for chunk in _chunks(sorted(visitors)):
            cursor = self._events.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}}, batch_size=_CURSOR_BATCH
            )
            async for doc in cursor:
                histories[doc["visitor_id"]].append(_event(doc))
        return histories

    async def _insert_events(self, events: Sequence[Event]) -> set[str]:
        """The ids of the events this call inserted; the others were there already."""
        documents = [_event_document(e) for e in events]
        refused = await _insert_ignoring_duplicates(self._events, documents)
        return {e.event_id for i, e in enumerate(events) if i not in refused}

    async def _replace_sessions(self, site_id: str, plans: Mapping[str, list[Session]]) -> None:
        operations: list[ReplaceOne[Document] | DeleteMany] = []
        for visitor, sessions in plans.items():
            identity = {"site_id": site_id, "visitor_id": visitor}
            # Upserts first, then the deletion of sessions the re-cut no longer has: a
            # reader sees a visitor's old or new sessions, never none of them.
            operations.extend(
                ReplaceOne(
                    {**identity, "session_id": s.session_id}, _session_document(s), upsert=True
                )
                for s in sessions
            )
            keep = [s.session_id for s in sessions]
            operations.append(DeleteMany({**identity, "session_id": {"$nin": keep}}))
        if operations:
            await self._sessions.bulk_write(operations, ordered=True)

    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        histories = await self._histories(site_id, [visitor_id])
        return histories.get(visitor_id, [])

    # --- reads -------------------------------------------------------------------
    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        return int(await self._sessions.count_documents(_selection(site_id, filters, window)))

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
        if limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return []
        selection = _selection(site_id, filters, window)
        if after is not None:
            selection = {"$and": [selection, _after(after)]}
        cursor = (
            self._sessions.find(selection, batch_size=min(limit, _CURSOR_BATCH))
            .sort(_LISTING_ORDER)
            .skip(max(offset, 0))
            .limit(limit)
        )
        return [_session(doc) async for doc in cursor]

    async def stream_outlines(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[SessionOutline]:
        cursor = self._sessions.find(
            _selection(site_id, filters, window),
            projection=_WITHOUT_PATH,
            batch_size=_CURSOR_BATCH,
        )
        try:
            async for doc in cursor:
                yield _outline(doc)
        finally:
            await cursor.close()

    async def window_journeys(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        definition: ConversionDefinition,
    ) -> dict[str, VisitorJourney]:
        visitors = await self._sessions.distinct("visitor_id", _selection(site_id, filters, window))
        fold = JourneyFold(definition)
        for chunk in _chunks(sorted(visitors)):
            cursor = self._sessions.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}},
                projection=_JOURNEY_FIELDS,
                batch_size=_CURSOR_BATCH,
            )
            try:
                async for doc in cursor:
                    key = (_from_us(doc["start_us"]), doc["session_id"])
                    fold.add(doc["visitor_id"], key, _conversions(doc))
            finally:
                await cursor.close()
        return fold.journeys()


# --- connection helpers ----------------------------------------------------------------
def database_from_url(url: str) -> str | None:
    """The database named by a ``mongodb://`` URL's path, if any."""
    path = urlsplit(url).path.lstrip("/")
    return unquote(path) or None


def redact(url: str) -> str:
    """The URL without its user name and password, fit for messages and logs."""
    return _USERINFO.sub("***@", url, count=1)


def _w_value(write_concern: str) -> int | str:
    text = write_concern.strip()
    return int(text) if text.isdigit() else text


async def _insert_ignoring_duplicates(collection: Any, documents: list[Document]) -> set[int]:
    """Insert what is not there yet; the positions refused as duplicate keys."""
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if exc.details.get("writeConcernErrors") or any(
            e.get("code") != _DUPLICATE_KEY for e in errors
        ):
            raise
        return {int(e["index"]) for e in errors}
    return set()


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _KEYS_PER_QUERY):
        yield list(items[start : start + _KEYS_PER_QUERY])


# --- queries ----------------------------------------------------------------------------
def _selection(site_id: str, filters: SessionFilters, window: TimeWindow) -> Document:
    selection: Document = {"site_id": site_id}
    for field in _FILTER_FIELDS:
        value = getattr(filters, field)
        if value is not None:
            selection[field] = value
    bounds: Document = {}
    if window.start is not None:
        bounds["$gte"] = _to_us(window.start)
    if window.end is not None:
        bounds["$lte"] = _to_us(window.end)
    if bounds:
        selection["start_us"] = bounds
    return selection


def _after(key: SessionKey) -> Document:
    """Strictly after ``key`` in the order start descending, visitor, session ascending."""
    start = _to_us(key.start)
    return {
        "$or": [
            {"start_us": {"$lt": start}},
            {"start_us": start, "visitor_id": {"$gt": key.visitor_id}},
            {
                "start_us": start,
                "visitor_id": key.visitor_id,
                "session_id": {"$gt": key.session_id},
            },
        ]
    }


# --- encoding ---------------------------------------------------------------------------
def _to_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _instant(name: str, instant: datetime) -> Document:
    return {name: instant.astimezone(UTC), f"{name}_us": _to_us(instant)}


def _site(doc: Mapping[str, Any] | None) -> Site | None:
    if doc is None:
        return None
    return Site(
        site_id=doc["_id"],
        name=doc["name"],
        api_key_hash=doc["api_key_hash"],
        tracker_token_hash=doc["tracker_token_hash"],
        created_at=_from_us(doc["created_at_us"]),
    )


def _event_document(event: Event) -> Document:
    return {
        "site_id": event.site_id,
        "event_id": event.event_id,
        "type": event.type.value,
        "visitor_id": event.visitor_id,
        **_instant("timestamp", event.timestamp),
        "url": event.url,
        "page": event.page,
        "referrer": event.referrer,
        "user_agent": event.user_agent,
        "email": event.email,
        "meta_type": event.meta_type,
        "meta_id": event.meta_id,
    }


def _event(doc: Mapping[str, Any]) -> Event:
    return Event(
        site_id=doc["site_id"],
        event_id=doc["event_id"],
        type=_EVENT_TYPES[doc["type"]],
        visitor_id=doc["visitor_id"],
        timestamp=_from_us(doc["timestamp_us"]),
        url=doc["url"],
        page=doc["page"],
        referrer=doc.get("referrer"),
        user_agent=doc.get("user_agent"),
        email=doc.get("email"),
        meta_type=doc.get("meta_type"),
        meta_id=doc.get("meta_id"),
    )


def _session_document(session: Session) -> Document:
    a = session.attribution
    return {
        "site_id": session.site_id,
        "visitor_id": session.visitor_id,
        "session_id": session.session_id,
        **_instant("start", session.start),
        **_instant("last_activity", session.last_activity),
        **_instant("inactive_after", session.inactive_after),
        "is_last": session.is_last,
        "source": a.source,
        "medium": a.medium,
        "campaign": a.campaign,
        "content": a.content,
        "term": a.term,
        # Denormalized from the path so that filters and aggregations need no $arrayElemAt.
        "landing_page": session.landing_page,
        "exit_page": session.exit_page,
        "exit_previous_page": session.exit_previous_page,
        "path": [{"url": p.url, **_instant("at", p.timestamp)} for p in session.path],
        "conversions": [
            {
                "event_id": c.event_id,
                **_instant("at", c.timestamp),
                "page": c.page,
                "previous_page": c.previous_page,
                "email": c.email,
                "meta_type": c.meta_type,
                "meta_id": c.meta_id,
            }
            for c in session.conversions
        ],
    }


# The page report reads outlines: the path, most of a session document, stays on the server.
_WITHOUT_PATH: Final = {"path": False}
# What a visitor journey reads of a session.
_JOURNEY_FIELDS: Final = {
    "_id": False,
    "visitor_id": True,
    "session_id": True,
    "start_us": True,
    "conversions": True,
}


def _attribution(doc: Mapping[str, Any]) -> Attribution:
    return Attribution(
        source=doc["source"],
        medium=doc["medium"],
        campaign=doc.get("campaign"),
        content=doc.get("content"),
        term=doc.get("term"),
    )


def _conversions(doc: Mapping[str, Any]) -> tuple[Conversion, ...]:
    return tuple(
        Conversion(
            event_id=c["event_id"],
            timestamp=_from_us(c["at_us"]),
            page=c["page"],
            previous_page=c["previous_page"],
            email=c.get("email"),
            meta_type=c["meta_type"],
            meta_id=c.get("meta_id"),
        )
        for c in doc["conversions"]
    )


def _session(doc: Mapping[str, Any]) -> Session:
    return Session(
        site_id=doc["site_id"],
        visitor_id=doc["visitor_id"],
        session_id=doc["session_id"],
        start=_from_us(doc["start_us"]),
        last_activity=_from_us(doc["last_activity_us"]),
        attribution=_attribution(doc),
        path=tuple(PageVisit(url=p["url"], timestamp=_from_us(p["at_us"])) for p in doc["path"]),
        conversions=_conversions(doc),
        exit_previous_page=doc["exit_previous_page"],
        is_last=doc["is_last"],
        inactive_after=_from_us(doc["inactive_after_us"]),
    )


def _outline(doc: Mapping[str, Any]) -> SessionOutline:
    return SessionOutline(
        site_id=doc["site_id"],
        visitor_id=doc["visitor_id"],
        session_id=doc["session_id"],
        start=_from_us(doc["start_us"]),
        last_activity=_from_us(doc["last_activity_us"]),
        attribution=_attribution(doc),
        landing_page=doc["landing_page"],
        exit_page=doc["exit_page"],
        conversions=_conversions(doc),
        exit_previous_page=doc["exit_previous_page"],
        is_last=doc["is_last"],
        inactive_after=_from_us(doc["inactive_after_us"]),
    )
