"""The MongoDB adapter under outages: timeouts on every driver call, outages as the
port's ``StoreUnavailableError``, and locks released without masking the failure
(fault injection through ``mongo_shim.InterleavingClient``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pymongo import WriteConcern
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ExecutionTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from adapters.mongo_store import MongoStore
from domain.events import parse_event
from domain.model import Event, Site
from domain.ports import StoreUnavailableError
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import InterleavingClient

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
# The option name of each read method: pymongo spells it two ways.
READ_OPTIONS = {
    "find": "max_time_ms",
    "find_one": "max_time_ms",
    "aggregate": "maxTimeMS",
    "count_documents": "maxTimeMS",
    "find_one_and_update": "maxTimeMS",
}


def event(event_id: str, visitor: str, timestamp: str, kind: str = "pageview") -> Event:
    raw: dict[str, Any] = {
        "type": kind,
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": "https://example.com/",
    }
    if kind == "conversion":
        raw |= {"meta_type": "signup", "email": "a@example.com"}
    return parse_event(raw, site_id=SITE, now=NOW)


async def open_on(client: InterleavingClient, **options: Any) -> MongoStore:
    return await MongoStore.open("mongodb://mongomock.invalid/", client=client, **options)


async def test_every_read_carries_the_query_timeout_and_writes_the_write_timeout() -> None:
    client = InterleavingClient(seed=3)
    store = await open_on(client, query_timeout_ms=1234, write_timeout_ms=567)
    [database] = [kw for name, kw in client.calls if name == "get_database"]
    # The layout upgrade at open is a one-time pass over every document: no time limit.
    client.calls.clear()
    await store.add_site(Site(SITE, "A", "api", "tracker", datetime(2025, 7, 1, tzinfo=UTC)))
    batch = [
        event("e-1", "v1", "2025-07-15T10:00:00Z"),
        event("e-2", "v1", "2025-07-16T10:00:00Z"),
        event("e-3", "v1", "2025-07-16T10:01:00Z", "conversion"),
    ]
    await store.ingest(SITE, batch, RECUT)
    await store.get_site(SITE)
    await store.site_by_api_key_hash("api")
    await store.list_sites()
    await store.replace_site_keys(SITE, "api-2", "tracker-2")
    window = TimeWindow(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC))
    async with store.snapshot() as snapshot:
        await snapshot.count_sessions(SITE, *EVERYTHING)
        # A deep skip is a read like any other.
        await snapshot.list_sessions(SITE, *EVERYTHING, limit=5, offset=10_000)
        [_ async for _ in snapshot.report_sessions(SITE, *EVERYTHING)]
        [_ async for _ in snapshot.journey_sessions(SITE, window, timedelta(days=30))]
        [_ async for _ in snapshot.aggregate_sessions(SITE, *EVERYTHING)]
        [_ async for _ in snapshot.visitor_conversions(SITE, *EVERYTHING)]
        await snapshot.dropped_bots(SITE)
    await store.visitor_sessions(SITE, "v1")
    await store.visitor_history(SITE, "v1")
    await store.erase_email(SITE, "a@example.com")
    await store.purge(datetime(2025, 7, 16, tzinfo=UTC), RECUT, visitors=10)

    assert database["write_concern"] == WriteConcern(w="majority", wtimeout=567)
    reads = [(name, kw) for name, kw in client.calls if name in READ_OPTIONS]
    assert {name for name, _ in reads} == set(READ_OPTIONS)
    assert [(n, kw) for n, kw in reads if kw.get(READ_OPTIONS[n]) != 1234] == []
    assert "distinct" not in {name for name, _ in client.calls}


@pytest.mark.parametrize("error", [ExecutionTimeout, ServerSelectionTimeoutError])
async def test_a_read_that_times_out_or_finds_no_server_is_store_unavailable(
    error: type[PyMongoError],
) -> None:
    client = InterleavingClient(seed=4)
    store = await open_on(client)
    client.fail_next("count_documents", error=error)

    with pytest.raises(StoreUnavailableError, match="MongoDB unavailable"):
        await store.count_sessions(SITE, *EVERYTHING)

    # The fault passed: the same read answers.
    assert await store.count_sessions(SITE, *EVERYTHING) == 0


async def test_a_write_concern_timeout_is_store_unavailable() -> None:
    client = InterleavingClient(seed=5)
    store = await open_on(client)
    client.fail_next("insert_many", error=WTimeoutError)

    with pytest.raises(StoreUnavailableError):
        await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)


def replication_timed_out(message: str) -> BulkWriteError:
    """What an unordered insert answers when its write concern timed out."""
    timed_out = {"code": 64, "errmsg": message, "errInfo": {"wtimeout": True}}
    return BulkWriteError({"writeErrors": [], "writeConcernErrors": [timed_out]})


async def test_a_write_concern_timeout_inside_a_bulk_write_is_store_unavailable() -> None:
    client = InterleavingClient(seed=9)
    store = await open_on(client)
    await store.ingest(SITE, [event("e-0", "v1", "2025-07-15T09:00:00Z")], RECUT)
    client.fail_next("insert_many", error=replication_timed_out)

    with pytest.raises(StoreUnavailableError, match="a write timed out"):
        await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)


async def test_server_selection_waits_no_longer_than_the_query_timeout() -> None:
    started = time.monotonic()

    with pytest.raises(StoreUnavailableError, match=r"within 0\.3 s"):
        # Port 1 on loopback: connection refused, so only the selection timeout waits.
        await MongoStore.open("mongodb://127.0.0.1:1/analytics", query_timeout_ms=300)

    assert time.monotonic() - started < 3


async def test_an_outage_fails_every_operation_fast_and_the_store_recovers_after_it() -> None:
    client = InterleavingClient(seed=6)
    store = await open_on(client)
    client.unreachable = True

    with pytest.raises(StoreUnavailableError):
        await store.get_site(SITE)
    with pytest.raises(StoreUnavailableError):
        await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)
    client.unreachable = False

    stored = await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)
    assert stored.accepted == 1


async def test_a_failed_unlock_neither_masks_the_error_nor_holds_the_lock_past_its_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = InterleavingClient(seed=7)
    lease = timedelta(seconds=0.5)
    store = await open_on(client, lock_lease=lease)
    earlier = event("e-0", "v1", "2025-07-15T09:55:00Z")
    await store.ingest(SITE, [earlier], RECUT)
    first = event("e-1", "v1", "2025-07-15T10:00:00Z")
    # The connection drops while the events are written and stays down for the unlock.
    client.delay_next("insert_many", 0.1)

    async def drop_connection() -> None:
        await asyncio.sleep(0.05)
        client.unreachable = True

    dropping = asyncio.create_task(drop_connection())
    with pytest.raises(StoreUnavailableError) as raised:
        await store.ingest(SITE, [first], RECUT)
    await dropping

    # The error is the write's, not the unlock's; the unlock's failure is logged.
    assert "insert_many" in str(raised.value)
    assert any("could not release" in r.getMessage() for r in caplog.records)
    client.unreachable = False
    second = event("e-2", "v1", "2025-07-15T10:05:00Z")

    started = time.monotonic()
    stored = await asyncio.wait_for(store.ingest(SITE, [second, first], RECUT), timeout=5)

    # The lock stayed with the failed ingest for the rest of its lease, no longer.
    assert time.monotonic() - started < lease.total_seconds() + 1.5
    assert stored.accepted == 2
    expected = sessionize([earlier, first, second])
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == expected


async def test_a_delayed_write_keeps_its_lock_and_a_second_ingest_waits_for_it() -> None:
    client = InterleavingClient(seed=8)
    store = await open_on(client)
    first = event("e-1", "v1", "2025-07-15T10:00:00Z")
    second = event("e-2", "v1", "2025-07-15T10:05:00Z")
    client.delay_next("bulk_write", 0.3)

    results = await asyncio.gather(
        store.ingest(SITE, [first], RECUT), store.ingest(SITE, [second], RECUT)
    )

    assert [r.accepted for r in results] == [1, 1]
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize([first, second])


async def test_a_failed_unlock_is_retried_so_the_lock_passes_on_as_soon_as_the_server_is_back() -> (
    None
):
    client = InterleavingClient(seed=8)
    # A lease far longer than the test may wait: only the retried release lets v1 go.
    store = await open_on(client, lock_lease=timedelta(minutes=5))
    first = event("e-1", "v1", "2025-07-15T10:00:00Z")

    def drop_for_a_moment(message: str) -> AutoReconnect:
        # The session write fails, and so does the release right after it.
        client.fail_next("visitors.update_many")
        return AutoReconnect(message)

    client.fail_next("sessions.bulk_write", error=drop_for_a_moment)
    with pytest.raises(StoreUnavailableError):
        await store.ingest(SITE, [first], RECUT)

    second = event("e-2", "v1", "2025-07-15T10:05:00Z")
    stored = await asyncio.wait_for(store.ingest(SITE, [first, second], RECUT), timeout=10)

    assert stored.accepted == 1
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize([first, second])


async def test_closing_the_store_stops_the_retried_releases() -> None:
    client = InterleavingClient(seed=9)
    store = await open_on(client, lock_lease=timedelta(minutes=5))

    def go_down(message: str) -> AutoReconnect:
        client.unreachable = True  # and stays down: the release is retried meanwhile
        return AutoReconnect(message)

    client.fail_next("sessions.bulk_write", error=go_down)
    with pytest.raises(StoreUnavailableError):
        await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)
    await asyncio.sleep(0.3)  # a retry or two fail meanwhile

    # Returns at once, with no task left behind (the suite turns warnings into errors).
    await asyncio.wait_for(store.close(), timeout=2)


async def test_a_visitor_locked_past_every_lease_is_a_503_for_the_batch_not_a_500() -> None:
    client = InterleavingClient(seed=10)
    store = await open_on(client, lock_lease=timedelta(seconds=0.2))
    await store.ingest(SITE, [event("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)
    # Another process holds v1 and keeps renewing: its lease never runs out.
    held = {"lock": "elsewhere", "lock_expires": datetime.now(UTC) + timedelta(hours=1)}
    await client["attributionhub"]["visitors"].update_one({"visitor_id": "v1"}, {"$set": held})

    with pytest.raises(StoreUnavailableError, match="stayed locked"):
        await store.ingest(SITE, [event("e-2", "v1", "2025-07-15T10:05:00Z")], RECUT)

    assert [e.event_id for e in await store.visitor_events(SITE, "v1")] == ["e-1"]
