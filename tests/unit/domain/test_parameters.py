from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.parameters import (
    MAX_PAGE,
    PAGES_PARAMETERS,
    SESSIONS_PARAMETERS,
    ParameterError,
    format_instant,
    pages_window,
    parse_date_bound,
    parse_pages_query,
    parse_sessions_query,
)
from domain.queries import (
    ConversionDefinition,
    SessionFilters,
    TimeWindow,
    TouchScope,
)

NOW = datetime(2025, 8, 10, 12, 30, 15, 250_000, tzinfo=UTC)
END_OF_DAY = (23, 59, 59, 999_999)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc, arg-type]


def sessions_error(params: dict[str, object]) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        parse_sessions_query(params)
    return caught.value


def pages_error(params: dict[str, object]) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        parse_pages_query(params, now=NOW)
    return caught.value


# --- ParameterError -------------------------------------------------------------------


def test_parameter_error_reads_parameter_colon_message() -> None:
    err = ParameterError("meta_id", "expected a string, got a number")
    assert (err.parameter, err.message) == ("meta_id", "expected a string, got a number")
    assert str(err) == "meta_id: expected a string, got a number"
    assert isinstance(err, ValueError)


# --- known names ----------------------------------------------------------------------


def test_known_parameter_names_are_those_of_spec_8_and_9() -> None:
    filters = {"source", "medium", "campaign", "content", "term", "landing_page"}
    assert filters | {"page", "start_date", "end_date"} == SESSIONS_PARAMETERS
    assert (
        filters
        | {"start_date", "end_date", "conversion_page", "meta_type", "meta_id", "touch_scope"}
        == PAGES_PARAMETERS
    )


# --- docs' examples -------------------------------------------------------------------


def test_docs_time_window_example_covers_both_days_inclusively() -> None:
    query = parse_sessions_query({"start_date": "2025-07-15", "end_date": "2025-07-30"})
    assert query.window == TimeWindow(start=utc(2025, 7, 15), end=utc(2025, 7, 30, *END_OF_DAY))
    assert query.page == 1
    assert query.filters == SessionFilters()


def test_docs_campaign_example_filters_on_exactly_the_three_values() -> None:
    query = parse_sessions_query(
        {"campaign": "summer_sale", "source": "facebook", "term": "bathing suits"}
    )
    assert query.filters == SessionFilters(
        campaign="summer_sale", source="facebook", term="bathing suits"
    )
    assert query.window == TimeWindow()


def test_docs_touch_scope_example_is_a_full_month_left_unchanged() -> None:
    query = parse_pages_query(
        {
            "start_date": "2025-07-01",
            "end_date": "2025-07-31",
            "source": "google.com",
            "touch_scope": "converting",
        },
        now=NOW,
    )
    # 2025-07-31T00:00Z - 2025-07-01T00:00Z is exactly 30 days: not truncated.
    assert query.window == TimeWindow(start=utc(2025, 7, 1), end=utc(2025, 7, 31, *END_OF_DAY))
    assert query.filters == SessionFilters(source="google.com")
    assert query.touch_scope is TouchScope.CONVERTING
    assert query.definition == ConversionDefinition()


# --- dates ----------------------------------------------------------------------------


def test_date_only_start_is_midnight_utc() -> None:
    assert parse_date_bound("start_date", "2025-07-01", end=False) == utc(2025, 7, 1)


def test_date_only_end_is_the_last_microsecond_of_that_day() -> None:
    assert parse_date_bound("end_date", "2025-07-31", end=True) == utc(2025, 7, 31, *END_OF_DAY)


def test_offset_is_converted_to_utc() -> None:
    # 02:00 at +02:00 is midnight UTC.
    bound = parse_date_bound("start_date", "2025-07-01T02:00:00+02:00", end=False)
    assert bound == utc(2025, 7, 1)
    assert bound.utcoffset() == timedelta(0)


def test_negative_offset_can_move_the_instant_to_the_next_day() -> None:
    # 22:30 at -03:30 is 02:00 UTC the next day.
    assert parse_date_bound("end_date", "2025-07-31T22:30:00-03:30", end=True) == utc(
        2025, 8, 1, 2, 0
    )


def test_z_and_no_offset_both_mean_utc() -> None:
    with_z = parse_date_bound("start_date", "2025-07-01T23:59:59Z", end=False)
    without = parse_date_bound("start_date", "2025-07-01T23:59:59", end=False)
    assert with_z == without == utc(2025, 7, 1, 23, 59, 59)


