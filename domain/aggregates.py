"""Aggregates for front ends (docs/concepts.md, "Aggregates"): sessions, users and
conversions per time bucket (``timeseries``) or per value of one dimension
(``breakdown``).

Pure functions over what a store yields of the window's matching sessions: one compact
row each, of the ``AggregateSession`` fields an aggregate reads, keyed by the store's own
visitor, text and page keys.
Counting runs in C where it can (``Counter``, ``set``, ``map``, ``bisect``); the few
sessions holding a conversion are looked at one by one.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import compress
from operator import itemgetter
from typing import Any, Final, NamedTuple, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.channels import channel
from domain.model import Session, from_micros, to_micros
from domain.multi_touch import TextKey
from domain.page_report import CountingRule, PageKey, VisitorKey
from domain.parameters import (
    FILTER_PARAMETERS,
    ParameterError,
    bounded_integer,
    describe_value,
    not_given,
    parse_selection,
)
from domain.queries import ConversionDefinition, SessionFilters, TimeWindow

AGGREGATE_MAX_SPAN: Final = timedelta(days=90)
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 1000
DEFAULT_TIME_ZONE: Final = "UTC"
_SELECTION_PARAMETERS: Final = FILTER_PARAMETERS | {
    "start_date",
    "end_date",
    "conversion_page",
    "meta_type",
    "meta_id",
}
TIMESERIES_PARAMETERS: Final = _SELECTION_PARAMETERS | {"interval", "time_zone"}
BREAKDOWN_PARAMETERS: Final = _SELECTION_PARAMETERS | {"by", "limit"}
_MAX_ZONE_NAME: Final = 64
_UTC_ZONE: Final = ZoneInfo(DEFAULT_TIME_ZONE)


class Interval(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # starting Monday
    MONTH = "month"


class BreakdownDimension(enum.StrEnum):
    SOURCE = "source"
    MEDIUM = "medium"
    CAMPAIGN = "campaign"
    CONTENT = "content"
    TERM = "term"
    LANDING_PAGE = "landing_page"
    CHANNEL = "channel"


class AggregateConversion(NamedTuple):
    """What the aggregates read of one conversion (``CountingRule`` judges it)."""

    page: PageKey
    meta_type: str
    meta_id: str | None


class AggregateSession(NamedTuple):
    """What the aggregates read of one session. Stores may yield plain tuples in this
    order. ``start`` in microseconds since the epoch; ``source`` ... ``term`` are the
    store's text keys (``StoreSnapshot.attribution_texts``; None where the session has no
    such field), ``landing`` its page key; ``conversions`` None when there are none."""

    visitor: VisitorKey
    start: int
    source: TextKey
    medium: TextKey
    campaign: TextKey | None
    content: TextKey | None
    term: TextKey | None
    landing: PageKey
    conversions: tuple[AggregateConversion, ...] | None


# A reader names the fields it reads (``StoreSnapshot.aggregate_sessions``) and gets rows
# of those only, in ``AggregateSession``'s order: every column a store reads for nothing
# costs, on hundreds of thousands of sessions.
AGGREGATE_FIELDS: Final = AggregateSession._fields
_FIELD_OF: Final = {
    BreakdownDimension.SOURCE: "source",
    BreakdownDimension.MEDIUM: "medium",
    BreakdownDimension.CAMPAIGN: "campaign",
    BreakdownDimension.CONTENT: "content",
    BreakdownDimension.TERM: "term",
    BreakdownDimension.LANDING_PAGE: "landing",
}


# Every field any breakdown reads: what one read shared by several breakdowns of one
# request holds (``Reads.breakdown``'s ``shared``).
BREAKDOWN_FIELDS: Final = (
    "visitor", "source", "medium", "campaign", "content", "term", "landing", "conversions"
)  # fmt: skip


# A row of some fields of an ``AggregateSession`` (all of them: an ``AggregateSession``).
AggregateRow = tuple[Any, ...]


def in_row_order(fields: Iterable[str]) -> tuple[str, ...]:
    """``fields`` in ``AggregateSession``'s order: the shape of a row holding them."""
    wanted = set(fields)
    return tuple(name for name in AGGREGATE_FIELDS if name in wanted)


