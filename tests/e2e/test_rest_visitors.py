"""The privacy duties end to end (docs/privacy.md): access, erasure by visitor and by
email over REST and GraphQL, and the retention purge. After each, every answer a site
owner reads (/sessions, /pages, GraphQL) equals a fresh import of what remains."""

from __future__ import annotations

from typing import Any

from domain.privacy import retention_cutoff
from tests.e2e.conftest import NOW, Running
from tests.e2e.graphql_support import graphql, graphql_data
from tests.e2e.rest_support import (
    GOOGLE,
    JOURNEYS,
    JsonDict,
    assert_matches_openapi,
    conversion,
    key_header,
    pageview,
    post_json,
    seed,
)

JULY = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
ANSWERS_QUERY = """
query Answers($filter: PageFilter) {
  sessions(pageSize: 200) {
    records {
      visitorId timestamp source medium campaign landingPage
      conversion { email timestamp conversionPage previousPage }
      exit { exitPage previousPage timestamp } duration
    }
    pagination { totalRecords }
  }
  pages(filter: $filter) {
    summaryTotals { totalSessions totalUsers totalConversionEvents totalConversionUsers }
    conversionPerformance { url conversion { sessions users } }
    dropOffPerformance { url dropOff { sessions users } dropOffAssist { sessions users } }
  }
}
"""
ERASE_VISITOR = "mutation($v: String!) { eraseVisitor(visitorId: $v) { visitors events } }"
ERASE_EMAIL = "mutation($e: String!) { eraseByEmail(email: $e) { visitors events } }"


async def answers(running: Running, api_key: str) -> tuple[Any, ...]:
    """What a site owner reads: /sessions (every session), /pages over July, and both
    through GraphQL."""
    client = running.client
    sessions = await post_json(client, "/api/v1/sessions", api_key, {})
    pages = await post_json(client, "/api/v1/pages", api_key, JULY)
    data = await graphql_data(
        client,
        api_key,
        ANSWERS_QUERY,
        {"filter": {"startDate": JULY["start_date"], "endDate": JULY["end_date"]}},
    )
    return sessions, pages, data


async def fresh_import(running: Running, events: list[JsonDict]) -> tuple[Any, ...]:
    site = await running.new_site("Fresh import")
    if events:
        await seed(running.service, site.site.site_id, events)
    return await answers(running, site.api_key)


def without(visitors: set[str]) -> list[JsonDict]:
    return [event for event in JOURNEYS if event["visitor_id"] not in visitors]


def holds(reply: object, text: str) -> bool:
    return text in repr(reply)


async def delete(running: Running, path: str, api_key: str) -> tuple[int, Any]:
    response = await running.client.delete(path, headers=key_header(api_key))
    return response.status, await response.json()


async def test_access_gives_the_visitors_events_and_sessions_as_documented(
    running: Running,
) -> None:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS)

    response = await running.client.get("/api/v1/visitors/A", headers=key_header(new.api_key))
    body = await response.json()

    assert response.status == 200
    assert_matches_openapi("GET", "/api/v1/visitors/{visitor_id}", 200, body)
    assert body["visitor_id"] == "A"
    assert [e["timestamp"] for e in body["events"]] == [
        e["timestamp"].replace(":00Z", ":00.000Z") for e in JOURNEYS if e["visitor_id"] == "A"
    ]
    assert {e["email"] for e in body["events"] if "email" in e} == {"a@example.org"}
    assert [s["timestamp"] for s in body["sessions"]] == [
        "2025-07-10T10:00:00Z",
        "2025-07-12T09:00:00Z",
        "2025-07-20T15:00:00Z",
    ]
    assert [p["url"] for p in body["sessions"][0]["path"]] == [
        "https://example.com/home",
        "https://example.com/pricing",
    ]


async def test_access_to_an_unknown_visitor_or_another_sites_visitor_is_a_json_404(
    running: Running,
) -> None:
    mine, theirs = await running.new_site("Mine"), await running.new_site("Theirs")
    await seed(running.service, theirs.site.site_id, JOURNEYS)

    for visitor in ("A", "nobody"):
        response = await running.client.get(
            f"/api/v1/visitors/{visitor}", headers=key_header(mine.api_key)
        )
        assert response.status == 404
        assert "visitor_id" in (await response.json())["error"]


async def test_a_visitor_id_longer_than_any_event_may_carry_is_a_400_naming_it(
    running: Running,
) -> None:
    new = await running.new_site()
    status, body = await delete(running, "/api/v1/visitors/" + "x" * 201, new.api_key)
    assert status == 400
    assert body["error"].startswith("visitor_id: expected at most 200 characters")


async def test_erasing_a_visitor_twice_leaves_what_a_fresh_import_of_the_rest_gives(
    running: Running,
) -> None:
    new = await running.new_site()
    other = await running.new_site("Other")
    await seed(running.service, new.site.site_id, JOURNEYS)
    await seed(running.service, other.site.site_id, JOURNEYS)
    before_other = await answers(running, other.api_key)

    first = await delete(running, "/api/v1/visitors/A", new.api_key)
    second = await delete(running, "/api/v1/visitors/A", new.api_key)

    a_events = sum(1 for e in JOURNEYS if e["visitor_id"] == "A")
    assert first == (200, {"visitors": 1, "events": a_events})
    assert second == (200, {"visitors": 0, "events": 0})
    assert_matches_openapi("DELETE", "/api/v1/visitors/{visitor_id}", 200, first[1])
    after = await answers(running, new.api_key)
    assert not holds(after, "a@example.org")
    assert after == await fresh_import(running, without({"A"}))
    assert await answers(running, other.api_key) == before_other
    response = await running.client.get("/api/v1/visitors/A", headers=key_header(new.api_key))
    assert response.status == 404