def test_date_time_end_is_taken_as_written_not_extended_to_end_of_day() -> None:
    assert parse_date_bound("end_date", "2025-07-31T10:00:00Z", end=True) == utc(2025, 7, 31, 10)


def test_fractional_seconds_are_kept_to_the_microsecond() -> None:
    # Nine digits (nanoseconds) are truncated, not rounded: .123456789 -> .123456.
    assert parse_date_bound("start_date", "2025-07-01T10:00:00.123456789Z", end=False) == utc(
        2025, 7, 1, 10, 0, 0, 123_456
    )
    assert parse_date_bound("start_date", "2025-07-01T10:00:00.5+00:00", end=False) == utc(
        2025, 7, 1, 10, 0, 0, 500_000
    )


def test_date_time_without_seconds_is_accepted() -> None:
    assert parse_date_bound("start_date", "2025-07-01T10:15Z", end=False) == utc(2025, 7, 1, 10, 15)


def test_month_13_is_rejected_with_the_documented_message_and_the_reason() -> None:
    err = sessions_error({"start_date": "2025-13-01"})
    assert str(err) == (
        "start_date: expected YYYY-MM-DD or an ISO 8601 date-time, got '2025-13-01': "
        "no month 13 (months are 01-12)"
    )
    assert err.parameter == "start_date"


@pytest.mark.parametrize(
    "value",
    [
        "2025-7-1",
        "07/01/2025",
        "yesterday",
        " 2025-07-01",
        "2025-07-01 ",
        "\uff12\uff10\uff12\uff15-07-01",  # full-width digits
        "2025-07-01T10Z",  # an hour alone: not in the grammar, for timestamps neither
        "20250701T100000Z",
    ],
)
def test_malformed_dates_are_rejected(value: str) -> None:
    err = sessions_error({"end_date": value})
    assert err.parameter == "end_date"
    assert err.message == f"expected YYYY-MM-DD or an ISO 8601 date-time, got {value!r}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-02-30", "no day 30 in February 2026 (it has 28 days)"),
        ("2025-04-31", "no day 31 in April 2025 (it has 30 days)"),
        (
            "2025-07-01T25:00:00Z",
            "no time of day 25:00:00 (hours are 00-23, minutes and seconds 00-59)",
        ),
        (
            "2025-07-01T23:59:60Z",
            "no time of day 23:59:60 (hours are 00-23, minutes and seconds 00-59)",
        ),
        ("2025-07-01T10:00:00+24:00", "no UTC offset +24:00 (offsets go up to ±23:59)"),
        ("2025-07-01T10:00:00+02:75", "no UTC offset +02:75 (offsets go up to ±23:59)"),
        ("0001-01-01T00:00:00+01:00", "outside the years 0001-9999 once converted to UTC"),
        ("9999-12-31T23:59:59-05:00", "outside the years 0001-9999 once converted to UTC"),
        ("0000-06-01", "no year 0000 (years start at 0001)"),
    ],
)
def test_impossible_dates_are_rejected_saying_why(value: str, reason: str) -> None:
    err = sessions_error({"end_date": value})
    assert err.parameter == "end_date"
    assert err.message == (f"expected YYYY-MM-DD or an ISO 8601 date-time, got {value!r}: {reason}")


def test_a_leap_day_is_a_date() -> None:
    query = parse_sessions_query({"start_date": "2024-02-29"})
    assert query.window.start == utc(2024, 2, 29)


def test_lowercase_t_and_z_are_accepted_as_in_event_timestamps() -> None:
    query = parse_sessions_query({"start_date": "2025-07-01t10:00:00z"})
    assert query.window.start == utc(2025, 7, 1, 10)


def test_a_plus_lost_in_a_query_string_gets_a_hint() -> None:
    # "?start_date=2025-07-01T02:00:00+02:00" unencoded decodes "+" to a space.
    err = sessions_error({"start_date": "2025-07-01T02:00:00 02:00"})
    assert "%2B" in err.message


def test_very_long_values_are_truncated_in_the_message() -> None:
    err = sessions_error({"start_date": "x" * 10_000})
    assert len(str(err)) < 200
    assert err.message.endswith("…'")