def projected(row: AggregateSession, fields: Iterable[str]) -> AggregateRow:
    """The row of ``fields`` (in ``AggregateSession``'s order) of a whole row."""
    return tuple(getattr(row, name) for name in in_row_order(fields))


def _getter(fields: tuple[str, ...], *names: str) -> Callable[[Sequence[object]], Hashable]:
    return itemgetter(*(fields.index(name) for name in names))


def aggregate_session(session: Session) -> AggregateSession:
    """The aggregates' row of a whole session, keyed by its URLs, texts and visitor id
    (for stores that keep sessions whole)."""
    a = session.attribution
    conversions = tuple(
        AggregateConversion(c.page, c.meta_type, c.meta_id) for c in session.conversions
    )
    return AggregateSession(
        session.visitor_id,
        to_micros(session.start),
        a.source,
        a.medium,
        a.campaign,
        a.content,
        a.term,
        session.landing_page,
        conversions or None,
    )


@dataclass(frozen=True, slots=True)
class TimeseriesQuery:
    """``window`` is the effective window, both bounds set."""

    filters: SessionFilters
    window: TimeWindow
    definition: ConversionDefinition
    interval: Interval = Interval.DAY
    time_zone: ZoneInfo = _UTC_ZONE


@dataclass(frozen=True, slots=True)
class BreakdownQuery:
    """``window`` is the effective window, both bounds set."""

    filters: SessionFilters
    window: TimeWindow
    definition: ConversionDefinition
    by: BreakdownDimension
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime  # UTC
    sessions: int
    users: int
    conversions: int
    converting_sessions: int


@dataclass(frozen=True, slots=True)
class Timeseries:
    time_frame: TimeWindow
    interval: Interval
    time_zone: str
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    value: str | None
    sessions: int
    users: int
    conversions: int
    converting_sessions: int

    @property
    def conversion_rate(self) -> float:
        return self.converting_sessions / self.sessions if self.sessions else 0.0


@dataclass(frozen=True, slots=True)
class Breakdown:
    time_frame: TimeWindow
    by: BreakdownDimension
    total_rows: int
    rows: tuple[BreakdownRow, ...]


# --- parameters ---------------------------------------------------------------------------
def parse_timeseries_query(params: Mapping[str, object], *, now: datetime) -> TimeseriesQuery:
    """The time series query: the /pages window spanning up to 90 days, the /sessions
    filters, the conversion definition, ``interval`` (hour, day, week, month; default
    day) and ``time_zone`` (an IANA name; default UTC)."""
    window, filters, definition = parse_selection(
        params, now=now, known=TIMESERIES_PARAMETERS, max_span=AGGREGATE_MAX_SPAN
    )
    query = TimeseriesQuery(
        filters=filters,
        window=window,
        definition=definition,
        interval=_choice(params, "interval", Interval, None) or Interval.DAY,
        time_zone=_time_zone(params.get("time_zone")),
    )
    # Refused here, before any read, when the buckets leave the calendar.
    bucket_bounds(query.window, query.interval, query.time_zone)
    return query


def parse_breakdown_query(params: Mapping[str, object], *, now: datetime) -> BreakdownQuery:
    """The breakdown query: the selection of the time series, ``by`` (required: source,
    medium, campaign, content, term, landing_page or channel) and ``limit`` (1 to 1000,
    default 10)."""
    window, filters, definition = parse_selection(
        params, now=now, known=BREAKDOWN_PARAMETERS, max_span=AGGREGATE_MAX_SPAN
    )
    by = _choice(params, "by", BreakdownDimension, None)
    if by is None:
        allowed = ", ".join(member.value for member in BreakdownDimension)
        raise ParameterError("by", f"expected one of {allowed}, got nothing")
    return BreakdownQuery(
        filters=filters,
        window=window,
        definition=definition,
        by=by,
        limit=_limit(params.get("limit")),
    )


