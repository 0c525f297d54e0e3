"""The memo of pure string functions: short arguments are remembered, long ones never."""

from __future__ import annotations

from collections.abc import Callable

from domain.caching import short_string_cache


def counting() -> tuple[list[str], Callable[[str], str]]:
    calls: list[str] = []

    @short_string_cache(maxsize=2, max_chars=10)
    def upper(text: str) -> str:
        calls.append(text)
        return text.upper()

    return calls, upper


def test_a_short_argument_is_computed_once() -> None:
    calls, upper = counting()

    assert upper("abc") == upper("abc") == "ABC"
    assert calls == ["abc"]


def test_a_long_argument_is_computed_every_time_and_not_kept() -> None:
    calls, upper = counting()
    long = "x" * 11

    assert upper(long) == upper(long) == long.upper()
    assert calls == [long, long]


def test_the_memo_keeps_at_most_maxsize_entries() -> None:
    calls, upper = counting()
    for text in ("a", "b", "c", "a"):
        upper(text)

    # "a" was the least recently used when "c" came in: computed again.
    assert calls == ["a", "b", "c", "a"]