def test_sessions_start_after_end_names_start_date() -> None:
    err = sessions_error({"start_date": "2025-07-31", "end_date": "2025-07-01"})
    assert err.parameter == "start_date"
    assert err.message == (
        "must not be after end_date (got start_date '2025-07-31', end_date '2025-07-01')"
    )


def test_sessions_same_day_start_and_end_is_one_whole_day() -> None:
    query = parse_sessions_query({"start_date": "2025-07-31", "end_date": "2025-07-31"})
    assert query.window == TimeWindow(start=utc(2025, 7, 31), end=utc(2025, 7, 31, *END_OF_DAY))


def test_sessions_with_only_a_start_is_unbounded_above() -> None:
    query = parse_sessions_query({"start_date": "2025-07-01T08:00:00Z"})
    assert query.window == TimeWindow(start=utc(2025, 7, 1, 8), end=None)


def test_sessions_with_only_an_end_is_unbounded_below() -> None:
    query = parse_sessions_query({"end_date": "2025-07-31"})
    assert query.window == TimeWindow(start=None, end=utc(2025, 7, 31, *END_OF_DAY))


# --- /pages window --------------------------------------------------------------------


def test_pages_window_defaults_to_the_30_days_before_now() -> None:
    query = parse_pages_query({}, now=NOW)
    assert query.window == TimeWindow(start=NOW - timedelta(days=30), end=NOW)
    assert query.touch_scope is TouchScope.ANY


def test_pages_window_longer_than_30_days_is_truncated_from_the_end_dates_midnight() -> None:
    query = parse_pages_query({"start_date": "2025-06-01", "end_date": "2025-07-31"}, now=NOW)
    # 2025-07-31T00:00Z - 30 days = 2025-07-01T00:00Z; the end stays the end of its day.
    assert query.window == TimeWindow(start=utc(2025, 7, 1), end=utc(2025, 7, 31, *END_OF_DAY))
    assert format_instant(query.window.start) == "2025-07-01T00:00:00Z"  # type: ignore[arg-type]
    assert format_instant(query.window.end) == "2025-07-31T23:59:59Z"  # type: ignore[arg-type]


def test_pages_span_is_measured_to_a_date_only_ends_midnight_not_its_last_instant() -> None:
    # 2025-07-31T00:00Z - 2025-07-01T12:00Z = 29.5 days: kept as written, although the
    # window really runs to 2025-07-31T23:59:59.999999Z (30.5 days).
    window = pages_window("2025-07-01T12:00:00Z", "2025-07-31", now=NOW)
    assert window == TimeWindow(start=utc(2025, 7, 1, 12), end=utc(2025, 7, 31, *END_OF_DAY))


def test_pages_window_31_days_by_date_is_truncated_by_one_day() -> None:
    # 2025-07-31T00:00Z - 2025-06-30T00:00Z = 31 days > 30.
    window = pages_window("2025-06-30", "2025-07-31", now=NOW)
    assert window.start == utc(2025, 7, 1)


def test_pages_window_with_a_date_time_end_is_measured_from_that_instant() -> None:
    window = pages_window("2025-06-01", "2025-07-31T18:00:00Z", now=NOW)
    assert window == TimeWindow(start=utc(2025, 7, 1, 18), end=utc(2025, 7, 31, 18))


def test_pages_window_with_only_a_start_ends_now() -> None:
    window = pages_window("2025-07-20", None, now=NOW)
    assert window == TimeWindow(start=utc(2025, 7, 20), end=NOW)


def test_pages_window_with_only_an_old_start_is_truncated_to_30_days_before_now() -> None:
    window = pages_window("2025-01-01", None, now=NOW)
    assert window == TimeWindow(start=NOW - timedelta(days=30), end=NOW)


def test_pages_window_with_only_an_end_starts_30_days_before_its_midnight() -> None:
    window = pages_window(None, "2025-07-31", now=NOW)
    assert window == TimeWindow(start=utc(2025, 7, 1), end=utc(2025, 7, 31, *END_OF_DAY))


def test_pages_window_uses_the_given_now_in_utc() -> None:
    # 14:30:15.25 at +02:00 is NOW.
    local_now = datetime(2025, 8, 10, 14, 30, 15, 250_000, tzinfo=timezone(timedelta(hours=2)))
    window = pages_window(None, None, now=local_now)
    assert window == TimeWindow(start=NOW - timedelta(days=30), end=NOW)
    assert window.end is not None
    assert window.end.utcoffset() == timedelta(0)