_E = TypeVar("_E", bound=enum.StrEnum)


def _choice(
    params: Mapping[str, object], name: str, kind: type[_E], default: _E | None
) -> _E | None:
    value = params.get(name)
    if not_given(value):
        return default
    allowed = ", ".join(member.value for member in kind)
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    raise ParameterError(name, f"expected one of {allowed}, got {describe_value(value)}")


def _time_zone(value: object) -> ZoneInfo:
    if not_given(value):
        return ZoneInfo(DEFAULT_TIME_ZONE)
    if isinstance(value, str) and len(value) <= _MAX_ZONE_NAME:
        try:
            return ZoneInfo(value)
        # A name with a path's characters is a ValueError, an unknown one not found.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ParameterError(
        "time_zone",
        "expected an IANA time zone name such as 'Europe/Berlin' or 'UTC', "
        f"got {describe_value(value)}",
    )


def _limit(value: object) -> int:
    if not_given(value):
        return DEFAULT_LIMIT
    return bounded_integer("limit", value, low=1, high=MAX_LIMIT)


# --- buckets ------------------------------------------------------------------------------
def bucket_bounds(window: TimeWindow, interval: Interval, zone: ZoneInfo) -> list[int]:
    """The buckets from the one holding the window's start to the one holding its end,
    as their bounds in microseconds: bucket i is ``[bounds[i], bounds[i + 1])``.

    A bucket starts at a wall-clock hour, midnight, Monday's midnight or the first of a
    month in ``zone``, as an instant: a day is 23 or 25 hours long when the clocks change
    in it, an hour that the clocks skip has no bucket, and one they repeat has two.
    """
    assert window.start is not None
    assert window.end is not None
    first, last = to_micros(window.start), to_micros(window.end)
    try:
        # One unit earlier: the floor of the start may be a wall time the clocks skip.
        local = _previous(_floor(_wall(window.start, zone), interval), interval)
    except (OverflowError, ValueError):
        raise _outside_calendar("start_date", zone) from None
    bounds: list[int] = []
    try:
        while not bounds or bounds[-1] <= last:
            bounds.extend(_starts(local, zone, interval))
            local = _next(local, interval)
    except (OverflowError, ValueError):
        raise _outside_calendar("end_date", zone) from None
    bounds.sort()
    low = bisect_right(bounds, first) - 1
    high = bisect_right(bounds, last)
    return bounds[low : high + 1]


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _floor(wall: datetime, interval: Interval) -> datetime:
    hour = wall.replace(minute=0, second=0, microsecond=0)
    if interval is Interval.HOUR:
        return hour
    day = hour.replace(hour=0)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(wall: datetime, interval: Interval) -> datetime:
    if interval is Interval.MONTH:
        year, month = divmod(wall.month, 12)
        return wall.replace(year=wall.year + year, month=month + 1)
    return wall + _STEP[interval]


def _previous(wall: datetime, interval: Interval) -> datetime:
    if interval is Interval.MONTH:
        year, month = divmod(wall.month - 2, 12)
        return wall.replace(year=wall.year + year, month=month + 1)
    return wall - _STEP[interval]


_STEP: Final = {
    Interval.HOUR: timedelta(hours=1),
    Interval.DAY: timedelta(days=1),
    Interval.WEEK: timedelta(days=7),
}


def _starts(wall: datetime, zone: ZoneInfo, interval: Interval) -> list[int]:
    """The instants at which the wall-clock time ``wall`` begins a bucket."""
    if interval is not Interval.HOUR:
        # A midnight the clocks skip: fold 0 reads it with the offset before the change,
        # which is the day's first instant; a repeated one: fold 0 is the earlier.
        return [to_micros(wall.replace(tzinfo=zone))]
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        # A skipped hour reads as another wall time: it begins no bucket.
        if _wall(instant, zone) == wall:
            found.append(to_micros(instant))
    return sorted(set(found))


