"""Tenant isolation: two sites with the same visitor ids; each key sees only its own
site through every endpoint, every filter and every touch scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.conftest import Running
from tests.e2e.rest_support import JOURNEYS, conversion, names, pageview, post_json, seed
from tests.e2e.test_rest_pages import JULY, JULY_FRAME, SCOPES

NO_SESSIONS = {"message": "No sessions found for the given parameters."}
NO_PAGE_DATA = {"message": "No page data found for the given parameters."}

# Site two holds the same journeys plus two things of its own:
TWO_ONLY = [
    # a session whose every attribute exists only on site two;
    pageview(
        "Z",
        "2025-07-25T10:00:00Z",
        "/two?utm_source=only-two.example&utm_medium=referral&utm_campaign=two_campaign"
        "&utm_content=two_content&utm_term=two_term",
    ),
    # and a conversion in E's first session, which on site two makes E1 converting and
    # E2 an "after" session instead of an "assist" one.
    conversion("E", "2025-07-05T10:00:30Z", "/blog", meta_type="custom", meta_id="two-form"),
]
TWO_ONLY_FILTERS = [
    {"source": "only-two.example"},
    {"medium": "referral"},
    {"campaign": "two_campaign"},
    {"content": "two_content"},
    {"term": "two_term"},
    {"landing_page": "https://example.com/two"},
]


@dataclass
class Sites:
    one: str
    two: str


@pytest.fixture
async def sites(running: Running) -> Sites:
    one = await running.new_site("One")
    two = await running.new_site("Two")
    await seed(running.service, one.site.site_id, JOURNEYS)
    await seed(running.service, two.site.site_id, JOURNEYS + TWO_ONLY)
    return Sites(one=one.api_key, two=two.api_key)


async def test_sessions_list_only_the_keys_own_site(running: Running, sites: Sites) -> None:
    _, one = await post_json(running.client, "/api/v1/sessions", sites.one, {})
    _, two = await post_json(running.client, "/api/v1/sessions", sites.two, {})
    assert names(one) == ["D1", "A3", "C2", "C1", "A2", "B1", "A1", "E3", "E2", "E1"]
    assert one["pagination"]["total_records"] == 10
    assert two["pagination"]["total_records"] == 11


@pytest.mark.parametrize("params", TWO_ONLY_FILTERS)
async def test_no_filter_reaches_the_other_sites_sessions(
    running: Running, sites: Sites, params: dict[str, str]
) -> None:
    _, one = await post_json(running.client, "/api/v1/sessions", sites.one, params)
    _, two = await post_json(running.client, "/api/v1/sessions", sites.two, params)
    assert one == NO_SESSIONS
    assert [r["landing_page"] for r in two["records"]] == ["https://example.com/two"]


@pytest.mark.parametrize("params", TWO_ONLY_FILTERS)
async def test_no_filter_reaches_the_other_sites_pages(
    running: Running, sites: Sites, params: dict[str, str]
) -> None:
    _, one = await post_json(running.client, "/api/v1/pages", sites.one, {**JULY, **params})
    _, two = await post_json(running.client, "/api/v1/pages", sites.two, {**JULY, **params})
    assert one == NO_PAGE_DATA
    assert two["summary_totals"]["total_sessions"] == 1


@pytest.mark.parametrize("scope", sorted(SCOPES))
async def test_touch_scopes_see_only_the_keys_own_visitor_histories(
    running: Running, sites: Sites, scope: str
) -> None:
    # Site one's answers are exactly the single-site hand-worked ones, although site two
    # has the same visitor ids with a different history.
    _, one = await post_json(
        running.client, "/api/v1/pages", sites.one, {**JULY, "touch_scope": scope}
    )
    assert one == {"time_frame": JULY_FRAME, **SCOPES[scope]}


async def test_site_twos_history_gives_its_own_assist_and_after(
    running: Running, sites: Sites
) -> None:
    _, assist = await post_json(
        running.client, "/api/v1/pages", sites.two, {**JULY, "touch_scope": "assist"}
    )
    # On site two E converts in E1, so E2 is no assist; A, B, C have none either.
    assert assist == NO_PAGE_DATA
    _, after = await post_json(
        running.client, "/api/v1/pages", sites.two, {**JULY, "touch_scope": "after"}
    )
    # After a first conversion: A3 (as on site one), E2 and E3 (E converted in E1).
    assert after["summary_totals"]["total_sessions"] == 3


async def test_conversion_definitions_see_only_the_keys_own_conversions(
    running: Running, sites: Sites
) -> None:
    body = {**JULY, "meta_id": "two-form"}
    _, one = await post_json(running.client, "/api/v1/pages", sites.one, body)
    _, two = await post_json(running.client, "/api/v1/pages", sites.two, body)
    assert one["summary_totals"]["total_conversion_events"] == 0
    assert two["summary_totals"]["total_conversion_events"] == 1
