"""Query-string and body parameters merged into one request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.parameters import ParameterError, parse_sessions_query
from rest_compat.request_parameters import merge_parameters


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def test_body_wins_over_query_string_per_key() -> None:
    merged = merge_parameters(
        {"source": "google.com", "page": "2"}, {"source": "bing.com", "medium": "cpc"}
    )
    assert merged == {"source": "bing.com", "page": "2", "medium": "cpc"}


def test_empty_body_value_does_not_hide_the_query_string_value() -> None:
    merged = merge_parameters({"source": "google.com", "term": "x"}, {"source": "", "term": None})
    assert merged == {"source": "google.com", "term": "x"}


def test_body_only_parameters_pass_through_even_when_empty() -> None:
    assert merge_parameters({}, {"campaign": ""}) == {"campaign": ""}


class RepeatedQuery:
    """A query string in which one name came twice, as a multi-dict exposes it."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return self._pairs


def test_name_repeated_in_the_query_string_with_different_values_is_rejected() -> None:
    query = RepeatedQuery([("source", "a"), ("source", "b")])
    with pytest.raises(ParameterError) as caught:
        merge_parameters(query, {})  # type: ignore[arg-type]
    assert caught.value.parameter == "source"


def test_merged_parameters_parse_as_one_request() -> None:
    query = parse_sessions_query(
        merge_parameters({"page": "2", "start_date": "2025-07-01"}, {"page": 5})
    )
    assert query.page == 5
    assert query.window.start == utc(2025, 7, 1)
