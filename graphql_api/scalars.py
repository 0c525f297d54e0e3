"""Custom scalars: date bounds accepted as REST accepts them, instants written as REST
writes them."""

from __future__ import annotations

from datetime import datetime
from typing import NewType

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

from domain.parameters import format_instant

# Left unparsed until the resolver, which hands it to the same parser as REST: that way
# a bad date is reported with REST's message and code BAD_USER_INPUT rather than as a
# generic coercion failure.
DateBound = NewType("DateBound", str)


def _date_bound(value: object) -> str:
    if not isinstance(value, str):
        # A GraphQLError, not a ValueError: graphql-core keeps it as the reason, and the
        # masking of unexpected errors leaves it alone.
        raise GraphQLError("DateBound: expected a string such as '2025-07-01'")
    return value


def _instant(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"DateTime cannot represent {type(value).__name__}")
    return format_instant(value)


def _instant_input(value: object) -> datetime:
    raise GraphQLError("DateTime is an output type only; use DateBound in filters")


SCALARS: dict[object, ScalarDefinition] = {
    DateBound: strawberry.scalar(
        name="DateBound",
        description=(
            "A window bound, as the REST API takes it: `YYYY-MM-DD` or an ISO 8601 "
            "date-time (`Z`, an offset, or none meaning UTC). A date-only start means "
            "00:00:00Z of that day, a date-only end the end of that day; both bounds "
            "are inclusive."
        ),
        serialize=str,
        parse_value=_date_bound,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="An instant in ISO 8601 UTC at second precision: `2025-07-31T23:59:59Z`.",
        serialize=_instant,
        parse_value=_instant_input,
    ),
}
