"""Test-only workarounds that let ``MongoStore`` run on mongomock-motor.

Each workaround names the mongomock gap it covers, so it can go when the gap closes.
The real-server runs (``ATTRIBUTIONHUB_TEST_MONGODB_URL``) exercise the adapter without
any of this.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import bson
from mongomock.collection import BulkOperationBuilder, Collection
from mongomock_motor import AsyncMongoMockClient, AsyncMongoMockCollection, AsyncMongoMockDatabase
from pymongo.errors import (
    AutoReconnect,
    DocumentTooLarge,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from adapters.mongo_store import MongoStore

REAL_URL_VARIABLE = "ATTRIBUTIONHUB_TEST_MONGODB_URL"
REAL_SKIP_REASON = f"{REAL_URL_VARIABLE} is not set: real-MongoDB contract run skipped"
REAL_TESTS_SKIP_REASON = f"{REAL_URL_VARIABLE} is not set: real-MongoDB adapter tests skipped"


def _accepting_sort(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        if sort is not None:
            # Pretending would let a test pass on behaviour mongomock does not have.
            raise NotImplementedError("mongomock: bulk update/replace with sort")
        return method(self, *args, **kwargs)

    wrapper.__dict__["_accepts_sort"] = True
    return wrapper


# MongoDB's limit on one document (maxBsonObjectSize).
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024


def _refusing_oversized(method: Callable[..., Any], parameter: str) -> Callable[..., Any]:
    # Where the document is when passed by position (after self): _insert(data, ...),
    # _update(spec, document, ...).
    position = list(inspect.signature(method).parameters).index(parameter) - 1

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        document = args[position] if len(args) > position else kwargs.get(parameter)
        # Operator updates ($set, ...) are not checked: the adapter's are small.
        if isinstance(document, Mapping) and not any(str(k).startswith("$") for k in document):
            size = len(bson.encode(document))
            if size > MAX_DOCUMENT_SIZE:
                # What the driver raises before sending such a document.
                raise DocumentTooLarge(
                    f"BSON document too large ({size} bytes) - the connected server supports "
                    f"BSON document sizes up to {MAX_DOCUMENT_SIZE} bytes."
                )
        return method(self, *args, **kwargs)

    wrapper.__dict__["_refuses_oversized"] = True
    return wrapper


def install() -> None:
    """Apply the workarounds; idempotent.

    - pymongo >= 4.11 passes ``sort=`` to the bulk builder for every ``UpdateOne`` and
      ``ReplaceOne`` (PYTHON-4576), which mongomock 4.3's ``BulkOperationBuilder`` does
      not accept (mongomock issue #912, fix pending in PR #933): every ``bulk_write``
      holding one fails with a TypeError. The adapter never sorts inside a bulk write,
      so ``sort=None`` is dropped and anything else refused.
    - mongomock stores documents of any size; MongoDB refuses those over 16 MiB (the
      driver raises ``DocumentTooLarge``). Inserted documents, upserted ones and
      replacements are refused past it here too.
    """
    for name in ("add_update", "add_replace"):
        method = getattr(BulkOperationBuilder, name)
        if not getattr(method, "_accepts_sort", False):
            setattr(BulkOperationBuilder, name, _accepting_sort(method))
    for name, parameter in (("_insert", "data"), ("_update", "document")):
        method = getattr(Collection, name)
        if not getattr(method, "_refuses_oversized", False):
            setattr(Collection, name, _refusing_oversized(method, parameter))


def mongomock_client(**options: Any) -> Any:
    """A fresh in-memory server: each client has its own data. ``options`` go to the
    client (``read_preference``: what a URL's ``readPreference`` sets)."""
    install()
    return AsyncMongoMockClient(tz_aware=True, **options)


async def mongomock_store(*, client: Any | None = None) -> MongoStore:
    return await MongoStore.open(
        "mongodb://mongomock.invalid/attributionhub",
        client=client if client is not None else mongomock_client(),
    )


def real_mongodb_url() -> str | None:
    return os.environ.get(REAL_URL_VARIABLE) or None


class ThrowawayMongoStore(MongoStore):
    """A store on a fresh, uniquely named database that is dropped on close."""

    async def close(self) -> None:
        try:
            await self.drop()
        finally:
            await super().close()


async def real_store(url: str) -> MongoStore:
    """A store on the real server at ``url``, in a database of its own."""
    name = f"attributionhub_test_{uuid.uuid4().hex[:16]}"
    store = await ThrowawayMongoStore.open(url, database=name)
    assert isinstance(store, ThrowawayMongoStore)
    return store


class InterleavingClient:
    """A mongomock-motor client whose operations really interleave, and can fail on cue.

    mongomock-motor runs every operation to completion without ever suspending, so
    ``asyncio.gather`` of two ingests runs them one after the other and their races never
    happen. Here every awaited operation and every cursor step first yields to the event
    loop a random number of times (seeded), so concurrent ingests interleave at each
    round trip as they would on a server. ``fail_next(name)`` makes the next call of that
    collection method raise ``AutoReconnect``, as a dropped connection would (or the
    ``error`` given); ``delay_next(name, seconds)`` makes it wait first, as a slow write
    would; while ``unreachable`` is true every operation raises
    ``ServerSelectionTimeoutError``, as when no server can be reached. A method name may
    be qualified by its collection (``"sessions.bulk_write"``) to fail or delay only
    there. ``calls`` records each method called and its keyword arguments, so tests see
    what reaches the driver; ``documents_read`` counts the documents cursors handed out,
    per collection.
    """

    def __init__(self, *, seed: int) -> None:
        self._rng = random.Random(seed)
        self._failures: dict[str, list[Callable[[str], PyMongoError]]] = {}
        self._delays: dict[str, list[float]] = {}
        self._inner = mongomock_client()
        self.unreachable = False
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.documents_read: Counter[str] = Counter()

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        error: Callable[[str], PyMongoError] = AutoReconnect,
    ) -> None:
        self._failures.setdefault(method, []).extend([error] * times)

    def delay_next(self, method: str, seconds: float) -> None:
        self._delays.setdefault(method, []).append(seconds)

    def _record(self, method: str, kwargs: Mapping[str, Any]) -> None:
        self.calls.append((method, dict(kwargs)))

    async def _step(self, method: str, collection: str | None = None) -> None:
        for _ in range(self._rng.randrange(4)):
            await asyncio.sleep(0)
        names = [method] if collection is None else [f"{collection}.{method}", method]
        for name in names:
            if self._delays.get(name):
                await asyncio.sleep(self._delays[name].pop(0))
                break
        if self.unreachable:
            raise ServerSelectionTimeoutError(f"injected outage: no server for {method}")
        for name in names:
            if self._failures.get(name):
                raise self._failures[name].pop(0)(f"injected failure of {name}")

    def wrap(self, target: Any) -> Any:
        return _Interleaved(self, target)

    def __getattr__(self, name: str) -> Any:
        return _Interleaved(self, self._inner).__getattr__(name)

    def __getitem__(self, name: str) -> Any:
        return self.wrap(self._inner[name])


class _Interleaved:
    def __init__(self, owner: InterleavingClient, target: Any) -> None:
        self._owner = owner
        self._target = target

    def __getitem__(self, name: str) -> Any:
        return self._owner.wrap(self._target[name])

    @property
    def _collection_name(self) -> str | None:
        if isinstance(self._target, AsyncMongoMockCollection):
            return str(self._target.name)
        return None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name in {"find", "aggregate"}:

            def cursor(*args: Any, **kwargs: Any) -> _InterleavedCursor:
                self._owner._record(name, kwargs)
                return _InterleavedCursor(
                    self._owner, attribute(*args, **kwargs), name, self._collection_name
                )

            return cursor
        if name in {"get_database", "get_collection"}:

            def wrapped(*args: Any, **kwargs: Any) -> Any:
                self._owner._record(name, kwargs)
                return self._owner.wrap(attribute(*args, **kwargs))

            return wrapped
        if isinstance(attribute, AsyncMongoMockDatabase | AsyncMongoMockCollection):
            return self._owner.wrap(attribute)
        if inspect.iscoroutinefunction(attribute):

            async def call(*args: Any, **kwargs: Any) -> Any:
                self._owner._record(name, kwargs)
                await self._owner._step(name, self._collection_name)
                return await attribute(*args, **kwargs)

            return call
        return attribute


class _InterleavedCursor:
    def __init__(
        self, owner: InterleavingClient, cursor: Any, method: str, collection: str | None
    ) -> None:
        self._owner = owner
        self._cursor = cursor
        self._method = method
        self._collection = collection

    async def _next(self) -> Any:
        document = await self._cursor.__anext__()
        if self._collection is not None:
            self._owner.documents_read[self._collection] += 1
        return document

    def sort(self, *args: Any, **kwargs: Any) -> _InterleavedCursor:
        self._cursor.sort(*args, **kwargs)
        return self

    def skip(self, count: int) -> _InterleavedCursor:
        self._cursor.skip(count)
        return self

    def limit(self, count: int) -> _InterleavedCursor:
        self._cursor.limit(count)
        return self

    def __aiter__(self) -> _InterleavedCursor:
        return self

    async def __anext__(self) -> Any:
        await self._owner._step(self._method, self._collection)
        return await self._next()

    async def to_list(self, length: int | None) -> list[Any]:
        """Up to ``length`` documents, as motor hands them out (mongomock-motor's
        ``to_list`` ignores ``length`` and returns everything)."""
        await self._owner._step(self._method, self._collection)
        docs: list[Any] = []
        while length is None or len(docs) < length:
            try:
                docs.append(await self._next())
            except StopAsyncIteration:
                break
        return docs

    async def close(self) -> None:
        await self._cursor.close()


# What ``hello`` answers on a replica set member of MongoDB 8.0 (the fields the store reads).
REPLICA_SET_HELLO: Mapping[str, Any] = {
    "isWritablePrimary": True,
    "setName": "rs0",
    "maxWireVersion": 25,
    "ok": 1.0,
}


# What ``hello`` answers on a mongos of MongoDB 8.0 (the fields the store reads).
MONGOS_HELLO: Mapping[str, Any] = {"msg": "isdbgrid", "maxWireVersion": 25, "ok": 1.0}
# The server's error codes for a command the user may not run, and for a collection
# sharded already with other options.
UNAUTHORIZED = 13
ALREADY_INITIALIZED = 23
INVALID_OPTIONS = 72


class StandInSession:
    """What ``SnapshotClient.start_session`` hands out: records its options and its end."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self.has_ended = False

    async def end_session(self) -> None:
        self.has_ended = True

    async def __aenter__(self) -> StandInSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.end_session()


class SnapshotClient:
    """A mongomock-motor client that answers ``hello`` as told (``None``: refuses it) and
    hands out stand-in client sessions, which mongomock lacks.

    Every call given a ``session=`` records ``(method, session)`` in ``reads`` and runs on
    mongomock without it. This shows which reads share a session; that a snapshot session
    really isolates them, only the real-server runs can show.

    Every admin command is recorded in ``admin_commands`` as ``(name, value, options)``.
    When ``hello`` says mongos, ``enableSharding`` and ``shardCollection`` are answered as
    a mongos does, keeping the sharded collections and their keys in ``config.collections``:
    shardCollection needs the database enabled first, refuses a collection with a unique
    index that does not start with the key (code 72), accepts a repeat on the same key
    and refuses another key (code 23, also the same key when ``refuse_repeats``). With
    ``refuse_sharding``, both fail as for a user without the privilege (code 13).
    """

    def __init__(self, hello: Mapping[str, Any] | None = REPLICA_SET_HELLO) -> None:
        self._inner = mongomock_client()
        self._hello = hello
        self.sessions: list[StandInSession] = []
        self.reads: list[tuple[str, Any]] = []
        self.admin_commands: list[tuple[str, Any, dict[str, Any]]] = []
        self.refuse_sharding = False
        self.refuse_repeats = False

    @property
    def admin(self) -> _Admin:
        return _Admin(self, self._inner.admin, self._hello)

    async def _shard(self, name: str, target: str, options: Mapping[str, Any]) -> Any:
        if (self._hello or {}).get("msg") != "isdbgrid":
            raise OperationFailure(f"{name} may only be run via mongos", code=59)
        if self.refuse_sharding:
            message = f"not authorized on admin to execute command {{ {name}: {target!r} }}"
            raise OperationFailure(
                message, code=UNAUTHORIZED, details={"ok": 0, "errmsg": message, "code": 13}
            )
        config = self._inner["config"]
        if name == "enableSharding":
            await config["databases"].update_one(
                {"_id": target}, {"$set": {"enabled": True}}, upsert=True
            )
            return {"ok": 1.0}
        database = target.partition(".")[0]
        if await config["databases"].find_one({"_id": database}) is None:
            raise OperationFailure(f"sharding not enabled for db {database}", code=20)
        key = dict(options["key"])
        collection = self._inner[database][target.partition(".")[2]]
        for spec in (await collection.index_information()).values():
            fields = [field for field, _ in spec["key"]]
            if spec.get("unique") and fields[: len(key)] != list(key):
                raise OperationFailure(
                    f"can't shard collection '{target}' with unique index on {spec['key']} "
                    f"and proposed shard key {key}. Uniqueness can't be maintained unless "
                    "shard key is a prefix",
                    code=INVALID_OPTIONS,
                )
        present = await config["collections"].find_one({"_id": target})
        if present is None:
            await config["collections"].insert_one({"_id": target, "key": key})
        elif self.refuse_repeats or list(present["key"].items()) != list(key.items()):
            raise OperationFailure(
                f"sharding already enabled for collection {target}", code=ALREADY_INITIALIZED
            )
        return {"collectionsharded": target, "ok": 1.0}

    async def shard_keys(self) -> dict[str, dict[str, Any]]:
        """Each sharded collection's key, by namespace, as ``config.collections`` has it."""
        cursor = self._inner["config"]["collections"].find({})
        return {doc["_id"]: doc["key"] async for doc in cursor}

    async def start_session(self, **options: Any) -> StandInSession:
        session = StandInSession(options)
        self.sessions.append(session)
        return session

    def get_database(self, *args: Any, **kwargs: Any) -> Any:
        return _Recording(self, self._inner.get_database(*args, **kwargs))

    def __getitem__(self, name: str) -> Any:
        return _Recording(self, self._inner[name])

    async def drop_database(self, name: str) -> None:
        await self._inner.drop_database(name)

    def close(self) -> None:
        return None


class _Admin:
    def __init__(self, owner: SnapshotClient, inner: Any, hello: Mapping[str, Any] | None) -> None:
        self._owner = owner
        self._inner = inner
        self._hello = hello

    async def command(self, name: str, value: Any = 1, **kwargs: Any) -> Any:
        self._owner.admin_commands.append((name, value, dict(kwargs)))
        if name in {"enableSharding", "shardCollection"}:
            return await self._owner._shard(name, value, kwargs)
        if name != "hello":
            return await self._inner.command(name, **kwargs)
        if self._hello is None:
            raise OperationFailure("no such command: 'hello'", code=59)
        return dict(self._hello)


class _Recording:
    def __init__(self, owner: SnapshotClient, target: Any) -> None:
        self._owner = owner
        self._target = target

    def __getitem__(self, name: str) -> Any:
        return _Recording(self._owner, self._target[name])

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if isinstance(attribute, AsyncMongoMockDatabase | AsyncMongoMockCollection):
            return _Recording(self._owner, attribute)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if "session" in kwargs:
                self._owner.reads.append((name, kwargs.pop("session")))
            result = attribute(*args, **kwargs)
            # get_collection(name, read_preference=...) too: its reads are recorded.
            if isinstance(result, AsyncMongoMockDatabase | AsyncMongoMockCollection):
                return _Recording(self._owner, result)
            return result

        return call


# The collection methods that read, whose read preference decides which member answers.
_READ_METHODS = frozenset(
    {"find", "find_one", "aggregate", "count_documents", "distinct", "estimated_document_count"}
)


class ReadRecordingClient:
    """A motor or mongomock-motor client that records every read: ``reads`` holds
    ``(collection, method, read preference mode)``, the mode being the one of the
    collection object the read went through (what the driver sends to server selection).

    mongomock keeps each collection's read preference but answers every read from its one
    in-memory store: this shows which member each read asks for, not which one answers.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.reads: list[tuple[str, str, str]] = []

    def get_database(self, *args: Any, **kwargs: Any) -> Any:
        return _ReadRecording(self, self._inner.get_database(*args, **kwargs))

    def __getitem__(self, name: str) -> Any:
        return _ReadRecording(self, self._inner[name])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ReadRecording:
    def __init__(self, owner: ReadRecordingClient, target: Any) -> None:
        self._owner = owner
        self._target = target

    def __getitem__(self, name: str) -> Any:
        return self.get_collection(name)

    def get_collection(self, name: str, **options: Any) -> Any:
        return _ReadRecording(self._owner, self._target.get_collection(name, **options))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name not in _READ_METHODS:
            return attribute

        def read(*args: Any, **kwargs: Any) -> Any:
            mode = self._target.read_preference.mongos_mode
            self._owner.reads.append((self._target.name, name, mode))
            return attribute(*args, **kwargs)

        return read
