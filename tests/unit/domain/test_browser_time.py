"""The tracker's time rule at its edges (docs/concepts.md, "Browser time")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.browser_time import browser_timestamp
from domain.events import EventError, EventParser

ARRIVED = datetime(2025, 7, 20, 12, 0, 0, 500_000, tzinfo=UTC)
ARRIVED_MS = int(ARRIVED.timestamp() * 1000)
MINUTE = 60_000


def at_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def test_a_browser_clock_within_five_minutes_is_taken_as_it_is() -> None:
    sent_at = ARRIVED_MS - 4 * MINUTE
    event = {"client_time": sent_at - 4_321, "sent_at": sent_at}
    assert browser_timestamp(event, ARRIVED) == at_ms(sent_at - 4_321)


def test_exactly_five_minutes_off_is_still_about_right() -> None:
    for sent_at in (ARRIVED_MS - 5 * MINUTE, ARRIVED_MS + 5 * MINUTE):
        event = {"client_time": sent_at - 1_000, "sent_at": sent_at}
        assert browser_timestamp(event, ARRIVED) == at_ms(sent_at - 1_000)


def test_a_clock_more_than_five_minutes_off_is_shifted_by_the_requests_offset() -> None:
    # The browser's clock is 3 hours behind: sent 3 h + 1 ms before arrival by its clock.
    sent_at = ARRIVED_MS - 3 * 60 * MINUTE
    event = {"client_time": sent_at - 2_000, "sent_at": sent_at}
    assert browser_timestamp(event, ARRIVED) == at_ms(ARRIVED_MS - 2_000)
    # Just over the bound: shifted too.
    sent_at = ARRIVED_MS - 5 * MINUTE - 1
    event = {"client_time": sent_at - 2_000, "sent_at": sent_at}
    assert browser_timestamp(event, ARRIVED) == at_ms(ARRIVED_MS - 2_000)


def test_milliseconds_are_kept() -> None:
    event = {"client_time": ARRIVED_MS - 1_234, "sent_at": ARRIVED_MS - 1_000}
    assert browser_timestamp(event, ARRIVED).microsecond == ((ARRIVED_MS - 1_234) % 1000) * 1000


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"client_time": ARRIVED_MS},
        {"sent_at": ARRIVED_MS},
        {"client_time": str(ARRIVED_MS), "sent_at": ARRIVED_MS},
        {"client_time": ARRIVED_MS - 0.5, "sent_at": ARRIVED_MS},
        {"client_time": True, "sent_at": ARRIVED_MS},
        {"client_time": 946_684_799_999, "sent_at": ARRIVED_MS},  # before 2000
        {"client_time": ARRIVED_MS, "sent_at": 946_684_799_999},
        {"client_time": ARRIVED_MS + 1, "sent_at": ARRIVED_MS},  # created after it was sent
        {"client_time": 10**30, "sent_at": 10**30},  # beyond any calendar
    ],
)
def test_missing_or_absurd_fields_mean_the_arrival(event: dict[str, object]) -> None:
    assert browser_timestamp(event, ARRIVED) == ARRIVED


def test_an_integral_float_is_an_integer() -> None:
    event = {"client_time": float(ARRIVED_MS - 10), "sent_at": float(ARRIVED_MS)}
    assert browser_timestamp(event, ARRIVED) == at_ms(ARRIVED_MS - 10)


def test_the_future_check_applies_to_the_result() -> None:
    # A browser clock 20 minutes ahead, but its own request shows it: shifted back, fine.
    sent_at = ARRIVED_MS + 20 * MINUTE
    shifted = browser_timestamp({"client_time": sent_at, "sent_at": sent_at}, ARRIVED)
    assert shifted == at_ms(ARRIVED_MS)
    # A client_time far ahead of its own sent_at is refused by the rule (arrival used);
    # a result past now + 10 minutes is rejected by the parser as any event would be.
    late = ARRIVED + timedelta(minutes=11)
    parser = EventParser(site_id="s", now=ARRIVED)
    raw = {
        "type": "pageview",
        "visitor_id": "v",
        "url": "https://example.com/",
        "timestamp": late.isoformat(),
    }
    with pytest.raises(EventError, match="more than 10 minutes in the future"):
        parser.parse(raw)
