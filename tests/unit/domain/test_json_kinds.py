from __future__ import annotations

import pytest

from domain.json_kinds import json_kind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"a": 1}, "an object"),
        ([1], "an array"),
        ((1,), "an array"),
        ("x", "a string"),
        (True, "a boolean"),
        (False, "a boolean"),
        (0, "a number"),
        (1.5, "a number"),
        (None, "null"),
    ],
)
def test_decoded_json_values_are_named_with_json_words(value: object, kind: str) -> None:
    assert json_kind(value) == kind
