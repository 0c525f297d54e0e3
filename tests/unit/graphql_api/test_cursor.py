from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.parameters import ParameterError
from domain.ports import SessionKey
from graphql_api.cursor import decode_cursor, encode_cursor


def test_a_cursor_decodes_to_the_exact_key_it_was_made_from() -> None:
    key = SessionKey(datetime(2025, 7, 1, 10, 0, 0, 123456, tzinfo=UTC), 'v/ü"1', "s-1")
    assert decode_cursor(encode_cursor(key)) == key


def test_a_cursor_keeps_the_instant_whatever_offset_it_was_made_in() -> None:
    paris = timezone(timedelta(hours=2))
    key = SessionKey(datetime(2025, 7, 1, 12, 0, tzinfo=paris), "v", "s")
    assert decode_cursor(encode_cursor(key)).start == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        "W10",  # base64 of "[]"
        "WyJzMSIsIjIwMjUtMDctMDEiLCJ2Iiwic3ViIl0",  # naive start
        "WyJzMiIsIjIwMjUtMDctMDFUMDA6MDA6MDArMDA6MDAiLCJ2IiwicyJd",  # unknown version
        "eyJzMSI6MCwiYSI6MSwiYiI6MiwiYyI6M30",  # an object, not a list
        "A" * 5000,
    ],
)
def test_anything_but_a_cursor_we_issued_is_a_parameter_error_naming_after(cursor: str) -> None:
    with pytest.raises(ParameterError) as raised:
        decode_cursor(cursor)
    assert raised.value.parameter == "after"
    assert str(raised.value).startswith("after: expected a cursor returned by pageInfo.endCursor")
