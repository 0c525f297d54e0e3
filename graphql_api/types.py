"""Output types. Field names are REST's in camelCase; ``null`` stands where REST omits a
key (docs/concepts.md, "/sessions")."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry

from domain import model
from domain import page_report as report
from domain.parameters import ParameterError
from domain.ports import SessionKey
from domain.queries import TimeWindow
from graphql_api.bots import DroppedBots
from graphql_api.context import GraphQLContext
from graphql_api.cursor import encode_cursor
from graphql_api.errors import bad_user_input
from graphql_api.fields import field as described

_Row = TypeVar("_Row")


@strawberry.type(description="One entry of a session's page path.")
class PageVisit:
    url: str = strawberry.field(description="The normalized page URL.")
    timestamp: datetime = strawberry.field(description="When the visitor was on the page.")


@strawberry.type(description="A conversion event as it happened inside a session.")
class Conversion:
    event_id: str
    email: str | None
    timestamp: datetime
    conversion_page: str
    previous_page: str
    meta_type: str
    meta_id: str | None
    value: float | None = strawberry.field(
        description="What the conversion was worth, in the site's currency; null if not sent."
    )

    @classmethod
    def of(cls, conversion: model.Conversion) -> Conversion:
        return cls(
            event_id=conversion.event_id,
            email=conversion.email,
            timestamp=conversion.timestamp,
            conversion_page=conversion.page,
            previous_page=conversion.previous_page,
            meta_type=conversion.meta_type,
            meta_id=conversion.meta_id,
            value=conversion.value,
        )


@strawberry.type(description="How a closed session ended.")
class Exit:
    exit_page: str
    previous_page: str
    timestamp: datetime


@strawberry.type(
    name="Session",
    description=(
        "A session record: every field of REST's, plus its id, visitor, every conversion "
        "and the page path.\n\nThe store returns each session whole (path and conversions "
        "included), so `pages` and `conversions` cost no query of their own: a page of "
        "records is one read however many of these fields are asked for (no N+1)."
    ),
)
class SessionRecord:
    record: strawberry.Private[model.Session]
    # The instant against which open or closed is judged, the same for a whole page.
    now: strawberry.Private[datetime]

    @described("Stable within the site.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.session_id)

    @strawberry.field
    def visitor_id(self) -> str:
        return self.record.visitor_id

    @described("Start of the session: its first event's time.")
    def timestamp(self) -> datetime:
        return self.record.start

    @strawberry.field
    def source(self) -> str:
        return self.record.attribution.source

    @strawberry.field
    def medium(self) -> str:
        return self.record.attribution.medium

    @strawberry.field
    def campaign(self) -> str | None:
        return self.record.attribution.campaign

    @strawberry.field
    def content(self) -> str | None:
        return self.record.attribution.content

    @strawberry.field
    def term(self) -> str | None:
        return self.record.attribution.term

    @strawberry.field
    def landing_page(self) -> str:
        return self.record.landing_page

    @described("The earliest conversion, as REST reports it; null if none.")
    def conversion(self) -> Conversion | None:
        first = self.record.conversion
        return Conversion.of(first) if first is not None else None

    @described("Every conversion of the session, in time order.")
    def conversions(self) -> list[Conversion]:
        return [Conversion.of(c) for c in self.record.conversions]

    @described("Null while the session is still open.")
    def exit(self) -> Exit | None:
        found = self.record.exit(self.now)
        if found is None:
            return None
        return Exit(
            exit_page=found.exit_page,
            previous_page=found.previous_page,
            timestamp=found.timestamp,
        )

    @described("Whole seconds from start to exit; null without an exit.")
    def duration(self) -> int | None:
        return self.record.duration_seconds(self.now)

    @described("The page path, in order, reloads included.")
    def pages(self) -> list[PageVisit]:
        return [PageVisit(url=v.url, timestamp=v.timestamp) for v in self.record.path]

    @described("Pass as `after` to continue right after this session.")
    def cursor(self) -> str:
        return encode_cursor(SessionKey.of(self.record))


@strawberry.type
class Pagination:
    current_page: int | None = strawberry.field(
        description="The page served; null when paging by cursor (`after`)."
    )
    total_pages: int
    total_records: int
    page_size: int


@strawberry.type
class PageInfo:
    end_cursor: str | None = strawberry.field(
        description="The last record's cursor; null when there are no records."
    )
    has_next_page: bool


@strawberry.type
class SessionsResult:
    records: list[SessionRecord]
    pagination: Pagination
    page_info: PageInfo


@strawberry.type
class TimeFrame:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, window: TimeWindow) -> TimeFrame:
        # A report's window always has both bounds (the parsers set them).
        assert window.start is not None
        assert window.end is not None
        return cls(start=window.start, end=window.end)


@strawberry.type
class SummaryTotals:
    total_sessions: int
    total_users: int
    total_conversion_events: int
    total_conversion_users: int


@strawberry.type
class RoleCount:
    sessions: int
    users: int

    @classmethod
    def of(cls, count: report.RoleCount) -> RoleCount:
        return cls(sessions=count.sessions, users=count.users)


@strawberry.type
class ConversionPageStats:
    url: str
    conversion: RoleCount
    conversion_assist: RoleCount
    landing_assisted_conversion: RoleCount


@strawberry.type
class DropOffPageStats:
    url: str
    drop_off: RoleCount
    drop_off_assist: RoleCount
    landing_assisted_drop_off: RoleCount


@strawberry.type
class EventRejection:
    index: int
    error: str


@strawberry.type(description="The outcome of `ingestEvents`, as `POST /api/v1/events` gives it.")
class IngestResult:
    accepted: int
    duplicates: int
    bots: int = strawberry.field(description="Events dropped because a bot sent them.")
    rejected: list[EventRejection]


@strawberry.type(name="Site")
class SiteInfo:
    id: strawberry.ID
    name: str

    @described("Events dropped as bots', per reason, most events first; empty when none were.")
    async def dropped_bots(self, info: strawberry.Info[GraphQLContext, None]) -> list[DroppedBots]:
        reads = await info.context.reads()
        return [DroppedBots.of(c) for c in await reads.dropped_bots(info.context.site.site_id)]


def _limited(rows: tuple[_Row, ...], limit: int | None) -> tuple[_Row, ...]:
    if limit is None:
        return rows
    if limit < 1:
        raise bad_user_input(ParameterError("limit", f"expected an integer >= 1, got {limit}"))
    return rows[:limit]


@strawberry.type(
    name="PageReport",
    description="The /pages report: the same numbers as `POST /api/v1/pages`.",
)
class PageReportResult:
    report: strawberry.Private[report.PageReport]

    @strawberry.field
    def time_frame(self) -> TimeFrame:
        return TimeFrame.of(self.report.time_frame)

    @strawberry.field
    def summary_totals(self) -> SummaryTotals:
        s = self.report.summary
        return SummaryTotals(
            total_sessions=s.total_sessions,
            total_users=s.total_users,
            total_conversion_events=s.total_conversion_events,
            total_conversion_users=s.total_conversion_users,
        )

    @described("Ordered as REST orders it; `limit` keeps the first n.")
    def conversion_performance(self, limit: int | None = None) -> list[ConversionPageStats]:
        return [
            ConversionPageStats(
                url=row.url,
                conversion=RoleCount.of(row.conversion),
                conversion_assist=RoleCount.of(row.conversion_assist),
                landing_assisted_conversion=RoleCount.of(row.landing_assisted_conversion),
            )
            for row in _limited(self.report.conversion_performance, limit)
        ]

    @described("Ordered as REST orders it; `limit` keeps the first n.")
    def drop_off_performance(self, limit: int | None = None) -> list[DropOffPageStats]:
        return [
            DropOffPageStats(
                url=row.url,
                drop_off=RoleCount.of(row.drop_off),
                drop_off_assist=RoleCount.of(row.drop_off_assist),
                landing_assisted_drop_off=RoleCount.of(row.landing_assisted_drop_off),
            )
            for row in _limited(self.report.drop_off_performance, limit)
        ]
