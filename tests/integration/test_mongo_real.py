"""The MongoDB adapter against a real server: what mongomock cannot show (true
concurrency, cursors fetched in several batches, the server's indexes, snapshot reads).

Runs when ``ATTRIBUTIONHUB_TEST_MONGODB_URL`` names a server (select with
``-m mongo_real``); each test gets a database of its own, dropped afterwards. The shared
store contract also runs there, as the ``mongo_real`` entry of the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from adapters import mongo_store
from adapters.mongo_store import MongoStore
from domain.model import Site
from domain.ports import DuplicateSiteError
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import (
    REAL_TESTS_SKIP_REASON,
    ReadRecordingClient,
    ThrowawayMongoStore,
    real_mongodb_url,
    real_store,
)
from tests.integration.test_mongo_conversions import (
    CONVERSIONS,
    converting_session,
    largest_conversion,
)
from tests.integration.test_mongo_store import (
    SITE,
    conversion,
    expected_rows,
    history,
    journeys,
    pageview,
    report_rows,
)

pytestmark = [
    pytest.mark.mongo_real,
    pytest.mark.skipif(real_mongodb_url() is None, reason=REAL_TESTS_SKIP_REASON),
]

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
EVERYTHING = SessionFilters()
ALL_TIME = TimeWindow()


@pytest.fixture
async def real() -> AsyncIterator[MongoStore]:
    url = real_mongodb_url()
    assert url is not None
    store = await real_store(url)
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.parametrize("seed", range(4))
async def test_concurrent_overlapping_ingests_converge_on_a_real_server(
    real: MongoStore, seed: int
) -> None:
    events = journeys(seed)
    # Every event in three of twelve batches, all sent at once.
    batches = [events[i * 4 : i * 4 + 12] for i in range(12)]

    results = await asyncio.gather(*(real.ingest(SITE, b, RECUT) for b in batches))

    assert sum(r.accepted for r in results) == len({e.event_id for b in batches for e in b})
    stored = [e for v in range(6) for e in await real.visitor_events(SITE, f"v{v}")]
    listed = await real.list_sessions(SITE, EVERYTHING, ALL_TIME, limit=1000)
    assert set(listed) == set(sessionize(stored, timeout=timedelta(minutes=30)))


async def test_a_site_reusing_a_key_hash_is_refused_by_the_servers_unique_index(
    real: MongoStore,
) -> None:
    created = datetime(2025, 7, 1, tzinfo=UTC)
    await real.add_site(Site("s1", "One", "api-1", "tracker-1", created))

    with pytest.raises(DuplicateSiteError):
        await real.add_site(Site("s2", "Two", "api-1", "tracker-2", created))


async def test_report_reads_span_several_cursor_batches_and_can_be_abandoned(
    real: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 500 rows and of 500 visitors, so 1,200 sessions take several round trips.
    monkeypatch.setattr(mongo_store, "_REPORT_CHUNK", 500)
    monkeypatch.setattr(mongo_store, "KEYS_PER_QUERY", 500)
    events = [
        pageview(f"e-{i}", f"v{i:04d}", f"2025-07-15T{10 + i // 600}:{i % 60:02d}:00Z")
        for i in range(1200)
    ]
    events += [
        conversion(f"c-{i}", f"v{i:04d}", f"2025-07-15T{10 + i // 600}:{i % 60:02d}:30Z")
        for i in range(0, 1200, 2)
    ]
    await real.ingest(SITE, events, RECUT)

    async with real.snapshot() as snapshot:
        chunks = [c async for c in snapshot.report_sessions(SITE, EVERYTHING, ALL_TIME)]
        converting = [c async for c in snapshot.visitor_conversions(SITE, EVERYTHING, ALL_TIME)]
        abandoned = snapshot.report_sessions(SITE, EVERYTHING, ALL_TIME)
        assert len(await anext(abandoned)) == 500
        await abandoned.aclose()  # type: ignore[attr-defined]  # an async generator
        # The snapshot serves on once a stream is abandoned.
        total = await snapshot.count_sessions(SITE, EVERYTHING, ALL_TIME)

    rows = [r for c in chunks for r in c]
    assert [len(c) for c in chunks] == [500, 500, 200]
    assert total == len(rows) == len({r.visitor for r in rows})
    assert sorted(rows, key=repr) == sorted(expected_rows(sessionize(events)), key=repr)
    assert sorted((r.visitor, r.ordinal) for c in converting for r in c) == [
        (f"v{i:04d}", 0) for i in range(0, 1200, 2)
    ]


async def test_ordinals_stay_right_under_concurrent_ingests(real: MongoStore) -> None:
    events = journeys(7)
    batches = [events[i * 4 : i * 4 + 12] for i in range(12)]

    await asyncio.gather(*(real.ingest(SITE, b, RECUT) for b in batches))

    expected = sessionize(events, timeout=timedelta(minutes=30))
    assert sorted(await report_rows(real), key=repr) == sorted(expected_rows(expected), key=repr)


async def test_the_converting_index_holds_converting_sessions_only(real: MongoStore) -> None:
    await real.ingest(SITE, history(), RECUT)

    info = await real._collection("sessions").index_information()

    assert info["converting"]["partialFilterExpression"] == {
        "report_conversions": {"$exists": True}
    }


@pytest.mark.parametrize("seed", range(4))
async def test_visitors_racing_for_one_event_id_store_it_once_on_a_real_server(
    real: MongoStore, seed: int
) -> None:
    # Every batch names the same event ids under its own visitor: the server's unique
    # index on event_ids decides which visitor keeps each one.
    events = journeys(seed)
    batches = [[replace(e, visitor_id=f"racer-{n}") for e in events[:10]] for n in range(6)]

    results = await asyncio.gather(*(real.ingest(SITE, b, RECUT) for b in batches))

    assert sum(r.accepted for r in results) == len({e.event_id for e in events[:10]})
    for n in range(6):
        stored = await real.visitor_events(SITE, f"racer-{n}")
        assert await real.visitor_sessions(SITE, f"racer-{n}") == sessionize(
            stored, timeout=timedelta(minutes=30)
        )


async def test_a_tail_re_cut_on_a_real_server_equals_a_whole_one(real: MongoStore) -> None:
    events = journeys(7)
    # In timestamp order, a batch at a time: every batch after the first resumes.
    ordered = sorted(events, key=lambda e: e.timestamp)
    for start in range(0, len(ordered), 5):
        await real.ingest(SITE, ordered[start : start + 5], RECUT)

    listed = await real.list_sessions(SITE, EVERYTHING, ALL_TIME, limit=1000)
    assert set(listed) == set(sessionize(events, timeout=timedelta(minutes=30)))
    assert await real.repair_pending(RECUT, visitors=100) == 0


async def test_the_retention_purge_finds_old_events_through_the_time_index(
    real: MongoStore,
) -> None:
    events = journeys(3)
    await real.ingest(SITE, events, RECUT)

    purged = await real.purge(datetime(2025, 7, 16, tzinfo=UTC), RECUT, visitors=2)

    assert purged.visitors == 2
    used = await index_uses(real, "events")
    assert used["by_time"] >= 1


async def test_an_erasure_by_email_reads_the_conversions_through_their_partial_index(
    real: MongoStore,
) -> None:
    await real.ingest(SITE, [*history(), *journeys(4)], RECUT)
    info = await real._collection("events").index_information()
    assert info["conversions"]["partialFilterExpression"] == {"type": "conversion"}

    erased = await real.erase_email(SITE, "ANN@example.org")

    assert erased.visitors >= 1
    used = await index_uses(real, "events")
    assert used["conversions"] >= 1


async def test_reports_read_with_their_preference_in_a_snapshot_and_the_rest_from_the_primary() -> (
    None
):
    url = real_mongodb_url()
    assert url is not None
    # As ?readPreference=secondaryPreferred in the URL would make it.
    motor = AsyncIOMotorClient(url, readPreference="secondaryPreferred", tz_aware=True)
    client = ReadRecordingClient(motor)
    store = await ThrowawayMongoStore.open(
        url,
        client=client,
        database=f"attributionhub_test_{uuid.uuid4().hex[:16]}",
        report_read_preference="nearest",
    )
    try:
        await store.ingest(SITE, history(), RECUT)
        ingestion = set(client.reads)
        client.reads.clear()

        # A snapshot session where the deployment serves them: the server accepts
        # snapshot reads with a preference other than primary.
        async with store.snapshot() as snapshot:
            total = await snapshot.count_sessions(SITE, EVERYTHING, ALL_TIME)
            rows = [
                r async for c in snapshot.report_sessions(SITE, EVERYTHING, ALL_TIME) for r in c
            ]
    finally:
        await store.close()
        motor.close()

    # A member other than the primary may not have applied the batch yet.
    assert 0 <= total <= 4
    assert 0 <= len(rows) <= 4
    assert {mode for _, _, mode in ingestion} == {"primary"}
    assert {mode for _, _, mode in client.reads} == {"nearest"}


async def test_on_a_sharded_cluster_the_collections_are_sharded_on_their_keys(
    real: MongoStore,
) -> None:
    client = real._client
    if (await client.admin.command("hello")).get("msg") != "isdbgrid":
        pytest.skip("the server is not a mongos: open shards nothing there")
    prefix = f"{real.database_name}."
    cursor = client["config"]["collections"].find({"_id": {"$regex": f"^{re.escape(prefix)}"}})

    keys = {
        doc["_id"].removeprefix(prefix): {field: int(v) for field, v in doc["key"].items()}
        async for doc in cursor
    }

    assert keys == {name: dict(key) for name, key in mongo_store.SHARD_KEYS.items()}


async def test_a_session_whose_conversions_pass_16_mb_is_stored_and_read_on_a_real_server(
    real: MongoStore,
) -> None:
    # The server (and its driver) refuse documents over 16 MiB: the parts must hold them.
    first = converting_session()
    await real.ingest(SITE, first, RECUT)
    later = [largest_conversion(CONVERSIONS, 10 + CONVERSIONS)]

    assert (await real.ingest(SITE, later, RECUT)).accepted == 1

    listed = await real.list_sessions(SITE, EVERYTHING, ALL_TIME, limit=10)
    assert listed == sessionize(first + later, timeout=timedelta(minutes=30))
    info = await real._collection("session_conversions").index_information()
    # Shardable on {site_id, visitor_id}: every index but _id's starts with it.
    assert [spec["key"][:2] for name, spec in info.items() if name != "_id_"] == [
        [("site_id", 1), ("visitor_id", 1)]
    ]


async def index_uses(store: MongoStore, collection: str) -> Counter[str]:
    """How often each index of ``collection`` was used (``$indexStats``); through a
    mongos, one document per shard and index, added up."""
    used: Counter[str] = Counter()
    async for doc in store._collection(collection).aggregate([{"$indexStats": {}}]):
        used[doc["name"]] += doc["accesses"]["ops"]
    return used
