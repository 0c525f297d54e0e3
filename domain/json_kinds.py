"""How a decoded JSON value is named in error messages, one wording for every face."""

from __future__ import annotations

from collections.abc import Mapping


def json_kind(value: object) -> str:
    """``"an object"``, ``"an array"``, ``"a string"``, ``"a boolean"``, ``"a number"`` or
    ``"null"``: the JSON names, whatever Python type carried the value (GraphQL inputs
    arrive as tuples and mappings too)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, str):
        return "a string"
    # Before the number check: a bool is an int in Python, but not in JSON.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
