from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.events import parse_timestamp
from domain.instants import InstantError, read_instant
from domain.parameters import parse_date_bound


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2025-07-01T10:15:30Z", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01t10:15:30z", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01 10:15:30Z", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01T10:15Z", utc(2025, 7, 1, 10, 15)),
        ("2025-07-01T10:15:30", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01T10:15:30.5Z", utc(2025, 7, 1, 10, 15, 30, 500_000)),
        ("2025-07-01T10:15:30,25Z", utc(2025, 7, 1, 10, 15, 30, 250_000)),
        ("2025-07-01T10:15:30.123456789Z", utc(2025, 7, 1, 10, 15, 30, 123_456)),
        ("2025-07-01T12:15:30+02:00", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01T12:15:30+0200", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01T12:15:30+02", utc(2025, 7, 1, 10, 15, 30)),
        ("2025-07-01T06:45:30-03:30", utc(2025, 7, 1, 10, 15, 30)),
        ("0001-01-01T00:00:00Z", utc(1, 1, 1)),
    ],
)
def test_every_spelling_of_the_grammar_names_its_instant_for_events_and_bounds_alike(
    text: str, instant: datetime
) -> None:
    assert read_instant(text).instant == instant
    assert parse_timestamp(text) == instant
    assert parse_date_bound("start_date", text, end=False) == instant


@pytest.mark.parametrize(
    "text",
    [
        "2025-07-01T10Z",
        "2025-07-01T10",
        "20250701T101530Z",
        "2025-W27-2",
        "2025-182",
        "2025-07-01T10:15:30Z[Europe/Paris]",
        "2025-07-01T10:15:30+02:00:00",
        "2025-7-1T10:15:30Z",
        "\uff12\uff10\uff12\uff15-07-01T10:15:30Z",
    ],
)
def test_spellings_outside_the_grammar_are_refused_by_events_and_bounds_alike(text: str) -> None:
    with pytest.raises(InstantError) as raised:
        read_instant(text)
    assert raised.value.malformed
    with pytest.raises(ValueError, match="expected an ISO 8601 date-time, got"):
        parse_timestamp(text)
    with pytest.raises(ValueError, match="expected YYYY-MM-DD or an ISO 8601 date-time, got"):
        parse_date_bound("start_date", text, end=False)


def test_a_date_alone_is_midnight_utc_of_that_day() -> None:
    written = read_instant("2025-07-01")
    assert written.date_only
    assert written.day == date(2025, 7, 1)
    assert written.instant == utc(2025, 7, 1)


def test_a_date_time_is_not_date_only() -> None:
    assert not read_instant("2025-07-01T00:00:00Z").date_only


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2023-02-29", "no day 29 in February 2023 (it has 28 days)"),
        ("2025-00-10", "no month 00 (months are 01-12)"),
        (
            "2025-07-01T24:00:00Z",
            "no time of day 24:00:00 (hours are 00-23, minutes and seconds 00-59)",
        ),
        ("2025-07-01T10:60Z", "no time of day 10:60 (hours are 00-23, minutes and seconds 00-59)"),
        ("2025-07-01T10:00:00-24", "no UTC offset -24:00 (offsets go up to ±23:59)"),
        ("0001-01-01T00:00:00+00:01", "outside the years 0001-9999 once converted to UTC"),
    ],
)
def test_text_in_the_grammar_that_names_no_instant_says_why(text: str, reason: str) -> None:
    with pytest.raises(InstantError) as raised:
        read_instant(text)
    assert not raised.value.malformed
    assert str(raised.value) == reason
