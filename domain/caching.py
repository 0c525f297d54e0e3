"""A memo for pure functions of short strings, bounded in memory as well as in entries.

``functools.lru_cache`` bounds the number of entries, not their size: a cache of 65,536
entries keyed by URLs and referrers a client chooses can hold gigabytes. Here calls whose
string arguments are longer than ``max_chars`` in all are computed every time and never
kept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import TypeVar, cast

F = TypeVar("F", bound=Callable[..., object])

DEFAULT_MAX_CHARS = 256


def short_string_cache(maxsize: int, max_chars: int = DEFAULT_MAX_CHARS) -> Callable[[F], F]:
    """Memoize a function of positional string (or None) arguments for calls whose
    arguments add up to at most ``max_chars`` characters, at most ``maxsize`` of them
    (least recently used first out)."""

    def decorate(fn: F) -> F:
        cached = lru_cache(maxsize=maxsize)(fn)

        @wraps(fn)
        def call(*args: str | None) -> object:
            # map and filter run in C: this check costs less than the memo it guards.
            if sum(map(len, filter(None, args))) > max_chars:
                return fn(*args)
            return cached(*args)

        # The signature is fn's: ``call`` only chooses between fn and its memo.
        return cast(F, call)

    return decorate
