"""Which errors a client sees, and how.

Three kinds reach a client:

- request errors the client can fix (bad arguments, a malformed cursor): ``extensions.code
  = "BAD_USER_INPUT"``, with the message the REST API gives for the same mistake, the
  parameters in it named as GraphQL names them (``filter.startDate``, not ``start_date``);
- GraphQL's own parse, validation and coercion errors, unchanged, "Did you mean ...?"
  included (the schema is public: graphql_api/schema.graphql);
- anything else raised while resolving: masked as "Unexpected error." and logged in full
  on the server.
"""

from __future__ import annotations

import re

from graphql import GraphQLError

from adapters.http.authentication import UNAUTHENTICATED
from domain.parameters import ParameterError
from domain.ports import StoreUnavailableError

BAD_USER_INPUT = "BAD_USER_INPUT"
_PUBLIC_CODES = frozenset({BAD_USER_INPUT, UNAUTHENTICATED})
MASKED_MESSAGE = "Unexpected error."

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
    "page_size": "pageSize",
    "lookback_days": "filter.lookbackDays",
    "dimension": "filter.dimension",
    "models": "filter.models",
    "path_transform": "filter.pathTransform",
    "half_life_days": "filter.halfLifeDays",
    "time_zone": "timeZone",
}


# Quoted values are the client's own text: names inside them are left alone.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')
_REST_NAME = re.compile(r"\b(" + "|".join(ARGUMENTS) + r")\b")


def bad_user_input(error: ParameterError) -> GraphQLError:
    """The REST message as a GraphQL error a client can branch on, parameters named by
    their GraphQL argument paths."""
    argument = ARGUMENTS.get(error.parameter, error.parameter)
    return GraphQLError(
        f"{argument}: {graphql_wording(error.message)}",
        extensions={
            "code": BAD_USER_INPUT,
            "parameter": error.parameter,
            "argument": argument,
        },
        original_error=None,
    )


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that must not reach the client as they are: those caused by an
    exception that is not a GraphQL error of our own or of graphql-core."""
    if (error.extensions or {}).get("code") in _PUBLIC_CODES:
        return False
    original = error.original_error
    # A store outage is answered as a whole by the view (graphql_api/view.py): a 503.
    return original is not None and not isinstance(original, GraphQLError | StoreUnavailableError)


def graphql_wording(message: str) -> str:
    """``message`` with the REST parameter names outside quotes put as GraphQL's."""
    parts: list[str] = []
    done = 0
    for quoted in _QUOTED.finditer(message):
        parts.append(_rename(message[done : quoted.start()]))
        parts.append(quoted.group())
        done = quoted.end()
    parts.append(_rename(message[done:]))
    return "".join(parts)


def _rename(text: str) -> str:
    return _REST_NAME.sub(lambda name: ARGUMENTS[name.group()], text)
