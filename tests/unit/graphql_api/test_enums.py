"""GraphQL enums declared in ``graphql_api`` beside a domain enum must list exactly the
domain's members: the value a client picks is handed to the domain's parser by value, so
a member added on one side only would be refused, or never offered."""

from __future__ import annotations

import enum

import pytest

from domain import aggregates, queries
from graphql_api import aggregates as graphql_aggregates
from graphql_api import inputs


@pytest.mark.parametrize(
    ("published", "domain_enum"),
    [
        (graphql_aggregates.Interval, aggregates.Interval),
        (graphql_aggregates.Dimension, aggregates.BreakdownDimension),
        (inputs.TouchScope, queries.TouchScope),
    ],
)
def test_a_graphql_enum_lists_the_domain_members_by_name_and_value_in_order(
    published: type[enum.Enum], domain_enum: type[enum.Enum]
) -> None:
    assert [(m.name, m.value) for m in published] == [(m.name, m.value) for m in domain_enum]
