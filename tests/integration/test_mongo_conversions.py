"""Sessions whose conversions pass MongoDB's 16 MiB document limit: stored in bounded
documents, read back whole, and re-cut, erased, purged and fenced without leaving parts
behind (mongomock-motor refusing oversized documents as a server does, see ``mongo_shim``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import bson

from adapters.mongo_store import LockLostError, MongoStore
from domain.events import (
    MAX_EVENT_ID_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    parse_event,
)
from domain.model import Event
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import (
    MAX_DOCUMENT_SIZE,
    InterleavingClient,
    ReadRecordingClient,
    mongomock_client,
)

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
START = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
# A character of four bytes in UTF-8: the largest a text of a given length can take.
WIDE = "\U0001f600"
HOST = "https://example.com/"
LONGEST_URL = HOST + WIDE * (MAX_URL_LENGTH - len(HOST))
# 200 such conversions take about 21 MB in the two forms a session document held them.
CONVERSIONS = 200


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def pageview(event_id: str, seconds: float, url: str = HOST, visitor: str = "v1") -> Event:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": at(seconds),
        "url": url,
    }
    return parse_event(raw, site_id=SITE, now=NOW)


def largest_conversion(number: int, seconds: float, visitor: str = "v1") -> Event:
    """A conversion whose every text has the longest accepted length, in wide characters."""
    event_id = f"c-{number}-"
    raw: dict[str, Any] = {
        "type": "conversion",
        "event_id": event_id + WIDE * (MAX_EVENT_ID_LENGTH - len(event_id)),
        "visitor_id": visitor,
        "timestamp": at(seconds),
        "url": LONGEST_URL,
        "referrer": LONGEST_URL,
        "email": WIDE * MAX_TEXT_LENGTH,
        "meta_type": WIDE * MAX_TEXT_LENGTH,
        "meta_id": WIDE * MAX_TEXT_LENGTH,
        "value": 9.5,
    }
    return parse_event(raw, site_id=SITE, now=NOW)


def converting_session(count: int = CONVERSIONS, *, first: float = 10) -> list[Event]:
    """A landing on the longest URL, then ``count`` of the largest conversions."""
    return [
        pageview("landing", 0, LONGEST_URL),
        *(largest_conversion(i, first + i) for i in range(count)),
    ]


async def open_on(client: Any, **options: Any) -> MongoStore:
    return await MongoStore.open("mongodb://mongomock.invalid/", client=client, **options)


async def raw_documents(client: Any) -> dict[str, list[dict[str, Any]]]:
    database = client["attributionhub"]
    return {
        name: await database[name].find({}).to_list(None)
        for name in await database.list_collection_names()
    }


async def largest_document(client: Any) -> int:
    documents = await raw_documents(client)
    return max(len(bson.encode(doc)) for docs in documents.values() for doc in docs)


async def stored_conversions(client: Any) -> int:
    """How many conversions the session documents and their parts hold, all told."""
    documents = await raw_documents(client)
    return sum(
        len(doc["conversions"])
        for name in ("sessions", "session_conversions")
        for doc in documents.get(name, ())
    )


async def test_a_session_whose_conversions_pass_16_mb_is_stored_in_documents_below_16_mib() -> None:
    client = mongomock_client()
    store = await open_on(client)
    # Also a path at its bound: 1,000 stored visits of the longest URLs.
    long_path = [
        pageview(f"p-{i}", i / 10, f"{HOST}{'a' * (MAX_URL_LENGTH - len(HOST) - 6)}/{i:05}")
        for i in range(1_200)
    ]
    events = long_path + [largest_conversion(i, 200 + i) for i in range(CONVERSIONS)]

    stored = await store.ingest(SITE, events, RECUT)

    assert stored.accepted == len(events)
    assert await largest_document(client) < MAX_DOCUMENT_SIZE
    [listed] = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    [expected] = sessionize(events)
    assert listed.conversions == expected.conversions
    assert await stored_conversions(client) == CONVERSIONS


async def test_a_visitor_with_such_a_session_is_still_ingested_in_later_batches() -> None:
    client = mongomock_client()
    store = await open_on(client)
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    later = [largest_conversion(CONVERSIONS + i, 10 + CONVERSIONS + i) for i in range(20)]

    stored = await store.ingest(SITE, later, RECUT)

    assert stored.accepted == 20
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(first + later)
    [visitor] = await client["attributionhub"]["visitors"].find({}).to_list(None)
    assert visitor["pending"] is False
    assert await largest_document(client) < MAX_DOCUMENT_SIZE


async def test_a_re_cut_that_moves_conversions_to_another_session_leaves_no_stale_parts() -> None:
    client = mongomock_client()
    store = await open_on(client)
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    # A campaign touch half-way splits the session: the later conversions move to it.
    touch = pageview("touch", 10 + CONVERSIONS / 2 - 0.5, f"{HOST}?utm_source=news&utm_medium=mail")

    await store.ingest(SITE, [touch], RECUT)

    expected = sessionize([*first, touch])
    assert len(expected) == 2
    listed = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    assert sorted(listed, key=lambda s: s.start) == expected
    assert await stored_conversions(client) == CONVERSIONS
    assert await largest_document(client) < MAX_DOCUMENT_SIZE


async def test_a_re_cut_that_shrinks_a_sessions_conversions_leaves_no_stale_parts() -> None:
    client = mongomock_client()
    store = await open_on(client)
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    # Everything after the fortieth conversion becomes a session of its own, one that
    # holds fewer conversions than the first did: its writer had fewer parts to write.
    touch = pageview("touch", 10 + 39.5, f"{HOST}?utm_source=news&utm_medium=mail")

    await store.ingest(SITE, [touch], RECUT)

    listed = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    assert sorted(listed, key=lambda s: s.start) == sessionize([*first, touch])
    assert await stored_conversions(client) == CONVERSIONS


async def test_a_re_cut_from_a_resume_point_keeps_the_parts_of_the_sessions_before_it() -> None:
    client = mongomock_client()
    store = await open_on(client)
    # The converting session, then a session of its own a day later.
    first = [*converting_session(), pageview("next-day", 86_400)]
    await store.ingest(SITE, first, RECUT)
    # The re-cut resumes at the later session: the converting one stays as it is.
    later = [pageview("later", 86_460, f"{HOST}pricing")]

    await store.ingest(SITE, later, RECUT)

    listed = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    assert sorted(listed, key=lambda s: s.start) == sessionize(first + later)
    assert await stored_conversions(client) == CONVERSIONS


async def test_erasing_the_visitor_leaves_no_document_of_its_conversions() -> None:
    client = mongomock_client()
    store = await open_on(client)
    await store.ingest(SITE, converting_session(), RECUT)
    await store.ingest(SITE, [pageview("other", 0, visitor="v2")], RECUT)

    erased = await store.erase_visitor(SITE, "v1")

    assert (erased.visitors, erased.events) == (1, CONVERSIONS + 1)
    assert await stored_conversions(client) == 0
    assert await store.visitor_sessions(SITE, "v1") == []
    assert len(await store.visitor_sessions(SITE, "v2")) == 1


async def test_a_purge_of_the_whole_session_leaves_no_document_of_its_conversions() -> None:
    client = mongomock_client()
    store = await open_on(client)
    await store.ingest(SITE, converting_session(), RECUT)

    purged = await store.purge(START + timedelta(days=1), RECUT, visitors=10)

    assert (purged.visitors, purged.events) == (1, CONVERSIONS + 1)
    assert await stored_conversions(client) == 0
    assert await store.count_sessions(SITE, *EVERYTHING) == 0


async def test_a_purge_of_part_of_the_session_keeps_the_rest_of_its_conversions() -> None:
    client = mongomock_client()
    store = await open_on(client)
    events = converting_session()
    await store.ingest(SITE, events, RECUT)
    kept = [e for e in events if e.timestamp >= START + timedelta(seconds=60)]

    await store.purge(START + timedelta(seconds=60), RECUT, visitors=10)

    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(kept)
    assert await stored_conversions(client) == len(kept)


async def test_a_writer_whose_lease_ran_out_cannot_overwrite_the_newer_parts() -> None:
    client = InterleavingClient(seed=21)
    # The renewal never comes, as for a paused process.
    store = await open_on(client, lock_lease=timedelta(seconds=0.3), lock_renewal=timedelta(30))
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    stale_batch = [largest_conversion(CONVERSIONS, 10 + CONVERSIONS)]
    newer_batch = [largest_conversion(CONVERSIONS + 1, 11 + CONVERSIONS)]
    # The first write of the stale ingest's re-cut is its parts: it stalls past the lease.
    client.delay_next("bulk_write", 2.0)

    async def newer() -> Any:
        await asyncio.sleep(1.0)
        return await store.ingest(SITE, newer_batch, RECUT)

    stale, taken_over = await asyncio.gather(
        store.ingest(SITE, stale_batch, RECUT), newer(), return_exceptions=True
    )

    assert isinstance(stale, LockLostError)
    assert taken_over.accepted == 1
    everything = first + stale_batch + newer_batch
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(everything)
    assert await stored_conversions(client) == CONVERSIONS + 2


async def test_parts_of_a_writer_that_crashed_after_writing_them_are_never_read() -> None:
    client = mongomock_client()
    store = await open_on(client)
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    # What a later holder leaves when it dies between writing parts and its session.
    parts = client["attributionhub"]["session_conversions"]
    orphan = await parts.find_one({"part": 0}, {"_id": False})
    await parts.insert_one(orphan | {"fence": orphan["fence"] + 1})

    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(first)
    assert await store.visitor_sessions(SITE, "v1") == sessionize(first)

    later = [largest_conversion(CONVERSIONS, 10 + CONVERSIONS)]
    await store.ingest(SITE, later, RECUT)

    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(first + later)
    assert await stored_conversions(client) == CONVERSIONS + 1


async def test_the_parts_are_read_with_the_reports_preference_in_reports_only() -> None:
    client = ReadRecordingClient(mongomock_client())
    store = await open_on(client, report_read_preference="secondaryPreferred")
    first = converting_session()
    await store.ingest(SITE, first, RECUT)
    client.reads.clear()

    async with store.snapshot() as snapshot:
        [listed] = await snapshot.list_sessions(SITE, *EVERYTHING, limit=10)
    reports = set(client.reads)
    client.reads.clear()
    [own] = await store.visitor_sessions(SITE, "v1")

    assert listed == own == sessionize(first)[0]
    assert ("session_conversions", "find", "secondaryPreferred") in reports
    assert {mode for _, _, mode in reports} == {"secondaryPreferred"}
    assert ("session_conversions", "find", "primary") in client.reads
    assert {mode for _, _, mode in client.reads} == {"primary"}
