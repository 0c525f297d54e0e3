"""Schemathesis against the running service: every operation of the committed OpenAPI
document, every check schemathesis has, on requests it generates from the document.

The service runs on a loopback port in a thread of its own (schemathesis sends its
requests synchronously), over a temporary SQLite store holding one site with the journeys
dataset, with the e2e suites' fixed clock. The run is bounded and deterministic:
``derandomize`` seeds Hypothesis from the test itself, no example database is read or
written, and each operation gets a modest number of examples.

What a failure means: the document promises something the server does not do (fix the
document, or the server), unless it is one of the EXCLUSIONS below, each of which says why
it is no disagreement or which known server bug it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from openapi_schema_validator import OAS31Validator
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.openapi.checks import RejectedPositiveData

from adapters.clock import FixedClock
from adapters.sqlite import SqliteStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from domain.events import MAX_FUTURE_SKEW
from rest_compat import openapi_document
from tests.e2e.conftest import NOW
from tests.e2e.rest_support import JOURNEYS, seed

T = TypeVar("T")

START_TIMEOUT = 30.0
EXAMPLES_PER_OPERATION = 25

DOCUMENT = openapi_document()
READS = ("/api/v1/sessions", "/api/v1/conversions", "/api/v1/pages", "/api/v1/attribution")
# Reads whose window ends now when end_date is not given.
WINDOWS_TO_NOW = ("/api/v1/pages", "/api/v1/attribution")
INGESTION = ("/api/v1/events", "/collect")

# Every check is on (schemathesis' default); only what a rejection may look like is
# widened: 413 is how the document rejects a batch over maxItems (10,000 events, 50 on
# /collect), refusing the request whole as it should.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "404", "405", "413", "429"],
            },
        },
    }
)


# --- the served application -------------------------------------------------------------


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


@dataclass(frozen=True)
class Live:
    base_url: str
    credentials: Credentials


class ServedApp:
    """The real application on 127.0.0.1, served by an event loop in its own thread."""

    def __init__(self, store_path: Path) -> None:
        self._store_path = store_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._store: SqliteStore | None = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT)

    def start(self) -> Live:
        self._thread.start()
        return self._run(self._start())

    async def _start(self) -> Live:
        self._store = await SqliteStore.open(self._store_path)
        app = init(Settings(access_log=False), store=self._store, clock=FixedClock(NOW))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        service = app[SERVICE]
        new = await service.create_site("Conformance")
        await seed(service, new.site.site_id, JOURNEYS)
        return Live(f"http://{host}:{port}", Credentials(new.api_key, new.tracker_token))

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


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    served = ServedApp(tmp_path_factory.mktemp("conformance") / "store.db")
    started = served.start()
    try:
        yield started
    finally:
        served.stop()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server of its own for the erasures: a generated visitor id or email may name
    seeded data, which the other operations' examples rely on."""
    served = ServedApp(tmp_path_factory.mktemp("erasures") / "store.db")
    started = served.start()
    try:
        yield started
    finally:
        served.stop()


def erases(case: schemathesis.Case) -> bool:
    return case.method.upper() == "DELETE" or case.path == "/api/v1/erasures"


# --- reading what a request sent ----------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A request as it went over the wire (what the server read), not as generated: a
    generated value that serializes to nothing, or to something else, counts as sent."""

    path: str
    query: dict[str, str]
    body: object  # decoded JSON; None when there was no body or it was not JSON

    @classmethod
    def of(cls, case: schemathesis.Case, response: schemathesis.Response) -> Sent:
        request = response.request
        query = dict(parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True))
        raw = request.body
        body: object = None
        if raw:
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        return cls(case.path, query, body)

    def parameters(self) -> dict[str, Any]:
        """The one set of parameters a read endpoint acts on: the query string overlaid
        with the body's given values (docs/decisions.md, "Reads"); just the query string
        when the body is no object."""
        merged: dict[str, Any] = dict(self.query)
        if isinstance(self.body, dict):
            for name, value in self.body.items():
                if name in merged and value in ("", None):
                    continue
                merged[name] = value
        return merged

    def events(self) -> list[dict[str, Any]]:
        """The events of an ingestion request that are objects (the rest are rejected
        alone)."""
        body = self.body
        if self.path not in INGESTION or not isinstance(body, dict):
            return []
        events = body.get("events", [body]) if self.path == "/collect" else body.get("events")
        if not isinstance(events, list):
            return []
        return [event for event in events if isinstance(event, dict)]


_LONG_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


def _instant(value: object, *, end: bool = False) -> datetime | None:
    """The UTC instant a documented date or date-time spelling names (a calendar date:
    its first or, as an end, its last instant). None when it names none: not a date, or
    outside the years 1-9999 once shifted to UTC."""
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


def _leaves_the_calendar(value: object) -> bool:
    """A date-time whose instant leaves the years 1-9999 once shifted to UTC."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.upper()).astimezone(UTC)
    except OverflowError:
        return True
    except ValueError:
        return False
    return False


# --- EXCLUSIONS ---------------------------------------------------------------------------
#
# Each drops one kind of failure, and only it. Two kinds:
# - rules the document states in words because JSON Schema has no way to state them;
# - KNOWN SERVER BUGs outside the REST layer, to be removed with their fix (each says
#   which request fails, how, and what it should do instead).
# A failure no exclusion recognises fails the test.


@dataclass(frozen=True)
class Exclusion:
    name: str
    applies: Callable[[Failure, Sent], bool]


