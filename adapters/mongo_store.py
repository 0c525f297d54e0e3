"""The MongoDB store, through motor: ``domain.ports.Store`` for replica sets and clusters.

This module is the only one that imports motor or pymongo. Motor is deprecated upstream
in favour of PyMongo's ``AsyncMongoClient``; the switch touches this file only.

Collections (database from the URL path, default ``attributionhub``):

- ``sites``: ``_id`` is the site id; unique indexes on both key hashes.
- ``event_ids``: the identity of each stored event in its site, ``{site_id, event_id,
  visitor_id}``, unique on ``(site_id, event_id)`` (idempotent ingestion). Apart from
  ``events`` so that those can be sharded by visitor: a unique index must start with the
  shard key.
- ``events``: raw events, unique on ``(site_id, visitor_id, event_id)`` and indexed by
  ``(site_id, visitor_id, timestamp_us)`` for re-cuts from a resume point.
- ``sessions``: materialized sessions, path and first conversions embedded (a long path
  keeps its first and last 500 visits, or 3 MiB at each end if less, ``path_truncated``
  counting the rest, so no document nears 16 MB; docs/read-model.md), unique on
  ``(site_id, visitor_id, session_id)``; indexed by site and start, and by each filter
  field followed by start, in the full /sessions order. Beside the session itself each
  document keeps what the page report reads (``domain.page_report.ReportSession``) as
  top-level fields, so the report projects the path away: ``ordinal`` (the session's
  position in its visitor's whole history), landing, exit and exit-previous pages,
  ``is_last``, ``inactive_after_us``, and ``report_conversions`` (``[page,
  previous_page, meta_type, meta_id]`` per conversion) on converting sessions only, which
  a partial index on ``(site_id, visitor_id, ordinal)`` serves for the touch scopes.
  A session document embeds at most 200 conversions within a byte budget beside its
  path; ``conversion_parts`` then counts the parts holding the rest, in order.
- ``session_conversions``: those parts, each at most 200 conversions in both forms
  (``conversions`` and ``report_conversions``) within 8 MiB, unique on ``(site_id,
  visitor_id, session_id, fence, part)``: keyed by their writer's fence, so a writer
  never overwrites another's parts, and readers take only the parts of the session
  document's own writer. Written before their session, and those of earlier writers
  deleted after it (``_replace_sessions``).
- ``visitors``: one document per visitor of a site, holding the re-cut lock (below) and a
  ``pending`` flag (a partial index finds the few flagged ones for ``repair_pending``).
- ``meta``: the ``layout`` document, the version of this layout the data was upgraded to.
- ``dropped_bots``: events dropped as bots', one document per site and reason (unique),
  with ``events`` and ``last_seen``; writers add to them with ``$inc`` and ``$max``.

Page keys are the URLs themselves and visitor keys the visitor ids.

Time: every instant is stored twice, as a BSON date under its name (readable, usable in
aggregations and TTL indexes) and as exact integer microseconds since the Unix epoch under
``<name>_us``. BSON dates keep milliseconds only, and the contract needs microseconds
(window bounds, keyset positions, the exact round trip of stored values), so queries,
sorts and decoding use the ``_us`` fields.

Concurrent re-cuts. Standalone servers have no transactions, and replacing a visitor's
sessions takes several writes, so ingestion serializes per visitor with a lock document:
every event of visitor V is inserted, and V's sessions rewritten, only while holding V's
lock. So the holder reads the complete set of V's events from its resume point on
(``domain.sessionization.resume_point``: the sessions before it cannot change), and the
last holder leaves the re-cut of all of them. Locks are taken in sorted visitor order (a
partially acquired set keeps only its sorted prefix), which rules out deadlocks between
overlapping batches; each lock is a lease, so a crashed process blocks its visitors for
``lock_lease`` at most. A working holder renews its lease every ``lock_renewal``; one
that lost it anyway (a paused process) cannot overwrite newer work: every taking of a
lock raises the visitor's ``fence``, session documents carry the fence of their writer,
and session writes are checked against it before and after (``_replace_sessions``,
``LockLostError``). A failed operation releases its locks without masking its error: when
the release fails too (the connection is still down), it is logged and the lease lets the
next ingest in.

Outages. Every read carries ``maxTimeMS`` and every write concern ``wtimeout``; no server,
a dropped connection and either timeout raise the port's ``StoreUnavailableError``
(``MongoUnavailableError``), which the HTTP edge answers with a 503 and ``Retry-After``.

"Nothing written on error": the re-cut runs before anything is written, so a failing
re-cut writes nothing. A failure after the events are inserted (network, crash) cannot be
undone without transactions; the visitor stays flagged ``pending`` and the next batch that
names that visitor - a client retrying the same batch included - re-cuts it whole, even
when all its events turn out to be duplicates; ``repair_pending`` re-cuts the others. An
event whose identity was taken before its insert failed is stored by the retry.

Snapshots. On a replica set or sharded cluster of MongoDB 5.0 or later (detected once, at
``open``) every read of a ``snapshot()`` goes through one client session with snapshot
read concern, so all reads of one request see one committed state. Such a snapshot lasts
as long as the server keeps its history (``minSnapshotHistoryWindowInSeconds``, 5 minutes
by default): a request reading for longer fails with ``SnapshotTooOld``. On a standalone
server (and on mongomock) there are no snapshot reads: each read sees the latest state, so
the reads of one request are not isolated from re-cuts running meanwhile - a /sessions
total may disagree with its page, and a page report may mix a visitor's sessions from
before and after a re-cut. The report never fails for it: touch scopes compare the
ordinals stored on each session, whatever other reads saw.

Upgrades. Databases written before sessions carried ``ordinal`` and
``report_conversions`` get them at the first ``open`` of this version (the ``layout``
document records that it is done, so later opens do not scan the sessions). Processes of
the previous version must be stopped first: sessions they write afterwards lack those
fields.

Sharding. On a sharded cluster (``open`` asks ``hello``: a mongos answers ``isdbgrid``),
``open`` shards the collections named in ``SHARD_KEYS`` after creating the indexes, so
shardCollection finds each key's index already there, and after the upgrade, which drops
the events' unique index of the previous layout (MongoDB requires every unique index of a
sharded collection to start with its shard key); the others stay unsharded on the
database's primary shard. docs/deployment.md, "Scaling out on MongoDB", says why
these keys and which reads are then single-shard or scatter-gather.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import re
import time
import uuid
from collections import defaultdict
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Final, NamedTuple, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import (
    ASCENDING,
    DESCENDING,
    DeleteMany,
    IndexModel,
    ReadPreference,
    ReplaceOne,
    ReturnDocument,
    UpdateOne,
    WriteConcern,
)
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConfigurationError,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)
from pymongo.read_preferences import (
    Nearest,
    Primary,
    PrimaryPreferred,
    Secondary,
    SecondaryPreferred,
)

from adapters.read_model import (
    FILTER_FIELDS,
    KEYS_PER_QUERY,
    OwnSnapshotReads,
    chunks,
    filter_values,
)
from domain.aggregates import (
    AGGREGATE_FIELDS,
    AggregateConversion,
    AggregateRow,
    in_row_order,
)
from domain.model import (
    Attribution,
    Conversion,
    Event,
    EventType,
    PageVisit,
    Session,
    Site,
    from_micros,
    to_micros,
)
from domain.multi_touch import JourneyConversion, JourneySession, TextKey
from domain.page_report import PageKey, ReportConversion, ReportSession, VisitorConversions
from domain.ports import (
    DroppedBots,
    DuplicateSiteError,
    Erased,
    Recut,
    SessionKey,
    StoredBatch,
    StoreUnavailableError,
)
from domain.privacy import same_email
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import resume_point

DEFAULT_DATABASE: Final = "attributionhub"
SERVER_SELECTION_TIMEOUT: Final = 5.0  # seconds: start-up fails fast, not after 30 s
PING_TIMEOUT: Final = 2.0  # seconds: a health check answers well before a proxy gives up
# maxTimeMS of every read and wtimeout of every write (docs/deployment.md, "MongoDB").
DEFAULT_QUERY_TIMEOUT_MS: Final = 15_000
DEFAULT_WRITE_TIMEOUT_MS: Final = 10_000
# Short, so that a lock left by a failed unlock or a crash blocks its visitors briefly;
# longer than a write may take (the write timeout), so a live holder keeps its lock.
DEFAULT_LOCK_LEASE: Final = timedelta(seconds=15)
# Where the reports (the reads of ``snapshot()``) may go, by the names MongoDB gives the
# modes; every other read goes to the primary (``MongoStore._collection``).
REPORT_READ_PREFERENCES: Final[
    Mapping[str, Primary | PrimaryPreferred | Secondary | SecondaryPreferred | Nearest]
] = {
    mode.mongos_mode: mode
    for mode in (
        ReadPreference.PRIMARY,
        ReadPreference.PRIMARY_PREFERRED,
        ReadPreference.SECONDARY,
        ReadPreference.SECONDARY_PREFERRED,
        ReadPreference.NEAREST,
    )
}

_DUPLICATE_KEY: Final = 11000
# A failed lock release is retried after this many seconds, doubling up to the maximum.
_RELEASE_RETRY_FIRST: Final = 0.1
_RELEASE_RETRY_MAX: Final = 2.0
_EVENT_TYPES: Final = {t.value: t for t in EventType}
_CURSOR_BATCH: Final = 500
# Visits kept at each end of a long session's stored path: 1,000 visits of URLs of the
# longest accepted length (domain.events.MAX_URL_LENGTH) take about 4.2 MB of the 16 MB
# in ASCII, but 16.4 MB when every character takes 4 bytes in UTF-8. So each end also
# stops at 3 MiB: a stored path never passes about 6 MiB.
_PATH_END: Final = 500
_PATH_END_BYTES: Final = 3 * 1024 * 1024
# A session document embeds its first conversions, the rest go to ``session_conversions``
# in parts (docs/read-model.md). One conversion takes up to ~27 KB in the two forms a
# document holds (domain.events limits: an event id of 200 characters, two URLs of 4,096,
# email, meta type and meta id of 2,048, URLs and meta fields twice) and ~107 KB when
# each character takes 4 bytes in UTF-8. So documents hold at most 200 conversions and a
# byte budget measured on each (``_conversion_size``): a session's path and embedded
# conversions 8 MiB (an ASCII path of 1,000 visits leaves ~4 MB, ~150 conversions of the
# largest size), a part 8 MiB: conversions never bring a document near MongoDB's 16 MiB.
_CONVERSIONS_PER_DOCUMENT: Final = 200
_SESSION_BYTES: Final = 8 * 1024 * 1024
_PART_BYTES: Final = 8 * 1024 * 1024
# BSON framing, at least, of one stored visit and of one conversion in both its forms.
_VISIT_OVERHEAD: Final = 64
_CONVERSION_OVERHEAD: Final = 256
# Report rows are small (the path stays on the server): one batch, one chunk, ~1-2 MB.
_REPORT_CHUNK: Final = 5_000
# Snapshot reads outside transactions came with MongoDB 5.0, wire version 13.
_SNAPSHOT_WIRE_VERSION: Final = 13
_LAYOUT: Final = "layout"
# 2: sessions carry ``ordinal`` and ``report_conversions``. 3: events' identities are
# in ``event_ids``; events are indexed by visitor only.
_LAYOUT_VERSION: Final = 3
# Where a converting session keeps what the report reads of its conversions.
_CONVERSIONS: Final = "report_conversions"
# How many parts of a session's conversions ``session_conversions`` holds; absent: none.
_PARTS: Final = "conversion_parts"
_LISTING_ORDER: Final = [
    ("start_us", DESCENDING),
    ("visitor_id", ASCENDING),
    ("session_id", ASCENDING),
]
_USERINFO: Final = re.compile(r"(?<=://)[^@/]*@")
# The shard key of each collection sharded on a sharded cluster; the others (sites, meta,
# dropped_bots: tiny) stay unsharded. By visitor, so that everything of one visitor is on
# one shard: ingestion, its locks, re-cuts, visitor access and erasure by id target one
# shard. Event identity is per site, so event_ids shards on it.
_BY_VISITOR: Final = {"site_id": 1, "visitor_id": 1}
SHARD_KEYS: Final[Mapping[str, Mapping[str, int]]] = {
    "events": _BY_VISITOR,
    "sessions": _BY_VISITOR,
    "visitors": _BY_VISITOR,
    "session_conversions": _BY_VISITOR,
    "event_ids": {"site_id": 1, "event_id": 1},
}
# Server error codes the sharding at open tells apart.
_UNAUTHORIZED: Final = 13
_ALREADY_SHARDED: Final = 23  # AlreadyInitialized: sharded already, with other options

Document = dict[str, Any]
T = TypeVar("T")
P = ParamSpec("P")

logger = logging.getLogger("attributionhub.mongo")

# Errors of an outage that passes (no server, a dropped connection, a timeout):
# NetworkTimeout and ServerSelectionTimeoutError are AutoReconnects.
_OUTAGES: Final = (AutoReconnect, ExecutionTimeout, WTimeoutError)
# The code of a write concern error that timed out (wtimeout) inside a bulk write.
_WRITE_CONCERN_FAILED: Final = 64


class MongoUnavailableError(StoreUnavailableError):
    """The MongoDB server cannot be reached or used; the message says why."""


@contextlib.contextmanager
def _outage_as_unavailable() -> Iterator[None]:
    """The port's ``StoreUnavailableError`` for an outage, so the edge answers 503."""
    try:
        yield
    except _OUTAGES as exc:
        # The driver's message goes on with a whole topology description.
        reason = str(exc).split(", Timeout:")[0]
        raise MongoUnavailableError(f"MongoDB unavailable: {reason}") from exc
    except BulkWriteError as exc:
        if any(
            e.get("code") == _WRITE_CONCERN_FAILED or (e.get("errInfo") or {}).get("wtimeout")
            for e in exc.details.get("writeConcernErrors", [])
        ):
            raise MongoUnavailableError("MongoDB unavailable: a write timed out") from exc
        raise


