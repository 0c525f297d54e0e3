"""The ``timeseries`` and ``breakdown`` fields over HTTP, on every store: their totals
equal those of ``/sessions`` and ``/pages`` over the same filters (the hand-worked
journeys dataset of ``rest_support``), every dimension, the limit, and bad arguments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.e2e.graphql_support import graphql, graphql_data, graphql_filter
from tests.e2e.rest_support import JOURNEYS, SUMMER_SALE, post_json, seed

JULY = {"start_date": "2025-07-01", "end_date": "2025-07-31"}

TIMESERIES_QUERY = """
query Series($filter: AggregateFilter, $interval: Interval, $timeZone: String) {
  timeseries(filter: $filter, interval: $interval, timeZone: $timeZone) {
    timeFrame { start end }
    buckets { start sessions users conversions convertingSessions }
  }
}
"""

BREAKDOWN_QUERY = """
query Breakdown($filter: AggregateFilter, $by: Dimension!, $limit: Int) {
  breakdown(filter: $filter, by: $by, limit: $limit) {
    timeFrame { start end }
    totalRows
    rows { value sessions users conversions convertingSessions conversionRate }
  }
}
"""

DIMENSIONS = ("SOURCE", "MEDIUM", "CAMPAIGN", "CONTENT", "TERM", "LANDING_PAGE", "CHANNEL")

# Session filters and conversion definitions, each within July (where both /pages and
# /sessions read the same window).
FILTERS: list[dict[str, Any]] = [
    JULY,
    {"start_date": "2025-07-10", "end_date": "2025-07-16"},
    {**JULY, "source": "google.com"},
    {**JULY, "medium": "none"},
    {**JULY, "campaign": "july_news"},
    {**JULY, "landing_page": "https://example.com/pricing/?ref=x"},
    {**JULY, "meta_type": "hubspot_form"},
    {**JULY, "conversion_page": "https://example.com/signup/"},
    {**JULY, "source": "nobody"},
]
_DEFINITION = ("conversion_page", "meta_type", "meta_id")


@pytest.fixture
async def seeded(running: Running) -> tuple[Running, str]:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return running, new.api_key


async def rest_totals(running: Running, api_key: str, params: dict[str, Any]) -> dict[str, int]:
    """Sessions (/sessions), and users, conversion events and converting sessions (/pages)."""
    selection = {k: v for k, v in params.items() if k not in _DEFINITION}
    status, listed = await post_json(running.client, "/api/v1/sessions", api_key, selection)
    assert status == 200, listed
    status, pages = await post_json(running.client, "/api/v1/pages", api_key, params)
    assert status == 200, pages
    if "message" in pages:
        assert "message" in listed
        return {"sessions": 0, "users": 0, "conversions": 0, "converting": 0}
    summary = pages["summary_totals"]
    return {
        "sessions": listed["pagination"]["total_records"],
        "users": summary["total_users"],
        "conversions": summary["total_conversion_events"],
        # Each converting session lends its landing page that role once.
        "converting": sum(
            row["landing_assisted_conversion"]["sessions"]
            for row in pages["conversion_performance"]
        ),
    }


def sums(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "sessions": sum(r["sessions"] for r in rows),
        "conversions": sum(r["conversions"] for r in rows),
        "converting": sum(r["convertingSessions"] for r in rows),
    }


async def test_time_series_totals_equal_those_of_sessions_and_pages(
    seeded: tuple[Running, str],
) -> None:
    running, api_key = seeded
    nonempty = 0
    for params in FILTERS:
        expected = await rest_totals(running, api_key, params)
        for interval, zone in (
            ("DAY", "UTC"),
            ("HOUR", "America/New_York"),
            ("WEEK", "Asia/Tokyo"),
        ):
            variables = {"filter": graphql_filter(params), "interval": interval, "timeZone": zone}
            series = (await graphql_data(running.client, api_key, TIMESERIES_QUERY, variables))[
                "timeseries"
            ]
            got = sums(series["buckets"])
            assert got == {k: expected[k] for k in got}, (params, interval)
        if (params["start_date"], params["end_date"]) == (JULY["start_date"], JULY["end_date"]):
            # One bucket holding the whole window: its users are the report's.
            variables = {"filter": graphql_filter(params), "interval": "MONTH"}
            [month] = (await graphql_data(running.client, api_key, TIMESERIES_QUERY, variables))[
                "timeseries"
            ]["buckets"]
            assert month["start"] == "2025-07-01T00:00:00Z"
            assert month["users"] == expected["users"], params
        nonempty += expected["conversions"] > 0
    assert nonempty >= 3


@pytest.mark.parametrize("by", DIMENSIONS)
async def test_every_breakdown_adds_up_to_the_totals_of_sessions_and_pages(
    seeded: tuple[Running, str], by: str
) -> None:
    running, api_key = seeded
    for params in FILTERS:
        expected = await rest_totals(running, api_key, params)
        variables = {"filter": graphql_filter(params), "by": by, "limit": 1000}
        found = (await graphql_data(running.client, api_key, BREAKDOWN_QUERY, variables))[
            "breakdown"
        ]
        rows = found["rows"]
        got = sums(rows)
        assert got == {k: expected[k] for k in got}, (params, by)
        assert found["totalRows"] == len(rows)
        assert len({r["value"] for r in rows}) == len(rows)
        # Users per value: at least the report's distinct visitors in all.
        assert sum(r["users"] for r in rows) >= expected["users"]
        for row in rows:
            assert row["conversionRate"] == pytest.approx(
                row["convertingSessions"] / row["sessions"]
            )
        order = [(-r["sessions"], r["value"] is not None, r["value"] or "") for r in rows]
        assert order == sorted(order), (params, by)


async def test_a_breakdown_by_campaign_groups_sessions_without_one_under_null_first(
    seeded: tuple[Running, str],
) -> None:
    running, api_key = seeded
    variables = {"filter": graphql_filter(JULY), "by": "CAMPAIGN"}
    found = (await graphql_data(running.client, api_key, BREAKDOWN_QUERY, variables))["breakdown"]

    assert [(r["value"], r["sessions"], r["users"]) for r in found["rows"]] == [
        (None, 8, 4),
        ("july_news", 1, 1),
        ("summer_sale", 1, 1),
    ]
    assert found["rows"][1]["conversions"] == 1
    assert found["rows"][1]["conversionRate"] == 1.0


async def test_the_limit_keeps_the_first_rows_and_the_total_row_count_counts_them_all(
    seeded: tuple[Running, str],
) -> None:
    running, api_key = seeded
    every = (
        await graphql_data(
            running.client,
            api_key,
            BREAKDOWN_QUERY,
            {"filter": graphql_filter(JULY), "by": "LANDING_PAGE", "limit": 1000},
        )
    )["breakdown"]
    first_two = (
        await graphql_data(
            running.client,
            api_key,
            BREAKDOWN_QUERY,
            {"filter": graphql_filter(JULY), "by": "LANDING_PAGE", "limit": 2},
        )
    )["breakdown"]
    default = (
        await graphql_data(
            running.client,
            api_key,
            BREAKDOWN_QUERY,
            {"filter": graphql_filter(JULY), "by": "LANDING_PAGE"},
        )
    )["breakdown"]

    # /home 3 sessions; /blog, /features and /pricing 2 each (ties by URL); /landing 1.
    assert [(r["value"], r["sessions"]) for r in every["rows"]] == [
        ("https://example.com/home", 3),
        ("https://example.com/blog", 2),
        ("https://example.com/features", 2),
        ("https://example.com/pricing", 2),
        ("https://example.com/landing", 1),
    ]
    assert every["totalRows"] == 5
    assert first_two["rows"] == every["rows"][:2]
    assert first_two["totalRows"] == default["totalRows"] == 5
    assert default["rows"] == every["rows"]


async def test_a_window_longer_than_ninety_days_keeps_its_end(
    seeded: tuple[Running, str],
) -> None:
    running, api_key = seeded
    variables = {"filter": {"startDate": "2025-01-01", "endDate": "2025-07-31"}}
    series = (await graphql_data(running.client, api_key, TIMESERIES_QUERY, variables))[
        "timeseries"
    ]

    assert series["timeFrame"] == {"start": "2025-05-02T00:00:00Z", "end": "2025-07-31T23:59:59Z"}
    assert len(series["buckets"]) == 91
    assert series["buckets"][0]["start"] == "2025-05-02T00:00:00Z"


async def test_without_a_window_the_aggregates_cover_the_thirty_days_up_to_now(
    seeded: tuple[Running, str],
) -> None:
    running, api_key = seeded
    data = await graphql_data(
        running.client,
        api_key,
        "{ timeseries { timeFrame { start end } buckets { start } }"
        " breakdown(by: CHANNEL) { timeFrame { start end } totalRows } }",
    )

    # The e2e clock reads 2025-08-01T12:00Z.
    frame = {"start": "2025-07-02T12:00:00Z", "end": "2025-08-01T12:00:00Z"}
    assert data["timeseries"]["timeFrame"] == data["breakdown"]["timeFrame"] == frame
    assert len(data["timeseries"]["buckets"]) == 31
    assert data["breakdown"]["totalRows"] > 0


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            TIMESERIES_QUERY,
            {"timeZone": "Mars/Olympus_Mons"},
            "timeZone: expected an IANA time zone name such as 'Europe/Berlin' or 'UTC', "
            "got 'Mars/Olympus_Mons'",
        ),
        (
            TIMESERIES_QUERY,
            {"timeZone": "../../etc/passwd"},
            "timeZone: expected an IANA time zone name such as 'Europe/Berlin' or 'UTC', "
            "got '../../etc/passwd'",
        ),
        (
            BREAKDOWN_QUERY,
            {"by": "SOURCE", "limit": 0},
            "limit: expected an integer from 1 to 1000, got 0",
        ),
        (
            BREAKDOWN_QUERY,
            {"by": "SOURCE", "limit": 1001},
            "limit: expected an integer from 1 to 1000, got 1001",
        ),
        (
            BREAKDOWN_QUERY,
            {"by": "SOURCE", "filter": {"startDate": "July"}},
            "filter.startDate: expected YYYY-MM-DD or an ISO 8601 date-time, got 'July'",
        ),
    ],
)
async def test_bad_arguments_are_bad_user_input_naming_the_argument(
    seeded: tuple[Running, str], query: str, variables: dict[str, Any], message: str
) -> None:
    running, api_key = seeded
    status, body = await graphql(running.client, api_key, query, variables)

    assert status == 200
    [error] = body["errors"]
    assert error["message"] == message
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] is None


@pytest.mark.parametrize(
    ("query", "variables", "named"),
    [
        (TIMESERIES_QUERY, {"interval": "DECADE"}, "'DECADE'"),
        (BREAKDOWN_QUERY, {"by": "COUNTRY"}, "'COUNTRY'"),
        (BREAKDOWN_QUERY, {}, "$by"),
    ],
)
async def test_an_interval_or_dimension_outside_the_enum_is_refused_by_name(
    seeded: tuple[Running, str], query: str, variables: dict[str, Any], named: str
) -> None:
    running, api_key = seeded
    status, body = await graphql(running.client, api_key, query, variables)

    assert status == 200
    [error] = body["errors"]
    assert named in error["message"]
    assert "data" not in body or body["data"] is None


@pytest.mark.parametrize("params", [FILTERS[0], FILTERS[2], FILTERS[6]])
async def test_every_dimension_in_one_request_answers_as_each_alone(
    seeded: tuple[Running, str], params: dict[str, Any]
) -> None:
    # Several breakdowns in one request read the window once between them (a dashboard
    # asks for five): the answers must be those of each breakdown asked alone.
    running, key = seeded
    variables = {"filter": graphql_filter(params), "limit": 100}
    fields = " ".join(
        f"{dimension.lower()}: breakdown(filter: $filter, by: {dimension}, limit: $limit) "
        "{ timeFrame { start end } totalRows "
        "rows { value sessions users conversions convertingSessions conversionRate } }"
        for dimension in DIMENSIONS
    )
    together = await graphql_data(
        running.client,
        key,
        f"query($filter: AggregateFilter, $limit: Int) {{ {fields} }}",
        variables,
    )
    for dimension in DIMENSIONS:
        alone = await graphql_data(
            running.client, key, BREAKDOWN_QUERY, {**variables, "by": dimension}
        )
        assert together[dimension.lower()] == alone["breakdown"], dimension
