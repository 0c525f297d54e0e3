"""The GraphQL schema: the two reads of the REST API and ingestion, over the same
application service."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import strawberry
from graphql import FieldNode, GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from domain import aggregates
from domain.parameters import ParameterError
from domain.ports import SessionKey
from domain.queries import SESSIONS_PAGE_SIZE
from domain.services import BatchTooLargeError
from graphql_api.aggregates import (
    AggregateFilter,
    Breakdown,
    Dimension,
    Interval,
    TimeSeries,
)
from graphql_api.attribution import AttributionFilter, AttributionReportResult
from graphql_api.context import GraphQLContext
from graphql_api.cursor import decode_cursor, encode_cursor
from graphql_api.errors import MASKED_MESSAGE, bad_user_input, is_unexpected
from graphql_api.fields import field as described
from graphql_api.fields import mutation
from graphql_api.inputs import EventInput, PageFilter, SessionFilter
from graphql_api.privacy import Erasure
from graphql_api.scalars import SCALARS
from graphql_api.settings import GraphQLSettings
from graphql_api.types import (
    EventRejection,
    IngestResult,
    PageInfo,
    PageReportResult,
    Pagination,
    SessionRecord,
    SessionsResult,
    SiteInfo,
)

logger = logging.getLogger(__name__)

# The documented REST page size (domain.queries): one default for both faces.
DEFAULT_PAGE_SIZE = SESSIONS_PAGE_SIZE

Info = strawberry.Info[GraphQLContext, None]


@strawberry.type
class Query:
    @described("The site the API key belongs to.")
    def site(self, info: Info) -> SiteInfo:
        site = info.context.site
        return SiteInfo(id=strawberry.ID(site.site_id), name=site.name)

    @described(
        "Sessions newest first (start descending, then visitor id), as "
        "`POST /api/v1/sessions` returns them. Page by number (`page`, `pageSize`) or "
        "by cursor (`after` = a previous `pageInfo.endCursor`); a cursor stays "
        "stable while new sessions arrive. Nothing matching: empty `records`, "
        "`totalRecords` 0."
    )
    async def sessions(
        self,
        info: Info,
        filter: SessionFilter | None = None,
        page: int | None = 1,
        page_size: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> SessionsResult:
        params = filter.to_parameters() if filter is not None else {}
        try:
            key = decode_cursor(after) if after is not None else None
            reads = await info.context.reads()
            listed = await reads.list_sessions(
                info.context.site.site_id,
                {**params, "page": page},
                page_size=page_size,
                after=key,
            )
        except ParameterError as err:
            raise bad_user_input(err) from None
        records = [SessionRecord(record=s, now=listed.now) for s in listed.sessions]
        return SessionsResult(
            records=records,
            pagination=Pagination(
                current_page=listed.current_page,
                total_pages=listed.total_pages,
                total_records=listed.total_records,
                page_size=listed.page_size,
            ),
            page_info=PageInfo(
                end_cursor=encode_cursor(SessionKey.of(records[-1].record)) if records else None,
                has_next_page=listed.has_next_page,
            ),
        )

    @described(
        "The page report of `POST /api/v1/pages`; null when no session matches "
        '(where REST answers "No page data found for the given parameters.").'
    )
    async def pages(self, info: Info, filter: PageFilter | None = None) -> PageReportResult | None:
        params = filter.to_parameters() if filter is not None else {}
        try:
            reads = await info.context.reads()
            found = await reads.page_report(info.context.site.site_id, params)
        except ParameterError as err:
            raise bad_user_input(err) from None
        return PageReportResult(report=found) if found is not None else None

    @described(
        "Which channels (sources, campaigns...) earn the conversions, under several "
        "attribution models side by side, as `POST /api/v1/attribution`; null when no "
        'conversion counts (where REST answers "No conversions found for the given '
        'parameters.").'
    )
    async def attribution(
        self, info: Info, filter: AttributionFilter | None = None
    ) -> AttributionReportResult | None:
        params = filter.to_parameters() if filter is not None else {}
        try:
            reads = await info.context.reads()
            found = await reads.attribution(info.context.site.site_id, params)
        except ParameterError as err:
            raise bad_user_input(err) from None
        return AttributionReportResult(report=found) if found is not None else None

    @described(
        "Sessions, users and conversions per hour, day, week (from Monday) or month of "
        "`timeZone` (an IANA name such as `Europe/Berlin`; clock changes give days of "
        "23 or 25 hours), every bucket of the window, empty ones included."
    )
    async def timeseries(
        self,
        info: Info,
        filter: AggregateFilter | None = None,
        interval: Interval | None = Interval.DAY,
        time_zone: str | None = "UTC",
    ) -> TimeSeries:
        params = filter.to_parameters() if filter is not None else {}
        params["interval"] = interval.value if interval is not None else None
        params["time_zone"] = time_zone
        try:
            reads = await info.context.reads()
            found = await reads.timeseries(info.context.site.site_id, params)
        except ParameterError as err:
            raise bad_user_input(err) from None
        return TimeSeries(result=found)

    @described(
        "Sessions, users and conversions per value of one dimension, the `limit` (1 to "
        "1000) values with the most sessions, and how many values there are."
    )
    async def breakdown(
        self,
        info: Info,
        by: Dimension,
        filter: AggregateFilter | None = None,
        limit: int | None = aggregates.DEFAULT_LIMIT,
    ) -> Breakdown:
        params = filter.to_parameters() if filter is not None else {}
        params["by"] = by.value
        params["limit"] = limit
        try:
            reads = await info.context.reads()
            found = await reads.breakdown(
                info.context.site.site_id, params, shared=_several_breakdowns(info)
            )
        except ParameterError as err:
            raise bad_user_input(err) from None
        return Breakdown(result=found)


def _several_breakdowns(info: Info) -> bool:
    """Whether the request asks for more than one breakdown (a dashboard asks for five):
    they then read the window once between them."""
    fields = [
        selection
        for selection in info.operation.selection_set.selections
        if isinstance(selection, FieldNode) and selection.name.value == "breakdown"
    ]
    return len(fields) > 1


@strawberry.type
class Mutation:
    @mutation(
        "Store events as `POST /api/v1/events` does: idempotent by event id, bots "
        "dropped, invalid events rejected one by one while valid ones are stored. "
        "At most 10,000 events; send them as a variable (inline literals count "
        "against the query token limit)."
    )
    async def ingest_events(self, info: Info, events: list[EventInput]) -> IngestResult:
        service, site = info.context.service, info.context.site
        try:
            ingested = await service.ingest(site.site_id, [e.to_raw() for e in events])
        except BatchTooLargeError as err:
            raise bad_user_input(ParameterError("events", str(err).partition(": ")[2])) from None
        return IngestResult(
            accepted=ingested.accepted,
            duplicates=ingested.duplicates,
            bots=ingested.bots,
            rejected=[EventRejection(index=r.index, error=r.error) for r in ingested.rejected],
        )

    @mutation(
        "Erase every event and session of one visitor of the site, as `DELETE "
        "/api/v1/visitors/{visitor_id}` does (docs/privacy.md). Done when it answers."
    )
    async def erase_visitor(self, info: Info, visitor_id: str) -> Erasure:
        service, site = info.context.service, info.context.site
        try:
            return Erasure.of(await service.erase_visitor(site.site_id, visitor_id))
        except ParameterError as err:
            raise bad_user_input(ParameterError("visitorId", err.message)) from None

    @mutation(
        "Erase every visitor of the site holding a conversion with this email (exact, "
        "case ignored), all their events and sessions, as `POST /api/v1/erasures` does "
        "(docs/privacy.md). Done when it answers."
    )
    async def erase_by_email(self, info: Info, email: str) -> Erasure:
        service, site = info.context.service, info.context.site
        try:
            return Erasure.of(await service.erase_email(site.site_id, email))
        except ParameterError as err:
            raise bad_user_input(err) from None


class AttributionSchema(strawberry.Schema):
    """Logs in full the errors that will be masked."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_unexpected(error):
                logger.error(
                    "GraphQL resolver failed at %s",
                    error.path,
                    exc_info=error.original_error,
                )


def extensions(settings: GraphQLSettings) -> list[Callable[[], SchemaExtension]]:
    """Classes and factories, so each request gets fresh extension instances."""
    chosen: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(QueryDepthLimiter, max_depth=settings.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        partial(MaskErrors, should_mask_error=is_unexpected, error_message=MASKED_MESSAGE),
    ]
    if not settings.introspection:
        chosen.append(DisableIntrospection)
    return chosen


def build_schema(settings: GraphQLSettings | None = None) -> AttributionSchema:
    return AttributionSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions(settings or GraphQLSettings()),
        config=StrawberryConfig(scalar_map=SCALARS),
    )
