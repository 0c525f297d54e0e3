"""The demo traffic generator: deterministic, within bounds, and rich enough that every
report role and touch scope has data."""

from __future__ import annotations

import json
import stat
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.bots import CrawlerDetectBots
from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.config import default_data_dir
from attributionhub.demo import (
    DEFAULT_DEMO_DAYS,
    demo_credentials_file,
    fill_demo,
    generate_events,
    open_demo_site,
)
from domain.events import EventParser, parse_timestamp
from domain.model import Event, Session
from domain.services import AttributionService
from domain.sessionization import sessionize

END = datetime(2025, 7, 31, 18, 30, tzinfo=UTC)
START = END - timedelta(days=30)


@pytest.fixture(scope="module")
def raw_events() -> list[dict[str, object]]:
    return list(generate_events(count=20_000, start=START, end=END))


@pytest.fixture(scope="module")
def parsed(raw_events: list[dict[str, object]]) -> list[Event]:
    parser = EventParser(site_id="site-demo", now=END)
    return [parser.parse(raw) for raw in raw_events]


@pytest.fixture(scope="module")
def human_sessions(parsed: list[Event]) -> list[Session]:
    bots = CrawlerDetectBots()
    return sessionize(
        e for e in parsed if e.user_agent is None or bots.bot_reason(e.user_agent) is None
    )


def test_the_same_seed_gives_the_same_events() -> None:
    first = list(generate_events(count=3_000, start=START, end=END, seed=5))
    again = list(generate_events(count=3_000, start=START, end=END, seed=5))
    other = list(generate_events(count=3_000, start=START, end=END, seed=6))

    assert first == again
    assert first != other


def test_exactly_the_requested_number_of_events_is_generated(
    raw_events: list[dict[str, object]],
) -> None:
    assert len(raw_events) == 20_000
    assert len(list(generate_events(count=1, start=START, end=END))) == 1
    assert list(generate_events(count=0, start=START, end=END)) == []


def test_timestamps_stay_within_bounds_in_chronological_order(parsed: list[Event]) -> None:
    instants = [e.timestamp for e in parsed]

    assert min(instants) >= START
    assert max(instants) <= END
    assert instants == sorted(instants)


def test_a_short_range_ending_now_is_filled_without_future_events() -> None:
    end = datetime(2025, 7, 31, 12, 0, 7, tzinfo=UTC)
    events = list(generate_events(count=500, start=end - timedelta(hours=2), end=end))

    stamps = [parse_timestamp(e["timestamp"]) for e in events]
    assert len(events) == 500
    assert all(end - timedelta(hours=2) <= t <= end for t in stamps)


def test_every_event_is_valid_and_event_ids_are_unique(
    raw_events: list[dict[str, object]], parsed: list[Event]
) -> None:
    # ``parsed`` parsing without EventError is the validity check.
    assert len(parsed) == len(raw_events)
    assert len({e.event_id for e in parsed}) == len(parsed)


def test_conversions_of_all_three_meta_types_carry_emails_and_meta_ids(
    parsed: list[Event],
) -> None:
    conversions = [e for e in parsed if e.type == "conversion"]

    assert {c.meta_type for c in conversions} == {"hubspot_form", "html_form", "custom"}
    assert all(c.email and "@" in c.email for c in conversions)
    assert all(c.meta_id for c in conversions)


def test_traffic_arrives_through_every_kind_of_channel(human_sessions: list[Session]) -> None:
    mediums = Counter(s.attribution.medium for s in human_sessions)
    sources = {s.attribution.source for s in human_sessions}

    assert {"organic", "social", "email", "referral", "cpc", "none", "paid_social"} <= set(mediums)
    assert {"google.com", "google.co.uk", "bing.com", "duckduckgo.com", "direct"} <= sources
    campaigns = [s for s in human_sessions if s.attribution.campaign is not None]
    assert {s.attribution.campaign for s in campaigns} >= {"brand-search", "summer-sale"}
    assert any(s.attribution.content and s.attribution.term for s in campaigns)


def test_returning_visitors_come_back_on_other_days(human_sessions: list[Session]) -> None:
    days_by_visitor: dict[str, set[object]] = defaultdict(set)
    for session in human_sessions:
        days_by_visitor[session.visitor_id].add(session.start.date())

    returning = [v for v, days in days_by_visitor.items() if len(days) > 1]
    assert len(returning) > 50