def _unavailable_on_outage(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        with _outage_as_unavailable():
            return await method(*args, **kwargs)

    return translated


class LockLostError(StoreUnavailableError):
    """A visitor's lease ran out and another ingest took its lock over before this one
    wrote: nothing was written over the newer work, and a retry of the batch re-cuts."""


class VisitorLockTimeoutError(StoreUnavailableError):
    """A visitor's re-cut lock stayed taken for longer than its lease allows: the store
    is busy with that visitor, so the edge answers 503 and the client retries."""


class MongoStore(OwnSnapshotReads):
    """``Store`` on MongoDB. Create with ``await MongoStore.open(url)``."""

    def __init__(
        self,
        client: Any,
        database: Any,
        *,
        owns_client: bool,
        w: int | str,
        lock_lease: timedelta = DEFAULT_LOCK_LEASE,
        lock_renewal: timedelta | None = None,
        snapshot_reads: bool = False,
        query_timeout_ms: int = DEFAULT_QUERY_TIMEOUT_MS,
        report_read_preference: str = "primary",
    ) -> None:
        self._client = client
        self._w = w
        self._max_time_ms = query_timeout_ms
        self._db = database
        self._owns_client = owns_client
        self._lock_lease = lock_lease
        # A third of the lease: two renewals may fail before a live holder loses it.
        self._lock_renewal = lock_renewal if lock_renewal is not None else lock_lease / 3
        self._snapshot_reads = snapshot_reads
        self._report_read_preference = REPORT_READ_PREFERENCES[report_read_preference]
        self._closed = False
        # Background retries of lock releases that failed (``_unlock_after_failure``).
        self._releases: set[asyncio.Task[None]] = set()

    def _collection(self, name: str, read_preference: Any = ReadPreference.PRIMARY) -> Any:
        # Also an injected client, which close() leaves open, is then refused.
        if self._closed:
            raise RuntimeError("the MongoDB store is closed")
        # The primary whatever the URL's readPreference says, unless a report asks:
        # ingestion, locks and fences must read what was just written.
        return self._db.get_collection(name, read_preference=read_preference)

    @property
    def _sites(self) -> Any:
        return self._collection("sites")

    @property
    def _events(self) -> Any:
        return self._collection("events")

    @property
    def _event_ids(self) -> Any:
        return self._collection("event_ids")

    @property
    def _sessions(self) -> Any:
        return self._collection("sessions")

    @property
    def _session_conversions(self) -> Any:
        return self._collection("session_conversions")

    @property
    def _visitors(self) -> Any:
        return self._collection("visitors")

    @property
    def _meta(self) -> Any:
        return self._collection("meta")

    @property
    def _dropped_bots(self) -> Any:
        return self._collection("dropped_bots")

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        write_concern: str = "majority",
        database: str | None = None,
        client: object | None = None,
        server_selection_timeout: float | None = None,
        lock_lease: timedelta = DEFAULT_LOCK_LEASE,
        lock_renewal: timedelta | None = None,
        query_timeout_ms: int = DEFAULT_QUERY_TIMEOUT_MS,
        write_timeout_ms: int = DEFAULT_WRITE_TIMEOUT_MS,
        report_read_preference: str = "primary",
    ) -> MongoStore:
        """Connect, check the server answers, create the indexes, upgrade older data.

        ``write_concern`` is a ``w`` value: ``majority`` (default), a number of members,
        or a tag set name. ``client`` replaces the connection made from ``url`` (tests pass
        a mongomock-motor client); the store then leaves closing it to the caller.
        ``server_selection_timeout`` (seconds) bounds how long start-up, and each request
        during an outage, waits for a server (default: 5 s, or the query timeout if
        shorter); ``lock_lease`` how long a crashed ingest can keep its visitors locked,
        ``lock_renewal`` how often a working one renews its lease (default: a third of it).
        ``query_timeout_ms`` is the ``maxTimeMS`` of every read, ``write_timeout_ms`` the
        ``wtimeout`` of every write. ``report_read_preference`` (a name of
        ``REPORT_READ_PREFERENCES``) is where the reads of ``snapshot()`` go; every other
        read goes to the primary. Raises ``MongoUnavailableError`` when the server is
        unreachable or refuses us.
        """
        if server_selection_timeout is None:
            server_selection_timeout = min(SERVER_SELECTION_TIMEOUT, query_timeout_ms / 1000)
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
        if report_read_preference not in REPORT_READ_PREFERENCES:
            raise ValueError(
                f"report_read_preference: expected one of {', '.join(REPORT_READ_PREFERENCES)}, "
                f"got {report_read_preference!r}"
            )
        db = connection.get_database(
            name, write_concern=WriteConcern(w=w, wtimeout=write_timeout_ms)
        )
        store = cls(
            connection,
            db,
            owns_client=owns_client,
            w=w,
            lock_lease=lock_lease,
            lock_renewal=lock_renewal,
            query_timeout_ms=query_timeout_ms,
            report_read_preference=report_read_preference,
        )
        try:
            await connection.admin.command("ping")
            await store._create_indexes()
            await store._upgrade()
            await store._shard_collections()
            store._snapshot_reads = await _serves_snapshot_reads(connection)
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
        # An event's identity in its site lives in event_ids, so that events can be
        # sharded by visitor: a unique index must start with the shard key.
        await self._event_ids.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("event_id", ASCENDING)],
                    unique=True,
                    name="event_identity",
                )
            ]
        )
        await self._events.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("visitor_id", ASCENDING), ("event_id", ASCENDING)],
                    unique=True,
                    name="visitor_event",
                ),
                # The retention purge finds the oldest events.
                IndexModel([("timestamp_us", ASCENDING)], name="by_time"),
                # An erasure by email reads a site's conversions: few of all events, so
                # this index is small, and the read stays within maxTimeMS at any size.
                IndexModel(
                    [("site_id", ASCENDING)],
                    name="conversions",
                    partialFilterExpression={"type": EventType.CONVERSION.value},
                ),
                # A re-cut reads a visitor's events from its resume point on.
                IndexModel(
                    [
                        ("site_id", ASCENDING),
                        ("visitor_id", ASCENDING),
                        ("timestamp_us", ASCENDING),
                    ],
                    name="visitor_timeline",
                ),
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
                    for field in FILTER_FIELDS
                ),
                # The touch scopes read the converting sessions of many visitors: few
                # sessions convert, so this index is a small fraction of session_identity.
                IndexModel(
                    [("site_id", ASCENDING), ("visitor_id", ASCENDING), ("ordinal", ASCENDING)],
                    name="converting",
                    partialFilterExpression={_CONVERSIONS: {"$exists": True}},
                ),
            ]
        )
        await self._session_conversions.create_indexes(
            [
                # Starts with the shard key, like every index of the per-visitor data.
                IndexModel(
                    [
                        ("site_id", ASCENDING),
                        ("visitor_id", ASCENDING),
                        ("session_id", ASCENDING),
                        ("fence", ASCENDING),
                        ("part", ASCENDING),
                    ],
                    unique=True,
                    name="conversions_part",
                )
            ]
        )
        await self._visitors.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("visitor_id", ASCENDING)],
                    unique=True,
                    name="visitor_identity",
                ),
                # The repair finds the few visitors left pending among all of them.
                IndexModel(
                    [("pending", ASCENDING), ("site_id", ASCENDING), ("visitor_id", ASCENDING)],
                    name="pending",
                    partialFilterExpression={"pending": True},
                ),
            ]
        )

        await self._dropped_bots.create_indexes(
            [
                IndexModel(
                    [("site_id", ASCENDING), ("reason", ASCENDING)],
                    unique=True,
                    name="bot_reason",
                )
            ]
        )

    async def _shard_collections(self) -> None:
        """On a sharded cluster, shard the collections on ``SHARD_KEYS``; elsewhere nothing.

        Idempotent: the server accepts shardCollection again on the same key. A
        collection sharded on another key stops the start (its queries would scatter, and
        its unique indexes may not hold). A user without the privilege gets a warning with
        the commands to run by hand: the store works unsharded, on the primary shard.
        """
        if not await _is_mongos(self._client):
            return
        name = self._db.name
        commands: list[tuple[str, str, Document]] = [
            ("enableSharding", name, {}),
            *(
                ("shardCollection", f"{name}.{collection}", {"key": dict(key)})
                for collection, key in SHARD_KEYS.items()
            ),
        ]
        for done, (command, target, options) in enumerate(commands):
            try:
                await self._client.admin.command(command, target, **options)
            except OperationFailure as exc:
                if exc.code == _UNAUTHORIZED:
                    by_hand = "; ".join(_shell_command(*c) for c in commands[done:])
                    logger.warning(
                        "not allowed to shard the collections of database %r (%s): they "
                        "stay unsharded on the primary shard; a user with the "
                        "enableSharding privilege (clusterManager role) can run in "
                        "mongosh: %s",
                        name,
                        (exc.details or {}).get("errmsg") or exc,
                        by_hand,
                        extra={"event": "sharding_refused"},
                    )
                    return
                if exc.code != _ALREADY_SHARDED:
                    raise
                if command == "enableSharding":
                    continue  # enabled before: nothing to do
                # Sharded already with other options; on the same key that is fine.
                present = await self._shard_key_of(target)
                if present is not None and list(present.items()) == list(options["key"].items()):
                    continue
                # An OperationFailure, so open() closes the store and reports it.
                raise OperationFailure(
                    f"collection {target} is already sharded on "
                    f"{_key_text(present) if present else 'another key'}, but AttributionHub "
                    f"shards it on {_key_text(options['key'])} (docs/deployment.md, "
                    '"Scaling out on MongoDB"): reshard it (reshardCollection) or use '
                    "another database",
                    code=exc.code,
                ) from exc

    async def _shard_key_of(self, namespace: str) -> Mapping[str, Any] | None:
        """The key ``namespace`` is sharded on, when this user may read the catalog."""
        with contextlib.suppress(PyMongoError):
            doc = await self._client["config"]["collections"].find_one(
                {"_id": namespace}, max_time_ms=self._max_time_ms
            )
            if doc is not None and isinstance(doc.get("key"), Mapping):
                # The server hands 1 back as 1.0.
                return {
                    field: int(v) if isinstance(v, float) and v.is_integer() else v
                    for field, v in doc["key"].items()
                }
        return None

    async def _upgrade(self) -> None:
        layout = await self._meta.find_one({"_id": _LAYOUT}, max_time_ms=self._max_time_ms)
        version = 0 if layout is None else int(layout.get("version", 0))
        if version >= _LAYOUT_VERSION:
            return
        if version < 2:
            await self._number_sessions()
        if version < 3:
            await self._record_identities()
        # $max: a later version opened meanwhile may have recorded a higher one.
        await self._meta.update_one(
            {"_id": _LAYOUT}, {"$max": {"version": _LAYOUT_VERSION}}, upsert=True
        )

    async def _number_sessions(self) -> None:
        """Give the sessions written before ordinals their ``ordinal`` and report fields.

        Visitors come in index order, so only one chunk of them is in memory at a time.
        Each update applies only to a document still without an ordinal: a re-cut by a
        process already upgraded has written the right one, which must not be undone.
        """
        # No maxTimeMS: a one-time pass over every session, however long it takes.
        cursor = self._sessions.find(
            {"ordinal": {"$exists": False}},
            projection={"_id": False, "site_id": True, "visitor_id": True},
            batch_size=KEYS_PER_QUERY,
        ).sort([("site_id", ASCENDING), ("visitor_id", ASCENDING), ("session_id", ASCENDING)])
        site = ""
        visitors: list[str] = []
        async for doc in cursor:
            if doc["site_id"] == site and visitors and visitors[-1] == doc["visitor_id"]:
                continue
            if doc["site_id"] != site or len(visitors) == KEYS_PER_QUERY:
                if visitors:
                    await self._number_visitors(site, visitors)
                site, visitors = doc["site_id"], []
            visitors.append(doc["visitor_id"])
        if visitors:
            await self._number_visitors(site, visitors)

    async def _record_identities(self) -> None:
        """Give every event stored before ``event_ids`` existed its identity there, then
        drop the events' indexes this layout replaced (the per-site unique one would keep
        the collection from being sharded by visitor)."""
        # No maxTimeMS: a one-time pass over every event, however long it takes; an
        # interrupted pass is resumed by the next open (identities already there are
        # skipped as duplicates).
        cursor = self._events.find(
            {},
            {"_id": 0, "site_id": 1, "event_id": 1, "visitor_id": 1},
            batch_size=KEYS_PER_QUERY,
        )
        async for claims in _lists(cursor, KEYS_PER_QUERY):
            await _insert_ignoring_duplicates(self._event_ids, claims)
        existing = await self._events.index_information()
        for replaced in ("event_identity", "by_visitor"):
            if replaced in existing:
                await self._events.drop_index(replaced)

    async def _number_visitors(self, site_id: str, visitors: list[str]) -> None:
        histories: dict[str, list[Document]] = defaultdict(list)
        cursor = self._sessions.find(
            {"site_id": site_id, "visitor_id": {"$in": visitors}},
            projection={
                "visitor_id": True,
                "session_id": True,
                "start_us": True,
                "ordinal": True,
                "conversions": True,
            },
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        )
        async for doc in cursor:
            histories[doc["visitor_id"]].append(doc)
        operations: list[UpdateOne] = []
        for sessions in histories.values():
            sessions.sort(key=lambda s: (s["start_us"], s["session_id"]))
            operations.extend(
                UpdateOne(
                    {"_id": s["_id"], "ordinal": {"$exists": False}},
                    {
                        "$set": {
                            "ordinal": ordinal,
                            **_report_conversions(
                                (c["page"], c["previous_page"], c["meta_type"], c.get("meta_id"))
                                for c in s.get("conversions") or ()
                            ),
                        }
                    },
                )
                for ordinal, s in enumerate(sessions)
                if "ordinal" not in s
            )
        if operations:
            await self._sessions.bulk_write(operations, ordered=False)

    @property
    def database_name(self) -> str:
        return str(self._db.name)

    @property
    def write_concern(self) -> int | str:
        """The ``w`` of every write."""
        return self._w

    @property
    def isolated_snapshots(self) -> bool:
        """Whether a ``snapshot()`` isolates its reads from concurrent writes: on
        deployments with snapshot reads only (module docstring)."""
        return self._snapshot_reads

    @_unavailable_on_outage
    async def drop(self) -> None:
        """Drop this store's whole database: for throwaway test databases only."""
        self._collection("sites")  # refuses a closed store
        await self._client.drop_database(self._db.name)

    async def ping(self) -> None:  # Store port
        self._collection("sites")  # refuses a closed store
        try:
            # The client waits up to serverSelectionTimeoutMS for a server; a health
            # check must answer sooner, and maxTimeMS bounds the server's side.
            async with asyncio.timeout(PING_TIMEOUT):
                await self._db.command("ping", maxTimeMS=int(PING_TIMEOUT * 1000))
        except TimeoutError:
            raise MongoUnavailableError(
                f"MongoDB did not answer a ping within {PING_TIMEOUT:g} s"
            ) from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._releases):
            task.cancel()
        # The releases see the store closed and stop: their leases run out instead.
        await asyncio.gather(*self._releases, return_exceptions=True)
        if self._owns_client:
            self._client.close()

    # --- sites -------------------------------------------------------------------
    @_unavailable_on_outage
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

    @_unavailable_on_outage
    async def get_site(self, site_id: str) -> Site | None:
        return _site(await self._sites.find_one({"_id": site_id}, max_time_ms=self._max_time_ms))

    @_unavailable_on_outage
    async def site_by_api_key_hash(self, key_hash: str) -> Site | None:
        return _site(
            await self._sites.find_one({"api_key_hash": key_hash}, max_time_ms=self._max_time_ms)
        )

    @_unavailable_on_outage
    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None:
        return _site(
            await self._sites.find_one(
                {"tracker_token_hash": token_hash}, max_time_ms=self._max_time_ms
            )
        )

    @_unavailable_on_outage
    async def list_sites(self) -> list[Site]:
        cursor = self._sites.find({}, max_time_ms=self._max_time_ms).sort(
            [("created_at_us", 1), ("_id", 1)]
        )
        return [site async for doc in cursor if (site := _site(doc)) is not None]

    @_unavailable_on_outage
    async def replace_site_keys(
        self, site_id: str, api_key_hash: str, tracker_token_hash: str
    ) -> Site | None:
        try:
            doc = await self._sites.find_one_and_update(
                {"_id": site_id},
                {"$set": {"api_key_hash": api_key_hash, "tracker_token_hash": tracker_token_hash}},
                return_document=ReturnDocument.AFTER,
                maxTimeMS=self._max_time_ms,
            )
        except DuplicateKeyError as exc:
            raise DuplicateSiteError(site_id) from exc
        return _site(doc)

    # --- ingestion ---------------------------------------------------------------
    @_unavailable_on_outage
    async def ingest(self, site_id: str, events: Sequence[Event], recut: Recut) -> StoredBatch:
        if not events:
            return StoredBatch(accepted=0, duplicates=0)
        unique: dict[str, Event] = {}
        for event in events:
            unique.setdefault(event.event_id, event)  # a repeat inside the batch: duplicate
        stored_ids = await self._stored_event_ids(site_id, unique.values())
        candidates = {i: e for i, e in unique.items() if i not in stored_ids}
        named = {e.visitor_id for e in unique.values()}
        known = await self._visitor_states(site_id, named)
        to_lock = {e.visitor_id for e in candidates.values()} | {
            v for v, pending in known.items() if pending
        }
        if not to_lock:
            return StoredBatch(accepted=0, duplicates=len(events))
        await self._ensure_visitors(site_id, to_lock - known.keys())
        accepted, _ = await self._recut_locked(site_id, sorted(to_lock), candidates, recut)
        return StoredBatch(accepted=accepted, duplicates=len(events) - accepted)

    @_unavailable_on_outage
    async def repair_pending(self, recut: Recut, *, visitors: int) -> int:
        """Re-cut up to ``visitors`` visitors that a failed or crashed ingest left
        ``pending`` (events stored, sessions not rewritten), whose lock is free or has
        expired; the number repaired. A visitor an ingest is working on (its lock is
        live) is left to that ingest."""
        now = datetime.now(UTC)
        cursor = self._visitors.find(
            # Names the partial index's condition, so the index serves it.
            {"pending": True, "$or": [{"lock": None}, {"lock_expires": {"$lt": now}}]},
            {"_id": 0, "site_id": 1, "visitor_id": 1},
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        ).limit(visitors)
        by_site: dict[str, list[str]] = defaultdict(list)
        async for doc in cursor:
            by_site[doc["site_id"]].append(doc["visitor_id"])
        repaired = 0
        for site_id, found in sorted(by_site.items()):
            _, done = await self._recut_locked(site_id, sorted(found), {}, recut)
            repaired += done
        if repaired:
            logger.info(
                "re-cut %d visitors left pending by a failed ingest",
                repaired,
                extra={"event": "pending_repaired", "visitors": repaired},
            )
        return repaired

    async def _recut_locked(
        self,
        site_id: str,
        visitors: list[str],
        candidates: Mapping[str, Event],
        recut: Recut,
    ) -> tuple[int, int]:
        """Under the locks of ``visitors`` (sorted): store ``candidates`` and re-cut the
        visitors that received one or were flagged ``pending``. Returns the events
        accepted and the pending visitors re-cut."""
        token = uuid.uuid4().hex
        # Renewing from the start: the locks taken first must not expire while the batch
        # waits for the others.
        async with self._renewing(site_id, visitors, token):
            held = await self._lock(site_id, visitors, token)
            fences = {v: fence for v, (_, fence) in held.items()}
            pending = {v for v, (flag, _) in held.items() if flag}
            try:
                accepted = await self._ingest_locked(site_id, candidates, pending, fences, recut)
            except BaseException:
                await self._unlock_after_failure(site_id, visitors, token)
                raise
        await self._unlock(site_id, visitors, token, clear_pending=fences)
        return accepted, len(pending)

    async def _ingest_locked(
        self,
        site_id: str,
        candidates: Mapping[str, Event],
        pending: Collection[str],
        fences: Mapping[str, int],
        recut: Recut,
    ) -> int:
        # Checked again now that the visitors are ours: an ingest that held them before
        # may have stored some of these events meanwhile.
        stored_ids = await self._stored_event_ids(site_id, candidates.values())
        new = [e for i, e in candidates.items() if i not in stored_ids]
        added: dict[str, list[Event]] = defaultdict(list)
        for event in new:
            added[event.visitor_id].append(event)
        affected = added.keys() | pending
        if not affected:
            return 0
        # A pending visitor's sessions may lag its events anywhere: re-cut it whole.
        tails = await self._tails(site_id, {v: added.get(v, []) for v in affected}, pending)
        # Re-cut before writing anything: a failing re-cut leaves the store untouched.
        plans = {v: tail.plan(recut) for v, tail in tails.items()}
        if not new:
            await self._replace_sessions(site_id, plans, fences)
            return 0
        for chunk in chunks(sorted(affected)):
            await self._visitors.update_many(
                {"site_id": site_id, "visitor_id": {"$in": chunk}}, {"$set": {"pending": True}}
            )
        inserted = await self._insert_events(site_id, new)
        lost = {e.visitor_id for e in new if e.event_id not in inserted}
        if lost:
            # Another visitor holds the identity of some of these events (the lock is per
            # visitor, the identity per site): re-cut from what is really stored.
            real = await self._tails(site_id, {v: [] for v in lost}, lost)
            plans.update({v: tail.plan(recut) for v, tail in real.items()})
        await self._replace_sessions(site_id, plans, fences)
        return len(inserted)

    async def _stored_event_ids(self, site_id: str, events: Iterable[Event]) -> set[str]:
        """The ids of ``events`` that are stored already: stored for their visitor, or
        held by another visitor of the site (``event_ids``). An identity its own visitor
        holds without the event (an ingest that failed between the two writes) is not
        stored: the event is written again."""
        wanted = {e.event_id: e.visitor_id for e in events}
        holders = await self._identity_holders(site_id, wanted)
        stored: set[str] = set()
        own: dict[str, set[str]] = defaultdict(set)
        for event_id, holder in holders.items():
            if holder == wanted[event_id]:
                own[holder].add(event_id)
            else:
                stored.add(event_id)
        for chunk in chunks(sorted(own)):
            cursor = self._events.find(
                {
                    "site_id": site_id,
                    "visitor_id": {"$in": chunk},
                    "event_id": {"$in": sorted(set().union(*(own[v] for v in chunk)))},
                },
                {"_id": 0, "visitor_id": 1, "event_id": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
            )
            stored.update(
                [
                    doc["event_id"]
                    async for doc in cursor
                    if doc["event_id"] in own[doc["visitor_id"]]
                ]
            )
        return stored

    async def _identity_holders(self, site_id: str, event_ids: Iterable[str]) -> dict[str, str]:
        """The visitor holding each of these event ids in the site, where one does."""
        holders: dict[str, str] = {}
        for chunk in chunks(sorted(event_ids)):
            cursor = self._event_ids.find(
                {"site_id": site_id, "event_id": {"$in": chunk}},
                {"_id": 0, "event_id": 1, "visitor_id": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
            )
            async for doc in cursor:
                holders[doc["event_id"]] = doc["visitor_id"]
        return holders

    async def _visitor_states(self, site_id: str, visitor_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each existing visitor document is flagged ``pending``."""
        states: dict[str, bool] = {}
        for chunk in chunks(sorted(visitor_ids)):
            cursor = self._visitors.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}},
                {"_id": 0, "visitor_id": 1, "pending": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
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

    async def _lock(
        self, site_id: str, visitors: list[str], token: str
    ) -> dict[str, tuple[bool, int]]:
        """Take every visitor's lock; returns their ``pending`` flags and the fences of
        this acquisition once all are held."""
        remaining = visitors
        held: dict[str, tuple[bool, int]] = {}
        delay = 0.002
        # Past this, the holder's lease has run out and we would have taken the lock.
        deadline = time.monotonic() + 2 * self._lock_lease.total_seconds() + 5
        try:
            while remaining:
                now = datetime.now(UTC)
                free = {"$or": [{"lock": None}, {"lock_expires": {"$lt": now}}]}
                for chunk in chunks(remaining):
                    await self._visitors.update_many(
                        {"site_id": site_id, "visitor_id": {"$in": chunk}, **free},
                        # Every acquisition raises the fence, so a holder whose lease ran
                        # out can tell that its session writes would overwrite newer work.
                        {
                            "$set": {"lock": token, "lock_expires": now + self._lock_lease},
                            "$inc": {"fence": 1},
                        },
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
                    await self._unlock(
                        site_id,
                        beyond,
                        token,
                    )
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
                await self._unlock(
                    site_id,
                    visitors,
                    token,
                )
            raise
        return held

    async def _held_by(
        self, site_id: str, visitors: list[str], token: str
    ) -> dict[str, tuple[bool, int]]:
        held: dict[str, tuple[bool, int]] = {}
        for chunk in chunks(visitors):
            cursor = self._visitors.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}, "lock": token},
                {"_id": 0, "visitor_id": 1, "pending": 1, "fence": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
            )
            async for doc in cursor:
                held[doc["visitor_id"]] = (bool(doc.get("pending")), int(doc.get("fence", 0)))
        return held

    @contextlib.asynccontextmanager
    async def _renewing(
        self, site_id: str, visitors: Collection[str], token: str
    ) -> AsyncIterator[None]:
        """Renew the lease of the locks ``token`` holds every ``lock_renewal`` while the
        body runs, so a slow but live holder keeps them. A renewal that fails (an outage)
        is retried at the next tick: the fences keep a holder that lost its lock anyway
        from overwriting newer work."""

        async def renew() -> None:
            period = self._lock_renewal.total_seconds()
            while True:
                await asyncio.sleep(period)
                try:
                    now = datetime.now(UTC)
                    for chunk in chunks(sorted(visitors)):
                        await self._visitors.update_many(
                            {"site_id": site_id, "visitor_id": {"$in": chunk}, "lock": token},
                            {"$set": {"lock_expires": now + self._lock_lease}},
                        )
                except PyMongoError:
                    logger.warning(
                        "could not renew the visitor locks of site %r",
                        site_id,
                        exc_info=True,
                        extra={"event": "lock_renewal_failed"},
                    )

        renewal = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal

    async def _unlock(
        self,
        site_id: str,
        visitors: Iterable[str],
        token: str,
        *,
        clear_pending: Mapping[str, int] | None = None,
    ) -> None:
        """Release the locks ``token`` holds. ``clear_pending`` (visitor: fence) also
        clears the ``pending`` flag of each visitor whose fence is still that one: a
        raised fence means a stale writer flagged the visitor after our re-cut, which
        the next ingest must redo."""
        release: Document = {"lock": None, "lock_expires": None}
        if clear_pending:
            operations = [
                UpdateOne(
                    {"site_id": site_id, "visitor_id": v, "lock": token, "fence": fence},
                    {"$set": {**release, "pending": False}},
                )
                for v, fence in sorted(clear_pending.items())
            ]
            for part in chunks(operations):
                await self._visitors.bulk_write(list(part), ordered=False)
        for chunk in chunks(sorted(visitors)):
            await self._visitors.update_many(
                {"site_id": site_id, "visitor_id": {"$in": chunk}, "lock": token},
                {"$set": release},
            )

    async def _unlock_after_failure(
        self, site_id: str, visitors: Iterable[str], token: str
    ) -> None:
        """Release the locks of a failed operation without masking its error: when the
        connection is still down, the release fails too; it is then retried in the
        background until it succeeds or the lease runs out (``lock_lease``), so the
        locks pass to the next operation as soon as the server is back."""
        try:
            await self._unlock(site_id, visitors, token)
        except PyMongoError:
            logger.warning(
                "could not release the visitor locks of site %r after a failure; retrying, "
                "they expire within %g s anyway",
                site_id,
                self._lock_lease.total_seconds(),
                exc_info=True,
                extra={"event": "unlock_failed"},
            )
            task = asyncio.create_task(self._release_later(site_id, list(visitors), token))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    async def _release_later(self, site_id: str, visitors: list[str], token: str) -> None:
        deadline = time.monotonic() + self._lock_lease.total_seconds()
        delay = _RELEASE_RETRY_FIRST
        while time.monotonic() < deadline and not self._closed:
            await asyncio.sleep(delay)
            try:
                await self._unlock(site_id, visitors, token)
                return
            except Exception:  # the lease is the backstop: keep trying until it runs out
                delay = min(delay * 2, _RELEASE_RETRY_MAX)

    async def _tails(
        self, site_id: str, added: Mapping[str, Sequence[Event]], whole: Collection[str]
    ) -> dict[str, _Tail]:
        """What re-cutting each visitor needs once ``added[visitor]`` (not stored yet)
        joins its history: the stored events from its resume point on
        (``domain.sessionization.resume_point``) plus the added ones, and how many
        sessions precede the point. So a batch reads the visitor's last sessions' events,
        not its whole history. Visitors in ``whole``, or with no clean point, are re-read
        whole."""
        points: dict[str, int] = {}
        partial = sorted(v for v in added if v not in whole and added[v])
        bounds: dict[str, list[_Bounds]] = defaultdict(list)
        for chunk in chunks(partial):
            cursor = self._sessions.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}},
                {"_id": 0, "visitor_id": 1, "start_us": 1, "last_activity_us": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
            )
            async for doc in cursor:
                bounds[doc["visitor_id"]].append(
                    _Bounds(from_micros(doc["start_us"]), from_micros(doc["last_activity_us"]))
                )
        tails = {v: _Tail(None, 0, list(added[v])) for v in added}
        for visitor in partial:
            stored = bounds.get(visitor, [])
            point = resume_point(stored, min(e.timestamp for e in added[visitor]))
            if point is not None:
                points[visitor] = to_micros(point)
                kept = sum(1 for b in stored if b.start < point)
                tails[visitor] = _Tail(points[visitor], kept, list(added[visitor]))
        rest = sorted(v for v in added if v not in points)
        for chunk in chunks(rest):
            await self._read_tails(site_id, {"visitor_id": {"$in": chunk}}, tails)
        for chunk in chunks(sorted(points)):
            await self._read_tails(
                site_id,
                {"$or": [{"visitor_id": v, "timestamp_us": {"$gte": points[v]}} for v in chunk]},
                tails,
            )
        return tails

    async def _read_tails(
        self, site_id: str, selection: Mapping[str, Any], tails: Mapping[str, _Tail]
    ) -> None:
        cursor = self._events.find(
            {"site_id": site_id, **selection},
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        )
        async for doc in cursor:
            tails[doc["visitor_id"]].events.append(_event(doc))

    async def _insert_events(self, site_id: str, events: Sequence[Event]) -> set[str]:
        """The ids of the events this call stored. Each event's identity in the site
        is taken first (``event_ids``); an event whose identity another visitor holds is
        refused, one whose own visitor holds it (a failed ingest's leftover) is kept."""
        claims = [
            {"site_id": site_id, "event_id": e.event_id, "visitor_id": e.visitor_id} for e in events
        ]
        refused = await _insert_ignoring_duplicates(self._event_ids, claims)
        ours = [e for i, e in enumerate(events) if i not in refused]
        if refused:
            taken = [events[i] for i in sorted(refused)]
            holders = await self._identity_holders(site_id, [e.event_id for e in taken])
            ours.extend(e for e in taken if holders.get(e.event_id) == e.visitor_id)
        documents = [_event_document(e) for e in ours]
        present = await _insert_ignoring_duplicates(self._events, documents) if documents else set()
        return {e.event_id for i, e in enumerate(ours) if i not in present}

    async def _replace_sessions(
        self, site_id: str, plans: Mapping[str, _Plan], fences: Mapping[str, int]
    ) -> None:
        """Write each visitor's sessions, fenced: only while ``fences`` are still the
        visitors' current ones (``_lock``). Raises ``LockLostError`` when another holder
        took a visitor over, after removing what this write left of it."""
        await self._check_fences(site_id, fences)
        operations: list[ReplaceOne[Document] | DeleteMany] = []
        # Conversions past what a session document embeds (``_cut_conversions``).
        part_writes: list[ReplaceOne[Document]] = []
        part_deletions: list[DeleteMany] = []
        for visitor, plan in plans.items():
            identity = {"site_id": site_id, "visitor_id": visitor}
            fence = fences[visitor]
            # Never over a document of a later holder (older documents have no fence).
            ours = {"fence": {"$not": {"$gt": fence}}}
            # Upserts first, then the deletion of sessions the re-cut no longer has: a
            # reader sees a visitor's old or new sessions, never none of them.
            for position, s in enumerate(plan.sessions):
                # The sessions before the plan's start keep their ordinals.
                document, parts = _session_document(s, plan.kept + position)
                # Over a later holder's document the filter matches nothing and the
                # upsert fails on the unique identity: the write stops there.
                operations.append(
                    ReplaceOne(
                        {**identity, "session_id": s.session_id, **ours},
                        document | {"fence": fence},
                        upsert=True,
                    )
                )
                # Keyed by the fence too: a writer never overwrites another's parts, and
                # readers take those of the session document's writer only.
                for n, part in enumerate(parts):
                    key = {**identity, "session_id": s.session_id, "fence": fence, "part": n}
                    part_writes.append(ReplaceOne(key, key | _part_document(s, part), upsert=True))
            written = [s.session_id for s in plan.sessions]
            stale: Document = {**identity, "session_id": {"$nin": written}, **ours}
            if plan.start_us is not None:
                stale["start_us"] = {"$gte": plan.start_us}
            operations.append(DeleteMany(stale))
            # After the sessions: the parts of earlier writers of the sessions written,
            # and those of the sessions deleted (parts carry their session's start).
            part_deletions.append(
                DeleteMany(
                    {
                        "$or": [
                            {**identity, "session_id": {"$in": written}, "fence": {"$lt": fence}},
                            stale,
                        ]
                    }
                )
            )
        if not operations:
            return
        # Parts first, so a session document never names parts not written yet.
        if part_writes:
            await self._session_conversions.bulk_write(part_writes, ordered=False)
        try:
            await self._sessions.bulk_write(operations, ordered=True)
        except BulkWriteError as exc:
            if any(e.get("code") == _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                # A later holder's session, most likely: then this raises LockLostError.
                await self._check_fences(site_id, fences)
            raise
        await self._session_conversions.bulk_write(part_deletions, ordered=False)
        await self._check_fences(site_id, fences)

    async def _check_fences(self, site_id: str, fences: Mapping[str, int]) -> None:
        """Raise ``LockLostError`` if another holder took any of these visitors over.

        This writer's sessions of those visitors are deleted (a later holder's carry a
        higher fence) and the visitors flagged ``pending`` with their fence raised, so
        the current holder does not clear the flag: the next ingest re-cuts them, from
        events this writer may have inserted after the current holder read them."""
        lost: list[str] = []
        for chunk in chunks(sorted(fences)):
            cursor = self._visitors.find(
                {"site_id": site_id, "visitor_id": {"$in": chunk}},
                {"_id": 0, "visitor_id": 1, "fence": 1},
                batch_size=_CURSOR_BATCH,
                max_time_ms=self._max_time_ms,
            )
            lost.extend(
                [
                    doc["visitor_id"]
                    async for doc in cursor
                    if doc.get("fence", 0) != fences[doc["visitor_id"]]
                ]
            )
        if not lost:
            return
        for visitor in lost:
            identity = {"site_id": site_id, "visitor_id": visitor}
            await self._sessions.delete_many({**identity, "fence": fences[visitor]})
            await self._session_conversions.delete_many({**identity, "fence": fences[visitor]})
            await self._visitors.update_one(
                identity, {"$set": {"pending": True}, "$inc": {"fence": 1}}
            )
        logger.warning(
            "lost the visitor locks of site %r to another ingest; nothing written over it",
            site_id,
            extra={"event": "lock_lost", "visitors": len(lost)},
        )
        raise LockLostError(
            f"the lock of visitor {lost[0]!r} of site {site_id!r} passed to another ingest "
            "while this one was writing (its lease ran out); retry the batch"
        )

    @_unavailable_on_outage
    async def count_dropped_bots(
        self, site_id: str, reasons: Mapping[str, int], at: datetime
    ) -> None:
        collection = self._dropped_bots
        for reason, events in reasons.items():
            identity = {"site_id": site_id, "reason": reason}
            change = {"$inc": {"events": events}, "$max": _instant("last_seen", at)}
            try:
                await collection.update_one(identity, change, upsert=True)
            except DuplicateKeyError:
                # Two first upserts of one reason raced (servers before 4.2 do not retry
                # it themselves): the other inserted the document, so this one updates.
                await collection.update_one(identity, change)

    @_unavailable_on_outage
    async def visitor_events(self, site_id: str, visitor_id: str) -> list[Event]:
        # A tail from no resume point is the visitor's whole history.
        tails = await self._tails(site_id, {visitor_id: []}, {visitor_id})
        return tails[visitor_id].events

    # --- privacy -----------------------------------------------------------------
    @_unavailable_on_outage
    async def visitor_history(
        self, site_id: str, visitor_id: str
    ) -> tuple[list[Event], list[Session]]:
        # A snapshot session where the deployment has one (replica sets and clusters of
        # 5.0+), else the two reads one after the other (docs/read-model.md).
        if self._snapshot_reads:
            async with await self._client.start_session(snapshot=True) as session:
                return await self._visitor_history(site_id, visitor_id, session)
        return await self._visitor_history(site_id, visitor_id, None)

    async def _visitor_history(
        self, site_id: str, visitor_id: str, session: Any | None
    ) -> tuple[list[Event], list[Session]]:
        mine = {"site_id": site_id, "visitor_id": visitor_id}
        limit = self._max_time_ms
        events = self._events.find(
            mine, batch_size=_CURSOR_BATCH, session=session, max_time_ms=limit
        )
        found = [_event(doc) async for doc in events]
        cursor = self._sessions.find(
            mine, batch_size=_CURSOR_BATCH, session=session, max_time_ms=limit
        ).sort([("ordinal", ASCENDING)])
        docs = [doc async for doc in cursor]
        await _attach_parts(
            self._session_conversions, site_id, docs, {"conversions": True}, session, limit
        )
        return found, [_session(doc) for doc in docs]

    @_unavailable_on_outage
    async def visitor_sessions(self, site_id: str, visitor_id: str) -> list[Session]:
        cursor = self._sessions.find(
            {"site_id": site_id, "visitor_id": visitor_id},
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        ).sort([("ordinal", ASCENDING)])
        docs = [doc async for doc in cursor]
        await _attach_parts(
            self._session_conversions,
            site_id,
            docs,
            {"conversions": True},
            None,
            self._max_time_ms,
        )
        return [_session(doc) for doc in docs]

    @_unavailable_on_outage
    async def erase_visitor(self, site_id: str, visitor_id: str) -> Erased:
        return await self._erase(site_id, [visitor_id])

    @_unavailable_on_outage
    async def erase_email(self, site_id: str, email: str) -> Erased:
        # Emails match ignoring case, so no index on them: the site's conversions are
        # read through the partial "conversions" index and compared here.
        cursor = self._events.find(
            {"site_id": site_id, "type": EventType.CONVERSION.value, "email": {"$ne": None}},
            {"_id": 0, "visitor_id": 1, "email": 1},
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        )
        holders = {doc["visitor_id"] async for doc in cursor if same_email(doc["email"], email)}
        return await self._erase(site_id, holders)

    async def _erase(self, site_id: str, visitor_ids: Iterable[str]) -> Erased:
        # Under the visitors' re-cut locks, so no ingest writes their sessions meanwhile;
        # a visitor with no lock document never had an event stored.
        known = sorted((await self._visitor_states(site_id, visitor_ids)).keys())
        if not known:
            return Erased(0, 0)
        token = uuid.uuid4().hex
        await self._lock(site_id, known, token)
        try:
            visitors = events = 0
            for chunk in chunks(known):
                selection = {"site_id": site_id, "visitor_id": {"$in": chunk}}
                # An aggregation: distinct() takes no maxTimeMS on mongomock.
                holding = self._events.aggregate(
                    [{"$match": selection}, {"$group": {"_id": "$visitor_id"}}],
                    maxTimeMS=self._max_time_ms,
                )
                visitors += len([doc async for doc in holding])
                # Identities first: a failure between the two leaves events an erasure
                # retry finds again, never identities naming an erased visitor.
                await self._release_identities(site_id, selection)
                events += (await self._events.delete_many(selection)).deleted_count
                await self._sessions.delete_many(selection)
                await self._session_conversions.delete_many(selection)
        except BaseException:
            await self._unlock_after_failure(site_id, known, token)
            raise
        await self._unlock(
            site_id,
            known,
            token,
        )
        return Erased(visitors=visitors, events=events)

    async def _release_identities(self, site_id: str, selection: Mapping[str, Any]) -> None:
        """Remove from ``event_ids`` the identities of the events ``selection`` matches."""
        cursor = self._events.find(
            selection,
            {"_id": 0, "event_id": 1},
            batch_size=KEYS_PER_QUERY,
            max_time_ms=self._max_time_ms,
        )
        async for docs in _lists(cursor, KEYS_PER_QUERY):
            ids = [doc["event_id"] for doc in docs]
            await self._event_ids.delete_many({"site_id": site_id, "event_id": {"$in": ids}})

    @_unavailable_on_outage
    async def purge(self, before: datetime, recut: Recut, *, visitors: int) -> Erased:
        old = {"timestamp_us": {"$lt": to_micros(before)}}
        # The oldest events first, through the time index, until ``visitors`` visitors are
        # found: a batch reads about the old events of the visitors it purges, where a
        # grouping of every old event read them all (past maxTimeMS on large stores).
        cursor = self._events.find(
            old,
            {"_id": 0, "site_id": 1, "visitor_id": 1},
            batch_size=_CURSOR_BATCH,
            max_time_ms=self._max_time_ms,
        ).sort([("timestamp_us", ASCENDING)])
        by_site: dict[str, list[str]] = defaultdict(list)
        found_visitors: set[tuple[str, str]] = set()
        try:
            async for doc in cursor:
                key = (doc["site_id"], doc["visitor_id"])
                if key not in found_visitors:
                    found_visitors.add(key)
                    by_site[key[0]].append(key[1])
                    if len(found_visitors) == visitors:
                        break
        finally:
            await cursor.close()
        touched = deleted = 0
        for site_id, found in by_site.items():
            known = sorted(found)
            token = uuid.uuid4().hex
            held = await self._lock(site_id, known, token)
            fences = {v: fence for v, (_, fence) in held.items()}
            try:
                # Flagged first: if this fails half-way, the next ingest of the visitor
                # re-cuts it from what is stored.
                selection = {"site_id": site_id, "visitor_id": {"$in": known}}
                await self._visitors.update_many(selection, {"$set": {"pending": True}})
                async with self._renewing(site_id, known, token):
                    await self._release_identities(site_id, {**selection, **old})
                    deleted += (await self._events.delete_many({**selection, **old})).deleted_count
                    tails = await self._tails(site_id, {v: [] for v in known}, known)
                    plans = {v: tail.plan(recut) for v, tail in tails.items()}
                    await self._replace_sessions(site_id, plans, fences)
                touched += len(known)
            except BaseException:
                await self._unlock_after_failure(site_id, known, token)
                raise
            await self._unlock(site_id, known, token, clear_pending=fences)
        return Erased(visitors=touched, events=deleted)

    # --- reads -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MongoSnapshot]:
        # The reports' reads only may go to secondaries (snapshot reads are served there).
        sessions = self._collection("sessions", self._report_read_preference)
        bots = self._collection("dropped_bots", self._report_read_preference)
        parts = self._collection("session_conversions", self._report_read_preference)
        limit = self._max_time_ms
        if not self._snapshot_reads:
            yield MongoSnapshot(sessions, None, bots=bots, parts=parts, max_time_ms=limit)
            return
        with _outage_as_unavailable():
            session = await self._client.start_session(snapshot=True)
        async with session:
            yield MongoSnapshot(sessions, session, bots=bots, parts=parts, max_time_ms=limit)


class MongoSnapshot:
    """The reads of one request (``MongoStore.snapshot``). ``session`` is a client session
    with snapshot reads, passed to every read; None where the deployment has none, and
    each read then sees the latest state (module docstring).

    Round trips are serialized: a client session serves one operation at a time, and
    resolvers may read one snapshot concurrently."""

    def __init__(
        self,
        sessions: Any,
        session: Any | None,
        *,
        bots: Any,
        parts: Any,
        max_time_ms: int = DEFAULT_QUERY_TIMEOUT_MS,
    ) -> None:
        self._sessions = sessions
        self._session = session
        self._bots = bots
        self._parts = parts
        self._max_time_ms = max_time_ms
        self._turn = asyncio.Lock()

    async def _io(self, operation: Callable[[], Awaitable[T]]) -> T:
        # A callable, not an awaitable: motor starts an operation when it is called.
        async with self._turn:
            with _outage_as_unavailable():
                return await operation()

    async def _batches(self, cursor: Any, size: int) -> AsyncGenerator[list[Document], None]:
        """The documents of a cursor in lists of up to ``size``; the cursor is closed
        however the caller stops."""
        try:
            while docs := await self._io(lambda: cursor.to_list(size)):
                yield docs
        finally:
            await self._io(cursor.close)

    async def _attach_parts(
        self, site_id: str, docs: Sequence[Document], fields: Mapping[str, Any]
    ) -> None:
        await _attach_parts(
            self._parts, site_id, docs, fields, self._session, self._max_time_ms, self._io
        )

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        selection = _selection(site_id, filters, window)
        count = await self._io(
            lambda: self._sessions.count_documents(
                selection, session=self._session, maxTimeMS=self._max_time_ms
            )
        )
        return int(count)

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
            self._sessions.find(
                selection,
                batch_size=min(limit, _CURSOR_BATCH),
                session=self._session,
                max_time_ms=self._max_time_ms,
            )
            .sort(_LISTING_ORDER)
            .skip(max(offset, 0))
            .limit(limit)
        )
        docs = await self._io(lambda: cursor.to_list(None))
        await self._attach_parts(site_id, docs, {"conversions": True})
        return [_session(doc) for doc in docs]

    async def report_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[ReportSession]]:
        rows = self._rows(
            site_id, _selection(site_id, filters, window), _REPORT_FIELDS, _report_session
        )
        async with contextlib.aclosing(rows) as chunks:
            async for chunk in chunks:
                yield chunk

    async def journey_sessions(
        self, site_id: str, window: TimeWindow, lookback: timedelta
    ) -> AsyncIterator[Sequence[JourneySession]]:
        # Every session of the reach: the port allows the others' earlier sessions.
        assert window.start is not None
        reach = window.reaching_back(lookback)
        selection = _selection(site_id, SessionFilters(), reach)
        rows = self._rows(site_id, selection, _JOURNEY_FIELDS, _journey_session)
        async with contextlib.aclosing(rows) as chunks:
            journeys = [row async for chunk in chunks for row in chunk]
        # In the port's order, sorted here: a server-side sort of the reach would need an
        # index by visitor and start for the site's window, or a spill to disk. The
        # report holds every row at once anyway. Stable, so ties keep the order read.
        journeys.sort(key=itemgetter(0, 1))
        yield journeys

    async def aggregate_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        fields: Collection[str] = AGGREGATE_FIELDS,
    ) -> AsyncIterator[Sequence[AggregateRow]]:
        names = [_AGGREGATE_DOCUMENT_FIELDS[field] for field in in_row_order(fields)]
        rows = self._rows(
            site_id,
            _selection(site_id, filters, window),
            {"_id": False} | dict.fromkeys(names, True),
            functools.partial(_aggregate_row, names=names),
        )
        async with contextlib.aclosing(rows) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _rows(
        self,
        site_id: str,
        selection: Mapping[str, Any],
        projection: Mapping[str, Any],
        decode: Callable[[Mapping[str, Any]], T],
    ) -> AsyncGenerator[list[T], None]:
        """The matching session documents, projected, decoded a chunk at a time (what
        the reports read: compact rows, never whole sessions), with the conversions of
        their parts when the projection has conversions."""
        from_parts = _part_projection(projection)
        cursor = self._sessions.find(
            selection,
            projection={**projection, **_PART_KEY_FIELDS} if from_parts else projection,
            batch_size=_REPORT_CHUNK,
            session=self._session,
            max_time_ms=self._max_time_ms,
        )
        async with contextlib.aclosing(self._batches(cursor, _REPORT_CHUNK)) as batches:
            async for docs in batches:
                if from_parts:
                    await self._attach_parts(site_id, docs, from_parts)
                yield [decode(doc) for doc in docs]

    async def visitor_conversions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[VisitorConversions]]:
        # An aggregation rather than distinct(), whose answer is one document of 16 MB
        # at most; the grouping may spill to disk for windows of millions of visitors.
        visitors = self._sessions.aggregate(
            [
                # Returning visitors only: a first session is never assist or after.
                {"$match": {**_selection(site_id, filters, window), "ordinal": {"$gt": 0}}},
                {"$group": {"_id": "$visitor_id"}},
            ],
            allowDiskUse=True,
            batchSize=KEYS_PER_QUERY,
            session=self._session,
            maxTimeMS=self._max_time_ms,
        )
        async with contextlib.aclosing(self._batches(visitors, KEYS_PER_QUERY)) as batches:
            async for batch in batches:
                for ids in chunks([doc["_id"] for doc in batch], KEYS_PER_QUERY):
                    cursor = self._sessions.find(
                        # Names the partial index's condition, so the index can serve it.
                        {
                            "site_id": site_id,
                            "visitor_id": {"$in": ids},
                            _CONVERSIONS: {"$exists": True},
                        },
                        projection={**_CONVERTING_FIELDS, **_PART_KEY_FIELDS},
                        batch_size=_REPORT_CHUNK,
                        session=self._session,
                        max_time_ms=self._max_time_ms,
                    )
                    async with contextlib.aclosing(self._batches(cursor, _REPORT_CHUNK)) as found:
                        async for docs in found:
                            await self._attach_parts(site_id, docs, {_CONVERSIONS: True})
                            yield [
                                VisitorConversions(
                                    doc["visitor_id"],
                                    doc["ordinal"],
                                    _conversion_rows(doc[_CONVERSIONS]),
                                )
                                for doc in docs
                            ]

    async def attribution_texts(self, keys: Collection[TextKey]) -> dict[TextKey, str]:
        return {key: str(key) for key in keys}

    async def page_keys(self, urls: Collection[str]) -> dict[str, PageKey]:
        return {url: url for url in urls}

    async def page_urls(self, keys: Collection[PageKey]) -> dict[PageKey, str]:
        return {key: str(key) for key in keys}

    async def dropped_bots(self, site_id: str) -> list[DroppedBots]:
        cursor = self._bots.find(
            {"site_id": site_id},
            {"_id": 0, "reason": 1, "events": 1, "last_seen_us": 1},
            session=self._session,
            max_time_ms=self._max_time_ms,
        ).sort([("events", DESCENDING), ("reason", ASCENDING)])
        docs = await self._io(lambda: cursor.to_list(None))
        return [
            DroppedBots(doc["reason"], int(doc["events"]), from_micros(doc["last_seen_us"]))
            for doc in docs
        ]


# --- re-cuts ----------------------------------------------------------------------------
class _Bounds(NamedTuple):
    """What ``resume_point`` reads of a stored session."""

    start: datetime
    last_activity: datetime


@dataclass(slots=True)
class _Tail:
    """The part of a visitor's history a re-cut rewrites: its events from ``start_us``
    on (None: the whole history), after ``kept`` sessions that stay as they are."""

    start_us: int | None
    kept: int
    events: list[Event]

    def plan(self, recut: Recut) -> _Plan:
        sessions = sorted(recut(self.events), key=lambda s: s.order_key) if self.events else []
        return _Plan(self.start_us, self.kept, sessions)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A visitor's sessions from ``start_us`` on (None: all of them), numbered from
    ``kept``: what ``_replace_sessions`` writes in place of the stored ones."""

    start_us: int | None
    kept: int
    sessions: list[Session]


# --- connection helpers ----------------------------------------------------------------
def database_from_url(url: str) -> str | None:
    """The database named by a ``mongodb://`` URL's path, if any."""
    path = urlsplit(url).path.lstrip("/")
    return unquote(path) or None


def redact(url: str) -> str:
    """The URL without its user name and password, fit for messages and logs."""
    return _USERINFO.sub("***@", url, count=1)


async def _serves_snapshot_reads(client: Any) -> bool:
    """Whether the deployment serves snapshot reads outside transactions: a replica set
    or a sharded cluster of MongoDB 5.0 or later. Any doubt answers no: reads are then
    merely not isolated, while a wrong yes would fail every read."""
    try:
        hello = await client.admin.command("hello")
        clustered = "setName" in hello or hello.get("msg") == "isdbgrid"
        return bool(clustered and int(hello.get("maxWireVersion", 0)) >= _SNAPSHOT_WIRE_VERSION)
    except Exception:  # mongomock raises NotImplementedError, servers without hello fail
        return False


async def _is_mongos(client: Any) -> bool:
    """Whether ``client`` talks to a mongos, the router of a sharded cluster."""
    try:
        hello = await client.admin.command("hello")
    # A server without hello is no mongos that needs sharding (and mongomock has no
    # hello); an outage, though, fails the start like any other command.
    except (OperationFailure, NotImplementedError):
        return False
    return bool(hello.get("msg") == "isdbgrid")


def _key_text(key: Mapping[str, Any]) -> str:
    """A shard key as mongosh writes it: ``{site_id: 1, visitor_id: 1}``."""
    return "{" + ", ".join(f"{field}: {_key_value(v)}" for field, v in key.items()) + "}"


def _key_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _shell_command(command: str, target: str, options: Mapping[str, Any]) -> str:
    if command == "enableSharding":
        return f'sh.enableSharding("{target}")'
    return f'sh.shardCollection("{target}", {_key_text(options["key"])})'


def _w_value(write_concern: str) -> int | str:
    text = write_concern.strip()
    return int(text) if text.isdigit() else text


async def _lists(cursor: Any, size: int) -> AsyncIterator[list[Document]]:
    """The documents of a cursor in lists of up to ``size``, for writes made a list at a
    time while the cursor streams (the cursor's own batches are the driver's business)."""
    batch: list[Document] = []
    async for doc in cursor:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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


async def _attach_parts(
    parts: Any,
    site_id: str,
    docs: Sequence[Document],
    fields: Mapping[str, Any],
    session: Any | None,
    max_time_ms: int,
    io: Callable[[Callable[[], Awaitable[list[Document]]]], Awaitable[list[Document]]]
    | None = None,
) -> None:
    """Append to the conversions of each session document that has parts those of its
    parts, in order: ``fields`` (a projection of ``conversions`` and ``report_conversions``)
    says which forms. One query per chunk of such sessions; only the parts of the
    session document's own writer (its fence) count."""
    owners = {
        (d["visitor_id"], d["session_id"], d.get("fence", 0)): d for d in docs if d.get(_PARTS)
    }
    for chunk in chunks(sorted(owners)):
        cursor = parts.find(
            {
                "site_id": site_id,
                "visitor_id": {"$in": sorted({visitor for visitor, _, _ in chunk})},
                "session_id": {"$in": sorted({session_id for _, session_id, _ in chunk})},
            },
            projection={"_id": False, "visitor_id": True, "session_id": True, "fence": True}
            | {"part": True, **fields},
            batch_size=_CURSOR_BATCH,
            session=session,
            max_time_ms=max_time_ms,
        )
        read = functools.partial(cursor.to_list, None)
        found = await (io(read) if io is not None else read())
        for part in sorted(found, key=lambda p: int(p["part"])):
            owner = owners.get((part["visitor_id"], part["session_id"], part["fence"]))
            if owner is None or part["part"] >= owner[_PARTS]:
                continue  # another writer's, or one a re-cut no longer needs
            for name in {field.split(".")[0] for field in fields}:
                owner.setdefault(name, []).extend(part.get(name) or ())


def _part_projection(projection: Mapping[str, Any]) -> dict[str, Any]:
    """What to read of the parts for a projection of session documents: its conversions."""
    return {
        field: shown
        for field, shown in projection.items()
        if shown and field.split(".")[0] in ("conversions", _CONVERSIONS)
    }


# What a reader needs of a session document to find its parts.
_PART_KEY_FIELDS: Final = {"session_id": True, "fence": True, _PARTS: True, "visitor_id": True}


# --- queries ----------------------------------------------------------------------------
def _selection(site_id: str, filters: SessionFilters, window: TimeWindow) -> Document:
    selection: Document = {"site_id": site_id, **dict(filter_values(filters))}
    bounds: Document = {}
    if window.start is not None:
        bounds["$gte"] = to_micros(window.start)
    if window.end is not None:
        bounds["$lte"] = to_micros(window.end)
    if bounds:
        selection["start_us"] = bounds
    return selection


def _after(key: SessionKey) -> Document:
    """Strictly after ``key`` in the order start descending, visitor, session ascending."""
    start = to_micros(key.start)
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
def _instant(name: str, instant: datetime) -> Document:
    return {name: instant.astimezone(UTC), f"{name}_us": to_micros(instant)}


def _site(doc: Mapping[str, Any] | None) -> Site | None:
    if doc is None:
        return None
    return Site(
        site_id=doc["_id"],
        name=doc["name"],
        api_key_hash=doc["api_key_hash"],
        tracker_token_hash=doc["tracker_token_hash"],
        created_at=from_micros(doc["created_at_us"]),
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
        "value": event.value,
    }


def _event(doc: Mapping[str, Any]) -> Event:
    return Event(
        site_id=doc["site_id"],
        event_id=doc["event_id"],
        type=_EVENT_TYPES[doc["type"]],
        visitor_id=doc["visitor_id"],
        timestamp=from_micros(doc["timestamp_us"]),
        url=doc["url"],
        page=doc["page"],
        referrer=doc.get("referrer"),
        user_agent=doc.get("user_agent"),
        email=doc.get("email"),
        meta_type=doc.get("meta_type"),
        meta_id=doc.get("meta_id"),
        value=doc.get("value"),
    )


def _session_document(session: Session, ordinal: int) -> tuple[Document, list[list[Conversion]]]:
    """The session's document, and the conversions it leaves to ``session_conversions``
    in parts (``_cut_conversions``)."""
    a = session.attribution
    path = _stored_path(session.path)
    embedded, parts = _cut_conversions(
        session.conversions,
        # Measured only where there is something to fit beside it.
        sum(len(p["url"].encode()) + _VISIT_OVERHEAD for p in path["path"])
        if session.conversions
        else 0,
    )
    document = {
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
        **path,
        "conversions": [_conversion_document(c) for c in embedded],
        "ordinal": ordinal,
    }
    if session.conversions:
        # Present, if empty, on every converting session: the partial index holds them.
        document[_CONVERSIONS] = [_report_row(c) for c in embedded]
    if parts:
        document[_PARTS] = len(parts)
    return document, parts


def _conversion_document(c: Conversion) -> Document:
    return {
        "event_id": c.event_id,
        **_instant("at", c.timestamp),
        "page": c.page,
        "previous_page": c.previous_page,
        "email": c.email,
        "meta_type": c.meta_type,
        "meta_id": c.meta_id,
        "value": c.value,
    }


def _report_row(c: Conversion) -> list[str | None]:
    return [c.page, c.previous_page, c.meta_type, c.meta_id]


def _part_document(session: Session, conversions: Sequence[Conversion]) -> Document:
    """A part of a session's conversions, in both forms its session document has; with
    the session's start, so a re-cut from a resume point selects parts as sessions."""
    return {
        "start_us": to_micros(session.start),
        "conversions": [_conversion_document(c) for c in conversions],
        _CONVERSIONS: [_report_row(c) for c in conversions],
    }


def _conversion_size(c: Conversion) -> int:
    """At least the BSON size of a conversion in both forms a document holds it in (the
    full one and its report row): the UTF-8 bytes of its texts plus their framing."""
    shown_twice = (c.page, c.previous_page, c.meta_type, c.meta_id)
    texts = (*shown_twice, *shown_twice, c.event_id, c.email)
    return _CONVERSION_OVERHEAD + sum(len(t.encode()) for t in texts if t is not None)


def _cut_conversions(
    conversions: Sequence[Conversion], path_size: int
) -> tuple[list[Conversion], list[list[Conversion]]]:
    """The conversions a session document embeds (the first ones, as many as its room
    allows beside its path), and the rest in parts for ``session_conversions``; each of
    at most ``_CONVERSIONS_PER_DOCUMENT`` conversions and its byte budget, in order."""
    embedded: list[Conversion] = []
    parts: list[list[Conversion]] = []
    current, budget, size = embedded, max(0, _SESSION_BYTES - path_size), 0
    for c in conversions:
        bytes_ = _conversion_size(c)
        if len(current) == _CONVERSIONS_PER_DOCUMENT or size + bytes_ > budget:
            current, budget, size = [], _PART_BYTES, 0
            parts.append(current)
        current.append(c)
        size += bytes_
    return embedded, parts


def _stored_path(path: Sequence[PageVisit]) -> Document:
    """The ``path`` field of a session document, bounded so that a long session of long
    URLs stays far below MongoDB's 16 MB document limit: each end keeps up to
    ``_PATH_END`` visits and ``_PATH_END_BYTES`` of them, and ``path_truncated`` counts
    the visits left out between the two. Landing, exit and exit-previous pages are
    fields of their own, exact either way."""
    head = _end_length(path)
    tail = _end_length(path[head:][::-1])
    kept = [*path[:head], *path[len(path) - tail :]]
    stored: Document = {"path": [{"url": p.url, **_instant("at", p.timestamp)} for p in kept]}
    if len(kept) < len(path):
        stored["path_truncated"] = len(path) - len(kept)
    return stored


def _end_length(visits: Sequence[PageVisit]) -> int:
    """How many of ``visits``, from the first on, one end of a stored path keeps."""
    size = 0
    for count, visit in enumerate(visits[:_PATH_END]):
        size += len(visit.url.encode()) + _VISIT_OVERHEAD
        if size > _PATH_END_BYTES:
            return count
    return min(len(visits), _PATH_END)


def _report_conversions(conversions: Iterable[tuple[str, str, str, str | None]]) -> Document:
    """The ``report_conversions`` field of a session document: absent when the session
    has no conversion, so that the partial index holds converting sessions only."""
    rows = [list(c) for c in conversions]
    return {_CONVERSIONS: rows} if rows else {}


# What the page report reads of a session: the path and the full conversions, most of a
# session document, stay on the server.
_REPORT_FIELDS: Final = {
    "_id": False,
    "visitor_id": True,
    "ordinal": True,
    "landing_page": True,
    "exit_page": True,
    "exit_previous_page": True,
    "is_last": True,
    "inactive_after_us": True,
    _CONVERSIONS: True,
}
# What the touch scopes read of a converting session.
_CONVERTING_FIELDS: Final = {"_id": False, "visitor_id": True, "ordinal": True, _CONVERSIONS: True}


# What attribution reads of a session.
_JOURNEY_FIELDS: Final = {
    "_id": False,
    "visitor_id": True,
    "start_us": True,
    "source": True,
    "medium": True,
    "campaign": True,
    "conversions.at_us": True,
    "conversions.page": True,
    "conversions.meta_type": True,
    "conversions.meta_id": True,
    "conversions.value": True,
}


def _journey_session(doc: Mapping[str, Any]) -> JourneySession:
    conversions = tuple(
        JourneyConversion(c["at_us"], c["page"], c["meta_type"], c.get("meta_id"), c.get("value"))
        for c in doc.get("conversions") or ()
    )
    return JourneySession(
        doc["visitor_id"],
        doc["start_us"],
        doc["source"],
        doc["medium"],
        doc.get("campaign"),
        conversions or None,
    )


# Where each field of ``AggregateSession`` is in a session document.
_AGGREGATE_DOCUMENT_FIELDS: Final = {
    "visitor": "visitor_id",
    "start": "start_us",
    "source": "source",
    "medium": "medium",
    "campaign": "campaign",
    "content": "content",
    "term": "term",
    "landing": "landing_page",
    "conversions": _CONVERSIONS,
}


def _aggregate_row(doc: Mapping[str, Any], names: Sequence[str]) -> AggregateRow:
    """The row of the document fields ``names``: absent ones (a session without campaign,
    content or term, or without conversions) are None."""
    return tuple(
        _aggregate_conversions(doc.get(name)) if name == _CONVERSIONS else doc.get(name)
        for name in names
    )


def _aggregate_conversions(
    rows: Sequence[Sequence[Any]] | None,
) -> tuple[AggregateConversion, ...] | None:
    if not rows:
        return None
    return tuple(AggregateConversion(page, kind, id_) for page, _, kind, id_ in rows)


def _conversion_rows(rows: Iterable[Sequence[Any]]) -> tuple[ReportConversion, ...]:
    return tuple(ReportConversion(page, previous, kind, id_) for page, previous, kind, id_ in rows)


def _report_session(doc: Mapping[str, Any]) -> ReportSession:
    conversions = doc.get(_CONVERSIONS)
    return ReportSession(
        visitor=doc["visitor_id"],
        ordinal=doc["ordinal"],
        landing=doc["landing_page"],
        exit=doc["exit_page"],
        exit_previous=doc["exit_previous_page"],
        # domain.page_report.closes_after, from the fields it is made of.
        closes_after=doc["inactive_after_us"] if doc["is_last"] else 0,
        conversions=_conversion_rows(conversions) if conversions else None,
    )


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
            timestamp=from_micros(c["at_us"]),
            page=c["page"],
            previous_page=c["previous_page"],
            email=c.get("email"),
            meta_type=c["meta_type"],
            meta_id=c.get("meta_id"),
            value=c.get("value"),
        )
        for c in doc["conversions"]
    )


def _session(doc: Mapping[str, Any]) -> Session:
    return Session(
        site_id=doc["site_id"],
        visitor_id=doc["visitor_id"],
        session_id=doc["session_id"],
        start=from_micros(doc["start_us"]),
        last_activity=from_micros(doc["last_activity_us"]),
        attribution=_attribution(doc),
        path=tuple(PageVisit(url=p["url"], timestamp=from_micros(p["at_us"])) for p in doc["path"]),
        conversions=_conversions(doc),
        exit_previous_page=doc["exit_previous_page"],
        is_last=doc["is_last"],
        inactive_after=from_micros(doc["inactive_after_us"]),
    )
