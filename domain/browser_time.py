"""When a tracker's event happened (docs/concepts.md, "Browser time").

The tracker sends, on every event, ``client_time`` (the browser's clock when the event
was created) and ``sent_at`` (the browser's clock when the request was handed to the
network), both milliseconds since the epoch. Arrival order is not visit order: a page's
exit beacon is often delivered after the next page's pageview. The browser's clock saw
both happen in order, so it decides, unless it is visibly wrong; then it is shifted by the
offset the request itself shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

# Within this of the server's clock the browser's clock is taken as right.
TRUSTED_SKEW = timedelta(minutes=5)
# Instants before this are no tracker's (a clock reset to 1970, garbage).
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def browser_timestamp(event: Mapping[str, object], arrived: datetime) -> datetime:
    """The event's instant from its ``client_time`` and ``sent_at`` and the request's
    arrival ``arrived`` (timezone-aware): the browser's clock when it is within 5 minutes
    of the server's, else shifted by the request's offset; ``arrived`` itself when
    either field is missing, not an integer, before 2000, or ``client_time`` is after
    ``sent_at``. Millisecond precision."""
    client_time = _milliseconds(event.get("client_time"))
    sent_at = _milliseconds(event.get("sent_at"))
    if client_time is None or sent_at is None or client_time > sent_at:
        return arrived
    arrived_ms = (arrived - _EPOCH) // timedelta(milliseconds=1)
    offset = arrived_ms - sent_at
    at = (
        client_time
        if abs(offset) <= TRUSTED_SKEW // timedelta(milliseconds=1)
        else (client_time + offset)
    )
    try:
        return _EPOCH + timedelta(milliseconds=at)
    except OverflowError:
        return arrived


def _milliseconds(value: object) -> int | None:
    # JSON numbers: an integer, or a float with nothing after the point (2.0).
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < EARLIEST_MS:
        return None
    return value
