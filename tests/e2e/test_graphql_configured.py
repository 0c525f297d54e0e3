"""/graphql as ``serve --demo`` configures it: GraphiQL and introspection on.
Off by default is covered in ``test_graphql_api``."""

from __future__ import annotations

import pytest
from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from attributionhub.config import Settings
from graphql_api.export_schema import SCHEMA_FILE
from tests.e2e.conftest import Running
from tests.e2e.graphql_support import graphql, graphql_data


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False, graphql_ide=True, graphql_introspection=True)


async def test_introspection_answers_the_full_query_graphiql_sends(running: Running) -> None:
    new = await running.new_site()
    # The richest standard introspection query must fit the depth, token and alias limits.
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    data = await graphql_data(running.client, new.api_key, query)
    served = lexicographic_sort_schema(build_client_schema(data))  # type: ignore[arg-type]
    committed = lexicographic_sort_schema(build_schema(SCHEMA_FILE.read_text(encoding="utf-8")))
    assert print_schema(served) == print_schema(committed)


async def test_introspection_still_needs_an_api_key(running: Running) -> None:
    status, body = await graphql(running.client, None, "{ __schema { types { name } } }")
    assert status == 401
    assert "data" not in body


async def test_graphiql_is_served_to_browsers(running: Running) -> None:
    response = await running.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "graphiql" in (await response.text()).lower()


async def test_get_queries_stay_refused_with_the_ide_on(running: Running) -> None:
    new = await running.new_site()
    response = await running.client.get(
        "/graphql",
        params={"query": "{ site { id } }"},
        headers={"Authentication": new.api_key, "Accept": "application/json"},
    )
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert "data" not in await response.json()


async def test_recursive_introspection_is_still_cut(running: Running) -> None:
    new = await running.new_site()
    # type > fields > type > fields ...: graphql-core's own introspection depth rule
    # (the operation depth limit leaves introspection fields to it).
    deep = "name"
    for _ in range(7):
        deep = f"fields {{ type {{ {deep} }} }}"
    status, body = await graphql(
        running.client, new.api_key, f'{{ __type(name: "Session") {{ {deep} }} }}'
    )
    assert status == 200
    [error] = body["errors"]
    assert error["message"] == "Maximum introspection depth exceeded"
    assert body.get("data") is None
