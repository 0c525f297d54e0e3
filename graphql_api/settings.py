"""How the GraphQL endpoint is configured: production-safe unless told otherwise."""

from __future__ import annotations

from dataclasses import dataclass

# The schema has no cycles today, so its deepest path (3: sessions > records > conversions,
# pages > conversionPerformance > conversion) bounds every query already; the limit is
# there for the day a cycle appears (say session > visitor > sessions). Introspection
# fields are left to graphql-core's own introspection depth rule.
DEFAULT_MAX_DEPTH = 5
# The standard introspection query is under 200 tokens; front-end queries far smaller.
DEFAULT_MAX_TOKENS = 1000
# Lets a dashboard compare a handful of filter sets in one request, not hundreds.
DEFAULT_MAX_ALIASES = 15


@dataclass(frozen=True, slots=True)
class GraphQLSettings:
    """``ide`` serves GraphiQL on ``GET /graphql``; ``introspection`` answers ``__schema``
    and ``__type``. Both off in production, on in ``serve --demo``."""

    ide: bool = False
    introspection: bool = False
    max_depth: int = DEFAULT_MAX_DEPTH
    max_tokens: int = DEFAULT_MAX_TOKENS
    max_aliases: int = DEFAULT_MAX_ALIASES
