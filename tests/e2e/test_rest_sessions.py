"""POST /api/v1/sessions end to end: the docs' examples, the record shape, filters,
pagination and windows (docs/concepts.md, "Sessions", "/sessions")."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Running
from tests.e2e.rest_support import (
    JOURNEYS,
    START,
    SUMMER_SALE,
    bearer_header,
    key_header,
    names,
    pageview,
    post_json,
    seed,
)

NO_SESSIONS = {"message": "No sessions found for the given parameters."}
# Newest first; every session of JOURNEYS + SUMMER_SALE.
ALL = ["D1", "A3", "F1", "C2", "C1", "A2", "B1", "A1", "E3", "E2", "E1"]


@pytest.fixture
async def key(running: Running) -> str:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return new.api_key


async def test_docs_time_window_example_as_written_returns_sessions_of_the_window(
    running: Running, key: str
) -> None:
    # The docs send this one to /api/v1/conversions (a typo kept as an alias) with a
    # trailing comma, which is fixed here.
    body = b'{\n "start_date": "2025-07-15",\n "end_date": "2025-07-30"\n}'
    response = await running.client.post(
        "/api/v1/conversions",
        data=body,
        headers={**key_header(key), "Content-Type": "application/json"},
    )
    assert response.status == 200
    reply = await response.json()
    # Sessions starting 2025-07-15T00:00:00Z .. 2025-07-30T23:59:59.999999Z.
    assert names(reply) == ["A3", "F1", "C2", "C1"]
    assert reply["pagination"] == {"current_page": 1, "total_pages": 1, "total_records": 4}
    assert list(reply) == ["records", "pagination"]


async def test_docs_time_window_example_on_the_sessions_path_gives_the_same_answer(
    running: Running, key: str
) -> None:
    body = {"start_date": "2025-07-15", "end_date": "2025-07-30"}
    _, via_alias = await post_json(running.client, "/api/v1/conversions", key, body)
    status, reply = await post_json(running.client, "/api/v1/sessions", key, body)
    assert status == 200
    assert reply == via_alias


async def test_docs_campaign_example_returns_the_summer_sale_session(
    running: Running, key: str
) -> None:
    body = {"campaign": "summer_sale", "source": "facebook", "term": "bathing suits"}
    status, reply = await post_json(running.client, "/api/v1/sessions", key, body)
    assert status == 200
    assert reply == {
        "records": [
            {
                "timestamp": "2025-07-18T09:00:00Z",
                "source": "facebook",
                "medium": "cpc",
                "campaign": "summer_sale",
                "content": "video_ad",
                "term": "bathing suits",
                "landing_page": "https://example.com/landing",
                "exit": {
                    "exit_page": "https://example.com/pricing",
                    "previous_page": "https://example.com/landing",
                    "timestamp": "2025-07-18T09:10:00Z",
                },
                "duration": 600,
            }
        ],
        "pagination": {"current_page": 1, "total_pages": 1, "total_records": 1},
    }


async def test_docs_request_without_body_lists_every_session_newest_first(
    running: Running, key: str
) -> None:
    response = await running.client.post("/api/v1/sessions", headers=key_header(key))
    assert response.status == 200
    assert names(await response.json()) == ALL


async def test_converting_session_record_has_the_documented_bytes(
    running: Running, key: str
) -> None:
    response = await running.client.post(
        "/api/v1/sessions", headers=key_header(key), json={"campaign": "july_news"}
    )
    # A2: content and term absent (no such UTM parameters), duration 09:00 -> 09:05.
    assert await response.read() == (
        b'{"records":[{"timestamp":"2025-07-12T09:00:00Z","source":"newsletter",'
        b'"medium":"email","campaign":"july_news","landing_page":"https://example.com/blog",'
        b'"conversion":{"email":"a@example.org","timestamp":"2025-07-12T09:04:00Z",'
        b'"conversion_page":"https://example.com/signup",'
        b'"previous_page":"https://example.com/pricing"},'
        b'"exit":{"exit_page":"https://example.com/thank-you",'
        b'"previous_page":"https://example.com/signup","timestamp":"2025-07-12T09:05:00Z"},'
        b'"duration":300}],"pagination":{"current_page":1,"total_pages":1,"total_records":1}}'
    )


async def test_open_direct_session_record_omits_exit_and_duration_and_says_medium_none(
    running: Running, key: str
) -> None:
    response = await running.client.post(
        "/api/v1/sessions", headers=key_header(key), json={"start_date": "2025-08-01"}
    )
    assert await response.read() == (
        b'{"records":[{"timestamp":"2025-08-01T11:50:00Z","source":"direct",'
        b'"medium":"none","landing_page":"https://example.com"}],'
        b'"pagination":{"current_page":1,"total_pages":1,"total_records":1}}'
    )


async def test_conversion_without_email_omits_the_email_key(running: Running, key: str) -> None:
    _, reply = await post_json(running.client, "/api/v1/sessions", key, {"end_date": "2025-07-07"})
    e3 = reply["records"][0]
    assert e3["timestamp"] == START["E3"]
    assert e3["conversion"] == {
        "timestamp": "2025-07-07T10:05:00Z",
        "conversion_page": "https://example.com/signup",
        "previous_page": "https://example.com/pricing",
    }
    # The conversion was the last event: exit 10:05, 300 s after the start.
    assert e3["duration"] == 300
    assert type(e3["duration"]) is int


async def test_landing_page_conversion_names_the_landing_page_as_previous_page(
    running: Running, key: str
) -> None:
    _, reply = await post_json(
        running.client,
        "/api/v1/sessions",
        key,
        {"start_date": "2025-07-11", "end_date": "2025-07-11"},
    )
    (b1,) = reply["records"]
    assert b1["conversion"]["conversion_page"] == "https://example.com/pricing"
    assert b1["conversion"]["previous_page"] == "https://example.com/pricing"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"source": "google.com"}, ["A3", "B1", "A1"]),
        ({"source": "Google.com"}, []),  # case-sensitive
        ({"source": "facebook.com"}, ["C1"]),  # derived from l.facebook.com
        ({"source": "facebook"}, ["F1"]),  # utm_source overrides
        ({"source": "direct"}, ["D1", "C2", "E3", "E2"]),
        ({"medium": "organic"}, ["A3", "B1", "A1", "E1"]),  # google and bing
        ({"medium": "none"}, ["D1", "C2", "E3", "E2"]),
        ({"medium": "email"}, ["A2"]),
        ({"medium": "social"}, ["C1"]),
        ({"medium": "cpc"}, ["F1"]),
        ({"campaign": "july_news"}, ["A2"]),
        ({"campaign": "summer_sale"}, ["F1"]),
        ({"content": "video_ad"}, ["F1"]),
        ({"term": "bathing suits"}, ["F1"]),
        ({"term": "bathing"}, []),  # exact, not substring
        ({"landing_page": "https://example.com/pricing/"}, ["B1", "E3"]),  # normalized
        ({"landing_page": "https://EXAMPLE.com/features?utm_source=x#top"}, ["C1", "E2"]),
        ({"landing_page": "https://example.com"}, ["D1"]),
        ({"source": ""}, ALL),  # empty counts as not given
        ({"start_date": "2025-07-10", "end_date": "2025-07-12"}, ["A2", "B1", "A1"]),
        ({"start_date": "2025-07-12T09:00:00Z"}, ["D1", "A3", "F1", "C2", "C1", "A2"]),
        ({"start_date": "2025-07-12T09:00:01Z"}, ["D1", "A3", "F1", "C2", "C1"]),
        ({"end_date": "2025-07-06T10:00:00Z"}, ["E2", "E1"]),  # inclusive
        ({"end_date": "2025-07-06T12:00:00+02:00"}, ["E2", "E1"]),  # 10:00Z
        ({"source": "google.com", "landing_page": "https://example.com/home"}, ["A3", "A1"]),
        ({"source": "direct", "landing_page": "https://example.com/pricing"}, ["E3"]),
        ({"source": "google.com", "medium": "email"}, []),
        (
            {"campaign": "summer_sale", "source": "facebook", "term": "bathing suits"},
            ["F1"],
        ),
        (
            {"medium": "organic", "start_date": "2025-07-06", "end_date": "2025-07-15"},
            ["B1", "A1"],
        ),
        (
            {
                "source": "facebook",
                "medium": "cpc",
                "campaign": "summer_sale",
                "content": "video_ad",
                "term": "bathing suits",
                "landing_page": "https://example.com/landing",
                "start_date": "2025-07-18",
                "end_date": "2025-07-18",
            },
            ["F1"],
        ),
        ({"campaign": "summer_sale", "content": "banner1"}, []),
    ],
)
async def test_filters_alone_and_combined_select_the_expected_sessions(
    running: Running, key: str, params: dict[str, str], expected: list[str]
) -> None:
    status, reply = await post_json(running.client, "/api/v1/sessions", key, params)
    assert status == 200
    if not expected:
        assert reply == NO_SESSIONS
        return
    assert names(reply) == expected
    assert reply["pagination"] == {
        "current_page": 1,
        "total_pages": 1,
        "total_records": len(expected),
    }


async def test_query_string_parameters_work_like_body_keys(running: Running, key: str) -> None:
    status, reply = await post_json(
        running.client,
        "/api/v1/sessions",
        key,
        params={"source": "google.com", "landing_page": "https://example.com/home"},
    )
    assert status == 200
    assert names(reply) == ["A3", "A1"]


async def test_body_wins_over_the_query_string(running: Running, key: str) -> None:
    _, reply = await post_json(
        running.client,
        "/api/v1/sessions",
        key,
        {"source": "facebook"},
        params={"source": "google.com", "medium": "cpc"},
    )
    # source from the body, medium from the query string.
    assert names(reply) == ["F1"]


async def test_bearer_authorization_is_accepted_like_the_documented_header(
    running: Running, key: str
) -> None:
    response = await running.client.post(
        "/api/v1/sessions", headers=bearer_header(key), json={"medium": "email"}
    )
    assert response.status == 200
    assert names(await response.json()) == ["A2"]


async def test_nothing_matching_is_the_documented_message_with_status_200(
    running: Running, key: str
) -> None:
    status, reply = await post_json(
        running.client, "/api/v1/sessions", key, {"source": "nowhere.example"}
    )
    assert (status, reply) == (200, NO_SESSIONS)


async def test_a_site_without_sessions_gets_the_no_sessions_message(running: Running) -> None:
    new = await running.new_site()
    status, reply = await post_json(running.client, "/api/v1/sessions", new.api_key, {})
    assert (status, reply) == (200, NO_SESSIONS)


# --- pagination --------------------------------------------------------------------

# 120 one-page sessions: visitor v000 .. v119 lands on /p/<n>. Starts repeat every 40
# visitors so that ties (same start) must be broken by visitor_id, ascending.
PAGED = [
    pageview(f"v{n:03d}", f"2025-07-{1 + n % 40 // 2:02d}T{10 + n % 2:02d}:00:00Z", f"/p/{n}")
    for n in range(120)
]


@pytest.fixture
async def paged_key(running: Running) -> str:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, PAGED)
    return new.api_key


async def test_pages_of_fifty_visit_every_session_exactly_once_newest_first(
    running: Running, paged_key: str
) -> None:
    served: list[tuple[str, str]] = []
    for page in (1, 2, 3):
        status, reply = await post_json(
            running.client, "/api/v1/sessions", paged_key, {"page": page}
        )
        assert status == 200
        # 120 records: 50 + 50 + 20 over ceil(120 / 50) = 3 pages.
        assert reply["pagination"] == {
            "current_page": page,
            "total_pages": 3,
            "total_records": 120,
        }
        assert len(reply["records"]) == (50 if page < 3 else 20)
        served += [(r["timestamp"], r["landing_page"]) for r in reply["records"]]
    assert len(set(served)) == 120
    assert {url for _, url in served} == {f"https://example.com/p/{n}" for n in range(120)}
    # Start descending; ties by visitor_id ascending, i.e. by n ascending here (the sort
    # is stable, also in reverse).
    expected = sorted(range(120), key=lambda n: PAGED[n]["timestamp"], reverse=True)
    assert [url for _, url in served] == [f"https://example.com/p/{n}" for n in expected]


async def test_page_given_as_digit_string_in_query_string_is_accepted(
    running: Running, paged_key: str
) -> None:
    _, from_query = await post_json(
        running.client, "/api/v1/sessions", paged_key, params={"page": "2"}
    )
    _, from_body = await post_json(running.client, "/api/v1/sessions", paged_key, {"page": 2})
    assert from_query == from_body
    assert from_query["pagination"]["current_page"] == 2


async def test_page_past_the_last_returns_empty_records_with_pagination(
    running: Running, paged_key: str
) -> None:
    status, reply = await post_json(running.client, "/api/v1/sessions", paged_key, {"page": 4})
    assert status == 200
    assert reply == {
        "records": [],
        "pagination": {"current_page": 4, "total_pages": 3, "total_records": 120},
    }


async def test_filtered_pagination_counts_only_matching_sessions(
    running: Running, paged_key: str
) -> None:
    # Days 2025-07-01 .. 2025-07-05 hold n % 40 in 0..9: 10 per block of 40, 30 in all.
    _, reply = await post_json(
        running.client,
        "/api/v1/sessions",
        paged_key,
        {"start_date": "2025-07-01", "end_date": "2025-07-05"},
    )
    assert reply["pagination"] == {"current_page": 1, "total_pages": 1, "total_records": 30}
    assert len(reply["records"]) == 30