def _window_reversed(failure: Failure, sent: Sent) -> bool:
    # start_date after end_date (or, on /pages and /attribution without end_date, after
    # now) is a 400 by
    # design: JSON Schema cannot compare two values, nor a value with the clock.
    if not isinstance(failure, RejectedPositiveData) or sent.path not in READS:
        return False
    parameters = sent.parameters()
    start = _instant(parameters.get("start_date"))
    end = _instant(parameters.get("end_date"), end=True)
    if sent.path in WINDOWS_TO_NOW and not parameters.get("end_date"):
        end = NOW  # the default end of the window
    return start is not None and end is not None and start > end


def _bound_outside_the_calendar(failure: Failure, sent: Sent) -> bool:
    # A date-time whose instant leaves the years 1-9999 once shifted to UTC
    # ("0001-01-01T00:00:00+05:00") is a 400: the document says so in words, as a
    # pattern cannot.
    if not isinstance(failure, RejectedPositiveData) or sent.path not in READS:
        return False
    parameters = sent.parameters()
    return any(_leaves_the_calendar(parameters.get(name)) for name in ("start_date", "end_date"))


def _model_named_twice(failure: Failure, sent: Sent) -> bool:
    # models as a comma-separated string names each model at most once: said in words,
    # as a pattern cannot (the list form says it with uniqueItems).
    if not isinstance(failure, RejectedPositiveData) or sent.path != "/api/v1/attribution":
        return False
    models = sent.parameters().get("models")
    if not isinstance(models, str):
        return False
    names = [name.strip() for name in models.split(",")]
    return len(names) != len(set(names))


def _query_value_overridden_by_the_body(failure: Failure, sent: Sent) -> bool:
    # The body wins over the query string, name by name (docs/decisions.md, "Reads"): a
    # query value the body overrides is never read, so a request whose only invalid part
    # was overridden is valid as the server reads it. JSON Schema cannot say "ignored
    # when"; checked by validating what the server reads against the body's schema.
    if not isinstance(failure, AcceptedNegativeData) or sent.path not in READS:
        return False
    content = DOCUMENT["paths"][sent.path]["post"]["requestBody"]["content"]
    schema = {**content["application/json"]["schema"], "components": DOCUMENT["components"]}
    return bool(sent.query) and OAS31Validator(schema).is_valid(sent.parameters())


def _minus_days(instant: datetime, days: int) -> datetime | None:
    """``instant`` less ``days`` days; None before the year 1."""
    try:
        return instant - timedelta(days=days)
    except OverflowError:
        return None


EXCLUSIONS = (
    Exclusion("the window runs backwards", _window_reversed),
    Exclusion("a date-time outside years 1-9999 in UTC", _bound_outside_the_calendar),
    Exclusion("a query value overridden by the body", _query_value_overridden_by_the_body),
    Exclusion("a model named twice in a comma-separated list", _model_named_twice),
)


def keep_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    sent = Sent.of(case, response)
    return not any(exclusion.applies(failure, sent) for exclusion in EXCLUSIONS)


# --- the document, everything it promises -------------------------------------------------

schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.hook("filter_failure")(keep_failure)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    # The module-scoped server is shared by every example on purpose: starting one per
    # example would make the run minutes long.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_server_keeps_every_promise_of_its_openapi_document(
    case: schemathesis.Case, live: Live, scratch: Live
) -> None:
    served = scratch if erases(case) else live
    case.call_and_validate(base_url=served.base_url, **served.credentials.for_call(case.path))


# --- the documented event format ----------------------------------------------------------
#
# The document lets an event item be anything (a malformed event is rejected alone, in a
# 200), so the run above mostly sends arbitrary JSON as events. This one narrows every
# item to the documented Event (CollectEvent for /collect) and holds the server to what
# the document says of those: each is stored, or counted as a duplicate or a bot; none is
# rejected.


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _events_as_documented() -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    schemas = document["components"]["schemas"]
    schemas["EventsRequest"]["properties"]["events"]["items"] = _ref("Event")
    batch, single = schemas["CollectRequest"]["oneOf"]
    batch["properties"]["events"]["items"] = _ref("CollectEvent")
    single["anyOf"] = [_ref("CollectEvent")]
    # An empty body is allowed too, as one empty (so rejected) event.
    document["paths"]["/collect"]["post"]["requestBody"]["required"] = True
    return document


def _stamped_too_late(sent: Sent, event: dict[str, Any]) -> bool:
    """Rejected by a rule the document states in words (JSON Schema cannot compare with
    the clock): stamped more than 10 minutes after the server's clock. /collect stamps
    events itself."""
    instant = _instant(event.get("timestamp"))
    return sent.path != "/collect" and instant is not None and instant > NOW + MAX_FUTURE_SKEW


def every_documented_event_is_taken(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    if response.status_code != 200:
        return
    sent = Sent.of(case, response)
    events = sent.events()
    unexpected = [
        rejection
        for rejection in response.json()["rejected"]
        if not _stamped_too_late(sent, events[rejection["index"]])
    ]
    assert not unexpected, f"events the document describes were rejected: {unexpected}"


event_schema = schemathesis.openapi.from_dict(
    _events_as_documented(),
    config=schemathesis.Config.from_dict({"generation": {"mode": "positive"}}),
).include(path_regex="^/(api/v1/events|collect)$", method="POST")
event_schema.hook("filter_failure")(keep_failure)


@event_schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    # As above: one server for the module.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_event_the_document_describes_is_stored(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.base_url,
        additional_checks=[every_documented_event_is_taken],
        **live.credentials.for_call(case.path),
    )