def test_histories_give_every_touch_scope_something_to_show(
    human_sessions: list[Session],
) -> None:
    by_visitor: dict[str, list[Session]] = defaultdict(list)
    for session in human_sessions:
        by_visitor[session.visitor_id].append(session)
    assisted = after = 0
    for sessions in by_visitor.values():
        sessions.sort(key=lambda s: s.order_key)
        converting = [i for i, s in enumerate(sessions) if s.conversions]
        if converting and converting[0] >= 2:
            assisted += 1  # a session between the first and the first converting one
        if converting and converting[0] < len(sessions) - 1:
            after += 1

    assert assisted > 0
    assert after > 0


def test_funnels_end_in_drop_offs_on_every_step(human_sessions: list[Session]) -> None:
    now = END + timedelta(days=1)  # every session closed
    dropped = {s.exit_page for s in human_sessions if not s.conversions and s.is_closed(now)}
    site = "https://demo.attributionhub.dev"

    assert {site, f"{site}/features", f"{site}/pricing", f"{site}/signup"} <= dropped


def test_a_small_share_of_events_comes_from_crawlers(parsed: list[Event]) -> None:
    bots = CrawlerDetectBots()
    flagged = sum(
        1 for e in parsed if e.user_agent is not None and bots.bot_reason(e.user_agent) is not None
    )

    assert 0 < flagged < len(parsed) * 0.05


async def test_fill_demo_stores_everything_but_the_crawlers() -> None:
    clock = FixedClock(END)
    service = AttributionService(MemoryStore(), clock, CrawlerDetectBots())
    site = await service.create_site("Demo")

    filled = await fill_demo(service, site.site.site_id, now=END, count=2_500, batch_size=1000)

    assert filled.events == 2_500
    assert filled.rejected == 0
    assert filled.duplicates == 0
    assert filled.bots > 0
    assert filled.accepted + filled.bots == 2_500


# --- the demo site of `serve --demo` --------------------------------------------------
def demo_service() -> AttributionService:
    return AttributionService(MemoryStore(), FixedClock(END), CrawlerDetectBots())


async def test_a_second_run_reuses_the_demo_site_with_the_keys_it_kept(tmp_path: Path) -> None:
    service = demo_service()
    kept = tmp_path / "store.db.demo-keys.json"

    first = await open_demo_site(service, kept, count=600)
    again = await open_demo_site(service, kept, count=600)

    assert first.filled is not None
    assert again.filled is None
    assert not again.keys_renewed
    assert again.credentials == first.credentials
    assert await service.site_for_api_key(again.credentials.api_key) == first.credentials.site
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [s.name for s in await service.sites()] == ["Demo"]


async def test_the_demo_data_range_is_read_from_the_store(tmp_path: Path) -> None:
    service = demo_service()

    demo = await open_demo_site(service, tmp_path / "keys.json", count=600)

    assert demo.first_day is not None
    assert demo.last_day is not None
    assert (END - timedelta(days=DEFAULT_DEMO_DAYS)).date() <= demo.first_day
    assert demo.first_day < demo.last_day <= END.date()


@pytest.mark.parametrize("damage", ["missing", "rotated", "garbage"])
async def test_lost_or_stale_kept_keys_are_renewed_and_kept_again(
    tmp_path: Path, damage: str
) -> None:
    service = demo_service()
    kept = tmp_path / "keys.json"
    first = await open_demo_site(service, kept, count=300)
    if damage == "missing":
        kept.unlink()
    elif damage == "rotated":
        await service.rotate_keys(first.credentials.site.site_id)
    else:
        kept.write_text("{not json")

    again = await open_demo_site(service, kept, count=300)

    assert again.keys_renewed
    assert again.credentials.site.site_id == first.credentials.site.site_id
    assert await service.site_for_api_key(again.credentials.api_key) is not None
    assert json.loads(kept.read_text())["api_key"] == again.credentials.api_key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_the_kept_keys_sit_beside_the_sqlite_file_or_in_the_data_folder_for_mongodb(
    tmp_path: Path,
) -> None:
    assert demo_credentials_file(str(tmp_path / "a.db")) == tmp_path / "a.db.demo-keys.json"
    one = demo_credentials_file("mongodb://ah:one@db/x")
    other_password = demo_credentials_file("mongodb://ah:two@db/x")
    other_database = demo_credentials_file("mongodb://ah:one@db/y")
    assert one == other_password  # a new password is still the same data
    assert one != other_database
    assert one.parent == default_data_dir()