def _outside_calendar(parameter: str, zone: ZoneInfo) -> ParameterError:
    return ParameterError(
        parameter, f"the window's buckets in time zone {zone.key} fall outside the years 1-9999"
    )


# --- counting -----------------------------------------------------------------------------
class _Tally:
    """Sessions, distinct visitors, counting conversions and converting sessions per key."""

    __slots__ = (
        "conversions",
        "conversions_of",
        "converting",
        "pairs",
        "rule",
        "sessions",
        "visitor_of",
    )

    def __init__(self, rule: CountingRule, fields: tuple[str, ...]) -> None:
        self.rule = rule
        self.visitor_of = _getter(fields, "visitor")
        self.conversions_of = _getter(fields, "conversions")
        self.sessions: Counter[Hashable] = Counter()
        self.pairs: set[tuple[Hashable, VisitorKey]] = set()
        self.conversions: Counter[Hashable] = Counter()
        self.converting: Counter[Hashable] = Counter()

    def add(self, keys: list[Hashable], rows: Sequence[Sequence[object]]) -> None:
        """``keys[i]`` is the key of ``rows[i]``."""
        self.sessions.update(keys)
        self.pairs.update(zip(keys, map(self.visitor_of, rows), strict=True))
        counts = self.rule.counts
        every = self.rule.counts_every_conversion
        # A few percent of sessions hold a conversion: sifted out in C first.
        of = self.conversions_of
        converted = compress(zip(keys, map(of, rows), strict=True), map(of, rows))
        for key, conversions in converted:
            found = cast("tuple[AggregateConversion, ...]", conversions)
            n = len(found) if every else sum(map(counts, found))
            if n:
                self.conversions[key] += n
                self.converting[key] += 1

    def users(self) -> Counter[Hashable]:
        return Counter(map(itemgetter(0), self.pairs))


class TimeseriesBuilder:
    """Accumulates the time series from the rows of the window's matching sessions."""

    def __init__(self, query: TimeseriesQuery, rule: CountingRule) -> None:
        self._query = query
        self._bounds = bucket_bounds(query.window, query.interval, query.time_zone)
        self._bucket_of = partial(bisect_right, self._bounds)
        self.fields = in_row_order(("visitor", "start", "conversions"))
        self._start_of = _getter(self.fields, "start")
        self._tally = _Tally(rule, self.fields)

    def add(self, rows: Sequence[Sequence[object]]) -> None:
        """Rows of ``fields``."""
        # bisect_right - 1 is the bucket; the offset is left until the end.
        keys: list[Hashable] = list(map(self._bucket_of, map(self._start_of, rows)))
        self._tally.add(keys, rows)

    def result(self) -> Timeseries:
        tally = self._tally
        users = tally.users()
        bounds = self._bounds
        return Timeseries(
            time_frame=self._query.window,
            interval=self._query.interval,
            time_zone=self._query.time_zone.key,
            buckets=tuple(
                Bucket(
                    start=from_micros(bounds[i - 1]),
                    sessions=tally.sessions[i],
                    users=users[i],
                    conversions=tally.conversions[i],
                    converting_sessions=tally.converting[i],
                )
                for i in range(1, len(bounds))
            ),
        )


