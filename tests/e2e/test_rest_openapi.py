"""The OpenAPI document is served, valid, complete, and true of real responses of every
route; what it says of parameters is what the server does with them.

(tests/e2e/test_rest_openapi_conformance.py holds the document to the server with
schemathesis; tests/e2e/test_rest_docs_page.py is about the page that reads it.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pytest
import schemathesis
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from openapi_schema_validator import OAS31Validator, oas31_format_checker

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings
from rest_compat import openapi_document
from tests.e2e.conftest import NOW, Running
from tests.e2e.rest_support import (
    JOURNEYS,
    SUMMER_SALE,
    assert_matches_openapi,
    key_header,
    post_json,
    response_schema,
    seed,
)

JsonDict = dict[str, Any]


def committed_document() -> JsonDict:
    text = resources.files("rest_compat").joinpath("openapi.json").read_text(encoding="utf-8")
    document: JsonDict = json.loads(text)
    return document


def resolved(node: JsonDict) -> JsonDict:
    """``node``, or what its ``$ref`` points to within the document."""
    document = openapi_document()
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def self_contained(schema: JsonDict) -> JsonDict:
    return {**schema, "components": openapi_document()["components"]}


def validator(schema: JsonDict) -> OAS31Validator:
    """Formats (date, date-time) checked too: they are part of what the document says."""
    return OAS31Validator(schema, format_checker=oas31_format_checker)


def operation(method: str, path: str) -> JsonDict:
    found: JsonDict = openapi_document()["paths"][path][method.lower()]
    return found


def query_parameter_schema(path: str, name: str) -> JsonDict:
    for parameter in operation("POST", path)["parameters"]:
        parameter = resolved(parameter)
        if parameter["name"] == name and parameter["in"] == "query":
            schema: JsonDict = parameter["schema"]
            return self_contained(schema)
    raise AssertionError(f"{path} documents no query parameter {name}")


def body_schema(path: str) -> JsonDict:
    content = resolved(operation("POST", path)["requestBody"])["content"]
    return self_contained(content["application/json"]["schema"])


# --- the document itself ---------------------------------------------------------------


async def test_the_committed_document_is_served_without_a_key(running: Running) -> None:
    response = await running.client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == committed_document()


def test_the_document_is_valid_openapi_3_1_with_valid_schemas() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1.")
    # Against the OpenAPI 3.1 meta-schema (schemathesis bundles it).
    schemathesis.openapi.from_dict(document).validate()
    for schema in document["components"]["schemas"].values():
        OAS31Validator.check_schema(schema)


async def test_every_route_but_graphql_is_documented_and_every_documented_one_is_served(
    running: Running,
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in running.client.app.router.routes()
        if route.resource is not None
        # Not REST: GraphQL (its own SDL) and the dashboard's page and files.
        and not route.resource.canonical.startswith(("/graphql", "/dashboard"))
        and route.resource.canonical != "/"
        # aiohttp answers HEAD wherever it answers GET, as HTTP wants.
        and route.method != "HEAD"
    }
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert served == documented


def test_every_operation_documents_the_responses_the_server_gives() -> None:
    with_a_body = {"200", "400", "401", "408", "413", "429", "500", "503"}
    expected = {
        ("POST", "/api/v1/sessions"): with_a_body,
        ("POST", "/api/v1/conversions"): with_a_body,
        ("POST", "/api/v1/pages"): with_a_body,
        ("POST", "/api/v1/attribution"): with_a_body,
        ("POST", "/api/v1/events"): with_a_body,
        ("POST", "/collect"): with_a_body,
        ("OPTIONS", "/collect"): {"204"},
        ("GET", "/tracker.js"): {"200"},
        ("GET", "/healthz"): {"200", "503"},
        ("GET", "/api/v1/openapi.json"): {"200"},
        ("GET", "/api/docs"): {"200"},
        ("GET", "/api/docs/{asset}"): {"200", "404"},
        # A path parameter and no body: nothing to be too large or slow.
        ("GET", "/api/v1/visitors/{visitor_id}"): {"200", "400", "401", "404", "429", "500", "503"},
        ("DELETE", "/api/v1/visitors/{visitor_id}"): {
            "200",
            "400",
            "401",
            "404",
            "429",
            "500",
            "503",
        },
        ("POST", "/api/v1/erasures"): with_a_body,
    }
    documented = {
        (method.upper(), path): set(spec["responses"])
        for path, operations in openapi_document()["paths"].items()
        for method, spec in operations.items()
    }
    assert documented == expected


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
    records = validator(schema)
    assert records.is_valid(page)
    for bad in (
        {**record, "campaign": None},  # absent fields are omitted, never null
        {**record, "duration": 12},  # duration only with exit
        {**record, "timestamp": "2025-07-12T09:00:00.123+00:00"},
        {**record, "visitor_id": "v1"},
    ):
        assert not records.is_valid({**page, "records": [bad]}), bad
    assert not records.is_valid({"message": "No pages found."})


# --- parameters: the document says what the server does ------------------------------


@pytest.fixture
async def key(running: Running) -> str:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return new.api_key


# (value in the query string, whether the server takes it)
PAGE_IN_THE_QUERY = [
    ("1", True),
    ("2", True),
    ("007", True),
    ("", True),  # empty means not given
    ("0", False),
    ("000", False),
    ("-1", False),
    ("1.5", False),
    ("one", False),
    (" 1", False),
]


@pytest.mark.parametrize(("value", "taken"), PAGE_IN_THE_QUERY)
async def test_the_document_and_the_server_agree_on_page_in_the_query_string(
    running: Running, key: str, value: str, taken: bool
) -> None:
    status, _ = await post_json(running.client, "/api/v1/sessions", key, params={"page": value})
    assert status == (200 if taken else 400)
    schema = query_parameter_schema("/api/v1/sessions", "page")
    assert validator(schema).is_valid(value) is taken


PAGE_IN_THE_BODY: list[tuple[object, bool]] = [
    (1, True),
    (3, True),
    ("2", True),
    ("", True),
    (None, True),
    (10**12, True),  # served as the last possible page: empty
    (0, False),
    (-4, False),
    ("0", False),
    (True, False),
    ([1], False),
]


@pytest.mark.parametrize(("value", "taken"), PAGE_IN_THE_BODY)
async def test_the_document_and_the_server_agree_on_page_in_the_body(
    running: Running, key: str, value: object, taken: bool
) -> None:
    status, _ = await post_json(running.client, "/api/v1/sessions", key, {"page": value})
    assert status == (200 if taken else 400)
    assert validator(body_schema("/api/v1/sessions")).is_valid({"page": value}) is taken


# Dates the document promises, and dates the server refuses (it also takes a few more
# spellings than the document promises: those are named in the parameter's description).
DATES = [
    ("2025-07-01", True),
    ("2024-02-29", True),
    ("2025-07-01T09:30:00Z", True),
    ("2025-07-01T09:30:00.250+02:00", True),
    ("2025-07-01T09:30:00-05:00", True),
    ("", True),
    ("2025-02-30", False),
    ("2025-13-01", False),
    ("2025-7-1", False),
    ("07/01/2025", False),
    ("2025-07-01T25:00:00Z", False),
    ("2025-07-01T09:30:60Z", False),
    ("yesterday", False),
]


@pytest.mark.parametrize(("value", "taken"), DATES)
@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/pages"])
async def test_the_document_and_the_server_agree_on_dates(
    running: Running, key: str, path: str, name: str, value: str, taken: bool
) -> None:
    status, _ = await post_json(running.client, path, key, {name: value})
    assert status == (200 if taken else 400)
    assert validator(body_schema(path)).is_valid({name: value}) is taken
    assert validator(query_parameter_schema(path, name)).is_valid(value) is taken


def test_dates_say_their_formats() -> None:
    schema = resolved(body_schema("/api/v1/sessions"))["properties"]["start_date"]
    formats = {branch.get("format") for branch in schema["anyOf"]}
    assert {"date", "date-time"} <= formats


async def test_a_batch_with_malformed_events_is_a_documented_request_answered_per_event(
    running: Running, key: str
) -> None:
    body = {
        "events": [
            42,
            {"type": "pageview", "visitor_id": "v", "url": "https://example.com/"},
            {
                "type": "pageview",
                "visitor_id": "v",
                "timestamp": "2025-07-01T10:00:00Z",
                "url": "https://example.com/",
            },
        ]
    }
    assert validator(body_schema("/api/v1/events")).is_valid(body)
    status, reply = await post_json(running.client, "/api/v1/events", key, body)
    assert status == 200
    assert_matches_openapi("POST", "/api/v1/events", status, reply)
    assert [rejection["index"] for rejection in reply["rejected"]] == [0, 1]
    assert reply["rejected"][1]["error"].startswith("timestamp:")
    assert reply["accepted"] == 1


def test_an_event_as_documented_requires_what_the_server_requires() -> None:
    event = self_contained(resolved({"$ref": "#/components/schemas/Event"}))
    collected = self_contained(resolved({"$ref": "#/components/schemas/CollectEvent"}))
    assert set(event["required"]) == {"type", "visitor_id", "timestamp", "url"}
    # /collect stamps events with the server's clock.
    assert set(collected["required"]) == {"type", "visitor_id", "url"}


# --- real responses of every route, against the document -------------------------------


@dataclass
class Exchange:
    method: str
    path: str  # as sent
    documented_path: str
    status: int
    json: object = None
    data: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    credential: str | None = "api_key"  # "api_key", "tracker_token" or None
    params: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


def _read(path: str, body: object, status: int, **extra: Any) -> Exchange:
    return Exchange("POST", path, path, status, json=body, **extra)


EXCHANGES = [
    _read("/api/v1/sessions", {}, 200),
    _read("/api/v1/sessions", {"start_date": "2025-07-15", "end_date": "2025-07-30"}, 200),
    _read("/api/v1/sessions", {"campaign": "summer_sale", "source": "facebook"}, 200),
    _read("/api/v1/sessions", {"source": "nowhere"}, 200),
    _read("/api/v1/sessions", {"page": 9}, 200),
    _read("/api/v1/sessions", None, 200, params={"page": ""}),
    _read("/api/v1/sessions", {"soruce": "x"}, 400),
    _read("/api/v1/sessions", [], 400),
    _read("/api/v1/sessions", None, 400, params={"page": "0"}),
    _read("/api/v1/sessions", {}, 401, credential=None),
    _read("/api/v1/conversions", {"start_date": "2025-07-15", "end_date": "2025-07-30"}, 200),
    _read("/api/v1/conversions", {"start_date": "2025-07-30", "end_date": "2025-07-15"}, 400),
    _read("/api/v1/pages", {}, 200),
    _read("/api/v1/pages", {"start_date": "2025-07-01", "end_date": "2025-07-31"}, 200),
    _read("/api/v1/pages", {"touch_scope": "assist", "start_date": "2025-07-01"}, 200),
    _read("/api/v1/pages", {"start_date": "2025-05-01", "end_date": "2025-05-02"}, 200),
    _read("/api/v1/pages", {"touch_scope": "all"}, 400),
    _read("/api/v1/pages", {"page": 2}, 400),
    _read("/api/v1/pages", {}, 401, credential=None),
    _read("/api/v1/attribution", {}, 200),
    _read(
        "/api/v1/attribution",
        {"start_date": "2025-07-01", "models": ["linear", "first_touch"], "dimension": "source"},
        200,
    ),
    _read("/api/v1/attribution", None, 200, params={"models": "data_driven,last_touch"}),
    _read("/api/v1/attribution", {"start_date": "2025-05-01", "end_date": "2025-05-02"}, 200),
    _read("/api/v1/attribution", {"models": ["linear", "linear"]}, 400),
    _read("/api/v1/attribution", {"lookback_days": 91}, 400),
    _read("/api/v1/attribution", {}, 401, credential=None),
    _read("/api/v1/events", {"events": [{"type": "pageview"}]}, 200),
    _read("/api/v1/events", {"events": [{}] * 10_001}, 413),
    _read("/api/v1/events", {"events": "none"}, 400),
    _read("/api/v1/events", {"event": []}, 400),
    _read("/api/v1/events", {"events": []}, 401, credential=None),
    Exchange(
        "POST",
        "/collect",
        "/collect",
        200,
        data=b'{"type": "pageview", "visitor_id": "v9", "url": "https://example.com/a"}',
        headers={"Content-Type": "text/plain"},
        credential="tracker_token",
    ),
    Exchange(
        "POST",
        "/collect",
        "/collect",
        200,
        json={"events": [{"type": "exit", "visitor_id": "v9"}, 7]},
        credential="tracker_token",
    ),
    Exchange("POST", "/collect", "/collect", 400, json={"events": {}}, credential="tracker_token"),
    Exchange(
        "POST", "/collect", "/collect", 413, json={"events": [{}] * 51}, credential="tracker_token"
    ),
    Exchange("POST", "/collect", "/collect", 401, json={}, credential=None),
    Exchange("OPTIONS", "/collect", "/collect", 204, credential=None),
    Exchange("GET", "/tracker.js", "/tracker.js", 200, credential=None),
    Exchange("GET", "/healthz", "/healthz", 200, credential=None),
    Exchange("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", 200, credential=None),
    Exchange("GET", "/api/docs", "/api/docs", 200, credential=None),
    Exchange("GET", "/api/docs/swagger-ui.css", "/api/docs/{asset}", 200, credential=None),
    Exchange("GET", "/api/docs/swagger-ui-bundle.js", "/api/docs/{asset}", 200, credential=None),
    Exchange("GET", "/api/docs/LICENSE", "/api/docs/{asset}", 200, credential=None),
    Exchange("GET", "/api/docs/../openapi.json", "/api/docs/{asset}", 404, credential=None),
    Exchange("GET", "/api/docs/nothing.js", "/api/docs/{asset}", 404, credential=None),
]


@dataclass
class Credentials:
    api_key: str
    tracker_token: str


@pytest.fixture
async def credentials(running: Running) -> Credentials:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS + SUMMER_SALE)
    return Credentials(new.api_key, new.tracker_token)


async def send(running: Running, exchange: Exchange, credentials: Credentials) -> ClientResponse:
    headers = dict(exchange.headers)
    params = dict(exchange.params)
    if exchange.credential == "api_key":
        headers.update(key_header(credentials.api_key))
    elif exchange.credential == "tracker_token":
        params["token"] = credentials.tracker_token
    kwargs: JsonDict = {"headers": headers, "params": params}
    if exchange.json is not None:
        kwargs["json"] = exchange.json
    if exchange.data is not None:
        kwargs["data"] = exchange.data
    return await running.client.request(exchange.method, exchange.path, **kwargs)


def assert_conforms(method: str, path: str, response: ClientResponse, body: bytes) -> None:
    """The response's status, content type, headers and body are as documented."""
    responses = operation(method, path)["responses"]
    assert str(response.status) in responses, f"{response.status} is not documented"
    documented = resolved(responses[str(response.status)])
    for name, header in documented.get("headers", {}).items():
        header = resolved(header)
        if header.get("required"):
            assert name in response.headers, f"documented header {name} is missing"
        if name in response.headers:
            value: object = response.headers[name]
            if header["schema"].get("type") == "integer":
                value = int(response.headers[name])
            validator(header["schema"]).validate(value)
    content = documented.get("content")
    if content is None:
        assert body == b""
        return
    assert response.content_type in content, f"{response.content_type} is not documented"
    if response.content_type == "application/json":
        schema = self_contained(content["application/json"]["schema"])
        validator(schema).validate(json.loads(body))