async def test_erasing_by_email_in_mixed_case_twice_erases_every_visitor_holding_it(
    running: Running,
) -> None:
    new = await running.new_site()
    # E converts with B's address too: both go.
    shared = conversion("E", "2025-07-07T10:06:00Z", "/signup", email="b@example.org")
    await seed(running.service, new.site.site_id, [*JOURNEYS, shared])

    first = await post_json(
        running.client, "/api/v1/erasures", new.api_key, {"email": "B@Example.ORG"}
    )
    second = await post_json(
        running.client, "/api/v1/erasures", new.api_key, {"email": "b@EXAMPLE.org"}
    )

    erased = sum(1 for e in JOURNEYS if e["visitor_id"] in {"B", "E"}) + 1
    assert first == (200, {"visitors": 2, "events": erased})
    assert second == (200, {"visitors": 0, "events": 0})
    assert_matches_openapi("POST", "/api/v1/erasures", 200, first[1])
    after = await answers(running, new.api_key)
    assert not holds(after, "b@example.org")
    assert after == await fresh_import(running, without({"B", "E"}))


async def test_an_erasure_without_an_email_is_a_400_naming_it(running: Running) -> None:
    new = await running.new_site()
    for body in ({}, {"email": "  "}, {"email": 7}):
        status, reply = await post_json(running.client, "/api/v1/erasures", new.api_key, body)
        assert status == 400
        assert reply["error"].startswith("email: expected a non-empty string")
    status, reply = await post_json(
        running.client, "/api/v1/erasures", new.api_key, {"mail": "a@example.org"}
    )
    assert (status, reply["error"]) == (
        400,
        """'mail': unknown key; expected a body {"email": "..."}""",
    )


async def test_the_graphql_mutations_erase_like_rest_and_answer_zeros_the_second_time(
    running: Running,
) -> None:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS)
    key = new.api_key

    by_visitor = [
        (await graphql_data(running.client, key, ERASE_VISITOR, {"v": "A"}))["eraseVisitor"]
        for _ in range(2)
    ]
    by_email = [
        (await graphql_data(running.client, key, ERASE_EMAIL, {"e": "C@Example.Org"}))[
            "eraseByEmail"
        ]
        for _ in range(2)
    ]

    count = {v: sum(1 for e in JOURNEYS if e["visitor_id"] == v) for v in "AC"}
    assert by_visitor == [{"visitors": 1, "events": count["A"]}, {"visitors": 0, "events": 0}]
    assert by_email == [{"visitors": 1, "events": count["C"]}, {"visitors": 0, "events": 0}]
    after = await answers(running, key)
    assert not holds(after, "c@example.org")
    assert after == await fresh_import(running, without({"A", "C"}))


async def test_graphql_erasures_refuse_bad_input_as_bad_user_input(running: Running) -> None:
    new = await running.new_site()
    _, long_id = await graphql(running.client, new.api_key, ERASE_VISITOR, {"v": "x" * 201})
    _, blank = await graphql(running.client, new.api_key, ERASE_EMAIL, {"e": " "})

    assert long_id["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert long_id["errors"][0]["message"].startswith("visitorId: expected at most 200")
    assert blank["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert blank["errors"][0]["message"].startswith("email: expected a non-empty string")


async def test_retention_re_cuts_a_session_straddling_the_cut_off_like_a_fresh_import(
    running: Running,
) -> None:
    days = 20
    cutoff = retention_cutoff(NOW, days)
    straddling = [
        pageview("S", "2025-07-12T11:50:00Z", "/blog", GOOGLE),
        pageview("S", "2025-07-12T12:05:00Z", "/pricing"),
        conversion("S", "2025-07-12T12:10:00Z", "/signup", email="s@example.org"),
    ]
    new = await running.new_site()
    await seed(running.service, new.site.site_id, [*JOURNEYS, *straddling])

    purged = await running.service.purge_all(days, batch=2)

    # The seeded timestamps all share one spelling: as strings they sort as instants.
    assert cutoff.isoformat() == "2025-07-12T12:00:00+00:00"
    remaining = [e for e in [*JOURNEYS, *straddling] if e["timestamp"] >= "2025-07-12T12:00:00Z"]
    assert purged.events == len(JOURNEYS) + len(straddling) - len(remaining)
    assert (await running.service.purge_all(days)).events == 0
    after = await answers(running, new.api_key)
    # The straddling session now starts at its first event left, direct.
    s_sessions = [r for r in after[2]["sessions"]["records"] if r["visitorId"] == "S"]
    assert [(r["timestamp"], r["source"]) for r in s_sessions] == [
        ("2025-07-12T12:05:00Z", "direct")
    ]
    assert after == await fresh_import(running, remaining)
