"""The MongoDB adapter against a real server: what mongomock cannot show (true
concurrency, cursors fetched in several batches, the server's unique indexes).

Runs when ``ATTRIBUTIONHUB_TEST_MONGODB_URL`` names a server (select with
``-m mongo_real``); each test gets a database of its own, dropped afterwards. The shared
store contract also runs there, as the ``mongo_real`` entry of the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from adapters.mongo_store import MongoStore
from domain.model import Site
from domain.ports import DuplicateSiteError
from domain.queries import ConversionDefinition, SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import REAL_TESTS_SKIP_REASON, real_mongodb_url, real_store
from tests.integration.test_mongo_store import SITE, journeys, pageview

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


async def test_streams_span_several_cursor_batches_and_can_be_abandoned(real: MongoStore) -> None:
    # 1,200 one-session visitors: more than two batches of the adapter's cursor size.
    events = [
        pageview(f"e-{i}", f"v{i:04d}", f"2025-07-15T{10 + i // 600}:{i % 60:02d}:00Z")
        for i in range(1200)
    ]
    await real.ingest(SITE, events, RECUT)

    streamed = [s async for s in real.stream_outlines(SITE, EVERYTHING, ALL_TIME)]
    journeys = await real.window_journeys(SITE, EVERYTHING, ALL_TIME, ConversionDefinition())
    abandoned = real.stream_outlines(SITE, EVERYTHING, ALL_TIME)
    assert isinstance(abandoned, AsyncGenerator)
    await anext(abandoned)
    await abandoned.aclose()

    assert len(streamed) == len({s.visitor_id for s in streamed}) == 1200
    assert set(journeys) == {s.visitor_id for s in streamed}
    assert await real.count_sessions(SITE, EVERYTHING, ALL_TIME) == 1200
