"""A store outage seen from the edge: both faces answer a 503 with ``Retry-After`` while
MongoDB is unreachable, ``/healthz`` reports it, and the next request after the outage
answers again without a restart (faults injected through ``mongo_shim``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.mongo_store import MongoStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from tests.e2e.rest_support import key_header
from tests.integration.mongo_shim import InterleavingClient

UNAVAILABLE = "store unavailable: the database cannot be reached right now; retry in 5 seconds"
SESSIONS_QUERY = {"query": "{ sessions { records { id } } }"}


@dataclass
class Outage:
    client: TestClient[Any, Any]
    mongo: InterleavingClient
    api_key: str


@pytest.fixture
async def outage() -> AsyncIterator[Outage]:
    mongo = InterleavingClient(seed=11)
    store = await MongoStore.open("mongodb://mongomock.invalid/", client=mongo)
    app = init(Settings(access_log=False), store=store)
    try:
        async with TestClient(TestServer(app)) as client:
            created = await app[SERVICE].create_site("Example")
            yield Outage(client, mongo, created.api_key)
    finally:
        await store.close()


async def test_rest_answers_503_with_retry_after_while_the_store_is_unreachable(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    outage.mongo.unreachable = True

    response = await outage.client.post(
        "/api/v1/sessions", headers=key_header(outage.api_key), json={}
    )

    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert await response.json() == {"error": UNAVAILABLE}
    # The reason stays in the server log.
    assert any("injected outage" in r.getMessage() for r in caplog.records)


async def test_graphql_answers_503_in_its_own_shape_while_the_store_is_unreachable(
    outage: Outage,
) -> None:
    outage.mongo.unreachable = True

    response = await outage.client.post(
        "/graphql", headers=key_header(outage.api_key), json=SESSIONS_QUERY
    )

    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert await response.json() == {
        "errors": [{"message": UNAVAILABLE, "extensions": {"code": "STORE_UNAVAILABLE"}}]
    }


async def test_healthz_reports_the_outage(outage: Outage) -> None:
    outage.mongo.unreachable = True

    response = await outage.client.get("/healthz")

    assert response.status == 503
    assert (await response.json())["status"] == "unavailable"


async def test_the_first_request_after_the_outage_answers_without_a_restart(
    outage: Outage,
) -> None:
    outage.mongo.unreachable = True
    refused = await outage.client.post(
        "/api/v1/sessions", headers=key_header(outage.api_key), json={}
    )
    assert refused.status == 503
    outage.mongo.unreachable = False

    rest = await outage.client.post("/api/v1/sessions", headers=key_header(outage.api_key), json={})
    graphql = await outage.client.post(
        "/graphql", headers=key_header(outage.api_key), json=SESSIONS_QUERY
    )
    health = await outage.client.get("/healthz")

    assert (rest.status, graphql.status, health.status) == (200, 200, 200)
    assert (await graphql.json())["data"]["sessions"]["records"] == []
