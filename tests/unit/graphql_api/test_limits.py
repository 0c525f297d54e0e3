"""Each production limit rejects an over-limit document before execution: the store is
never read, so no resolver ran. Each is also shown to let the query just under it pass,
so the tests cannot pass by rejecting everything."""

from __future__ import annotations

from strawberry.extensions import SchemaExtension

from graphql_api import GraphQLSettings, build_schema
from graphql_api.settings import DEFAULT_MAX_ALIASES, DEFAULT_MAX_TOKENS
from tests.unit.graphql_api.fakes import CountingStore, context_for


async def test_a_query_deeper_than_the_depth_limit_is_rejected_unexecuted() -> None:
    schema = build_schema(GraphQLSettings(max_depth=2))
    store = CountingStore()
    context = await context_for(store)

    # sessions > records > conversions: depth 3.
    result = await schema.execute(
        "{ sessions { records { conversions { email } } } }", context_value=context
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == [
        "'anonymous' exceeds maximum operation depth of 2"
    ]
    assert result.data is None
    assert store.reads == 0

    # Depth 2 runs.
    result = await schema.execute("{ sessions { records { id } } }", context_value=context)
    assert result.errors is None
    assert store.reads > 0


async def test_the_depth_limit_counts_through_fragments() -> None:
    schema = build_schema(GraphQLSettings(max_depth=2))
    store = CountingStore()
    query = """
        fragment R on SessionsResult { records { ...C } }
        fragment C on Session { conversions { email } }
        { sessions { ...R } }
    """
    result = await schema.execute(query, context_value=await context_for(store))
    assert result.errors is not None
    assert "exceeds maximum operation depth of 2" in result.errors[0].message
    assert store.reads == 0


async def test_a_document_over_the_token_limit_is_rejected_before_parsing_ends() -> None:
    schema = build_schema()
    store = CountingStore()
    context = await context_for(store)

    def query(fields: int) -> str:
        # 8 tokens ("{ sessions { records {" and "} } }") plus one per field.
        return "{ sessions { records { " + "id " * fields + "} } }"

    # 8 + 993 = 1001 tokens.
    result = await schema.execute(query(DEFAULT_MAX_TOKENS - 7), context_value=context)
    assert result.errors is not None
    assert [e.message for e in result.errors] == [
        f"Syntax Error: Document contains more than {DEFAULT_MAX_TOKENS} tokens. Parsing aborted."
    ]
    assert store.reads == 0

    # Exactly at a limit runs. (Shown with a small limit: a thousand repeated fields trip
    # graphql-core's own budget for checking overlapping fields.)
    small = build_schema(GraphQLSettings(max_tokens=20))
    result = await small.execute(query(20 - 8), context_value=context)
    assert result.errors is None
    assert store.reads > 0
    result = await small.execute(query(20 - 7), context_value=context)
    assert result.errors is not None
    assert "more than 20 tokens" in result.errors[0].message


async def test_a_document_with_too_many_aliases_is_rejected_unexecuted() -> None:
    schema = build_schema()
    store = CountingStore()
    context = await context_for(store)

    def query(aliases: int) -> str:
        return (
            "{ " + " ".join(f"s{i}: sessions {{ records {{ id }} }}" for i in range(aliases)) + " }"
        )

    result = await schema.execute(query(DEFAULT_MAX_ALIASES + 1), context_value=context)
    assert result.errors is not None
    assert [e.message for e in result.errors] == [
        f"{DEFAULT_MAX_ALIASES + 1} aliases found. Allowed: {DEFAULT_MAX_ALIASES}"
    ]
    assert store.reads == 0

    result = await schema.execute(query(DEFAULT_MAX_ALIASES), context_value=context)
    assert result.errors is None
    assert store.reads > 0


def test_extensions_are_classes_or_factories_so_no_request_shares_an_instance() -> None:
    for settings in (GraphQLSettings(), GraphQLSettings(introspection=True)):
        extensions = build_schema(settings).extensions
        assert extensions
        assert not any(isinstance(e, SchemaExtension) for e in extensions)
        # Each call makes a new instance.
        assert all(e() is not e() for e in extensions)
