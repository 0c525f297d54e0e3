"""The attribution enums GraphQL publishes are the domain's (graphql_api/attribution.py):
the same members, in the same order, and what a client sends reaches the domain's
parser as the domain's own values."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import pytest
from graphql import GraphQLEnumType
from graphql import build_schema as parse_sdl

from domain import multi_touch
from domain.parameters import parse_attribution_query
from graphql_api import build_schema
from graphql_api.attribution import AttributionFilter

PUBLISHED = [
    ("AttributionDimension", multi_touch.Dimension),
    ("AttributionModel", multi_touch.Model),
    ("PathTransform", multi_touch.PathTransform),
]


@pytest.mark.parametrize(("name", "domain_enum"), PUBLISHED, ids=[n for n, _ in PUBLISHED])
def test_each_published_enum_lists_exactly_the_domain_s_members_in_order(
    name: str, domain_enum: type[enum.Enum]
) -> None:
    # Read back from the SDL the server publishes, as a client would see it.
    published = parse_sdl(str(build_schema())).get_type(name)
    assert isinstance(published, GraphQLEnumType)
    assert list(published.values) == [member.name for member in domain_enum]


def test_every_domain_value_sent_through_the_filter_is_parsed_back_to_itself() -> None:
    now = datetime(2025, 7, 31, tzinfo=UTC)
    for dimension in multi_touch.Dimension:
        for transform in multi_touch.PathTransform:
            graphql_filter = AttributionFilter(
                dimension=dimension, models=list(multi_touch.Model), path_transform=transform
            )
            query = parse_attribution_query(graphql_filter.to_parameters(), now=now)
            assert (query.dimension, query.transform) == (dimension, transform)
            assert query.models == tuple(multi_touch.Model)
