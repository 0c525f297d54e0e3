"""The OpenAPI document is served, valid, complete, and true of real responses."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator

from rest_compat import openapi_document
from tests.e2e.conftest import Running
from tests.e2e.rest_support import (
    JOURNEYS,
    SUMMER_SALE,
    assert_matches_openapi,
    key_header,
    post_json,
    response_schema,
    seed,
)


def committed_document() -> dict[str, Any]:
    text = resources.files("rest_compat").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


async def test_the_committed_document_is_served_without_a_key(running: Running) -> None:
    response = await running.client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == committed_document()


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1.")
    for schema in document["components"]["schemas"].values():
        OAS31Validator.check_schema(schema)


async def test_every_api_route_is_documented_and_every_documented_path_is_served(
    running: Running,
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in running.client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert served == documented


def test_the_schemas_reject_what_the_docs_forbid() -> None:
    # The validation below proves something only if the schemas can fail.
    schema = response_schema("POST", "/api/v1/sessions", 200)
    record = {
        "timestamp": "2025-07-12T09:00:00Z",
        "source": "direct",
        "medium": "none",
        "landing_page": "https://example.com",
    }
    page = {
        "records": [record],
        "pagination": {"current_page": 1, "total_pages": 1, "total_records": 1},
    }
    validator = OAS31Validator(schema)
    assert validator.is_valid(page)
    for bad in (
        {**record, "campaign": None},  # absent fields are omitted, never null
        {**record, "duration": 12},  # duration only with exit
        {**record, "timestamp": "2025-07-12T09:00:00.123+00:00"},
        {**record, "visitor_id": "v1"},
    ):
        assert not validator.is_valid({**page, "records": [bad]}), bad


@pytest.fixture
async def key(running: Running) -> str:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return new.api_key


EXCHANGES: list[tuple[str, object, int]] = [
    ("/api/v1/sessions", {}, 200),
    ("/api/v1/sessions", {"start_date": "2025-07-15", "end_date": "2025-07-30"}, 200),
    ("/api/v1/sessions", {"campaign": "summer_sale", "source": "facebook"}, 200),
    ("/api/v1/sessions", {"source": "nowhere"}, 200),
    ("/api/v1/sessions", {"page": 9}, 200),
    ("/api/v1/sessions", {"soruce": "x"}, 400),
    ("/api/v1/sessions", [], 400),
    ("/api/v1/conversions", {"start_date": "2025-07-15", "end_date": "2025-07-30"}, 200),
    ("/api/v1/pages", {}, 200),
    ("/api/v1/pages", {"start_date": "2025-07-01", "end_date": "2025-07-31"}, 200),
    ("/api/v1/pages", {"touch_scope": "assist", "start_date": "2025-07-01"}, 200),
    ("/api/v1/pages", {"start_date": "2025-05-01", "end_date": "2025-05-02"}, 200),
    ("/api/v1/pages", {"touch_scope": "all"}, 400),
    ("/api/v1/events", {"events": [{"type": "pageview"}]}, 200),
    ("/api/v1/events", {"events": [{}] * 10_001}, 413),
    ("/api/v1/events", {"events": "none"}, 400),
]


@pytest.mark.parametrize(("path", "body", "status"), EXCHANGES)
async def test_real_responses_match_the_documented_schemas(
    running: Running, key: str, path: str, body: object, status: int
) -> None:
    got, reply = await post_json(running.client, path, key, body)
    assert got == status
    assert_matches_openapi("POST", path, got, reply)


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/pages", "/api/v1/events"])
async def test_401_matches_the_documented_schema(running: Running, path: str) -> None:
    status, reply = await post_json(running.client, path, "wrong", {})
    assert status == 401
    assert_matches_openapi("POST", path, status, reply)


def test_the_docs_request_bodies_match_the_documented_request_schemas() -> None:
    document = openapi_document()
    components = document["components"]

    def request_validator(path: str) -> OAS31Validator:
        operation = document["paths"][path]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return OAS31Validator({**schema, "components": components})

    sessions = request_validator("/api/v1/sessions")
    pages = request_validator("/api/v1/pages")
    sessions.validate({"start_date": "2025-07-15", "end_date": "2025-07-30"})
    sessions.validate({"campaign": "summer_sale", "source": "facebook", "term": "bathing suits"})
    pages.validate({"start_date": "2025-07-15", "end_date": "2025-07-30"})
    pages.validate(
        {
            "start_date": "2025-07-01",
            "end_date": "2025-07-31",
            "source": "google.com",
            "touch_scope": "converting",
        }
    )
    assert not sessions.is_valid({"soruce": "google.com"})
    assert not pages.is_valid({"touch_scope": "all"})


async def test_a_served_record_validates_field_by_field(running: Running, key: str) -> None:
    response = await running.client.post(
        "/api/v1/sessions", headers=key_header(key), json={"campaign": "july_news"}
    )
    reply = await response.json()
    # The richest record (conversion and exit) exercises every nested schema.
    assert set(reply["records"][0]) >= {"conversion", "exit", "duration"}
    assert_matches_openapi("POST", "/api/v1/sessions", 200, reply)
