"""What a client is told when things go wrong: REST's words for bad input, nothing for
server failures, and no schema hints."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from domain.parameters import ParameterError, parse_pages_query, parse_sessions_query
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
    ("graphql_filter", "rest_params"),
    [
        ({"startDate": "2025-02-30"}, {"start_date": "2025-02-30"}),
        ({"endDate": "2025-07-01T10:00:00+2"}, {"end_date": "2025-07-01T10:00:00+2"}),
        (
            {"startDate": "2025-07-02", "endDate": "2025-07-01"},
            {"start_date": "2025-07-02", "end_date": "2025-07-01"},
        ),
        ({"landingPage": "/pricing"}, {"landing_page": "/pricing"}),
    ],
)
async def test_bad_session_filters_are_bad_user_input_worded_as_rest_words_them(
    graphql_filter: dict[str, Any], rest_params: dict[str, Any]
) -> None:
    with pytest.raises(ParameterError) as rest:
        parse_sessions_query(rest_params)
    context = await context_for(CountingStore())
    result = await build_schema().execute(
        SESSIONS, variable_values={"f": graphql_filter}, context_value=context
    )
    assert result.errors is not None
    [error] = result.errors
    assert error.message == str(rest.value)
    assert error.extensions == {
        "code": "BAD_USER_INPUT",
        "parameter": rest.value.parameter,
        "argument": "filter." + next(iter(graphql_filter)),
    }


async def test_bad_page_filters_are_worded_as_rest_words_them() -> None:
    params = {"start_date": "2025-07-01", "end_date": "2025-06-01"}
    with pytest.raises(ParameterError) as rest:
        parse_pages_query(params, now=NOW)
    context = await context_for(CountingStore())
    result = await build_schema().execute(
        PAGES,
        variable_values={"f": {"startDate": "2025-07-01", "endDate": "2025-06-01"}},
        context_value=context,
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == [str(rest.value)]


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
