"""Which errors a client sees, and how.

Three kinds reach a client:

- request errors the client can fix (bad arguments, a malformed cursor): ``extensions.code
  = "BAD_USER_INPUT"``, with exactly the message the REST API gives for the same mistake;
- GraphQL's own parse, validation and coercion errors, unchanged except that "Did you
  mean ...?" suggestions are cut (they would hand out the schema while introspection is
  off);
- anything else raised while resolving: masked as "Unexpected error." and logged in full
  on the server.
"""

from __future__ import annotations

import re

from graphql import GraphQLError

from adapters.http.authentication import RATE_LIMITED, UNAUTHENTICATED
from domain.parameters import ParameterError

BAD_USER_INPUT = "BAD_USER_INPUT"
__all__ = ["BAD_USER_INPUT", "RATE_LIMITED", "UNAUTHENTICATED"]
_PUBLIC_CODES = frozenset({BAD_USER_INPUT, UNAUTHENTICATED})
MASKED_MESSAGE = "Unexpected error."

# graphql-core puts suggestions in several shapes: "Did you mean 'x'?", "Did you mean 'x'
# or 'y'?", "Did you mean the enum value 'X'?", sometimes followed by more text ("Found:
# {...}."). Names cannot hold a '?', so the sentence ends at the first one.
_SUGGESTION = re.compile(r" ?Did you mean\b[^?]*\?")

# REST parameter names as the GraphQL arguments that carry them, for ``extensions``.
ARGUMENTS = {
    "start_date": "filter.startDate",
    "end_date": "filter.endDate",
    "source": "filter.source",
    "medium": "filter.medium",
    "campaign": "filter.campaign",
    "content": "filter.content",
    "term": "filter.term",
    "landing_page": "filter.landingPage",
    "conversion_page": "filter.conversionPage",
    "meta_type": "filter.metaType",
    "meta_id": "filter.metaId",
    "touch_scope": "filter.touchScope",
}


def bad_user_input(error: ParameterError) -> GraphQLError:
    """The REST message, verbatim, as a GraphQL error a client can branch on."""
    return GraphQLError(
        str(error),
        extensions={
            "code": BAD_USER_INPUT,
            "parameter": error.parameter,
            "argument": ARGUMENTS.get(error.parameter, error.parameter),
        },
        original_error=None,
    )


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that must not reach the client as they are: those caused by an
    exception that is not a GraphQL error of our own or of graphql-core."""
    if (error.extensions or {}).get("code") in _PUBLIC_CODES:
        return False
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def strip_suggestion(message: str) -> str:
    return _SUGGESTION.sub("", message)
