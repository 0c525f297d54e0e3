"""POST /api/v1/attribution end to end, and GraphQL's ``attribution`` beside it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.e2e.graphql_support import graphql, graphql_data
from tests.e2e.rest_support import SITE, JsonDict, pageview, post_json

JULY = {"start_date": "2025-07-01", "end_date": "2025-07-31"}


def bought(visitor: str, timestamp: str, value: float | None = None, **extra: str) -> JsonDict:
    event: JsonDict = {
        "type": "conversion",
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": SITE + "/buy",
        **extra,
    }
    if value is not None:
        event["value"] = value
    return event


# v1: Organic Search (Jul 10) -> Email (Jul 12) -> Direct (Jul 14), buys 100 on Jul 14.
# v2: Paid Search (Jul 11), buys 50; then a HubSpot form on Jul 20 after Email.
# v3: Organic Search (Jul 15), never buys: a non-converting path.
EVENTS: list[JsonDict] = [
    pageview("v1", "2025-07-10T10:00:00Z", "/blog", "https://www.google.com/"),
    pageview("v1", "2025-07-12T10:00:00Z", "/pricing?utm_source=news&utm_medium=email"),
    pageview("v1", "2025-07-14T10:00:00Z", "/pricing"),
    bought("v1", "2025-07-14T10:05:00Z", 100.0),
    pageview("v2", "2025-07-11T09:00:00Z", "/pricing?gclid=abc&utm_campaign=brand"),
    bought("v2", "2025-07-11T09:03:00Z", 50.0),
    pageview("v2", "2025-07-20T09:00:00Z", "/?utm_source=news&utm_medium=email&utm_campaign=july"),
    bought("v2", "2025-07-20T09:02:00Z", meta_type="hubspot_form", meta_id="f-1"),
    pageview("v3", "2025-07-15T08:00:00Z", "/", "https://duckduckgo.com/"),
]


@pytest.fixture
async def key(running: Running) -> str:
    site = await running.new_site()
    report = await running.service.ingest(site.site.site_id, EVENTS)
    assert report.accepted == len(EVENTS), report.rejected
    return site.api_key


def credits(reply: JsonDict, model: str) -> dict[str, tuple[float, float]]:
    return {
        row["value"]: (row[model]["conversions"], row[model]["revenue"])
        for row in reply["rows"]
        if row[model]["conversions"]
    }


async def test_every_model_credits_the_window_s_conversions(running: Running, key: str) -> None:
    status, reply = await post_json(running.client, "/api/v1/attribution", key, JULY)
    assert status == 200
    assert reply["time_frame"] == {"start": "2025-07-01T00:00:00Z", "end": "2025-07-31T23:59:59Z"}
    assert (reply["lookback_days"], reply["dimension"]) == (30, "channel")
    assert reply["models"] == [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "position_based",
        "time_decay",
        "data_driven",
    ]
    # Three counting conversions: v1's [Organic, Email, Direct] 100; v2's [Paid] 50;
    # v2's form [Paid, Email] 0.
    assert reply["summary_totals"] == {
        "conversions": 3,
        "converting_users": 2,
        "revenue": 150.0,
        "average_path_length": 2.0,
        "non_converting_paths": 1,
    }
    assert credits(reply, "first_touch") == {
        "Organic Search": (1.0, 100.0),
        "Paid Search": (2.0, 50.0),
    }
    assert credits(reply, "last_touch") == {
        "Direct": (1.0, 100.0),
        "Paid Search": (1.0, 50.0),
        "Email": (1.0, 0.0),
    }
    assert credits(reply, "last_non_direct") == {"Email": (2.0, 100.0), "Paid Search": (1.0, 50.0)}
    for model in reply["models"]:
        assert sum(c for c, _ in credits(reply, model).values()) == pytest.approx(3.0)
        assert sum(r for _, r in credits(reply, model).values()) == pytest.approx(150.0)
    assert reply["top_paths"][0] == {
        "path": ["Organic Search", "Email", "Direct"],
        "conversions": 1,
        "revenue": 100.0,
    }
    assert {row["value"]: row["touches"] for row in reply["rows"]} == {
        "Paid Search": 2,
        "Email": 2,
        "Organic Search": 1,
        "Direct": 1,
    }


async def test_the_query_string_takes_models_comma_separated(running: Running, key: str) -> None:
    params = {**JULY, "models": "linear,first_touch", "dimension": "source", "lookback_days": "7"}
    status, reply = await post_json(running.client, "/api/v1/attribution", key, params=params)
    assert status == 200
    assert reply["models"] == ["linear", "first_touch"]
    assert reply["dimension"] == "source"
    assert reply["lookback_days"] == 7
    assert set(reply["rows"][0]) == {"value", "touches", "linear", "first_touch"}


async def test_the_conversion_definition_selects_what_counts(running: Running, key: str) -> None:
    body = {**JULY, "meta_type": "hubspot_form", "models": ["last_touch"]}
    status, reply = await post_json(running.client, "/api/v1/attribution", key, body)
    assert status == 200
    assert credits(reply, "last_touch") == {"Email": (1.0, 0.0)}
    body = {**JULY, "conversion_page": SITE + "/nowhere"}
    status, reply = await post_json(running.client, "/api/v1/attribution", key, body)
    assert (status, reply) == (200, {"message": "No conversions found for the given parameters."})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"models": ["linear", "markov"]},
            "models: expected models among first_touch, last_touch, last_non_direct, linear, "
            "position_based, time_decay, data_driven, got 'markov'",
        ),
        (
            {"models": []},
            "models: expected at least one of first_touch, last_touch, "
            "last_non_direct, linear, position_based, time_decay, data_driven",
        ),
        ({"models": ["linear", "linear"]}, "models: 'linear' is given more than once"),
        (
            {"dimension": "country"},
            "dimension: expected one of channel, source, medium, campaign, source_medium, "
            "got 'country'",
        ),
        (
            {"path_transform": "dedupe"},
            "path_transform: expected one of none, exposure, first, got 'dedupe'",
        ),
        ({"lookback_days": 0}, "lookback_days: expected an integer from 1 to 90, got 0"),
        ({"lookback_days": 91}, "lookback_days: expected an integer from 1 to 90, got 91"),
        ({"lookback_days": "ten"}, "lookback_days: expected an integer from 1 to 90, got 'ten'"),
        ({"half_life_days": 0}, "half_life_days: expected a number of days > 0, got 0"),
        ({"half_life_days": "soon"}, "half_life_days: expected a number of days > 0, got 'soon'"),
        (
            {"start_date": "2025-13-01"},
            "start_date: expected YYYY-MM-DD or an ISO 8601 date-time, got '2025-13-01': "
            "no month 13 (months are 01-12)",
        ),
        (
            {"conversion_page": "/buy"},
            "conversion_page: expected an absolute http or https URL, got '/buy'",
        ),
        (
            {"source": "google.com"},
            "source: unknown parameter. Known parameters: conversion_page, dimension, "
            "end_date, half_life_days, lookback_days, meta_id, meta_type, models, "
            "path_transform, start_date",
        ),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it_and_the_allowed_values(
    running: Running, key: str, body: JsonDict, message: str
) -> None:
    status, reply = await post_json(running.client, "/api/v1/attribution", key, body)
    assert (status, reply) == (400, {"error": message})


async def test_a_window_longer_than_ninety_days_is_kept_ending_at_its_end(
    running: Running, key: str
) -> None:
    body = {"start_date": "2025-01-01", "end_date": "2025-07-31"}
    status, reply = await post_json(running.client, "/api/v1/attribution", key, body)
    assert status == 200
    # 90 days before the end's midnight, 2025-07-31T00:00Z: 2025-05-02.
    assert reply["time_frame"]["start"] == "2025-05-02T00:00:00Z"


async def test_without_a_key_it_is_401(running: Running) -> None:
    status, _ = await post_json(running.client, "/api/v1/attribution", None, JULY)
    assert status == 401


# --- GraphQL -------------------------------------------------------------------------------

ATTRIBUTION = """query($f: AttributionFilter) {
  attribution(filter: $f) {
    timeFrame { start end } lookbackDays dimension models
    summaryTotals { conversions convertingUsers revenue averagePathLength nonConvertingPaths }
    rows { value touches credits { model conversions revenue } }
    topPaths { path conversions revenue }
  }
}"""

PARAMETER_SETS: list[JsonDict] = [
    JULY,
    {**JULY, "models": ["data_driven", "linear"], "dimension": "campaign"},
    {**JULY, "path_transform": "exposure", "lookback_days": 3},
    {**JULY, "path_transform": "first", "half_life_days": 1.5, "models": ["time_decay"]},
    {**JULY, "dimension": "source_medium", "meta_type": "custom"},
    {**JULY, "dimension": "medium", "conversion_page": SITE + "/buy"},
    {"start_date": "2025-07-15", "end_date": "2025-07-31"},
    {"start_date": "2025-06-01", "end_date": "2025-06-30"},  # no conversion
]

_ENUMS = {"dimension", "models", "path_transform"}


def graphql_filter(rest: JsonDict) -> JsonDict:
    def camel(name: str) -> str:
        head, *rest_ = name.split("_")
        return head + "".join(part.title() for part in rest_)

    converted: JsonDict = {}
    for name, value in rest.items():
        if name in _ENUMS:
            value = [v.upper() for v in value] if isinstance(value, list) else value.upper()
        converted[camel(name)] = value
    return converted


def as_rest(answer: JsonDict | None) -> JsonDict:
    """GraphQL's answer in REST's shape."""
    if answer is None:
        return {"message": "No conversions found for the given parameters."}
    totals = answer["summaryTotals"]
    return {
        "time_frame": answer["timeFrame"],
        "lookback_days": answer["lookbackDays"],
        "dimension": answer["dimension"].lower(),
        "models": [m.lower() for m in answer["models"]],
        "summary_totals": {
            "conversions": totals["conversions"],
            "converting_users": totals["convertingUsers"],
            "revenue": totals["revenue"],
            "average_path_length": totals["averagePathLength"],
            "non_converting_paths": totals["nonConvertingPaths"],
        },
        "rows": [
            {
                "value": row["value"],
                "touches": row["touches"],
                **{
                    c["model"].lower(): {"conversions": c["conversions"], "revenue": c["revenue"]}
                    for c in row["credits"]
                },
            }
            for row in answer["rows"]
        ],
        "top_paths": answer["topPaths"],
    }


@pytest.mark.parametrize("params", PARAMETER_SETS)
async def test_graphql_answers_what_rest_answers(
    running: Running, key: str, params: JsonDict
) -> None:
    status, rest = await post_json(running.client, "/api/v1/attribution", key, params)
    assert status == 200
    data = await graphql_data(running.client, key, ATTRIBUTION, {"f": graphql_filter(params)})
    assert as_rest(data["attribution"]) == rest


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"f": {"lookbackDays": 120}},
            "filter.lookbackDays: expected an integer from 1 to 90, got 120",
        ),
        (
            {"f": {"halfLifeDays": -1.0}},
            "filter.halfLifeDays: expected a number of days > 0, got -1.0",
        ),
        (
            {"f": {"models": []}},
            "filter.models: expected at least one of first_touch, last_touch, "
            "last_non_direct, linear, position_based, time_decay, data_driven",
        ),
        (
            {"f": {"conversionPage": "buy"}},
            "filter.conversionPage: expected an absolute http or https URL, got 'buy'",
        ),
    ],
)
async def test_graphql_bad_input_is_bad_user_input_in_graphql_names(
    running: Running, key: str, variables: dict[str, Any], message: str
) -> None:
    status, body = await graphql(running.client, key, ATTRIBUTION, variables)
    assert status == 200
    [error] = body["errors"]
    assert error["message"] == message
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body",
    [
        {"end_date": "0001-01-01"},
        {"start_date": "0001-01-01", "end_date": "0001-01-02", "lookback_days": 90},
    ],
)
async def test_a_window_at_the_first_representable_year_is_no_error(
    running: Running, key: str, body: JsonDict
) -> None:
    # The lookback reaches before the year 1: read from its start instead of failing.
    status, reply = await post_json(running.client, "/api/v1/attribution", key, body)
    assert (status, reply) == (200, {"message": "No conversions found for the given parameters."})