def test_pages_window_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pages_window(None, None, now=datetime(2025, 8, 10))


def test_pages_start_after_end_is_rejected() -> None:
    err = pages_error({"start_date": "2025-07-31", "end_date": "2025-07-30"})
    assert err.parameter == "start_date"


def test_pages_start_in_the_future_with_no_end_is_after_now() -> None:
    err = pages_error({"start_date": "2025-09-01"})
    assert err.parameter == "start_date"
    assert "2025-08-10T12:30:15Z" in err.message


# --- unknown parameters ---------------------------------------------------------------


def test_unknown_parameter_suggests_the_closest_known_name() -> None:
    err = sessions_error({"landing_pgae": "https://example.com"})
    assert err.parameter == "landing_pgae"
    assert err.message.startswith(
        "unknown parameter; did you mean 'landing_page'? Known parameters: campaign, content,"
    )


def test_utm_prefixed_name_suggests_the_plain_filter() -> None:
    err = pages_error({"utm_campaign": "summer_sale"})
    assert "did you mean 'campaign'?" in err.message


def test_unknown_parameter_without_a_close_name_lists_the_known_ones() -> None:
    err = sessions_error({"zzz": "1"})
    assert err.message == (
        "unknown parameter. Known parameters: campaign, content, end_date, landing_page, "
        "medium, page, source, start_date, term"
    )


def test_several_unknown_parameters_report_the_first_in_sorted_order() -> None:
    err = sessions_error({"zeta": "1", "alpha": "2", "source": "google.com"})
    assert err.parameter == "alpha"


def test_unknown_parameter_is_rejected_even_when_empty() -> None:
    assert sessions_error({"campain": ""}).parameter == "campain"


def test_page_is_not_a_pages_parameter() -> None:
    err = pages_error({"page": 2})
    assert err.parameter == "page"
    assert err.message.startswith("unknown parameter")


@pytest.mark.parametrize("name", ["touch_scope", "conversion_page", "meta_type", "meta_id"])
def test_pages_only_parameters_are_unknown_to_sessions(name: str) -> None:
    err = sessions_error({name: "x"})
    assert err.parameter == name
    assert err.message.startswith("unknown parameter")


def test_unprintable_unknown_name_is_quoted() -> None:
    err = sessions_error({"bad\nname": "1"})
    assert err.parameter == "'bad\\nname'"


# --- value types ----------------------------------------------------------------------


def test_operator_object_as_filter_value_is_rejected() -> None:
    err = sessions_error({"source": {"$ne": None}})
    assert str(err) == "source: expected a string, got an object"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(["a", "b"], "an array"), (7, "a number"), (1.5, "a number"), (True, "a boolean")],
)
def test_non_string_filter_values_are_rejected(value: object, kind: str) -> None:
    err = pages_error({"meta_id": value})
    assert str(err) == f"meta_id: expected a string, got {kind}"


@pytest.mark.parametrize("name", ["start_date", "end_date", "touch_scope", "conversion_page"])
def test_dates_scope_and_urls_must_be_strings_too(name: str) -> None:
    err = pages_error({name: {"$gt": ""}})
    assert str(err) == f"{name}: expected a string, got an object"


def test_null_counts_as_not_given() -> None:
    query = parse_pages_query(
        {"source": None, "start_date": None, "touch_scope": None, "meta_type": None}, now=NOW
    )
    assert query == parse_pages_query({}, now=NOW)


# --- empty strings --------------------------------------------------------------------


def test_empty_strings_count_as_not_given_on_sessions() -> None:
    params: dict[str, object] = dict.fromkeys(SESSIONS_PARAMETERS, "")
    query = parse_sessions_query(params)
    assert query.filters == SessionFilters()
    assert query.window == TimeWindow()
    assert query.page == 1


def test_empty_strings_count_as_not_given_on_pages() -> None:
    params: dict[str, object] = dict.fromkeys(PAGES_PARAMETERS, "")
    query = parse_pages_query(params, now=NOW)
    assert query == parse_pages_query({}, now=NOW)


def test_filter_values_are_kept_exactly_as_sent() -> None:
    query = parse_sessions_query({"source": " Google.com ", "medium": "CPC"})
    assert query.filters == SessionFilters(source=" Google.com ", medium="CPC")


# --- URLs -----------------------------------------------------------------------------


