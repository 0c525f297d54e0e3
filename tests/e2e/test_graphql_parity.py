"""GraphQL and REST answer the same question with the same data: for a table of
filter combinations over the hand-worked journeys dataset (see ``rest_support``), the
GraphQL answer equals the application service's result and, once turned into REST's
spelling, the REST endpoint's JSON exactly."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.e2e.graphql_support import (
    PAGES_QUERY,
    SESSIONS_QUERY,
    graphql_data,
    graphql_filter,
    pages_as_rest,
    sessions_as_rest,
)
from tests.e2e.rest_support import JOURNEYS, SUMMER_SALE, post_json, seed

JULY = {"start_date": "2025-07-01", "end_date": "2025-07-31"}

SESSION_FILTERS: list[dict[str, Any]] = [
    {},
    {"start_date": "2025-07-10", "end_date": "2025-07-16"},
    {"start_date": "2025-07-12T09:00:00+00:00"},
    {"end_date": "2025-07-12T10:00:00+01:00"},
    {"source": "google.com"},
    {"source": "google.com", "medium": "organic", "start_date": "2025-07-11"},
    {"campaign": "july_news"},
    {"source": "facebook", "campaign": "summer_sale", "term": "bathing suits"},
    {"landing_page": "https://example.com/pricing/?ref=x"},
    {"medium": "none", "content": ""},
    {"source": "nobody"},
    {"page": 2},
]

PAGE_FILTERS: list[dict[str, Any]] = [
    JULY,
    *({**JULY, "touch_scope": scope} for scope in ("first", "converting", "assist", "after")),
    {},
    {**JULY, "meta_type": "hubspot_form"},
    {**JULY, "conversion_page": "https://example.com/signup/", "touch_scope": "assist"},
    {**JULY, "source": "google.com", "touch_scope": "converting"},
    {"start_date": "2025-06-01", "end_date": "2025-07-12"},
    {**JULY, "source": "nobody"},
]


@pytest.fixture
async def seeded(running: Running) -> tuple[Running, str, str]:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return running, new.site.site_id, new.api_key


async def test_sessions_match_the_service_and_rest_for_every_filter_combination(
    seeded: tuple[Running, str, str],
) -> None:
    running, site_id, api_key = seeded
    nonempty = 0
    for params in SESSION_FILTERS:
        variables = {"filter": graphql_filter(params), "page": params.get("page", 1)}
        answer = (await graphql_data(running.client, api_key, SESSIONS_QUERY, variables))[
            "sessions"
        ]
        listed = await running.service.list_sessions(site_id, params)
        assert [r["id"] for r in answer["records"]] == [s.session_id for s in listed.sessions], (
            params
        )
        assert answer["pagination"]["totalRecords"] == listed.total_records, params

        status, rest = await post_json(running.client, "/api/v1/sessions", api_key, params)
        assert status == 200, rest
        assert sessions_as_rest(answer) == rest, params
        nonempty += bool(answer["records"])
    # The table must exercise real data, not only empty answers.
    assert nonempty >= 8


async def test_page_reports_match_the_service_and_rest_for_every_filter_combination(
    seeded: tuple[Running, str, str],
) -> None:
    running, site_id, api_key = seeded
    nonempty = 0
    for params in PAGE_FILTERS:
        answer = (
            await graphql_data(
                running.client, api_key, PAGES_QUERY, {"filter": graphql_filter(params)}
            )
        )["pages"]
        expected = await running.service.page_report(site_id, params)
        assert (answer is None) == (expected is None), params
        if expected is not None:
            assert answer["summaryTotals"]["totalSessions"] == expected.summary.total_sessions
            assert [row["url"] for row in answer["conversionPerformance"]] == [
                row.url for row in expected.conversion_performance
            ], params

        status, rest = await post_json(running.client, "/api/v1/pages", api_key, params)
        assert status == 200, rest
        assert pages_as_rest(answer) == rest, params
        nonempty += answer is not None and bool(answer["conversionPerformance"])
    assert nonempty >= 6
