"""Input types. Each filter is handed on under its REST name to the same parser as REST,
so the checks, defaults and error messages are REST's (``to_parameters``)."""

from __future__ import annotations

import enum

import strawberry

from graphql_api.scalars import DateBound


@strawberry.enum(description="Which sessions of a visitor's journey the page report counts.")
class TouchScope(enum.Enum):
    ANY = "any"
    FIRST = "first"
    CONVERTING = "converting"
    ASSIST = "assist"
    AFTER = "after"


@strawberry.input(
    description=(
        "Exact, case-sensitive matches combined with AND; null or an empty string counts "
        "as not given. `landingPage` is normalized before matching."
    )
)
class SessionFilter:
    start_date: DateBound | None = None
    end_date: DateBound | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    landing_page: str | None = None

    def to_parameters(self) -> dict[str, object]:
        return {
            "start_date": self.start_date,
            "end_date": self.end_date,
            "source": self.source,
            "medium": self.medium,
            "campaign": self.campaign,
            "content": self.content,
            "term": self.term,
            "landing_page": self.landing_page,
        }


@strawberry.input(
    description=(
        "The /pages filters. The window defaults to the 30 days up to now and spans at "
        "most 30 days (a longer one is truncated to end at `endDate`). `conversionPage`, "
        "`metaType` and `metaId` select which conversions count."
    )
)
class PageFilter(SessionFilter):
    conversion_page: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None
    touch_scope: TouchScope | None = TouchScope.ANY

    def to_parameters(self) -> dict[str, object]:
        return {
            **super().to_parameters(),
            "conversion_page": self.conversion_page,
            "meta_type": self.meta_type,
            "meta_id": self.meta_id,
            "touch_scope": self.touch_scope.value if self.touch_scope is not None else None,
        }


@strawberry.input(
    description=(
        "One tracking event, as in `POST /api/v1/events` (snake_case there). Every field "
        "is nullable on purpose: the service checks each event on its own and rejects "
        "only the invalid ones, naming the field, while the valid events of the batch are "
        "stored, exactly as REST does. `type` is pageview, conversion or exit; "
        "`timestamp` is ISO 8601; `value` (conversions) a finite number >= 0."
    )
)
class EventInput:
    type: str | None = None
    event_id: str | None = None
    visitor_id: str | None = None
    timestamp: str | None = None
    url: str | None = None
    referrer: str | None = None
    user_agent: str | None = None
    email: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None
    value: float | None = None

    def to_raw(self) -> dict[str, object]:
        """The event as REST receives it: snake_case keys, absent fields left out."""
        raw: dict[str, object | None] = {
            "type": self.type,
            "event_id": self.event_id,
            "visitor_id": self.visitor_id,
            "timestamp": self.timestamp,
            "url": self.url,
            "referrer": self.referrer,
            "user_agent": self.user_agent,
            "email": self.email,
            "meta_type": self.meta_type,
            "meta_id": self.meta_id,
            "value": self.value,
        }
        return {key: value for key, value in raw.items() if value is not None}