def test_landing_page_is_normalized() -> None:
    query = parse_sessions_query({"landing_page": "HTTPS://Example.com:443/Pricing/?ref=abc#top"})
    assert query.filters.landing_page == "https://example.com/Pricing"


def test_conversion_page_is_normalized() -> None:
    query = parse_pages_query(
        {"conversion_page": "http://Example.com/signup/", "meta_type": "hubspot_form"}, now=NOW
    )
    assert query.definition == ConversionDefinition(
        conversion_page="http://example.com/signup", meta_type="hubspot_form"
    )


def test_relative_landing_page_is_rejected() -> None:
    err = sessions_error({"landing_page": "pricing"})
    assert str(err) == "landing_page: expected an absolute http or https URL, got 'pricing'"


@pytest.mark.parametrize(
    "value", ["/pricing", "ftp://example.com/x", "https://", "http://example.com:99999/x"]
)
def test_non_http_or_broken_conversion_page_is_rejected(value: str) -> None:
    err = pages_error({"conversion_page": value})
    assert err.parameter == "conversion_page"
    assert err.message.startswith("expected an absolute http or https URL")


# --- page -----------------------------------------------------------------------------


def test_page_defaults_to_one() -> None:
    assert parse_sessions_query({}).page == 1


def test_page_accepts_an_integer() -> None:
    assert parse_sessions_query({"page": 4}).page == 4


def test_page_accepts_a_string_of_digits() -> None:
    assert parse_sessions_query({"page": "3"}).page == 3


def test_page_zero_is_rejected() -> None:
    assert str(sessions_error({"page": 0})) == "page: expected an integer >= 1, got 0"


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("abc", "'abc'"),
        (True, "true"),
        (2.5, "2.5"),
        (-3.0, "-3.0"),
        (-1, "-1"),
        ("0", "'0'"),
        ("-1", "'-1'"),
        ("1.5", "'1.5'"),
        (" 2", "' 2'"),
        ("\uff12", "'\uff12'"),
        ({"$gt": 0}, "an object"),
        ([1], "an array"),
    ],
)
def test_page_that_is_not_an_integer_of_at_least_one_is_rejected(value: object, got: str) -> None:
    assert str(sessions_error({"page": value})) == f"page: expected an integer >= 1, got {got}"


def test_a_whole_number_written_with_a_fraction_is_a_page() -> None:
    # JSON has one number type: 2.0 is the integer 2 (JSON Schema agrees).
    assert parse_sessions_query({"page": 2.0}).page == 2


def test_very_large_page_is_served_as_the_maximum() -> None:
    assert parse_sessions_query({"page": 10**30}).page == MAX_PAGE
    # A JSON integer of more than 64 bits is decoded as a float (orjson): 1e+23.
    assert parse_sessions_query({"page": 1e23}).page == MAX_PAGE
    assert parse_sessions_query({"page": "9" * 5000}).page == MAX_PAGE
    assert parse_sessions_query({"page": str(MAX_PAGE)}).page == MAX_PAGE


# --- touch scope ----------------------------------------------------------------------


@pytest.mark.parametrize("scope", list(TouchScope))
def test_every_touch_scope_is_accepted(scope: TouchScope) -> None:
    assert parse_pages_query({"touch_scope": scope.value}, now=NOW).touch_scope is scope


@pytest.mark.parametrize("value", ["Converting", "assists", "all"])
def test_unknown_touch_scope_lists_the_allowed_values(value: str) -> None:
    err = pages_error({"touch_scope": value})
    assert str(err) == (
        f"touch_scope: expected one of any, first, converting, assist, after, got {value!r}"
    )


# --- format_instant -------------------------------------------------------------------


def test_format_instant_is_utc_with_z_at_second_precision() -> None:
    assert format_instant(utc(2025, 7, 31, *END_OF_DAY)) == "2025-07-31T23:59:59Z"


def test_format_instant_converts_offsets_to_utc() -> None:
    plus_two = datetime(2025, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_instant(plus_two) == "2025-07-01T00:00:00Z"


def test_format_instant_takes_a_naive_datetime_as_utc() -> None:
    assert format_instant(datetime(2025, 3, 2, 11, 35)) == "2025-03-02T11:35:00Z"


def test_format_instant_pads_early_years() -> None:
    assert format_instant(utc(999, 1, 2, 3, 4, 5)) == "0999-01-02T03:04:05Z"
