"""Typed forms of strawberry's field decorators.

Given arguments, ``strawberry.field`` and ``strawberry.mutation`` are typed as returning
``Any``, which strict mypy rejects as an untyped decorator; these keep the resolver's
signature visible to the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import strawberry

_F = TypeVar("_F", bound=Callable[..., object])


def field(description: str) -> Callable[[_F], _F]:
    return cast("Callable[[_F], _F]", strawberry.field(description=description))


def mutation(description: str) -> Callable[[_F], _F]:
    return cast("Callable[[_F], _F]", strawberry.mutation(description=description))
