"""What only the embedded SQLite store promises: a durable file, a versioned schema, WAL,
index-served reads, and correctness when two processes share one file."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tracemalloc
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from adapters.bots import CrawlerDetectBots
from adapters.clock import FixedClock
from adapters.sqlite import MIGRATIONS, MigrationError, SchemaVersionError, SqliteStore, codec
from attributionhub.demo import generate_events
from domain.events import parse_event
from domain.model import Event, Site
from domain.ports import SessionKey
from domain.queries import (
    SessionFilters,
    TimeWindow,
    TouchScope,
)
from domain.services import AttributionService
from domain.sessionization import sessionize
from tests.integration.test_store_contract import (
    ALL_TIME,
    CATALOGUE,
    EVERYTHING,
    HOME,
    PRICING,
    RECUT,
    SITE_A,
    TIMEOUT,
    all_sessions,
    conversion,
    pageview,
)

JULY = TimeWindow(
    start=datetime(2025, 7, 1, tzinfo=UTC), end=datetime(2025, 7, 31, 23, 59, 59, tzinfo=UTC)
)
# Creating a table fails when run twice, so reopening proves a migration did not re-run.
MARKER = ("CREATE TABLE marker (n INTEGER NOT NULL)", "INSERT INTO marker VALUES (1)")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "attributionhub.db"


async def test_opening_creates_the_file_and_its_directory(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()

    assert _is_file(db_path)


def _is_file(path: Path) -> bool:
    return path.is_file()


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_sites_events_and_sessions_survive_close_and_reopen(db_path: Path) -> None:
    site = Site("s1", "Shop", "api-hash", "tracker-hash", datetime(2025, 7, 1, tzinfo=UTC))
    store = await SqliteStore.open(db_path)
    await store.add_site(site)
    await store.ingest(SITE_A, CATALOGUE, RECUT)
    before = await all_sessions(store)
    await store.close()

    reopened = await SqliteStore.open(db_path)
    try:
        assert await reopened.get_site("s1") == site
        assert await all_sessions(reopened) == before
        assert len(before) == 9
        assert await reopened.visitor_events(SITE_A, "v6") == CATALOGUE[7:9]
        again = await reopened.ingest(SITE_A, CATALOGUE, RECUT)
        assert (again.accepted, again.duplicates) == (0, len(CATALOGUE))
    finally:
        await reopened.close()


async def test_a_new_file_is_migrated_to_the_latest_version_in_wal_mode(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        assert await store.pragma("user_version") == len(MIGRATIONS)
        assert await store.pragma("journal_mode") == "wal"
    finally:
        await store.close()


async def test_reopening_applies_only_the_migrations_not_yet_applied(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.ingest(SITE_A, CATALOGUE[:2], RECUT)
    await store.close()

    upgraded = await SqliteStore.open(db_path, migrations=[*MIGRATIONS, MARKER])
    assert await upgraded.pragma("user_version") == len(MIGRATIONS) + 1
    await upgraded.close()
    # Were any migration re-run, CREATE TABLE would fail here.
    reopened = await SqliteStore.open(db_path, migrations=[*MIGRATIONS, MARKER])
    try:
        assert await reopened.pragma("user_version") == len(MIGRATIONS) + 1
        assert len(await all_sessions(reopened)) == 2
    finally:
        await reopened.close()


V3_FIXTURE = Path(__file__).parent / "data" / "store-v3.db"
V3_END = datetime(2025, 7, 20, tzinfo=UTC)
V3_NOW = datetime(2025, 7, 20, 12, tzinfo=UTC)


def v3_fixture_events() -> list[Event]:
    """The events the fixture file holds: written by schema version 3 (the code of the
    first release) from this very demo traffic, in batches of 250."""
    raws = generate_events(count=1000, start=V3_END - timedelta(days=20), end=V3_END, seed=11)
    return [parse_event(raw, site_id="site-a", now=V3_NOW) for raw in raws]


async def every_page_report(service: AttributionService) -> list[object]:
    reports: list[object] = []
    window = {
        "start_date": (V3_END - timedelta(days=10)).isoformat(),
        "end_date": V3_END.isoformat(),
    }
    for scope in TouchScope:
        for definition in ({}, {"meta_type": "hubspot_form"}):
            params = {**window, **definition, "touch_scope": scope.value}
            reports.append(await service.page_report("site-a", params))
    return reports


async def test_a_file_of_schema_version_3_is_upgraded_and_answers_identically(
    tmp_path: Path,
) -> None:
    upgraded_path = tmp_path / "v3.db"
    shutil.copyfile(V3_FIXTURE, upgraded_path)
    events = v3_fixture_events()
    upgraded = await SqliteStore.open(upgraded_path)
    fresh = await SqliteStore.open(tmp_path / "fresh.db")
    try:
        assert await upgraded.pragma("user_version") == len(MIGRATIONS)
        site = await upgraded.get_site("site-a")
        assert site is not None
        assert site.name == "Version 3"
        await fresh.ingest("site-a", events, RECUT)
        assert await all_sessions(upgraded, "site-a") == await all_sessions(fresh, "site-a")
        assert set(await all_sessions(upgraded, "site-a")) == set(RECUT(events))
        clock = FixedClock(V3_NOW)
        old = AttributionService(upgraded, clock, CrawlerDetectBots())
        new = AttributionService(fresh, clock, CrawlerDetectBots())
        assert await every_page_report(old) == await every_page_report(new)
        visitor = events[0].visitor_id
        assert sorted(await upgraded.visitor_events("site-a", visitor), key=str) == sorted(
            (e for e in events if e.visitor_id == visitor), key=str
        )

        # Late events re-cut tails of migrated visitors like any others.
        late = [
            replace(e, event_id=e.event_id + "-late", timestamp=e.timestamp + timedelta(minutes=1))
            for e in events[::7]
        ]
        await upgraded.ingest("site-a", late, RECUT)
        await fresh.ingest("site-a", late, RECUT)
        assert set(await all_sessions(upgraded, "site-a")) == set(RECUT([*events, *late]))
        assert await every_page_report(old) == await every_page_report(new)
    finally:
        await upgraded.close()
        await fresh.close()


async def test_a_file_of_the_first_schema_is_upgraded(db_path: Path) -> None:
    old = await SqliteStore.open(db_path, migrations=MIGRATIONS[:1])
    await old.close()

    upgraded = await SqliteStore.open(db_path)
    try:
        assert await upgraded.pragma("user_version") == len(MIGRATIONS)
        await upgraded.ingest(SITE_A, CATALOGUE, RECUT)
        assert set(await all_sessions(upgraded)) == set(sessionize(CATALOGUE, timeout=TIMEOUT))
    finally:
        await upgraded.close()


async def test_a_failing_migration_is_rolled_back_whole(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()
    broken = ("CREATE TABLE marker (n INTEGER NOT NULL)", "THIS IS NOT SQL")

    with pytest.raises(MigrationError, match=f"migration {len(MIGRATIONS) + 1} failed"):
        await SqliteStore.open(db_path, migrations=[*MIGRATIONS, broken])

    # The marker table of the failed migration was rolled back with it.
    fixed = await SqliteStore.open(db_path, migrations=[*MIGRATIONS, MARKER])
    try:
        assert await fixed.pragma("user_version") == len(MIGRATIONS) + 1
    finally:
        await fixed.close()


async def test_a_file_from_a_newer_schema_is_refused(db_path: Path) -> None:
    newer = await SqliteStore.open(db_path, migrations=[*MIGRATIONS, MARKER])
    await newer.close()

    with pytest.raises(SchemaVersionError):
        await SqliteStore.open(db_path)


def _assert_served_by_an_index(plan: list[str]) -> None:
    assert plan, "no query plan"
    assert not any(line.startswith("SCAN sessions") for line in plan), plan
    assert any(line.startswith("SEARCH sessions USING") for line in plan), plan
    # Sorting the rare sessions that share a start is allowed; sorting them all is not.
    assert not any("TEMP B-TREE" in line and "RIGHT PART" not in line for line in plan), plan


@pytest.mark.parametrize(
    "filters",
    [
        SessionFilters(),
        SessionFilters(source="google"),
        SessionFilters(medium="cpc"),
        SessionFilters(campaign="summer"),
        SessionFilters(content="hero"),
        SessionFilters(term="shoes"),
        SessionFilters(landing_page=PRICING),
        SessionFilters(source="google", medium="cpc", landing_page=PRICING),
    ],
    ids=["none", "source", "medium", "campaign", "content", "term", "landing", "combined"],
)
async def test_counting_listing_and_reporting_a_window_are_served_by_indexes(
    db_path: Path, filters: SessionFilters
) -> None:
    store = await SqliteStore.open(db_path)
    try:
        await store.ingest(SITE_A, CATALOGUE, RECUT)
        key = SessionKey(datetime(2025, 7, 4, tzinfo=UTC), "v1", "s-1")
        for window in (JULY, ALL_TIME):
            _assert_served_by_an_index(await store.explain("count", SITE_A, filters, window))
            _assert_served_by_an_index(await store.explain("list", SITE_A, filters, window))
            _assert_served_by_an_index(await store.explain("report", SITE_A, filters, window))
            _assert_served_by_an_index(
                await store.explain("list", SITE_A, filters, window, after=key)
            )
    finally:
        await store.close()


async def test_two_stores_on_one_file_never_store_an_event_twice(db_path: Path) -> None:
    # 400 events of 40 visitors; each store gets 300 of them, 200 in common.
    events = [
        pageview(f"e-{i}", f"v{i % 40}", f"2025-07-15T10:{i % 60:02d}:{i % 7:02d}Z", HOME)
        for i in range(400)
    ]
    first = await SqliteStore.open(db_path)
    second = await SqliteStore.open(db_path)
    try:
        results = await asyncio.gather(
            first.ingest(SITE_A, events[:300], RECUT),
            second.ingest(SITE_A, events[100:], RECUT),
            first.ingest(SITE_A, events[150:250], RECUT),
        )

        assert sum(r.accepted for r in results) == 400
        assert sum(r.duplicates for r in results) == 300 + 300 + 100 - 400
        for reader in (first, second):
            stored = set(await all_sessions(reader))
            assert stored == set(sessionize(events, timeout=TIMEOUT))
        v7 = await second.visitor_events(SITE_A, "v7")
        assert sorted(e.event_id for e in v7) == sorted(f"e-{i}" for i in range(7, 400, 40))
    finally:
        await first.close()
        await second.close()


async def report_visitors(store: SqliteStore) -> list[object]:
    async with store.snapshot() as snapshot:
        return [
            row[0]
            async for chunk in snapshot.report_sessions(SITE_A, EVERYTHING, ALL_TIME)
            for row in chunk
        ]


async def test_a_report_stream_reads_one_consistent_state_while_ingestion_goes_on(
    db_path: Path,
) -> None:
    store = await SqliteStore.open(db_path)
    try:
        # More sessions than one fetched chunk, so the stream resumes after the write.
        await store.ingest(
            SITE_A,
            [pageview(f"a-{i}", f"v{i}", "2025-07-15T10:00:00Z", HOME) for i in range(10_000)],
            RECUT,
        )
        async with store.snapshot() as snapshot:
            stream = snapshot.report_sessions(SITE_A, EVERYTHING, ALL_TIME)
            seen = list(await anext(aiter(stream)))
            late = [pageview(f"b-{i}", f"w{i}", "2025-07-15T11:00:00Z", HOME) for i in range(50)]
            await store.ingest(SITE_A, late, RECUT)
            seen.extend([row async for chunk in stream for row in chunk])
            assert await snapshot.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 10_000

        assert len(seen) == 10_000
        assert len({row[0] for row in seen}) == 10_000  # the visitor keys
        assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 10_050
    finally:
        await store.close()


async def test_the_wal_is_copied_into_the_file_while_the_store_stays_open(
    db_path: Path,
) -> None:
    store = await SqliteStore.open(db_path)
    # A second connection to the file stays open, so closing the first one is not the
    # last close (which would checkpoint by itself): only a checkpoint run while the store
    # was open can have moved the rows from the WAL into the database file.
    other = await SqliteStore.open(db_path)
    try:
        empty_size = _size(db_path)
        await store.ingest(
            SITE_A,
            [pageview(f"e-{i}", f"v{i}", "2025-07-15T10:00:00Z", HOME) for i in range(10_000)],
            RECUT,
        )
        await store.close()

        # 10,000 events and their sessions: well over a megabyte of pages.
        assert _size(db_path) > empty_size + 2**20
        assert await other.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 10_000
    finally:
        await store.close()
        await other.close()


async def test_a_closed_store_refuses_further_use(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()
    await store.close()  # closing twice is harmless

    with pytest.raises(RuntimeError, match="closed"):
        await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME)


async def test_a_cancelled_report_leaves_the_store_usable(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        await store.ingest(
            SITE_A,
            [pageview(f"a-{i}", f"v{i}", "2025-07-15T10:00:00Z", HOME) for i in range(20_000)],
            RECUT,
        )
        started = asyncio.Event()

        async def consume() -> None:
            async with store.snapshot() as snapshot:
                async for _ in snapshot.report_sessions(SITE_A, EVERYTHING, ALL_TIME):
                    started.set()
                    await asyncio.sleep(0)

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        more = [pageview(f"b-{i}", f"w{i}", "2025-07-15T11:00:00Z", HOME) for i in range(10)]
        assert (await store.ingest(SITE_A, more, RECUT)).accepted == 10
        assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 20_010
        assert len(await report_visitors(store)) == 20_010
    finally:
        await store.close()


async def test_statistics_follow_the_store_as_it_grows(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        # A tiny first import, then one many times its size: the planner's statistics
        # must describe the grown store, not the tiny one (whose plans would be wrong).
        await store.ingest(SITE_A, CATALOGUE[:3], RECUT)
        await store.close()
        store = await SqliteStore.open(db_path)
        many = [
            pageview(f"g-{i}", f"v{i % 3000}", f"2025-07-{1 + i % 19:02d}T10:00:00Z", HOME)
            for i in range(12_000)
        ]
        for start in range(0, len(many), 2_000):
            await store.ingest(SITE_A, many[start : start + 2_000], RECUT)

        described = await store.analyzed_events()
        assert described >= 6_000
    finally:
        await store.close()


async def test_distinct_long_referrers_do_not_grow_the_process_without_bound(
    db_path: Path,
) -> None:
    # Referrers and user agents live in a dictionary the store caches in memory: 40 MB
    # of distinct 4 KB referrers must not all stay cached.
    store = await SqliteStore.open(db_path)
    try:
        await store.ingest(SITE_A, [pageview("warm", "v0", "2025-07-15T10:00:00Z", HOME)], RECUT)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for batch in range(10):
            events = [
                pageview(
                    f"r-{batch}-{i}",
                    f"v{batch}-{i}",
                    "2025-07-15T10:00:00Z",
                    HOME,
                    referrer=f"https://example.org/{batch}-{i}/" + "x" * 4000,
                )
                for i in range(1_000)
            ]
            await store.ingest(SITE_A, events, RECUT)
            del events
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()

        assert held < 20 * 2**20, f"{held / 2**20:.1f} MiB still held"
        assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 10_001
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("table", "row_type"),
    [("events", codec.EventRow), ("sessions", codec.SessionRow)],
)
async def test_row_types_name_real_columns_of_their_table(
    tmp_path: Path, table: str, row_type: type[tuple[object, ...]]
) -> None:
    # Rows are decoded by these names; a name that is not a column would fail every read.
    await (await SqliteStore.open(tmp_path / "store.db")).close()
    with closing(sqlite3.connect(tmp_path / "store.db")) as conn:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    assert set(row_type._fields) <= columns  # type: ignore[attr-defined]


async def test_conversions_stored_before_values_existed_read_back_without_a_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = await SqliteStore.open(path)
    try:
        await store.ingest(SITE_A, [conversion("e-1", "v1", "2025-07-15T10:00:00Z", HOME)], RECUT)
    finally:
        await store.close()
    # Version 4 wrote seven fields per conversion; version 5 appends the value.
    with closing(sqlite3.connect(path)) as conn, conn:
        [(blob,)] = conn.execute("SELECT conversions FROM sessions").fetchall()
        seven_fields = [stored[:7] for stored in orjson.loads(blob)]
        conn.execute("UPDATE sessions SET conversions = ?", (orjson.dumps(seven_fields),))
    store = await SqliteStore.open(path)
    try:
        [session] = await all_sessions(store)
    finally:
        await store.close()
    assert [(c.event_id, c.value) for c in session.conversions] == [("e-1", None)]


async def test_aggregate_rows_come_in_chunks_read_ahead_and_may_be_abandoned(
    db_path: Path,
) -> None:
    # More sessions than three chunks hold: the next chunk is read while one is counted.
    store = await SqliteStore.open(db_path)
    visitors = 20_000
    events = [
        pageview(f"c-{i}", f"v{i}", f"2025-07-{1 + i % 19:02d}T10:{i % 60:02d}:00Z", HOME)
        for i in range(visitors)
    ]
    try:
        for i in range(0, visitors, 10_000):
            await store.ingest(SITE_A, events[i : i + 10_000], RECUT)
        async with store.snapshot() as snapshot:
            chunks = [
                len(rows) async for rows in snapshot.aggregate_sessions(SITE_A, EVERYTHING, JULY)
            ]
            stream = snapshot.aggregate_sessions(SITE_A, EVERYTHING, JULY)
            await anext(aiter(stream))
            await stream.aclose()  # type: ignore[attr-defined]  # a generator
            counted = await snapshot.count_sessions(SITE_A, EVERYTHING, JULY)
        assert len(chunks) >= 3
        assert sum(chunks) == counted == visitors
        assert await store.count_sessions(SITE_A, EVERYTHING, JULY) == visitors
    finally:
        await store.close()


async def test_bot_counts_of_two_processes_sharing_a_file_converge(db_path: Path) -> None:
    # Two stores on one file are two writers, as two server processes would be: each
    # batch's increments must survive the other's concurrent ones.
    first = await SqliteStore.open(db_path)
    second = await SqliteStore.open(db_path)
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    try:
        services = [
            AttributionService(
                s, FixedClock(datetime(2025, 7, 20, tzinfo=UTC)), CrawlerDetectBots()
            )
            for s in (first, second)
        ]
        batches = [
            [
                {
                    "type": "pageview",
                    "event_id": f"b{n}-{i}",
                    "visitor_id": f"bot-{n}",
                    "timestamp": "2025-07-19T10:00:00Z",
                    "url": HOME,
                    "user_agent": googlebot,
                }
                for i in range(n % 3 + 1)
            ]
            for n in range(30)
        ]
        reports = await asyncio.gather(
            *(services[n % 2].ingest(SITE_A, batch) for n, batch in enumerate(batches))
        )
        async with first.snapshot() as snapshot:
            (counts,) = await snapshot.dropped_bots(SITE_A)
    finally:
        await first.close()
        await second.close()
    assert sum(r.bots for r in reports) == sum(len(b) for b in batches) == 60
    assert (counts.reason, counts.events) == ("Googlebot", 60)
