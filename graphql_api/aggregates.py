"""The ``timeseries`` and ``breakdown`` fields' types: the aggregates a front end draws
(docs/concepts.md, "Aggregates"), in GraphQL's names."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from domain import aggregates
from graphql_api.fields import field as described
from graphql_api.inputs import SessionFilter
from graphql_api.types import TimeFrame


@strawberry.enum(description="The length of a time series bucket, in the chosen time zone.")
class Interval(enum.Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@strawberry.enum(description="What a breakdown groups sessions by.")
class Dimension(enum.Enum):
    SOURCE = "source"
    MEDIUM = "medium"
    CAMPAIGN = "campaign"
    CONTENT = "content"
    TERM = "term"
    LANDING_PAGE = "landing_page"
    CHANNEL = "channel"


@strawberry.input(
    description=(
        "The sessions an aggregate counts: those starting in the window that match the "
        "session filters. The window defaults to the 30 days up to now and spans at most "
        "90 days (a longer one is truncated to end at `endDate`). `conversionPage`, "
        "`metaType` and `metaId` select which conversions count."
    )
)
class AggregateFilter(SessionFilter):
    conversion_page: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None

    def to_parameters(self) -> dict[str, object]:
        return {
            **super().to_parameters(),
            "conversion_page": self.conversion_page,
            "meta_type": self.meta_type,
            "meta_id": self.meta_id,
        }


@strawberry.type(description="The sessions starting in one bucket of a time series.")
class TimeBucket:
    start: datetime = strawberry.field(description="When the bucket begins (in UTC).")
    sessions: int
    users: int = strawberry.field(description="Distinct visitors among the sessions.")
    conversions: int = strawberry.field(description="Counting conversion events.")
    converting_sessions: int = strawberry.field(
        description="Sessions holding at least one counting conversion."
    )


@strawberry.type(
    description=(
        "Sessions per bucket, every bucket from the one holding the window's start to the "
        "one holding its end, empty ones included."
    )
)
class TimeSeries:
    result: strawberry.Private[aggregates.Timeseries]

    @strawberry.field
    def time_frame(self) -> TimeFrame:
        return TimeFrame.of(self.result.time_frame)

    @strawberry.field
    def interval(self) -> Interval:
        return Interval(self.result.interval.value)

    @strawberry.field
    def time_zone(self) -> str:
        return self.result.time_zone

    @strawberry.field
    def buckets(self) -> list[TimeBucket]:
        return [
            TimeBucket(
                start=b.start,
                sessions=b.sessions,
                users=b.users,
                conversions=b.conversions,
                converting_sessions=b.converting_sessions,
            )
            for b in self.result.buckets
        ]


@strawberry.type(description="The sessions with one value of the dimension.")
class BreakdownRow:
    value: str | None = strawberry.field(
        description="null for sessions without the field (campaign, content, term)."
    )
    sessions: int
    users: int = strawberry.field(description="Distinct visitors among the sessions.")
    conversions: int = strawberry.field(description="Counting conversion events.")
    converting_sessions: int = strawberry.field(
        description="Sessions holding at least one counting conversion."
    )
    conversion_rate: float = strawberry.field(description="convertingSessions / sessions.")


@strawberry.type(description="Sessions per value of one dimension, the most sessions first.")
class Breakdown:
    result: strawberry.Private[aggregates.Breakdown]

    @strawberry.field
    def time_frame(self) -> TimeFrame:
        return TimeFrame.of(self.result.time_frame)

    @strawberry.field
    def by(self) -> Dimension:
        return Dimension(self.result.by.value)

    @described(
        "How many values the dimension has in these sessions (rows beyond the limit included)."
    )
    def total_rows(self) -> int:
        return self.result.total_rows

    @described("At most `limit` rows: by sessions descending, then value ascending (null first).")
    def rows(self) -> list[BreakdownRow]:
        return [
            BreakdownRow(
                value=r.value,
                sessions=r.sessions,
                users=r.users,
                conversions=r.conversions,
                converting_sessions=r.converting_sessions,
                conversion_rate=r.conversion_rate,
            )
            for r in self.result.rows
        ]
