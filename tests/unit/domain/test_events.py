from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.events import EventError, parse_event
from domain.model import EventType

NOW = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)


def raw(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "pageview",
        "event_id": "e-1",
        "visitor_id": "v-1",
        "timestamp": "2025-07-15T10:15:00Z",
        "url": "https://example.com/pricing/?utm_source=google",
        "referrer": "https://www.google.com/",
        "user_agent": "Mozilla/5.0",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not ...}


def parse(**overrides: Any) -> Any:
    return parse_event(raw(**overrides), site_id="site-a", now=NOW)


def error_of(**overrides: Any) -> EventError:
    with pytest.raises(EventError) as info:
        parse(**overrides)
    return info.value


def test_a_valid_pageview_keeps_its_fields_and_normalizes_the_page() -> None:
    event = parse()
    assert event.type is EventType.PAGEVIEW
    assert event.site_id == "site-a"
    assert event.visitor_id == "v-1"
    assert event.timestamp == datetime(2025, 7, 15, 10, 15, tzinfo=UTC)
    assert event.url == "https://example.com/pricing/?utm_source=google"
    assert event.page == "https://example.com/pricing"
    assert event.referrer == "https://www.google.com/"


@pytest.mark.parametrize("field", ["type", "visitor_id", "timestamp", "url"])
def test_each_missing_required_field_is_named(field: str) -> None:
    err = error_of(**{field: ...})
    assert err.field == field
    assert str(err).startswith(f"{field}: ")


def test_unknown_type_lists_the_allowed_types() -> None:
    err = error_of(type="click")
    assert err.field == "type"
    assert "pageview, conversion, exit" in err.message


def test_visitor_id_longer_than_200_characters_is_rejected() -> None:
    assert parse(visitor_id="v" * 200).visitor_id == "v" * 200
    assert error_of(visitor_id="v" * 201).field == "visitor_id"


def test_non_string_visitor_id_is_rejected() -> None:
    err = error_of(visitor_id=42)
    assert err.field == "visitor_id"
    assert "expected a string" in err.message


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01T00:00:00Z", "2025-07-15", 1721000000])
def test_unparseable_timestamps_are_rejected(bad: object) -> None:
    assert error_of(timestamp=bad).field == "timestamp"


@pytest.mark.parametrize("bad", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_outside_the_representable_years_is_a_rejection_not_a_crash(
    bad: str,
) -> None:
    err = error_of(timestamp=bad)
    assert str(err) == (
        f"timestamp: expected an ISO 8601 date-time, got {bad!r}: "
        "outside the years 0001-9999 once converted to UTC"
    )


def test_an_impossible_timestamp_says_why() -> None:
    assert error_of(timestamp="2026-02-30T10:00:00Z").message == (
        "expected an ISO 8601 date-time, got '2026-02-30T10:00:00Z': "
        "no day 30 in February 2026 (it has 28 days)"
    )


def test_a_date_alone_is_not_a_timestamp() -> None:
    assert error_of(timestamp="2025-07-15").message == (
        "expected an ISO 8601 date-time (a date alone has no time of day), got '2025-07-15'"
    )


def test_a_number_as_timestamp_is_named_as_a_json_number() -> None:
    assert error_of(timestamp=1721000000).message == (
        "expected an ISO 8601 date-time string, got a number"
    )


def test_timestamp_without_offset_means_utc() -> None:
    assert parse(timestamp="2025-07-15T10:15:00").timestamp == datetime(
        2025, 7, 15, 10, 15, tzinfo=UTC
    )


def test_timestamp_offset_is_converted_to_utc() -> None:
    assert parse(timestamp="2025-07-15T12:15:00+02:00").timestamp == datetime(
        2025, 7, 15, 10, 15, tzinfo=UTC
    )


def test_timestamp_more_than_ten_minutes_in_the_future_is_rejected() -> None:
    just_inside = (NOW + timedelta(minutes=10)).isoformat()
    too_far = (NOW + timedelta(minutes=10, seconds=1)).isoformat()
    assert parse(timestamp=just_inside).timestamp == NOW + timedelta(minutes=10)
    err = error_of(timestamp=too_far)
    assert err.field == "timestamp"
    assert "future" in err.message


@pytest.mark.parametrize("bad", ["/pricing", "mailto:a@b.c", "ftp://example.com/x", 7])
def test_url_must_be_absolute_http_or_https(bad: object) -> None:
    assert error_of(url=bad).field == "url"


def test_event_must_be_an_object() -> None:
    with pytest.raises(EventError) as info:
        parse_event(["pageview"], site_id="s", now=NOW)
    assert info.value.field == "event"


def test_missing_event_id_is_derived_deterministically() -> None:
    first = parse(event_id=...)
    again = parse(event_id=...)
    assert first.event_id == again.event_id
    assert first.event_id != parse(event_id=..., url="https://example.com/other").event_id


def test_derived_event_id_is_the_same_for_z_and_plus_zero_spellings() -> None:
    zulu = parse(event_id=..., timestamp="2025-07-15T10:15:00Z")
    offset = parse(event_id=..., timestamp="2025-07-15T10:15:00+00:00")
    shifted = parse(event_id=..., timestamp="2025-07-15T12:15:00+02:00")
    assert zulu.event_id == offset.event_id == shifted.event_id


def test_derived_event_id_differs_between_sites() -> None:
    a = parse_event(raw(event_id=...), site_id="site-a", now=NOW)
    b = parse_event(raw(event_id=...), site_id="site-b", now=NOW)
    assert a.event_id != b.event_id


def test_conversion_meta_type_defaults_to_custom() -> None:
    event = parse(type="conversion", email="ann@example.org", meta_id="form-7")
    assert event.meta_type == "custom"
    assert event.email == "ann@example.org"
    assert event.meta_id == "form-7"


def test_conversion_keeps_a_free_meta_type() -> None:
    assert parse(type="conversion", meta_type="hubspot_form").meta_type == "hubspot_form"


def test_empty_optional_strings_count_as_absent() -> None:
    event = parse(referrer="", user_agent="")
    assert event.referrer is None
    assert event.user_agent is None


def test_non_string_optional_field_is_named() -> None:
    assert error_of(email={"$ne": None}).field == "email"


def test_a_conversion_carries_its_value_as_a_number() -> None:
    assert parse(type="conversion", value=49.5).value == 49.5
    assert parse(type="conversion", value=0).value == 0.0
    assert parse(type="conversion").value is None
    assert parse(type="conversion", value=None).value is None


@pytest.mark.parametrize(
    ("bad", "got"),
    [
        (-1, "-1"),
        (-0.01, "-0.01"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        (10**400, "a very large number"),
        ("12.50", "a string"),
        (True, "a boolean"),
        ([5], "an array"),
    ],
)
def test_a_conversion_value_that_is_not_a_finite_number_of_at_least_zero_is_rejected(
    bad: object, got: str
) -> None:
    err = error_of(type="conversion", value=bad)
    assert err.field == "value"
    assert err.message.startswith("expected a finite number >= 0, got ")
    assert got in err.message


def test_a_pageview_ignores_a_value_like_any_unknown_key() -> None:
    assert parse(type="pageview", value="whatever").value is None


@pytest.mark.parametrize(
    "field", ["visitor_id", "url", "referrer", "user_agent", "email", "event_id", "meta_id"]
)
def test_a_text_holding_u0000_is_rejected_naming_its_field(field: str) -> None:
    value = "https://example.com/a\x00b" if field in ("url", "referrer") else "a\x00b"
    err = error_of(type="conversion", **{field: value})
    assert err.field == field
    assert "U+0000" in err.message
