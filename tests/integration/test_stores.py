"""Store selection: every failure to open the configured store is one clear error."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pymongo import ReadPreference

from adapters.sqlite import SqliteStore
from attributionhub.config import Settings
from attributionhub.stores import StoreOpenError, display_store, open_store
from domain.events import parse_event
from domain.model import Event
from domain.ports import StoreUnavailableError
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import InterleavingClient, ReadRecordingClient, mongomock_client

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
MONGODB = {"ATTRIBUTIONHUB_STORE": "mongodb://mongomock.invalid/attributionhub"}


def pageview(event_id: str, timestamp: str, visitor: str = "v1") -> Event:
    raw: dict[str, Any] = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": "https://example.com/",
    }
    return parse_event(raw, site_id=SITE, now=NOW)


EARLIER = pageview("e-0", "2025-07-15T09:55:00Z")


async def test_a_file_path_opens_the_embedded_store(tmp_path: Path) -> None:
    store = await open_store(Settings(store=str(tmp_path / "a.db")))
    try:
        assert isinstance(store, SqliteStore)
        assert (tmp_path / "a.db").exists()
    finally:
        await store.close()


async def test_a_missing_folder_of_an_explicit_path_is_named_and_not_created(
    tmp_path: Path,
) -> None:
    wanted = tmp_path / "nonexistent" / "dir" / "x.db"

    with pytest.raises(StoreOpenError, match=r"the folder '.*nonexistent/dir' does not"):
        await open_store(Settings(store=str(wanted)))

    assert not (tmp_path / "nonexistent").exists()


def test_a_mongodb_url_is_displayed_without_its_password() -> None:
    shown = display_store("mongodb://ah:s3cret@db1:27017,db2:27017/attributionhub?tls=true")

    assert shown == "mongodb://ah:***@db1:27017,db2:27017/attributionhub?tls=true"


def test_a_relative_store_path_is_displayed_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert display_store("data.db") == str(tmp_path / "data.db")


async def test_a_directory_in_the_way_is_a_store_open_error(tmp_path: Path) -> None:
    with pytest.raises(StoreOpenError, match="cannot open the embedded store"):
        await open_store(Settings(store=str(tmp_path)))


async def test_a_file_that_is_no_database_is_a_store_open_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 200)
    with pytest.raises(StoreOpenError, match=r"notes\.txt"):
        await open_store(Settings(store=str(junk)))


async def test_an_unreachable_mongodb_fails_fast_with_a_clear_error() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings = Settings(store="mongodb://127.0.0.1:9/attributionhub?serverSelectionTimeoutMS=500")
    with pytest.raises(StoreOpenError, match="MongoDB"):
        await open_store(settings)


async def test_an_invalid_mongodb_option_is_a_store_open_error() -> None:
    settings = Settings(store=MONGODB["ATTRIBUTIONHUB_STORE"], mongo_report_read_preference="any")

    with pytest.raises(StoreOpenError, match="report_read_preference: expected one of"):
        await open_store(settings, mongo_client=mongomock_client())


async def crash_holding_the_lock_of_v1(settings: Settings, client: InterleavingClient) -> None:
    """A process whose ingest of v1 fails while it holds v1's lock and which dies before
    it can release it: the connection drops while the events are written, and the
    process ends (its store closes, so no retry releases the lock) before it is back."""
    crashed = await open_store(settings, mongo_client=client)
    await crashed.ingest(SITE, [EARLIER], RECUT)
    client.delay_next("insert_many", 0.1)

    async def drop_connection() -> None:
        await asyncio.sleep(0.05)
        client.unreachable = True

    dropping = asyncio.create_task(drop_connection())
    with pytest.raises(StoreUnavailableError):
        await crashed.ingest(SITE, [pageview("e-1", "2025-07-15T10:00:00Z")], RECUT)
    await dropping
    await crashed.close()
    client.unreachable = False
    visitor = await mongomock_view(client)["attributionhub"]["visitors"].find_one(
        {"visitor_id": "v1"}
    )
    assert visitor["lock"] is not None


async def test_a_lock_lease_set_in_the_environment_passes_a_crashed_holders_lock_after_it() -> None:
    env = MONGODB | {
        "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": "2",
        "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "1000",
    }
    client = InterleavingClient(seed=5)
    await crash_holding_the_lock_of_v1(Settings.from_env(env), client)
    store = await open_store(Settings.from_env(env), mongo_client=client)
    started = time.monotonic()
    second = pageview("e-2", "2025-07-15T10:05:00Z")

    waiting = asyncio.create_task(store.ingest(SITE, [second], RECUT))
    await asyncio.sleep(0.5)
    assert not waiting.done()  # the crashed holder's lease still runs

    # Far sooner than the default lease of 15 s would let it in.
    stored = await asyncio.wait_for(waiting, timeout=6)
    assert time.monotonic() - started < 5
    assert stored.accepted == 1
    # The crashed ingest's event never reached the server; the re-cut has the others.
    expected = sessionize([EARLIER, second])
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == expected
    await store.close()


async def test_a_lock_renewal_set_in_the_environment_renews_a_slow_holders_lease_that_often() -> (
    None
):
    env = MONGODB | {
        "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS": "3",
        "ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS": "0.2",
        "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS": "1000",
    }
    client = InterleavingClient(seed=6)
    store = await open_store(Settings.from_env(env), mongo_client=client)
    visitors = mongomock_view(client)["attributionhub"]["visitors"]
    client.delay_next("bulk_write", 1.5)  # the session write is slow

    ingesting = asyncio.create_task(
        store.ingest(SITE, [pageview("e-1", "2025-07-15T10:00:00Z")], RECUT)
    )
    expiries = set()
    while not ingesting.done():
        doc = await visitors.find_one({"site_id": SITE, "visitor_id": "v1"})
        if doc is not None and doc["lock"] is not None:
            expiries.add(doc["lock_expires"])
        await asyncio.sleep(0.05)
    await ingesting

    # Renewed about every 0.2 s for 1.5 s; the default (a third of the lease, 1 s) would
    # have renewed it once or twice.
    assert len(expiries) >= 5
    await store.close()


def mongomock_view(client: InterleavingClient) -> Any:
    """The data behind ``client``, read without its interleaving and injected delays."""
    return client._inner


async def test_the_report_read_preference_set_in_the_environment_reaches_the_store() -> None:
    env = MONGODB | {"ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE": "secondaryPreferred"}
    # As a URL's readPreference=nearest would make the client: ingestion ignores it.
    client = ReadRecordingClient(mongomock_client(read_preference=ReadPreference.NEAREST))
    store = await open_store(Settings.from_env(env), mongo_client=client)
    await store.ingest(SITE, [pageview("e-1", "2025-07-15T10:00:00Z")], RECUT)
    ingestion = set(client.reads)
    client.reads.clear()

    async with store.snapshot() as snapshot:
        assert await snapshot.count_sessions(SITE, *EVERYTHING) == 1

    assert {mode for _, _, mode in ingestion} == {"primary"}
    assert client.reads == [("sessions", "count_documents", "secondaryPreferred")]
    await store.close()
