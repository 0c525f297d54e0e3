"""Shared by the GraphQL end-to-end suites: posting GraphQL, and GraphQL answers turned
into the REST API's JSON shapes so the two can be compared as they are."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

JsonDict = dict[str, Any]

SESSION_FIELDS = """
    id visitorId timestamp source medium campaign content term landingPage
    conversion { email timestamp conversionPage previousPage }
    exit { exitPage previousPage timestamp }
    duration
"""

SESSIONS_QUERY = (
    """
query Sessions($filter: SessionFilter, $page: Int, $pageSize: Int, $after: String) {
  sessions(filter: $filter, page: $page, pageSize: $pageSize, after: $after) {
    records {"""
    + SESSION_FIELDS
    + """}
    pagination { currentPage totalPages totalRecords pageSize }
    pageInfo { endCursor hasNextPage }
  }
}
"""
)

ROLE = "{ sessions users }"
PAGES_QUERY = f"""
query Pages($filter: PageFilter) {{
  pages(filter: $filter) {{
    timeFrame {{ start end }}
    summaryTotals {{ totalSessions totalUsers totalConversionEvents totalConversionUsers }}
    conversionPerformance {{
      url conversion {ROLE} conversionAssist {ROLE} landingAssistedConversion {ROLE}
    }}
    dropOffPerformance {{
      url dropOff {ROLE} dropOffAssist {ROLE} landingAssistedDropOff {ROLE}
    }}
  }}
}}
"""

# The GraphQL argument of each REST parameter (REST naming in camelCase).
_CAMEL = re.compile(r"_([a-z])")


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def graphql_filter(rest_params: JsonDict) -> JsonDict:
    """REST parameters as a GraphQL filter input (touch scope as its enum name)."""
    converted = {camel(k): v for k, v in rest_params.items() if k != "page"}
    if "touchScope" in converted:
        converted["touchScope"] = converted["touchScope"].upper()
    return converted


def as_rest(value: Any) -> Any:
    """A GraphQL answer in REST's spelling: snake_case keys, null-valued keys left out
    (REST omits what GraphQL answers with null)."""
    if isinstance(value, dict):
        return {snake(k): as_rest(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_rest(v) for v in value]
    return value


def sessions_as_rest(sessions: JsonDict) -> JsonDict:
    """``data.sessions`` as ``POST /api/v1/sessions`` answers: records without the
    GraphQL-only fields, pagination without page size, REST's message when empty."""
    if sessions["pagination"]["totalRecords"] == 0:
        return {"message": "No sessions found for the given parameters."}
    records = [
        {k: v for k, v in as_rest(r).items() if k not in {"id", "visitor_id"}}
        for r in sessions["records"]
    ]
    pagination = as_rest(sessions["pagination"])
    del pagination["page_size"]
    return {"records": records, "pagination": pagination}


def pages_as_rest(pages: JsonDict | None) -> JsonDict:
    if pages is None:
        return {"message": "No page data found for the given parameters."}
    converted: JsonDict = as_rest(pages)
    return converted


async def graphql(
    client: TestClient[Any, Any],
    api_key: str | None,
    query: str,
    variables: JsonDict | None = None,
) -> tuple[int, JsonDict]:
    headers = {"Authentication": api_key} if api_key is not None else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def graphql_data(
    client: TestClient[Any, Any],
    api_key: str,
    query: str,
    variables: JsonDict | None = None,
) -> JsonDict:
    """The ``data`` of a successful answer; fails the test on any error."""
    status, body = await graphql(client, api_key, query, variables)
    assert status == 200, body
    assert "errors" not in body, body["errors"]
    data: JsonDict = body["data"]
    return data
