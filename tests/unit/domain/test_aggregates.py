"""The aggregates (docs/concepts.md, "Aggregates"): worked examples of buckets across
clock changes, weeks and months, the dimensions, ordering, limits and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.aggregates import (
    AggregateConversion,
    AggregateSession,
    BreakdownDimension,
    Interval,
    TimeseriesQuery,
    bucket_bounds,
    parse_breakdown_query,
    parse_timeseries_query,
    timeseries,
)
from domain.aggregates import breakdown as breakdown_of
from domain.model import from_micros, to_micros
from domain.page_report import CountingRule
from domain.parameters import ParameterError
from domain.queries import ConversionDefinition, SessionFilters, TimeWindow

NOW = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
EVERY_CONVERSION = CountingRule(ConversionDefinition())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def session(
    visitor: str,
    start: str,
    *,
    source: str = "google",
    medium: str = "organic",
    campaign: str | None = None,
    content: str | None = None,
    term: str | None = None,
    landing: str = "https://shop.example/",
    conversions: tuple[AggregateConversion, ...] | None = None,
) -> AggregateSession:
    """A row as a store that keys texts and pages by themselves yields it."""
    return AggregateSession(
        visitor,
        to_micros(instant(start)),
        source,
        medium,
        campaign,
        content,
        term,
        landing,
        conversions,
    )


def form(
    meta_type: str = "html_form", page: str = "https://shop.example/signup"
) -> AggregateConversion:
    return AggregateConversion(page, meta_type, None)


def series_query(params: Mapping[str, object]) -> TimeseriesQuery:
    return parse_timeseries_query(params, now=NOW)


def lengths(bounds: list[int]) -> list[timedelta]:
    return [from_micros(b) - from_micros(a) for a, b in pairwise(bounds)]


# --- buckets across clock changes -----------------------------------------------------------
def test_a_berlin_day_when_the_clocks_go_forward_is_a_23_hour_bucket() -> None:
    query = series_query(
        {
            "start_date": "2025-03-29T00:00:00+01:00",
            "end_date": "2025-03-31T23:59:59+02:00",
            "time_zone": "Europe/Berlin",
        }
    )
    rows = [
        session("a", "2025-03-30T21:30:00Z"),  # 23:30 CEST on the 30th
        session("b", "2025-03-30T22:30:00Z"),  # 00:30 CEST on the 31st
    ]

    found = timeseries(rows, query, EVERY_CONVERSION)

    assert [b.start for b in found.buckets] == [
        instant("2025-03-28T23:00:00Z"),
        instant("2025-03-29T23:00:00Z"),
        instant("2025-03-30T22:00:00Z"),
    ]
    assert [b.sessions for b in found.buckets] == [0, 1, 1]
    bounds = bucket_bounds(query.window, Interval.DAY, ZoneInfo("Europe/Berlin"))
    assert lengths(bounds) == [24 * HOUR, 23 * HOUR, 24 * HOUR]


def test_a_berlin_day_when_the_clocks_go_back_has_25_hourly_buckets_two_at_2_am() -> None:
    query = series_query(
        {
            "start_date": "2025-10-26T00:00:00+02:00",
            "end_date": "2025-10-26T23:59:59+01:00",
            "time_zone": "Europe/Berlin",
            "interval": "hour",
        }
    )
    rows = [
        session("a", "2025-10-26T00:30:00Z"),  # 02:30 CEST
        session("b", "2025-10-26T01:30:00Z"),  # 02:30 CET, an hour later
    ]

    found = timeseries(rows, query, EVERY_CONVERSION)

    assert len(found.buckets) == 25
    berlin = ZoneInfo("Europe/Berlin")
    walls = [b.start.astimezone(berlin).strftime("%H:%M%z") for b in found.buckets]
    assert walls[:5] == ["00:00+0200", "01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100"]
    assert [b.sessions for b in found.buckets[2:4]] == [1, 1]
    day = bucket_bounds(query.window, Interval.DAY, berlin)
    assert lengths(day) == [25 * HOUR]


def test_a_berlin_day_when_the_clocks_go_forward_has_23_hourly_buckets_none_at_2_am() -> None:
    query = series_query(
        {
            "start_date": "2025-03-30T00:00:00+01:00",
            "end_date": "2025-03-30T23:59:59+02:00",
            "time_zone": "Europe/Berlin",
            "interval": "hour",
        }
    )

    found = timeseries([], query, EVERY_CONVERSION)

    berlin = ZoneInfo("Europe/Berlin")
    walls = [b.start.astimezone(berlin).strftime("%H:%M") for b in found.buckets]
    assert len(found.buckets) == 23
    assert walls[:3] == ["00:00", "01:00", "03:00"]


def test_new_york_days_when_the_clocks_change_are_23_and_25_hours() -> None:
    zone = ZoneInfo("America/New_York")
    spring = series_query(
        {
            "start_date": "2025-03-09T00:00:00-05:00",
            "end_date": "2025-03-09T23:00:00-04:00",
            "time_zone": "America/New_York",
        }
    )
    autumn = series_query(
        {
            "start_date": "2025-11-02T00:00:00-04:00",
            "end_date": "2025-11-02T23:00:00-05:00",
            "time_zone": "America/New_York",
            "interval": "hour",
        }
    )

    [march_9] = timeseries([], spring, EVERY_CONVERSION).buckets
    hours = timeseries([session("a", "2025-11-02T06:15:00Z")], autumn, EVERY_CONVERSION).buckets

    assert march_9.start == instant("2025-03-09T05:00:00Z")
    assert lengths(bucket_bounds(spring.window, Interval.DAY, zone)) == [23 * HOUR]
    assert lengths(bucket_bounds(autumn.window, Interval.DAY, zone)) == [25 * HOUR]
    assert len(hours) == 25
    # 06:15Z is 01:15 EST, the second 1 a.m. of the day.
    [busy] = [b for b in hours if b.sessions]
    assert busy.start == instant("2025-11-02T06:00:00Z")
    assert hours.index(busy) == 2


def test_a_week_starts_on_monday() -> None:
    # 2025-07-16 is a Wednesday; the window ends on Wednesday the 23rd.
    query = series_query({"start_date": "2025-07-16", "end_date": "2025-07-23", "interval": "week"})
    rows = [
        session("a", "2025-07-20T23:59:00Z"),  # Sunday
        session("b", "2025-07-21T00:00:00Z"),  # Monday
        session("c", "2025-07-22T08:00:00Z"),
    ]

    found = timeseries(rows, query, EVERY_CONVERSION)

    assert [(b.start, b.sessions) for b in found.buckets] == [
        (instant("2025-07-14T00:00:00Z"), 1),
        (instant("2025-07-21T00:00:00Z"), 2),
    ]
    assert all(b.start.weekday() == 0 for b in found.buckets)


def test_a_month_bucket_in_a_zone_east_of_utc_starts_at_its_local_midnight() -> None:
    query = series_query(
        {
            "start_date": "2025-06-20",
            "end_date": "2025-07-10",
            "interval": "month",
            "time_zone": "Asia/Tokyo",
        }
    )
    rows = [
        session("a", "2025-06-30T14:59:00Z"),  # 23:59 JST, June 30th
        session("b", "2025-06-30T16:00:00Z"),  # 01:00 JST, July 1st
    ]

    found = timeseries(rows, query, EVERY_CONVERSION)

    assert [(b.start, b.sessions) for b in found.buckets] == [
        (instant("2025-05-31T15:00:00Z"), 1),
        (instant("2025-06-30T15:00:00Z"), 1),
    ]


def test_every_bucket_of_the_window_is_listed_empty_ones_included() -> None:
    query = series_query({"start_date": "2025-07-01", "end_date": "2025-07-31"})

    found = timeseries([session("a", "2025-07-15T10:00:00Z")], query, EVERY_CONVERSION)

    assert len(found.buckets) == 31
    assert [b.start.day for b in found.buckets] == list(range(1, 32))
    assert sum(b.sessions for b in found.buckets) == 1
    assert found.time_zone == "UTC"


def test_a_bucket_counts_users_conversions_and_converting_sessions_by_the_definition() -> None:
    query = series_query(
        {"start_date": "2025-07-01", "end_date": "2025-07-01", "meta_type": "html_form"}
    )
    rows = [
        session("a", "2025-07-01T08:00:00Z", conversions=(form(), form(), form("custom"))),
        session("a", "2025-07-01T09:00:00Z"),
        session("b", "2025-07-01T10:00:00Z", conversions=(form("custom"),)),
    ]
    rule = CountingRule(query.definition)

    [day] = timeseries(rows, query, rule).buckets

    assert (day.sessions, day.users, day.conversions, day.converting_sessions) == (3, 2, 2, 1)


# --- breakdowns -----------------------------------------------------------------------------
ROWS = [
    session(
        "a",
        "2025-07-01T08:00:00Z",
        source="news",
        medium="email",
        campaign="june",
        content="hero",
        term="shoes",
        conversions=(form(),),
    ),
    session("a", "2025-07-02T08:00:00Z", source="google", medium="cpc", campaign="ads"),
    session("b", "2025-07-02T09:00:00Z", source="google", medium="organic"),
    session(
        "c",
        "2025-07-03T09:00:00Z",
        source="direct",
        medium="none",
        landing="https://shop.example/pricing",
        conversions=(form(), form("custom")),
    ),
    session(
        "c",
        "2025-07-04T09:00:00Z",
        source="google.com",
        medium="organic",
        landing="https://shop.example/pricing",
    ),
]
TEXTS: dict[Any, str] = {
    value: value
    for row in ROWS
    for value in (row.source, row.medium, row.campaign, row.content, row.term, row.landing)
    if value is not None
}


def breakdown(by: str, **params: object) -> list[tuple[str | None, int, int, int, int]]:
    query = parse_breakdown_query(
        {"start_date": "2025-07-01", "end_date": "2025-07-31", "by": by, **params}, now=NOW
    )
    found = breakdown_of(ROWS, query, CountingRule(query.definition), TEXTS)
    return [
        (r.value, r.sessions, r.users, r.conversions, r.converting_sessions) for r in found.rows
    ]


def test_a_breakdown_by_source_orders_by_sessions_then_value() -> None:
    assert breakdown("source") == [
        ("google", 2, 2, 0, 0),
        ("direct", 1, 1, 2, 1),
        ("google.com", 1, 1, 0, 0),
        ("news", 1, 1, 1, 1),
    ]


def test_a_breakdown_by_channel_merges_the_sources_of_one_channel() -> None:
    assert breakdown("channel") == [
        ("Organic Search", 2, 2, 0, 0),
        ("Direct", 1, 1, 2, 1),
        ("Email", 1, 1, 1, 1),
        ("Paid Search", 1, 1, 0, 0),
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("campaign", [(None, 3, 2), ("ads", 1, 1), ("june", 1, 1)]),
        ("content", [(None, 4, 3), ("hero", 1, 1)]),
        ("term", [(None, 4, 3), ("shoes", 1, 1)]),
        ("medium", [("organic", 2, 2), ("cpc", 1, 1), ("email", 1, 1), ("none", 1, 1)]),
        ("landing_page", [("https://shop.example/", 3, 2), ("https://shop.example/pricing", 2, 1)]),
    ],
)
def test_every_dimension_groups_sessions_and_absent_fields_fall_under_null(
    by: str, expected: list[tuple[str | None, int, int]]
) -> None:
    assert [row[:3] for row in breakdown(by)] == expected


def test_null_sorts_before_every_string_among_equal_session_counts() -> None:
    rows = [
        session("a", "2025-07-01T08:00:00Z", campaign="a"),
        session("b", "2025-07-01T09:00:00Z"),
    ]
    query = parse_breakdown_query({"start_date": "2025-07-01", "by": "campaign"}, now=NOW)

    found = breakdown_of(rows, query, EVERY_CONVERSION, {"a": "a"})

    assert [r.value for r in found.rows] == [None, "a"]


def test_the_limit_keeps_the_first_rows_and_the_total_counts_every_value() -> None:
    query = parse_breakdown_query({"start_date": "2025-07-01", "by": "source", "limit": 2}, now=NOW)

    found = breakdown_of(ROWS, query, EVERY_CONVERSION, TEXTS)

    assert [r.value for r in found.rows] == ["google", "direct"]
    assert found.total_rows == 4
    assert found.by is BreakdownDimension.SOURCE


def test_the_conversion_rate_is_converting_sessions_over_sessions() -> None:
    query = parse_breakdown_query({"start_date": "2025-07-01", "by": "landing_page"}, now=NOW)

    found = breakdown_of(ROWS, query, EVERY_CONVERSION, TEXTS)

    assert [r.conversion_rate for r in found.rows] == [1 / 3, 1 / 2]


ZONE_EXPECTED = "time_zone: expected an IANA time zone name such as 'Europe/Berlin' or 'UTC', got "
BY_EXPECTED = (
    "by: expected one of source, medium, campaign, content, term, landing_page, channel, got "
)


# --- parameters -----------------------------------------------------------------------------
def test_the_window_spans_up_to_ninety_days_kept_ending_at_its_end() -> None:
    kept = series_query({"start_date": "2025-05-02", "end_date": "2025-07-31"})
    cut = series_query({"start_date": "2025-01-01", "end_date": "2025-07-31"})
    default = series_query({})

    assert kept.window == TimeWindow(instant("2025-05-02T00:00:00Z"), kept.window.end)
    assert cut.window.start == instant("2025-05-02T00:00:00Z")
    assert default.window == TimeWindow(NOW - timedelta(days=30), NOW)
    assert (default.interval, default.time_zone.key) == (Interval.DAY, "UTC")


def test_the_session_filters_and_conversion_definition_are_those_of_pages() -> None:
    query = parse_breakdown_query(
        {
            "by": "source",
            "source": "google",
            "landing_page": "https://Shop.example/a/?x=1",
            "conversion_page": "https://shop.example/signup/",
            "meta_id": "f",
        },
        now=NOW,
    )

    assert query.filters == SessionFilters(source="google", landing_page="https://shop.example/a")
    assert query.definition == ConversionDefinition(
        conversion_page="https://shop.example/signup", meta_id="f"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"interval": "fortnight"},
            "interval: expected one of hour, day, week, month, got 'fortnight'",
        ),
        ({"interval": 7}, "interval: expected one of hour, day, week, month, got 7"),
        (
            {"time_zone": "Mars/Olympus"},
            ZONE_EXPECTED + "'Mars/Olympus'",
        ),
        (
            {"time_zone": "/etc/passwd"},
            ZONE_EXPECTED + "'/etc/passwd'",
        ),
        ({"touch_scope": "any"}, "touch_scope: unknown parameter"),
        (
            {"end_date": "9999-12-31", "time_zone": "Asia/Tokyo"},
            "end_date: the window's buckets in time zone Asia/Tokyo fall outside the years 1-9999",
        ),
    ],
)
def test_bad_time_series_parameters_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError) as raised:
        series_query(params)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {},
            BY_EXPECTED + "nothing",
        ),
        (
            {"by": "country"},
            BY_EXPECTED + "'country'",
        ),
        ({"by": "source", "limit": 0}, "limit: expected an integer from 1 to 1000, got 0"),
        ({"by": "source", "limit": 1001}, "limit: expected an integer from 1 to 1000, got 1001"),
        ({"by": "source", "limit": True}, "limit: expected an integer from 1 to 1000, got true"),
        ({"by": "source", "interval": "day"}, "interval: unknown parameter"),
    ],
)
def test_bad_breakdown_parameters_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError) as raised:
        parse_breakdown_query(params, now=NOW)
    assert str(raised.value).startswith(message)


def test_a_limit_may_come_as_digits_from_a_query_string() -> None:
    assert parse_breakdown_query({"by": "term", "limit": "25"}, now=NOW).limit == 25
