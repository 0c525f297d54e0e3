"""The one ISO 8601 grammar of the service: event timestamps and window bounds alike
(docs/concepts.md, "Dates and times").

Accepted: a calendar date ``YYYY-MM-DD``, or a date-time: the RFC 3339 profile of ISO
8601 plus what clients commonly send (a ``T``, ``t`` or space between date and time;
seconds optional; a ``.`` or ``,`` before a fraction of any length, truncated to
microseconds; ``Z``/``z``, an offset as ``+HH:MM``, ``+HHMM`` or ``+HH``, or none meaning
UTC). Nothing else: no week dates, no ordinal dates, no hour-only times, no compact
``20250701T1000``. Callers decide whether a date alone will do.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

_DATE_ONLY = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ]"
    r"(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,32}))?)?"
    r"(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)
# The spelling nearly every client sends, which the C parser takes at a tenth of the cost
# of the general path below (this runs once per ingested event).
_COMMON = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,
)
_OUTSIDE = "outside the years 0001-9999 once converted to UTC"
_OFFSETS: dict[tuple[str, str, str | None], timezone] = {}
# Not calendar.month_name: that one follows the process locale.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class InstantError(ValueError):
    """Text that is not an instant. ``malformed``: not in the grammar at all; otherwise it
    is in the grammar but names no instant, and ``str()`` says why in words ("no day 30
    in February 2026 (it has 28 days)"), to follow what the caller expected."""

    def __init__(self, message: str, *, malformed: bool) -> None:
        super().__init__(message)
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class WrittenInstant:
    """What a text named: ``instant`` (UTC) is midnight UTC of ``day`` for a date alone."""

    instant: datetime
    day: date | None = None

    @property
    def date_only(self) -> bool:
        return self.day is not None


def read_instant(text: str) -> WrittenInstant:
    """``text`` in the grammar above, as an aware UTC instant; ``InstantError`` else."""
    if _COMMON.fullmatch(text) is not None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass  # out-of-range fields: the general path says which
        else:
            if parsed.tzinfo is None:
                return WrittenInstant(parsed.replace(tzinfo=UTC))
            try:
                return WrittenInstant(parsed.astimezone(UTC))
            except OverflowError:
                raise InstantError(_OUTSIDE, malformed=False) from None
    match = _DATE_TIME.fullmatch(text)
    if match is not None:
        return WrittenInstant(_date_time(match))
    day_match = _DATE_ONLY.fullmatch(text)
    if day_match is not None:
        day = _calendar_date(*day_match.groups())
        return WrittenInstant(datetime(day.year, day.month, day.day, tzinfo=UTC), day)
    raise InstantError("not an ISO 8601 date or date-time", malformed=True)


def _date_time(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    on = _calendar_date(year, month, day)
    if int(hour) > 23 or int(minute) > 59 or (second is not None and int(second) > 59):
        shown = f"{hour}:{minute}" + (f":{second}" if second is not None else "")
        raise InstantError(
            f"no time of day {shown} (hours are 00-23, minutes and seconds 00-59)",
            malformed=False,
        )
    tz = UTC if sign is None else _offset(sign, off_h, off_m)
    local = datetime(
        on.year,
        on.month,
        on.day,
        int(hour),
        int(minute),
        int(second or 0),
        int(fraction[:6].ljust(6, "0")) if fraction else 0,
        tzinfo=tz,
    )
    if tz is UTC:
        return local
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise InstantError(_OUTSIDE, malformed=False) from None


def _calendar_date(year: str, month: str, day: str) -> date:
    y, m, d = int(year), int(month), int(day)
    if y < 1:
        raise InstantError("no year 0000 (years start at 0001)", malformed=False)
    if not 1 <= m <= 12:
        raise InstantError(f"no month {month} (months are 01-12)", malformed=False)
    last = calendar.monthrange(y, m)[1]
    if not 1 <= d <= last:
        raise InstantError(
            f"no day {day} in {_MONTHS[m - 1]} {year} (it has {last} days)",
            malformed=False,
        )
    return date(y, m, d)


def _offset(sign: str, hours: str, minutes: str | None) -> timezone:
    key = (sign, hours, minutes)
    known = _OFFSETS.get(key)
    if known is not None:
        return known
    h, m = int(hours), int(minutes or 0)
    if h > 23 or m > 59:
        raise InstantError(
            f"no UTC offset {sign}{hours}:{minutes or '00'} (offsets go up to ±23:59)",
            malformed=False,
        )
    delta = timedelta(hours=h, minutes=m)
    tz = timezone(delta if sign == "+" else -delta)
    # A handful of offsets exist in practice; the bound keeps hostile input from growing it.
    if len(_OFFSETS) < 4096:
        _OFFSETS[key] = tz
    return tz
