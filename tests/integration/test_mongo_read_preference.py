"""Where the MongoDB adapter's reads go: the reports (the reads of ``snapshot()``) with
the configured read preference, every other read to the primary whatever the URL's
``readPreference`` says (recorded through ``mongo_shim.ReadRecordingClient``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pymongo import ReadPreference

from adapters.mongo_store import REPORT_READ_PREFERENCES, MongoStore
from domain.events import parse_event
from domain.model import Event, Site
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import ReadRecordingClient, mongomock_client

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
WINDOW = TimeWindow(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC))
MODES = ["primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"]


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


BATCH = [
    event("e-1", "v1", "2025-07-15T10:00:00Z"),
    event("e-2", "v1", "2025-07-16T10:00:00Z"),
    event("e-3", "v1", "2025-07-16T10:01:00Z", "conversion"),
    event("e-4", "v2", "2025-07-16T11:00:00Z"),
]


def url_asking_secondaries() -> ReadRecordingClient:
    """A client as ``?readPreference=secondaryPreferred`` in the URL makes it: every
    database and collection inherits that preference unless told otherwise."""
    return ReadRecordingClient(mongomock_client(read_preference=ReadPreference.SECONDARY_PREFERRED))


async def open_on(client: ReadRecordingClient, **options: Any) -> MongoStore:
    return await MongoStore.open(
        "mongodb://mongomock.invalid/?readPreference=secondaryPreferred", client=client, **options
    )


async def read_every_report(store: MongoStore) -> None:
    async with store.snapshot() as snapshot:
        assert await snapshot.count_sessions(SITE, *EVERYTHING) == 3
        assert len(await snapshot.list_sessions(SITE, *EVERYTHING, limit=10)) == 3
        [_ async for _ in snapshot.report_sessions(SITE, *EVERYTHING)]
        [_ async for _ in snapshot.journey_sessions(SITE, WINDOW, timedelta(days=30))]
        [_ async for _ in snapshot.aggregate_sessions(SITE, *EVERYTHING)]
        [_ async for _ in snapshot.visitor_conversions(SITE, *EVERYTHING)]
        await snapshot.dropped_bots(SITE)


def test_the_report_read_preferences_are_the_modes_of_mongodb_by_their_names() -> None:
    assert list(REPORT_READ_PREFERENCES) == MODES
    assert [p.mongos_mode for p in REPORT_READ_PREFERENCES.values()] == MODES


async def test_every_read_but_the_reports_goes_to_the_primary_whatever_the_url_asks() -> None:
    client = url_asking_secondaries()
    store = await open_on(client, report_read_preference="nearest")
    created = datetime(2025, 7, 1, tzinfo=UTC)

    await store.add_site(Site(SITE, "A", "api", "tracker", created))
    await store.get_site(SITE)
    await store.site_by_api_key_hash("api")
    await store.site_by_tracker_token_hash("tracker")
    await store.list_sites()
    await store.replace_site_keys(SITE, "api-2", "tracker-2")
    await store.ingest(SITE, BATCH, RECUT)
    await store.ingest(SITE, [event("e-5", "v1", "2025-07-16T10:05:00Z"), *BATCH], RECUT)
    await store.count_dropped_bots(SITE, {"crawler": 2}, NOW)
    await store.visitor_events(SITE, "v1")
    await store.visitor_sessions(SITE, "v1")
    await store.visitor_history(SITE, "v1")
    await store.repair_pending(RECUT, visitors=10)
    await store.purge(datetime(2025, 7, 16, tzinfo=UTC), RECUT, visitors=10)
    await store.erase_email(SITE, "a@example.com")
    await store.erase_visitor(SITE, "v2")

    read = {collection for collection, _, _ in client.reads}
    assert {"sites", "events", "event_ids", "sessions", "visitors", "meta"} <= read
    assert {mode for _, _, mode in client.reads} == {"primary"}


@pytest.mark.parametrize("mode", MODES)
async def test_the_reports_read_with_the_configured_preference_whatever_the_url_asks(
    mode: str,
) -> None:
    client = url_asking_secondaries()
    store = await open_on(client, report_read_preference=mode)
    await store.ingest(SITE, BATCH, RECUT)
    client.reads.clear()

    await read_every_report(store)

    assert {(collection, used) for collection, _, used in client.reads} == {
        ("sessions", mode),
        ("dropped_bots", mode),
    }
    assert {method for _, method, _ in client.reads} == {"count_documents", "find", "aggregate"}


async def test_the_reports_read_from_the_primary_unless_configured() -> None:
    client = url_asking_secondaries()
    store = await open_on(client)
    await store.ingest(SITE, BATCH, RECUT)
    client.reads.clear()

    await read_every_report(store)
    await store.count_sessions(SITE, *EVERYTHING)  # a snapshot of its own

    assert client.reads
    assert {mode for _, _, mode in client.reads} == {"primary"}


async def test_a_read_preference_mongodb_does_not_name_is_refused_naming_the_modes() -> None:
    with pytest.raises(ValueError, match=r"report_read_preference: expected one of primary, "):
        await open_on(url_asking_secondaries(), report_read_preference="SECONDARY")
