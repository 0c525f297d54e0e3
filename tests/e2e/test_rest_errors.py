"""REST errors (docs/concepts.md, "Errors"), one test per case: JSON errors naming the
parameter, the same 401 for every kind of bad key, JSON 404/405/413, and never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import hdrs

from attributionhub.config import Settings
from tests.e2e.conftest import Running
from tests.e2e.rest_support import JOURNEYS, key_header, post_json, seed

MAX_BODY = 4096
READS = ["/api/v1/sessions", "/api/v1/pages"]


@pytest.fixture
def settings() -> Settings:
    # A small body limit, so that 413 is cheap to reach.
    return Settings(access_log=False, max_body_bytes=MAX_BODY)


@pytest.fixture
async def key(running: Running) -> str:
    # No data needed: every check here happens before the store is asked anything.
    return (await running.new_site()).api_key


async def error_of(
    running: Running,
    path: str,
    key: str | None,
    body: object = None,
    *,
    params: dict[str, str] | None = None,
) -> tuple[int, str]:
    status, reply = await post_json(running.client, path, key, body, params=params)
    assert list(reply) == ["error"], reply
    message: str = reply["error"]
    return status, message


# --- 400: dates ----------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("value", ["2025-02-30", "July 1st", "2025-07-01T25:00Z"])
async def test_malformed_date_is_400_naming_the_parameter_and_the_expected_format(
    running: Running, key: str, path: str, name: str, value: str
) -> None:
    status, message = await error_of(running, path, key, {name: value})
    assert status == 400
    assert message.startswith(f"{name}: expected YYYY-MM-DD or an ISO 8601 date-time")
    assert repr(value) in message


async def test_malformed_date_in_the_query_string_is_400(running: Running, key: str) -> None:
    status, message = await error_of(
        running, "/api/v1/sessions", key, params={"start_date": "2025-13-01"}
    )
    assert status == 400
    assert message == (
        "start_date: expected YYYY-MM-DD or an ISO 8601 date-time, got '2025-13-01': "
        "no month 13 (months are 01-12)"
    )


@pytest.mark.parametrize("path", READS)
async def test_start_date_after_end_date_is_400(running: Running, key: str, path: str) -> None:
    status, message = await error_of(
        running, path, key, {"start_date": "2025-07-31", "end_date": "2025-07-01"}
    )
    assert status == 400
    assert message.startswith("start_date: must not be after end_date")
    assert "'2025-07-31'" in message
    assert "'2025-07-01'" in message


# --- 400: unknown parameters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "misspelt", "suggestion"),
    [
        ("/api/v1/sessions", "soruce", "source"),
        ("/api/v1/sessions", "landing_pgae", "landing_page"),
        ("/api/v1/sessions", "startdate", "start_date"),
        ("/api/v1/pages", "touchscope", "touch_scope"),
        ("/api/v1/pages", "meta_typ", "meta_type"),
    ],
)
async def test_misspelt_parameter_is_400_suggesting_the_closest_known_name(
    running: Running, key: str, path: str, misspelt: str, suggestion: str
) -> None:
    status, message = await error_of(running, path, key, {misspelt: "x"})
    assert status == 400
    assert message.startswith(f"{misspelt}: unknown parameter; did you mean {suggestion!r}?")


async def test_unknown_query_string_parameter_is_400_too(running: Running, key: str) -> None:
    status, message = await error_of(
        running, "/api/v1/sessions", key, params={"campain": "summer_sale"}
    )
    assert status == 400
    assert message.startswith("campain: unknown parameter; did you mean 'campaign'?")


async def test_parameter_of_the_other_endpoint_is_unknown(running: Running, key: str) -> None:
    status, message = await error_of(running, "/api/v1/sessions", key, {"touch_scope": "first"})
    assert status == 400
    assert message.startswith("touch_scope: unknown parameter")


# --- 400: types -----------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"$ne": None}, "an object"),
        (["google.com"], "an array"),
        (1, "a number"),
        (True, "a boolean"),
    ],
)
async def test_non_string_filter_value_is_400(
    running: Running, key: str, path: str, value: object, kind: str
) -> None:
    status, message = await error_of(running, path, key, {"source": value})
    assert (status, message) == (400, f"source: expected a string, got {kind}")


@pytest.mark.parametrize("page", [0, -1, 1.5, "abc", "1e3", " 2", True, {"$gt": 1}])
async def test_bad_page_is_400(running: Running, key: str, page: object) -> None:
    status, message = await error_of(running, "/api/v1/sessions", key, {"page": page})
    assert status == 400
    assert message.startswith("page: expected an integer >= 1, got ")


async def test_bad_page_in_the_query_string_is_400(running: Running, key: str) -> None:
    status, message = await error_of(running, "/api/v1/sessions", key, params={"page": "-2"})
    assert (status, message) == (400, "page: expected an integer >= 1, got '-2'")


@pytest.mark.parametrize("scope", ["everything", "FIRST", "converted"])
async def test_bad_touch_scope_is_400_listing_the_scopes(
    running: Running, key: str, scope: str
) -> None:
    status, message = await error_of(running, "/api/v1/pages", key, {"touch_scope": scope})
    assert status == 400
    assert message == (
        f"touch_scope: expected one of any, first, converting, assist, after, got {scope!r}"
    )


# --- 400: the body ----------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
async def test_docs_example_with_its_trailing_comma_is_400_saying_where(
    running: Running, key: str, path: str
) -> None:
    # Exactly the body of the docs' time-window example, trailing comma included.
    body = b'{\n "start_date": "2025-07-15",\n "end_date": "2025-07-30",\n}'
    response = await running.client.post(
        path, data=body, headers={**key_header(key), "Content-Type": "application/json"}
    )
    assert response.status == 400
    # Line 3 is ` "end_date": "2025-07-30",`; its comma is column 26.
    assert await response.json() == {
        "error": "body: invalid JSON at line 3, column 26: trailing comma is not allowed"
    }


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"source": google.com}', "line 1, column 12"),
        (b'{"source": "google.com"', "line 1, column 24"),
        (b"{'source': 'x'}", "line 1, column 2"),
    ],
)
async def test_invalid_json_is_400_with_line_and_column(
    running: Running, key: str, raw: bytes, where: str
) -> None:
    response = await running.client.post(
        "/api/v1/sessions",
        data=raw,
        headers={**key_header(key), "Content-Type": "application/json"},
    )
    assert response.status == 400
    message = (await response.json())["error"]
    assert message.startswith(f"body: invalid JSON at {where}: ")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[]", "an array"), (b'"source"', "a string"), (b"42", "a number"), (b"null", "null")],
)
async def test_body_that_is_not_an_object_is_400(
    running: Running, key: str, raw: bytes, kind: str
) -> None:
    response = await running.client.post(
        "/api/v1/pages", data=raw, headers={**key_header(key), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert await response.json() == {"error": f"body: expected a JSON object, got {kind}"}


async def test_empty_body_counts_as_an_empty_object(running: Running) -> None:
    new = await running.new_site()
    await seed(running.service, new.site.site_id, JOURNEYS)
    key = new.api_key
    response = await running.client.post(
        "/api/v1/sessions",
        data=b"",
        headers={**key_header(key), "Content-Type": "application/json"},
    )
    assert response.status == 200
    assert (await response.json())["pagination"]["total_records"] == 10


# --- 401 -----------------------------------------------------------------------------


async def test_every_kind_of_bad_key_gets_the_same_401_on_every_endpoint(
    running: Running, key: str
) -> None:
    other = await running.new_site("Other")
    attempts: list[dict[str, str]] = [
        {},  # missing
        {"Authentication": ""},
        {"Authentication": "   "},
        {"Authorization": "Bearer"},  # malformed
        {"Authorization": "Basic " + key},
        {"Authorization": key},
        {"Authentication": "ahk_" + "x" * 43},  # unknown, well-formed
        {"Authentication": key[:-1]},
        {"Authentication": key + "x"},
        {"Authentication": "k" * 5000},  # over any issued key, under the header limit
        {"Authentication": other.tracker_token},  # another site's public token
        {"Authorization": f"Bearer {other.tracker_token}"},
    ]
    replies: set[tuple[int, bytes, str | None]] = set()
    for path in [*READS, "/api/v1/events"]:
        for headers in attempts:
            response = await running.client.post(path, headers=headers, json={"events": []})
            replies.add(
                (
                    response.status,
                    await response.read(),
                    response.headers.get(hdrs.WWW_AUTHENTICATE),
                )
            )
    assert len(replies) == 1
    ((status, body, _),) = replies
    assert status == 401
    assert body.startswith(b'{"error":"unauthorized: ')


async def test_401_comes_before_any_look_at_the_body(running: Running) -> None:
    response = await running.client.post(
        "/api/v1/sessions", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 401


# --- 404 / 405 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/session"),
        ("GET", "/api/v2/sessions"),
        ("POST", "/nope/"),
        ("GET", "/nope"),
    ],
)
async def test_unknown_path_is_a_json_404(running: Running, method: str, path: str) -> None:
    response = await running.client.request(method, path)
    assert response.status == 404
    assert response.content_type == "application/json"
    assert await response.json() == {"error": f"not found: no endpoint at {path}"}


@pytest.mark.parametrize("path", [*READS, "/api/v1/events"])
async def test_wrong_method_is_a_json_405_with_allow(running: Running, path: str) -> None:
    response = await running.client.get(path)
    assert response.status == 405
    assert response.headers[hdrs.ALLOW] == "POST"
    assert await response.json() == {"error": f"method not allowed: GET {path} accepts POST"}


# --- 413 -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*READS, "/api/v1/events"])
async def test_body_over_the_limit_is_a_json_413(running: Running, key: str, path: str) -> None:
    body = {"source": "x" * MAX_BODY}
    status, message = await error_of(running, path, key, body)
    assert (status, message) == (413, f"body: too large, expected at most {MAX_BODY} bytes")


async def test_chunked_body_over_the_limit_is_a_json_413(running: Running, key: str) -> None:
    async def chunks() -> Any:
        for _ in range(4):
            yield b" " * 2048

    response = await running.client.post("/api/v1/sessions", data=chunks(), headers=key_header(key))
    assert response.status == 413
    assert await response.json() == {"error": f"body: too large, expected at most {MAX_BODY} bytes"}


# --- never a 500 -----------------------------------------------------------------------

NASTY_BODIES: list[bytes] = [
    b"[" * 5000,
    b'{"source": "\\ud800"}',
    b'{"source": "\\u0000"}',
    b'{"page": 1e400}',
    b'{"page": 123456789012345678901234567890}',
    b'{"page": "99999999999999999999999999999999999999"}',
    b'{"start_date": "9999-12-31T23:59:59-23:59"}',
    b'{"start_date": "0001-01-01T00:00:00+23:59"}',
    b'{"end_date": "0001-01-01"}',
    b'{"landing_page": "http://[::1"}',
    b'{"landing_page": "javascript:alert(1)"}',
    b'{"landing_page": "https://xn--/"}',
    b'{"source": "' + "é".encode() * 1000 + b'"}',
    b'{"": ""}',
    b'{"source": "a", "source": {"$ne": null}}',
    b"\xef\xbb\xbf{}",  # a byte-order mark
    b"\x00",
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("raw", NASTY_BODIES, ids=range(len(NASTY_BODIES)))
async def test_hostile_bodies_never_get_a_500(
    running: Running, key: str, path: str, raw: bytes
) -> None:
    response = await running.client.post(
        path, data=raw, headers={**key_header(key), "Content-Type": "application/json"}
    )
    assert response.status < 500
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    "query",
    [
        "source=%FF%FE",
        "source=%00",
        "start_date=2025-07-01T10:00:00+02:00",  # '+' arrives as a space
        "page=%F0%9F%98%80",
        "source=a&source=b",
        "landing_page=https%3A%2F%2F%5B%3A%3A1",
        "%FF=1",
    ],
)
@pytest.mark.parametrize("path", READS)
async def test_hostile_query_strings_never_get_a_500(
    running: Running, key: str, path: str, query: str
) -> None:
    response = await running.client.post(f"{path}?{query}", headers=key_header(key))
    assert response.status < 500
    assert response.content_type == "application/json"
