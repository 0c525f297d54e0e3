"""What a client is told when things go wrong: REST's words for bad input, nothing for
server failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from domain.parameters import ParameterError, parse_sessions_query
from domain.ports import SessionKey
from graphql_api import build_schema
from graphql_api.cursor import encode_cursor
from tests.unit.graphql_api.fakes import NOW, BrokenStore, CountingStore, context_for

SESSIONS = "query($f: SessionFilter) { sessions(filter: $f) { records { id } } }"
PAGES = "query($f: PageFilter) { pages(filter: $f) { timeFrame { start } } }"


async def test_an_unexpected_failure_is_masked_and_logged_in_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = await context_for(BrokenStore())
    with caplog.at_level(logging.ERROR, logger="graphql_api.schema"):
        result = await build_schema().execute(SESSIONS, context_value=context)
    assert result.errors is not None
    [error] = result.errors
    assert error.formatted["message"] == "Unexpected error."
    assert "hunter2" not in repr(error.formatted)
    assert error.formatted["path"] == ["sessions"]
    assert "hunter2" in caplog.text


@pytest.mark.parametrize(
    ("graphql_filter", "rest_params", "message"),
    [
        (
            {"startDate": "2025-02-30"},
            {"start_date": "2025-02-30"},
            "filter.startDate: expected YYYY-MM-DD or an ISO 8601 date-time, got "
            "'2025-02-30': no day 30 in February 2025 (it has 28 days)",
        ),
        (
            {"endDate": "2025-07-01T10:00:00+2"},
            {"end_date": "2025-07-01T10:00:00+2"},
            "filter.endDate: expected YYYY-MM-DD or an ISO 8601 date-time, got "
            "'2025-07-01T10:00:00+2'",
        ),
        (
            {"startDate": "2025-07-02", "endDate": "2025-07-01"},
            {"start_date": "2025-07-02", "end_date": "2025-07-01"},
            "filter.startDate: must not be after filter.endDate (got filter.startDate "
            "'2025-07-02', filter.endDate '2025-07-01')",
        ),
        (
            # A REST name inside the client's own (quoted) value is left as it was.
            {"landingPage": "/pricing?end_date=1"},
            {"landing_page": "/pricing?end_date=1"},
            "filter.landingPage: expected an absolute http or https URL, got '/pricing?end_date=1'",
        ),
    ],
)
async def test_bad_session_filters_are_bad_user_input_in_graphql_names(
    graphql_filter: dict[str, Any], rest_params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ParameterError) as rest:
        parse_sessions_query(rest_params)
    context = await context_for(CountingStore())
    result = await build_schema().execute(
        SESSIONS, variable_values={"f": graphql_filter}, context_value=context
    )
    assert result.errors is not None
    [error] = result.errors
    assert error.message == message
    assert error.extensions == {
        "code": "BAD_USER_INPUT",
        "parameter": rest.value.parameter,
        "argument": "filter." + next(iter(graphql_filter)),
    }


async def test_bad_page_filters_are_bad_user_input_in_graphql_names() -> None:
    context = await context_for(CountingStore())
    result = await build_schema().execute(
        PAGES,
        variable_values={"f": {"startDate": "2025-07-01", "endDate": "2025-06-01"}},
        context_value=context,
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == [
        "filter.startDate: must not be after filter.endDate (got filter.startDate "
        "'2025-07-01', filter.endDate '2025-06-01')"
    ]


async def test_page_and_cursor_together_are_refused() -> None:
    store = CountingStore()
    context = await context_for(store)
    cursor = encode_cursor(SessionKey(NOW, "v", "s"))
    result = await build_schema().execute(
        "query($c: String) { sessions(page: 2, after: $c) { records { id } } }",
        variable_values={"c": cursor},
        context_value=context,
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == [
        "page: cannot be combined with after: page by one or the other"
    ]
    assert store.reads == 0


async def test_a_date_bound_that_is_not_a_string_is_a_coercion_error_not_masked() -> None:
    context = await context_for(CountingStore())
    result = await build_schema().execute(
        SESSIONS, variable_values={"f": {"startDate": 20250701}}, context_value=context
    )
    assert result.errors is not None
    [error] = result.errors
    assert "DateBound: expected a string such as '2025-07-01'" in error.message
    assert error.message != "Unexpected error."


async def test_an_empty_string_filter_counts_as_not_given_as_in_rest() -> None:
    store = CountingStore()
    context = await context_for(store)
    result = await build_schema().execute(
        SESSIONS,
        variable_values={"f": {"source": "", "startDate": "", "landingPage": ""}},
        context_value=context,
    )
    assert result.errors is None
    assert result.data == {"sessions": {"records": []}}
