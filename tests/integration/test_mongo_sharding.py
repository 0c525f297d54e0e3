"""Sharding at open: on a sharded cluster ``MongoStore.open`` shards its collections on
``SHARD_KEYS`` (docs/deployment.md, "Scaling out on MongoDB"). The cluster is
``mongo_shim.SnapshotClient`` answering ``hello`` as a mongos; the real-server run checks
the server's own catalog (``test_mongo_real.py``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from adapters.mongo_store import SHARD_KEYS, MongoStore, MongoUnavailableError
from domain.events import parse_event
from domain.sessionization import sessionize
from tests.integration.mongo_shim import (
    MONGOS_HELLO,
    REPLICA_SET_HELLO,
    SnapshotClient,
    mongomock_client,
)

URL = "mongodb://mongos.invalid/analytics"
SITE = "site-a"
RECUT = partial(sessionize, timeout=timedelta(minutes=30))
BY_VISITOR = {"site_id": 1, "visitor_id": 1}
SHARDING = {"enableSharding", "shardCollection"}


class _HelloDrops:
    def __init__(self, admin: Any) -> None:
        self._admin = admin

    async def command(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "hello":
            raise AutoReconnect("connection dropped during hello")
        return await self._admin.command(name, *args, **kwargs)


class HelloDroppingClient(SnapshotClient):
    """A mongos whose connection drops when asked ``hello``."""

    @property
    def admin(self) -> Any:
        return _HelloDrops(super().admin)


def sharding_commands(client: SnapshotClient) -> list[tuple[str, Any, dict[str, Any]]]:
    return [c for c in client.admin_commands if c[0] in SHARDING]


async def ingest_one(store: MongoStore) -> None:
    raw = {
        "type": "pageview",
        "event_id": "e-1",
        "visitor_id": "v1",
        "timestamp": "2025-07-15T10:00:00Z",
        "url": "https://example.com/",
    }
    now = datetime(2025, 7, 20, tzinfo=UTC)
    await store.ingest(SITE, [parse_event(raw, site_id=SITE, now=now)], RECUT)


async def test_on_a_sharded_cluster_open_enables_sharding_then_shards_each_collection() -> None:
    client = SnapshotClient(MONGOS_HELLO)

    await MongoStore.open(URL, client=client)

    assert sharding_commands(client) == [
        ("enableSharding", "analytics", {}),
        ("shardCollection", "analytics.events", {"key": BY_VISITOR}),
        ("shardCollection", "analytics.sessions", {"key": BY_VISITOR}),
        ("shardCollection", "analytics.visitors", {"key": BY_VISITOR}),
        ("shardCollection", "analytics.session_conversions", {"key": BY_VISITOR}),
        ("shardCollection", "analytics.event_ids", {"key": {"site_id": 1, "event_id": 1}}),
    ]
    # Collections no code has written yet are sharded too, before their first document.
    assert await client.shard_keys() == {
        f"analytics.{name}": dict(key) for name, key in SHARD_KEYS.items()
    }


def test_the_tiny_collections_stay_unsharded() -> None:
    assert not {"sites", "meta", "dropped_bots"} & SHARD_KEYS.keys()


@pytest.mark.parametrize(
    "hello",
    [
        pytest.param(REPLICA_SET_HELLO, id="replica-set"),
        pytest.param({"isWritablePrimary": True, "maxWireVersion": 25}, id="standalone"),
        pytest.param(None, id="hello-refused"),
    ],
)
async def test_a_replica_set_or_standalone_server_gets_no_sharding_command(
    hello: dict[str, Any] | None,
) -> None:
    client = SnapshotClient(hello)

    store = await MongoStore.open(URL, client=client)
    await ingest_one(store)

    assert sharding_commands(client) == []
    assert len(await store.visitor_events(SITE, "v1")) == 1


async def test_reopening_a_sharded_database_keeps_its_shard_keys_and_its_data() -> None:
    client = SnapshotClient(MONGOS_HELLO)
    first = await MongoStore.open(URL, client=client)
    await ingest_one(first)
    keys = await client.shard_keys()

    again = await MongoStore.open(URL, client=client)

    assert await client.shard_keys() == keys
    assert len(await again.visitor_events(SITE, "v1")) == 1


async def test_a_connection_dropped_while_asking_for_the_deployment_fails_the_start() -> None:
    # Taken for "not a mongos", it would leave a cluster's collections unsharded.
    with pytest.raises(MongoUnavailableError, match="connection dropped during hello"):
        await MongoStore.open(URL, client=HelloDroppingClient(MONGOS_HELLO))


async def test_a_database_of_the_previous_layout_is_upgraded_before_it_is_sharded() -> None:
    client = SnapshotClient(MONGOS_HELLO)
    client.refuse_sharding = True
    await ingest_one(await MongoStore.open(URL, client=client))
    db = client["analytics"]
    # What the previous layout had: the identity as a unique index of events, which
    # MongoDB would not shard by visitor.
    await db["events"].create_index(
        [("site_id", 1), ("event_id", 1)], unique=True, name="event_identity"
    )
    await db["meta"].update_one({"_id": "layout"}, {"$set": {"version": 2}})
    client.refuse_sharding = False

    store = await MongoStore.open(URL, client=client)

    assert len(await store.visitor_events(SITE, "v1")) == 1
    assert await client.shard_keys() == {
        f"analytics.{name}": dict(key) for name, key in SHARD_KEYS.items()
    }


async def test_a_server_refusing_repeats_on_the_same_key_still_opens() -> None:
    client = SnapshotClient(MONGOS_HELLO)
    await MongoStore.open(URL, client=client)
    client.refuse_repeats = True

    store = await MongoStore.open(URL, client=client)

    await ingest_one(store)
    assert len(await store.visitor_events(SITE, "v1")) == 1


async def test_a_collection_sharded_on_another_key_stops_the_start_naming_both_keys() -> None:
    client = SnapshotClient(MONGOS_HELLO)
    await client.admin.command("enableSharding", "analytics")
    await client.admin.command(
        "shardCollection", "analytics.sessions", key={"site_id": 1, "start_us": 1}
    )

    with pytest.raises(MongoUnavailableError) as raised:
        await MongoStore.open(URL, client=client)

    message = str(raised.value)
    assert "analytics.sessions is already sharded on {site_id: 1, start_us: 1}" in message
    assert "shards it on {site_id: 1, visitor_id: 1}" in message


async def test_without_the_privilege_the_store_opens_unsharded_and_logs_the_commands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = SnapshotClient(MONGOS_HELLO)
    client.refuse_sharding = True

    with caplog.at_level(logging.WARNING, logger="attributionhub.mongo"):
        store = await MongoStore.open(URL, client=client)
    await ingest_one(store)

    assert len(await store.visitor_events(SITE, "v1")) == 1
    assert await client.shard_keys() == {}
    [warning] = [r.getMessage() for r in caplog.records if "not allowed to shard" in r.getMessage()]
    assert "not authorized" in warning
    assert 'sh.enableSharding("analytics")' in warning
    assert 'sh.shardCollection("analytics.events", {site_id: 1, visitor_id: 1})' in warning
    assert 'sh.shardCollection("analytics.event_ids", {site_id: 1, event_id: 1})' in warning


async def test_every_unique_index_of_a_sharded_collection_starts_with_its_shard_key() -> None:
    client = mongomock_client()
    await MongoStore.open(URL, client=client)
    database = client["analytics"]

    wrong = {}
    for name, key in SHARD_KEYS.items():
        for index, spec in (await database[name].index_information()).items():
            fields = [field for field, _ in spec["key"]]
            if spec.get("unique") and fields[: len(key)] != list(key):
                wrong[f"{name}.{index}"] = fields

    assert wrong == {}
