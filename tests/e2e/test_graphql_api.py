"""/graphql end to end: cursor paging under concurrent ingestion,
authentication and tenant isolation, errors as REST words them, ingestion as REST does
it, HTTP-level refusals, and a real GraphQL client library over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport

from tests.e2e.conftest import Running
from tests.e2e.graphql_support import (
    SESSIONS_QUERY,
    graphql,
    graphql_data,
    graphql_filter,
)
from tests.e2e.rest_support import (
    JOURNEYS,
    SUMMER_SALE,
    conversion,
    exit_,
    pageview,
    post_json,
    seed,
)

JsonDict = dict[str, Any]


@pytest.fixture
async def seeded(running: Running) -> tuple[str, str]:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return new.site.site_id, new.api_key


# --- cursor paging ---------------------------------------------------------------------


async def test_cursor_paging_visits_every_session_once_while_new_events_arrive(
    running: Running,
) -> None:
    new = await running.new_site()
    site_id, key = new.site.site_id, new.api_key
    # 23 visitors, one session each, an hour apart in July; pages of 5.
    originals = [
        pageview(f"v{i:02d}", f"2025-07-{1 + i // 24:02d}T{i % 24:02d}:00:00Z", "/home")
        for i in range(23)
    ]
    await seed(running.service, site_id, originals)
    original_ids = [s.session_id for s in (await _all_sessions(running, site_id))]
    assert len(original_ids) == 23

    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        variables: JsonDict = {"pageSize": 5, "after": after}
        answer = (await graphql_data(running.client, key, SESSIONS_QUERY, variables))["sessions"]
        seen += [r["id"] for r in answer["records"]]
        pages += 1
        # Between pages: new visitors arrive now (sorting before the cursor), a late
        # session lands in the middle of July, and a known visitor converts (re-cutting
        # their sessions).
        await seed(
            running.service,
            site_id,
            [
                pageview(f"new{pages}", "2025-08-01T11:59:00Z", "/pricing"),
                pageview(f"late{pages}", f"2025-06-{10 + pages:02d}T00:00:00Z", "/blog"),
                conversion(f"v{pages:02d}", f"2025-07-01T{pages:02d}:10:00Z", "/signup"),
            ],
        )
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
        assert pages < 20, "paging does not end"

    # Every session that existed when paging began was served exactly once, in order;
    # the late June sessions, older than every cursor, were picked up too.
    assert [i for i in seen if i in original_ids] == original_ids
    assert len(seen) == len(set(seen))
    assert pages == 6  # 23 originals + 5 late arrivals before the end = 28 -> 6 pages of 5


async def _all_sessions(running: Running, site_id: str) -> list[Any]:
    from domain.queries import SessionFilters, TimeWindow

    return await running.service.store.list_sessions(
        site_id, SessionFilters(), TimeWindow(), limit=1000
    )


async def test_page_and_page_size_page_like_rest_but_with_any_size(
    running: Running, seeded: tuple[str, str]
) -> None:
    _, key = seeded
    ids: list[str] = []
    for page in (1, 2, 3, 4):
        answer = (
            await graphql_data(running.client, key, SESSIONS_QUERY, {"page": page, "pageSize": 4})
        )["sessions"]
        ids += [r["id"] for r in answer["records"]]
        # 11 sessions in pages of 4: 4, 4, 3, then an empty page past the last.
        assert answer["pagination"] == {
            "currentPage": page,
            "totalPages": 3,
            "totalRecords": 11,
            "pageSize": 4,
        }
        assert answer["pageInfo"]["hasNextPage"] is (page < 3)
    assert len(ids) == 11
    assert len(set(ids)) == 11


async def test_a_page_cursor_continues_where_the_numbered_page_ended(
    running: Running, seeded: tuple[str, str]
) -> None:
    _, key = seeded
    first = (await graphql_data(running.client, key, SESSIONS_QUERY, {"pageSize": 4}))["sessions"]
    second = (await graphql_data(running.client, key, SESSIONS_QUERY, {"page": 2, "pageSize": 4}))[
        "sessions"
    ]
    resumed = (
        await graphql_data(
            running.client,
            key,
            SESSIONS_QUERY,
            {"pageSize": 4, "after": first["pageInfo"]["endCursor"]},
        )
    )["sessions"]
    assert resumed["records"] == second["records"]
    assert resumed["pagination"]["currentPage"] is None
    assert resumed["pagination"]["totalRecords"] == 11


@pytest.mark.parametrize("page_size", [0, 201, -1])
async def test_page_size_out_of_bounds_is_bad_user_input(
    running: Running, seeded: tuple[str, str], page_size: int
) -> None:
    _, key = seeded
    status, body = await graphql(running.client, key, SESSIONS_QUERY, {"pageSize": page_size})
    assert status == 200
    [error] = body["errors"]
    assert error["message"] == f"pageSize: expected an integer from 1 to 200, got {page_size}"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] is None


async def test_a_forged_cursor_is_bad_user_input(running: Running, seeded: tuple[str, str]) -> None:
    _, key = seeded
    status, body = await graphql(running.client, key, SESSIONS_QUERY, {"after": "not-a-cursor"})
    assert status == 200
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "after: expected a cursor returned by pageInfo.endCursor, got 'not-a-cursor'"
    )


# --- the record -------------------------------------------------------------------------


async def test_a_session_exposes_every_conversion_the_page_path_and_the_visitor(
    running: Running,
) -> None:
    new = await running.new_site()
    await seed(
        running.service,
        new.site.site_id,
        [
            pageview(
                "ann",
                "2025-07-15T10:00:00Z",
                "/pricing/?utm_source=x",
                "https://partner.example.org/",
            ),
            pageview("ann", "2025-07-15T10:01:00Z", "/pricing"),
            conversion("ann", "2025-07-15T10:02:00Z", "/signup", email="ann@example.org"),
            conversion("ann", "2025-07-15T10:04:00Z", "/demo", meta_type="hubspot_form"),
            exit_("ann", "2025-07-15T10:05:00Z", "/demo"),
        ],
    )
    query = """{ sessions { records {
        visitorId source medium campaign duration
        conversion { email conversionPage previousPage metaType }
        conversions { email timestamp conversionPage previousPage metaType metaId }
        pages { url timestamp }
        exit { exitPage previousPage timestamp }
    } } }"""
    [record] = (await graphql_data(running.client, new.api_key, query))["sessions"]["records"]
    assert record == {
        "visitorId": "ann",
        "source": "x",
        "medium": "referral",
        "campaign": None,
        "duration": 300,
        "conversion": {
            "email": "ann@example.org",
            "conversionPage": "https://example.com/signup",
            "previousPage": "https://example.com/pricing",
            "metaType": "custom",
        },
        "conversions": [
            {
                "email": "ann@example.org",
                "timestamp": "2025-07-15T10:02:00Z",
                "conversionPage": "https://example.com/signup",
                "previousPage": "https://example.com/pricing",
                "metaType": "custom",
                "metaId": None,
            },
            {
                "email": None,
                "timestamp": "2025-07-15T10:04:00Z",
                "conversionPage": "https://example.com/demo",
                "previousPage": "https://example.com/signup",
                "metaType": "hubspot_form",
                "metaId": None,
            },
        ],
        # A reload adds the page again; a conversion or exit only when the page changes.
        "pages": [
            {"url": "https://example.com/pricing", "timestamp": "2025-07-15T10:00:00Z"},
            {"url": "https://example.com/pricing", "timestamp": "2025-07-15T10:01:00Z"},
            {"url": "https://example.com/signup", "timestamp": "2025-07-15T10:02:00Z"},
            {"url": "https://example.com/demo", "timestamp": "2025-07-15T10:04:00Z"},
        ],
        "exit": {
            "exitPage": "https://example.com/demo",
            "previousPage": "https://example.com/signup",
            "timestamp": "2025-07-15T10:05:00Z",
        },
    }


async def test_an_open_session_has_null_exit_and_duration_until_the_timeout_passes(
    running: Running,
) -> None:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, [pageview("d", "2025-08-01T11:50:00Z", "/")])
    query = "{ sessions { records { exit { exitPage } duration } } }"
    before = (await graphql_data(running.client, new.api_key, query))["sessions"]["records"]
    assert before == [{"exit": None, "duration": None}]
    running.clock.advance(timedelta(minutes=31))
    after = (await graphql_data(running.client, new.api_key, query))["sessions"]["records"]
    assert after == [{"exit": {"exitPage": "https://example.com"}, "duration": 0}]


async def test_page_report_sections_can_be_limited(
    running: Running, seeded: tuple[str, str]
) -> None:
    _, key = seeded
    query = """query($limit: Int) {
      pages(filter: {startDate: "2025-07-01", endDate: "2025-07-31"}) {
        conversionPerformance(limit: $limit) { url }
        dropOffPerformance(limit: $limit) { url }
    } }"""
    full = (await graphql_data(running.client, key, query))["pages"]
    limited = (await graphql_data(running.client, key, query, {"limit": 2}))["pages"]
    assert len(full["conversionPerformance"]) > 2
    assert len(full["dropOffPerformance"]) > 2
    assert limited["conversionPerformance"] == full["conversionPerformance"][:2]
    assert limited["dropOffPerformance"] == full["dropOffPerformance"][:2]
    status, body = await graphql(running.client, key, query, {"limit": 0})
    assert status == 200
    # The first failing section nulls the report; its error is the REST-style message.
    assert body["errors"][0]["message"] == "limit: expected an integer >= 1, got 0"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- errors as REST words them ----------------------------------------------------------

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "/api/v1/sessions",
        {"start_date": "2025-13-01"},
        "filter.startDate: expected YYYY-MM-DD or an ISO 8601 date-time, got '2025-13-01': "
        "no month 13 (months are 01-12)",
    ),
    (
        "/api/v1/sessions",
        {"end_date": "yesterday"},
        "filter.endDate: expected YYYY-MM-DD or an ISO 8601 date-time, got 'yesterday'",
    ),
    (
        "/api/v1/sessions",
        {"start_date": "2025-07-10", "end_date": "2025-07-01"},
        "filter.startDate: must not be after filter.endDate "
        "(got filter.startDate '2025-07-10', filter.endDate '2025-07-01')",
    ),
    (
        "/api/v1/sessions",
        {"landing_page": "pricing_end_date"},
        "filter.landingPage: expected an absolute http or https URL, got 'pricing_end_date'",
    ),
    ("/api/v1/sessions", {"page": 0}, "page: expected an integer >= 1, got 0"),
    (
        "/api/v1/pages",
        {"start_date": "2025-07-01T25:00:00Z"},
        "filter.startDate: expected YYYY-MM-DD or an ISO 8601 date-time, got "
        "'2025-07-01T25:00:00Z': no time of day 25:00:00 (hours are 00-23, minutes and "
        "seconds 00-59)",
    ),
    (
        "/api/v1/pages",
        {"start_date": "2025-09-01"},
        "filter.startDate: must not be after filter.endDate (got filter.startDate "
        "'2025-09-01', filter.endDate now (2025-08-01T12:00:00Z))",
    ),
    (
        "/api/v1/pages",
        {"conversion_page": "ftp://example.com/x"},
        "filter.conversionPage: expected an absolute http or https URL, got 'ftp://example.com/x'",
    ),
]


@pytest.mark.parametrize(("path", "params", "message"), BAD_INPUTS)
async def test_bad_input_is_bad_user_input_in_graphql_names_with_the_rest_wording(
    running: Running, seeded: tuple[str, str], path: str, params: dict[str, Any], message: str
) -> None:
    _, key = seeded
    rest_status, rest = await post_json(running.client, path, key, params)
    assert rest_status == 400

    if path == "/api/v1/sessions":
        query = (
            "query($f: SessionFilter, $p: Int) "
            "{ sessions(filter: $f, page: $p) { records { id } } }"
        )
        variables: JsonDict = {"f": graphql_filter(params), "p": params.get("page", 1)}
    else:
        query = "query($f: PageFilter) { pages(filter: $f) { summaryTotals { totalSessions } } }"
        variables = {"f": graphql_filter(params)}
    status, body = await graphql(running.client, key, query, variables)
    assert status == 200
    [error] = body["errors"]
    assert error["message"] == message
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # The same mistake, the same words: only the names differ.
    rest_parameter, _, rest_words = rest["error"].partition(": ")
    assert error["extensions"]["parameter"] == rest_parameter
    assert (
        message.partition(": ")[2]
        .replace("filter.", "")
        .replace("Date", "_date")
        .replace("Page", "_page")
        == rest_words
    )


SUGGESTIONS = [
    # (query, the suggestion graphql-core makes)
    ("{ sessions { record { id } } }", "Did you mean 'records'?"),
    ("{ sessions(pageSiz: 3) { records { id } } }", "Did you mean 'pageSize' or 'page'?"),
    ('{ sessions(filter: {sorce: "x"}) { records { id } } }', "Did you mean 'source'?"),
    (
        "{ pages(filter: {touchScope: FRST}) { timeFrame { start } } }",
        "Did you mean the enum value 'FIRST'?",
    ),
    (
        "query($f: SessionFilte) { sessions(filter: $f) { records { id } } }",
        "Did you mean 'SessionFilter' or 'Session'?",
    ),
]


@pytest.mark.parametrize(("query", "suggestion"), SUGGESTIONS)
async def test_validation_errors_suggest_the_name_that_was_meant(
    running: Running, seeded: tuple[str, str], query: str, suggestion: str
) -> None:
    # The schema is public (graphql_api/schema.graphql): a suggestion hides nothing.
    _, key = seeded
    status, body = await graphql(running.client, key, query)
    assert status == 200
    [error] = body["errors"]
    assert suggestion in error["message"]


async def test_an_enum_given_in_variables_gets_a_suggestion_too(
    running: Running, seeded: tuple[str, str]
) -> None:
    _, key = seeded
    query = "query($f: PageFilter) { pages(filter: $f) { timeFrame { start } } }"
    status, body = await graphql(running.client, key, query, {"f": {"touchScope": "FRST"}})
    assert status == 200
    [error] = body["errors"]
    assert "'FRST'" in error["message"]
    assert "Did you mean the enum value 'FIRST'?" in error["message"]


# --- ingestion --------------------------------------------------------------------------

INGEST = """mutation($events: [EventInput!]!) {
  ingestEvents(events: $events) { accepted duplicates bots rejected { index error } }
}"""

BATCH: list[JsonDict] = [
    pageview("v1", "2025-07-15T10:00:00Z", "/pricing", "https://www.google.com/"),
    {**pageview("v1", "2025-07-15T10:00:00+00:00", "/pricing", "https://www.google.com/")},
    {**pageview("v2", "2025-07-15T11:00:00Z", "/"), "event_id": "e-2"},
    {**pageview("v2", "2025-07-15T11:00:00Z", "/"), "event_id": "e-2"},
    {**pageview("bot", "2025-07-15T11:00:00Z", "/"), "user_agent": "Googlebot/2.1"},
    {"type": "pageview", "timestamp": "2025-07-15T11:00:00Z", "url": "https://example.com"},
    {**pageview("v3", "2025-07-15T12:00:00Z", "/"), "type": "click"},
    {**pageview("v3", "2025-08-01T12:30:00Z", "/")},
    {**pageview("v3", "2025-07-15T12:00:00Z", "/"), "url": "example.com/x"},
    pageview("v4", "0001-01-01T00:00:00+05:00", "/"),
    conversion("v1", "2025-07-15T10:05:00Z", "/signup", email="a@b.c", meta_id="f"),
]


async def test_ingest_events_has_the_semantics_and_results_of_post_events(
    running: Running,
) -> None:
    via_rest, via_graphql = await running.new_site("rest"), await running.new_site("graphql")
    rest_status, rest = await post_json(
        running.client, "/api/v1/events", via_rest.api_key, {"events": BATCH}
    )
    assert rest_status == 200
    events = [{graphql_key(k): v for k, v in e.items()} for e in BATCH]
    answer = (await graphql_data(running.client, via_graphql.api_key, INGEST, {"events": events}))[
        "ingestEvents"
    ]
    assert answer == rest
    # Hand count: 11 events; #1 repeats #0's instant (+00:00 for Z) and #3 repeats e-2:
    # 2 duplicates; #4 is a bot; #5 (no visitor), #6 (type), #7 (future), #8 (url),
    # #9 (before year 1 in UTC) rejected; #0, #2, #10 accepted.
    assert (answer["accepted"], answer["duplicates"], answer["bots"]) == (3, 2, 1)
    assert [r["index"] for r in answer["rejected"]] == [5, 6, 7, 8, 9]
    assert answer["rejected"][0]["error"].startswith("visitor_id: ")
    assert answer["rejected"][4]["error"].endswith(
        "outside the years 0001-9999 once converted to UTC"
    )

    # Sending the batch again stores nothing new, in both.
    again = (await graphql_data(running.client, via_graphql.api_key, INGEST, {"events": events}))[
        "ingestEvents"
    ]
    assert (again["accepted"], again["duplicates"]) == (0, 5)

    query = "{ sessions { records { visitorId landingPage source conversion { email } } } }"
    sessions_rest = (await graphql_data(running.client, via_rest.api_key, query))["sessions"]
    sessions_graphql = (await graphql_data(running.client, via_graphql.api_key, query))["sessions"]
    assert sessions_graphql == sessions_rest
    assert len(sessions_graphql["records"]) == 2


def graphql_key(rest_key: str) -> str:
    head, *rest = rest_key.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.slow  # coerces 10,001 inputs through both APIs
async def test_an_oversized_batch_is_bad_user_input_with_the_rest_message(
    running: Running,
) -> None:
    new = await running.new_site()
    events = [{"type": "pageview"}] * 10_001
    rest_status, rest = await post_json(
        running.client, "/api/v1/events", new.api_key, {"events": events}
    )
    assert rest_status == 413
    status, body = await graphql(running.client, new.api_key, INGEST, {"events": events})
    assert status == 200
    [error] = body["errors"]
    assert error["message"] == rest["error"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --- authentication and tenants ---------------------------------------------------------


async def test_missing_and_wrong_keys_get_the_same_401(
    running: Running, seeded: tuple[str, str]
) -> None:
    query = {"query": "{ site { id } }"}
    answers = []
    for headers in (
        {},
        {"Authentication": "ahk_wrong"},
        {"Authorization": "Bearer ahk_wrong"},
        {"Authorization": "Basic abc"},
        {"Authentication": "x" * 600},  # longer than any key: not even looked up
    ):
        response = await running.client.post("/graphql", json=query, headers=headers)
        assert response.status == 401
        answers.append(await response.json())
    assert all(a == answers[0] for a in answers)
    assert answers[0]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_both_documented_headers_authenticate(
    running: Running, seeded: tuple[str, str]
) -> None:
    site_id, key = seeded
    for headers in ({"Authentication": key}, {"Authorization": f"Bearer {key}"}):
        response = await running.client.post(
            "/graphql", json={"query": "{ site { id } }"}, headers=headers
        )
        assert response.status == 200
        assert await response.json() == {"data": {"site": {"id": site_id}}}


async def test_a_key_sees_only_its_own_site_through_every_field(running: Running) -> None:
    mine, theirs = await running.new_site("mine"), await running.new_site("theirs")
    await seed(running.service, mine.site.site_id, JOURNEYS)
    # Their visitor has the same id as one of mine ("A"), on their own domain.
    their_events = [
        {
            "type": "pageview",
            "visitorId": "A",
            "timestamp": "2025-07-12T09:30:00Z",
            "url": "https://theirs.example/promo?utm_campaign=theirs",
        },
        {
            "type": "conversion",
            "visitorId": "A",
            "timestamp": "2025-07-12T09:31:00Z",
            "url": "https://theirs.example/signup",
            "email": "t@theirs.example",
        },
    ]
    # Ingested through GraphQL with their key: must land on their site only.
    ingested = await graphql_data(running.client, theirs.api_key, INGEST, {"events": their_events})
    assert ingested["ingestEvents"]["accepted"] == 2

    everything = """query($after: String) {
      site { id name }
      sessions(after: $after, pageSize: 200) {
        records {
          id visitorId campaign landingPage pages { url } conversions { email conversionPage }
        }
        pagination { totalRecords }
        pageInfo { endCursor }
      }
      pages(filter: {startDate: "2025-07-01", endDate: "2025-07-31"}) {
        summaryTotals { totalSessions totalUsers totalConversionEvents }
        conversionPerformance { url }
        dropOffPerformance { url }
      }
    }"""
    their_view = await graphql_data(running.client, theirs.api_key, everything)
    my_view = await graphql_data(running.client, mine.api_key, everything)

    assert their_view["site"] == {"id": theirs.site.site_id, "name": "theirs"}
    assert my_view["site"] == {"id": mine.site.site_id, "name": "mine"}
    [their_record] = their_view["sessions"]["records"]
    assert their_record["campaign"] == "theirs"
    assert their_view["pages"]["summaryTotals"] == {
        "totalSessions": 1,
        "totalUsers": 1,
        "totalConversionEvents": 1,
    }
    # 10 sessions in JOURNEYS, 9 of them in July (D1 is in August); visitor A's three are
    # untouched by their visitor A.
    assert my_view["sessions"]["pagination"]["totalRecords"] == 10
    assert my_view["pages"]["summaryTotals"]["totalSessions"] == 9
    assert [r["visitorId"] for r in my_view["sessions"]["records"]].count("A") == 3
    assert "theirs" not in repr(my_view).replace(mine.site.site_id, "")
    assert "example.com" not in repr(their_view)

    # Their cursor, used with my key, only positions within my sessions (those that
    # started before 2025-07-12T09:30Z: E1, E2, E3, A1, B1 and A2).
    from_their_cursor = await graphql_data(
        running.client,
        mine.api_key,
        everything,
        {"after": their_view["sessions"]["pageInfo"]["endCursor"]},
    )
    my_ids = {r["id"] for r in my_view["sessions"]["records"]}
    served = [r["id"] for r in from_their_cursor["sessions"]["records"]]
    assert len(served) == 6
    assert set(served) <= my_ids


# --- HTTP -------------------------------------------------------------------------------


async def test_get_queries_are_refused(running: Running, seeded: tuple[str, str]) -> None:
    _, key = seeded
    response = await running.client.get(
        "/graphql", params={"query": "{ site { id } }"}, headers={"Authentication": key}
    )
    assert response.status == 405
    page = await running.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status == 405  # GraphiQL is off unless configured


async def test_a_body_that_is_not_json_is_a_400_in_json(
    running: Running, seeded: tuple[str, str]
) -> None:
    _, key = seeded
    response = await running.client.post(
        "/graphql",
        data=b"{not json",
        headers={"Authentication": key, "Content-Type": "application/json"},
    )
    assert response.status == 400
    body = await response.json()
    assert body["errors"][0]["message"]


async def test_introspection_is_off_by_default(running: Running, seeded: tuple[str, str]) -> None:
    _, key = seeded
    status, body = await graphql(running.client, key, "{ __schema { types { name } } }")
    assert status == 200
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()
    # __typename is not introspection of the schema and stays available.
    assert await graphql_data(running.client, key, "{ __typename }") == {"__typename": "Query"}


async def test_a_real_graphql_client_queries_over_http(
    running: Running, seeded: tuple[str, str]
) -> None:
    site_id, key = seeded
    transport = AIOHTTPTransport(
        url=str(running.client.make_url("/graphql")),
        headers={"Authentication": key},
        ssl=False,
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        result = await session.execute(
            GraphQLRequest(
                """query($filter: SessionFilter) {
                  site { id }
                  sessions(filter: $filter) { records { visitorId campaign } }
                }""",
                variable_values={"filter": {"campaign": "july_news"}},
            )
        )
    assert result == {
        "site": {"id": site_id},
        "sessions": {"records": [{"visitorId": "A", "campaign": "july_news"}]},
    }


async def test_a_conversion_value_is_ingested_and_shown_in_the_sessions_conversions(
    running: Running,
) -> None:
    new = await running.new_site()
    events = [
        {**graphql_event(pageview("v1", "2025-07-15T10:00:00Z", "/pricing"))},
        {**graphql_event(conversion("v1", "2025-07-15T10:02:00Z", "/buy")), "value": 49.5},
        {**graphql_event(conversion("v1", "2025-07-15T10:03:00Z", "/buy")), "value": -2},
    ]
    answer = (await graphql_data(running.client, new.api_key, INGEST, {"events": events}))[
        "ingestEvents"
    ]
    assert answer["accepted"] == 2
    assert answer["rejected"] == [
        {"index": 2, "error": "value: expected a finite number >= 0, got -2.0"}
    ]
    query = "{ sessions { records { conversions { value } } } }"
    listed = (await graphql_data(running.client, new.api_key, query))["sessions"]
    assert listed["records"] == [{"conversions": [{"value": 49.5}]}]


def graphql_event(rest_event: JsonDict) -> JsonDict:
    return {graphql_key(k): v for k, v in rest_event.items()}
