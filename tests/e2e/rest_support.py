"""Shared by the REST end-to-end suites: event builders, request helpers and the
hand-worked "journeys" dataset.

The journeys dataset (all July sessions are closed at the fixed NOW, 2025-08-01T12:00Z;
every URL on https://example.com; paths after normalization):

| id | start 2025- | arrives via           | path                                  | converts on  |
|----|-------------|-----------------------|---------------------------------------|--------------|
| E1 | 07-05 10:00 | bing.com organic      | /blog                                 | -            |
| E2 | 07-06 10:00 | direct                | /features /pricing                    | -            |
| E3 | 07-07 10:00 | direct                | /pricing /signup                      | /signup (1)  |
| A1 | 07-10 10:00 | google.com organic    | /home /pricing                        | -            |
| B1 | 07-11 08:00 | google.com organic    | /pricing                              | /pricing (2) |
| A2 | 07-12 09:00 | utm newsletter/email  | /blog /pricing /signup /thank-you (4) | /signup      |
| C1 | 07-15 12:00 | l.facebook.com social | /features                             | -            |
| C2 | 07-16 12:00 | direct                | /home /pricing /signup                | /signup (3)  |
| A3 | 07-20 15:00 | google.com organic    | /home /features                       | -            |
| D1 | 08-01 11:50 | direct                | / /pricing (5)                        | -            |

(1) html_form "contact", no email. (2) its landing page. (3) hubspot_form "form-7".
(4) exit event on /thank-you. (5) still open at NOW.

Visitor journeys (first session, first converting session): A (A1, A2), B (B1, B1),
C (C1, C2), E (E1, E3), D (D1, none).
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from domain.services import AttributionService

SITE = "https://example.com"
GOOGLE = "https://www.google.com/"
JsonDict = dict[str, Any]


def pageview(visitor: str, timestamp: str, path: str, referrer: str | None = None) -> JsonDict:
    event: JsonDict = {
        "type": "pageview",
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": SITE + path,
    }
    if referrer is not None:
        event["referrer"] = referrer
    return event


def conversion(
    visitor: str,
    timestamp: str,
    path: str,
    *,
    email: str | None = None,
    meta_type: str | None = None,
    meta_id: str | None = None,
) -> JsonDict:
    event: JsonDict = {
        "type": "conversion",
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": SITE + path,
    }
    for name, value in (("email", email), ("meta_type", meta_type), ("meta_id", meta_id)):
        if value is not None:
            event[name] = value
    return event


def exit_(visitor: str, timestamp: str, path: str) -> JsonDict:
    return {"type": "exit", "visitor_id": visitor, "timestamp": timestamp, "url": SITE + path}


JOURNEYS: list[JsonDict] = [
    # E: three sessions, converting on the third; E2 is its only assist session.
    pageview("E", "2025-07-05T10:00:00Z", "/blog", "https://www.bing.com/"),
    exit_("E", "2025-07-05T10:01:00Z", "/blog"),
    pageview("E", "2025-07-06T10:00:00Z", "/features/"),
    pageview("E", "2025-07-06T10:01:00Z", "/pricing?ref=nav"),
    exit_("E", "2025-07-06T10:02:00Z", "/pricing"),
    pageview("E", "2025-07-07T10:00:00Z", "/pricing"),
    conversion("E", "2025-07-07T10:05:00Z", "/signup", meta_type="html_form", meta_id="contact"),
    # A: drops off, converts in the next session, comes back once more.
    pageview("A", "2025-07-10T10:00:00Z", "/home", GOOGLE),
    pageview("A", "2025-07-10T10:05:00Z", "/pricing"),
    exit_("A", "2025-07-10T10:06:00Z", "/pricing"),
    pageview(
        "A",
        "2025-07-12T09:00:00Z",
        "/blog?utm_source=newsletter&utm_medium=email&utm_campaign=july_news",
    ),
    pageview("A", "2025-07-12T09:02:00Z", "/pricing"),
    conversion("A", "2025-07-12T09:04:00Z", "/signup", email="a@example.org"),
    exit_("A", "2025-07-12T09:05:00Z", "/thank-you"),
    pageview("A", "2025-07-20T15:00:00Z", "/home", GOOGLE),
    pageview("A", "2025-07-20T15:01:00Z", "/features"),
    exit_("A", "2025-07-20T15:03:00Z", "/features"),
    # B: converts on its landing page in its only session.
    pageview("B", "2025-07-11T08:00:00Z", "/pricing", "https://www.google.com/search?q=x"),
    conversion("B", "2025-07-11T08:03:00Z", "/pricing", email="b@example.org"),
    # C: bounces, then converts on a HubSpot form the next day.
    pageview("C", "2025-07-15T12:00:00Z", "/features", "https://l.facebook.com/"),
    exit_("C", "2025-07-15T12:00:30Z", "/features"),
    pageview("C", "2025-07-16T12:00:00Z", "/home"),
    pageview("C", "2025-07-16T12:01:00Z", "/pricing"),
    pageview("C", "2025-07-16T12:02:00Z", "/signup"),
    conversion(
        "C",
        "2025-07-16T12:03:00Z",
        "/signup",
        email="c@example.org",
        meta_type="hubspot_form",
        meta_id="form-7",
    ),
    # D: still browsing at NOW (2025-08-01T12:00Z): open, so no exit yet.
    pageview("D", "2025-08-01T11:50:00Z", "/"),
    pageview("D", "2025-08-01T11:55:00Z", "/pricing"),
]

# The session of the docs' "Filter by Specific Campaign" example.
SUMMER_SALE: list[JsonDict] = [
    pageview(
        "F",
        "2025-07-18T09:00:00Z",
        "/landing?utm_source=facebook&utm_medium=cpc&utm_campaign=summer_sale"
        "&utm_content=video_ad&utm_term=bathing+suits",
        "https://l.facebook.com/",
    ),
    pageview("F", "2025-07-18T09:04:00Z", "/pricing"),
    exit_("F", "2025-07-18T09:10:00Z", "/pricing"),
]

# Session starts of the datasets, by session name, as the REST records spell them.
START = {
    "E1": "2025-07-05T10:00:00Z",
    "E2": "2025-07-06T10:00:00Z",
    "E3": "2025-07-07T10:00:00Z",
    "A1": "2025-07-10T10:00:00Z",
    "B1": "2025-07-11T08:00:00Z",
    "A2": "2025-07-12T09:00:00Z",
    "C1": "2025-07-15T12:00:00Z",
    "C2": "2025-07-16T12:00:00Z",
    "F1": "2025-07-18T09:00:00Z",
    "A3": "2025-07-20T15:00:00Z",
    "D1": "2025-08-01T11:50:00Z",
}


async def seed(service: AttributionService, site_id: str, events: list[JsonDict]) -> None:
    report = await service.ingest(site_id, events)
    assert report.rejected == (), report.rejected
    assert report.accepted == len(events)


def key_header(api_key: str) -> dict[str, str]:
    """The header exactly as the reference docs show it."""
    return {"Authentication": api_key}


def bearer_header(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def post_json(
    client: TestClient[Any, Any],
    path: str,
    api_key: str | None,
    body: object = None,
    *,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST ``body`` as JSON (no body when None); the status and the decoded reply."""
    headers = key_header(api_key) if api_key is not None else {}
    response: ClientResponse
    if body is None:
        response = await client.post(path, headers=headers, params=params)
    else:
        response = await client.post(path, headers=headers, params=params, json=body)
    assert response.content_type == "application/json"
    return response.status, await response.json()


def starts(reply: JsonDict) -> list[str]:
    """The session starts of a /sessions reply, in the order served."""
    return [record["timestamp"] for record in reply.get("records", [])]


def names(reply: JsonDict) -> list[str]:
    """The session names (keys of START) of a /sessions reply, in the order served."""
    by_start = {start: name for name, start in START.items()}
    return [by_start[start] for start in starts(reply)]


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    """The JSON schema the committed OpenAPI document gives for one response, made
    self-contained so that its ``#/components/...`` references resolve."""
    from rest_compat import openapi_document

    document = openapi_document()
    operation = document["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    if "$ref" in response:  # a response shared by several operations
        response = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def assert_matches_openapi(method: str, path: str, status: int, body: object) -> None:
    from openapi_schema_validator import OAS31Validator, oas31_format_checker

    schema = response_schema(method, path, status)
    OAS31Validator(schema, format_checker=oas31_format_checker).validate(body)