class BreakdownBuilder:
    """Accumulates the breakdown from the rows of the window's matching sessions, by the
    store's keys; values become texts once, per distinct key, at the end. Channels are
    named as the rows come (``texts_needed``, ``learn``): a channel merges sources and
    mediums, so its visitors are counted by channel, not by key."""

    def __init__(self, query: BreakdownQuery, rule: CountingRule) -> None:
        self._query = query
        self._channels = query.by is BreakdownDimension.CHANNEL
        grouped = ("source", "medium") if self._channels else (_FIELD_OF[query.by],)
        self.fields = in_row_order(("visitor", *grouped, "conversions"))
        self._key = _getter(self.fields, *grouped)
        self._tally = _Tally(rule, self.fields)
        self._texts: dict[Hashable, str] = {}
        self._channel_of: dict[Hashable, str] = {}

    @property
    def by_page(self) -> bool:
        """Whether the keys are page keys (``page_urls``) rather than text keys."""
        return self._query.by is BreakdownDimension.LANDING_PAGE

    def texts_needed(self, rows: Sequence[Sequence[object]]) -> set[Hashable]:
        """The text keys ``add`` must have learnt (``learn``) before taking ``rows``:
        the sources and mediums of a channel breakdown not seen yet; none otherwise."""
        if not self._channels:
            return set()
        pairs = set(map(self._key, rows)).difference(self._channel_of)
        needed = {key for pair in pairs for key in cast("tuple[Hashable, Hashable]", pair)}
        return needed.difference(self._texts)

    def learn(self, texts: Mapping[Hashable, str]) -> None:
        self._texts.update(texts)

    def add(self, rows: Sequence[Sequence[object]]) -> None:
        """Rows of ``fields``."""
        keys: list[Hashable] = list(map(self._key, rows))
        if self._channels:
            named = self._channel_of
            texts = self._texts
            for pair in set(keys).difference(named):
                source, medium = cast("tuple[Hashable, Hashable]", pair)
                named[pair] = channel(texts[source], texts[medium]).value
            keys = list(map(named.__getitem__, keys))
        self._tally.add(keys, rows)

    def keys(self) -> set[Hashable]:
        """The keys whose texts ``result`` needs: those of the rows that can make the
        first ``limit`` (a count at least the ``limit``-th largest, since ties are
        ordered by text); none for channels, named already."""
        sessions = self._tally.sessions
        if self._channels:
            return set()
        counts = sorted(sessions.values(), reverse=True)
        if len(counts) <= self._query.limit:
            return {key for key in sessions if key is not None}
        threshold = counts[self._query.limit - 1]
        return {key for key, n in sessions.items() if n >= threshold and key is not None}

    def result(self, texts: Mapping[Hashable, str]) -> Breakdown:
        """``texts`` maps every key of ``keys()`` to its text."""
        tally = self._tally
        if self._channels:
            texts = {name: str(name) for name in tally.sessions}
        users = tally.users()
        rows = [
            BreakdownRow(
                value=None if key is None else texts[key],
                sessions=tally.sessions[key],
                users=users[key],
                conversions=tally.conversions[key],
                converting_sessions=tally.converting[key],
            )
            for key in tally.sessions
            if key is None or key in texts
        ]
        rows.sort(key=_row_order)
        return Breakdown(
            time_frame=self._query.window,
            by=self._query.by,
            total_rows=len(tally.sessions),
            rows=tuple(rows[: self._query.limit]),
        )


def _row_order(row: BreakdownRow) -> tuple[int, bool, str]:
    # null sorts before every string.
    return (-row.sessions, row.value is not None, row.value or "")


def timeseries(
    rows: Iterable[AggregateSession], query: TimeseriesQuery, rule: CountingRule
) -> Timeseries:
    """The time series of the window's matching sessions (``rows``) in one call."""
    builder = TimeseriesBuilder(query, rule)
    builder.add([projected(row, builder.fields) for row in rows])
    return builder.result()


def breakdown(
    rows: Iterable[AggregateSession],
    query: BreakdownQuery,
    rule: CountingRule,
    texts: Mapping[Hashable, str],
) -> Breakdown:
    """The breakdown of the window's matching sessions (``rows``) in one call; ``texts``
    maps every text or page key of the rows to its text."""
    builder = BreakdownBuilder(query, rule)
    builder.learn(texts)
    builder.add([projected(row, builder.fields) for row in rows])
    return builder.result(texts)