@pytest.mark.parametrize("exchange", EXCHANGES, ids=str)
async def test_real_responses_of_every_route_are_as_documented(
    running: Running, credentials: Credentials, exchange: Exchange
) -> None:
    response = await send(running, exchange, credentials)
    body = await response.read()
    assert response.status == exchange.status, body[:300]
    assert_conforms(exchange.method, exchange.documented_path, response, body)


def test_the_checks_of_real_responses_can_fail() -> None:
    # A documented 400 whose body lacks "error" must not pass for one.
    schema = self_contained(
        resolved(operation("POST", "/api/v1/sessions")["responses"]["400"])["content"][
            "application/json"
        ]["schema"]
    )
    assert not validator(schema).is_valid({"message": "bad"})
    assert "404" not in operation("GET", "/healthz")["responses"]


class UnreachableStore(MemoryStore):
    """A store whose ping fails, as one whose server is down."""

    async def ping(self) -> None:
        raise ConnectionError("the store's server does not answer")


async def test_a_store_that_cannot_answer_is_a_documented_503_on_healthz() -> None:
    app = init(Settings(access_log=False), store=UnreachableStore(), clock=FixedClock(NOW))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/healthz")
        body = await response.read()
    assert response.status == 503
    assert_conforms("GET", "/healthz", response, body)


async def test_a_served_record_validates_field_by_field(running: Running, key: str) -> None:
    response = await running.client.post(
        "/api/v1/sessions", headers=key_header(key), json={"campaign": "july_news"}
    )
    reply = await response.json()
    # The richest record (conversion and exit) exercises every nested schema.
    assert set(reply["records"][0]) >= {"conversion", "exit", "duration"}
    assert_matches_openapi("POST", "/api/v1/sessions", 200, reply)
