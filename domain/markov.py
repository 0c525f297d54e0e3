"""Removal effects of a first-order Markov chain over attribution paths, computed
exactly with absorbing-chain algebra (docs/attribution.md, "data_driven").

States: ``(start)``, one per value, and the two absorbing states ``(conversion)`` and
``(null)``. With ``Q`` the transitions among the transient states (start and values) and
``b`` the one-step probabilities of converting, the probabilities ``x`` of eventually
converting solve ``(I - Q) x = b``. Removing a value ``k`` sends every visit of ``k`` to
``(null)``: row ``k`` of the system becomes ``x_k = 0``. That is a rank-one change of
``I - Q``, so with ``N = (I - Q)^-1`` (the fundamental matrix) one inversion serves every
removal (Sherman-Morrison):

    y = x - b_k * N[:, k]            (the solution with b_k = 0)
    P_k = y_start - N[start, k] * y_k / N[k, k]

``N[k, k]`` (the expected visits of ``k`` starting from ``k``) is at least 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"


@dataclass(frozen=True, slots=True)
class RemovalEffects:
    """``conversion_probability``: P, from ``(start)``; ``effects``: ``1 - P_k / P`` per
    value (0 when P is 0)."""

    conversion_probability: float
    effects: dict[Hashable, float]


def transition_counts(
    paths: Iterable[tuple[Sequence[Hashable], bool]],
) -> Counter[tuple[Hashable, Hashable]]:
    """Counts of ``(from, to)`` over ``(start) -> t1 -> ... -> tn -> (conversion|null)``
    for each ``(path, converted)``; an empty path is skipped."""
    counts: Counter[tuple[Hashable, Hashable]] = Counter()
    for path, converted in paths:
        add_transitions(counts, path, converted)
    return counts


def add_transitions(
    counts: Counter[tuple[Hashable, Hashable]],
    path: Sequence[Hashable],
    converted: bool,
    times: int = 1,
) -> None:
    """Count ``path``'s transitions ``times`` times (``times`` identical paths)."""
    if not path:
        return
    previous: Hashable = START
    for state in path:
        counts[(previous, state)] += times
        previous = state
    counts[(previous, CONVERSION if converted else NULL)] += times


def removal_effects(counts: Counter[tuple[Hashable, Hashable]]) -> RemovalEffects:
    """P and every value's removal effect for a chain given by its transition counts."""
    values = sorted({s for pair in counts for s in pair} - {START, CONVERSION, NULL}, key=repr)
    states: list[Hashable] = [START, *values]
    index = {state: i for i, state in enumerate(states)}
    size = len(states)
    out: Counter[Hashable] = Counter()
    for (origin, _), count in counts.items():
        out[origin] += count
    # A = I - Q, and b.
    a = [[0.0] * size for _ in range(size)]
    b = [0.0] * size
    for i in range(size):
        a[i][i] = 1.0
    for (origin, target), count in counts.items():
        i = index[origin]
        p = count / out[origin]
        if target == CONVERSION:
            b[i] += p
        elif target != NULL:
            a[i][index[target]] -= p
    n = _inverse(a)
    x = [sum(n[i][j] * b[j] for j in range(size)) for i in range(size)]
    p_total = x[0]
    if p_total <= 0.0:
        return RemovalEffects(0.0, dict.fromkeys(values, 0.0))
    effects: dict[Hashable, float] = {}
    for value in values:
        k = index[value]
        y_start = x[0] - b[k] * n[0][k]
        y_k = x[k] - b[k] * n[k][k]
        p_removed = y_start - n[0][k] * y_k / n[k][k]
        # Removing a state never raises P; rounding may make a zero effect negative.
        effects[value] = max(0.0, 1.0 - p_removed / p_total)
    return RemovalEffects(p_total, effects)


def _inverse(matrix: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan with partial pivoting; ``matrix`` must be invertible (``I - Q`` of an
    absorbing chain is)."""
    size = len(matrix)
    rows = [[*row, *(1.0 if i == j else 0.0 for j in range(size))] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col]
        scale = lead[col]
        for j in range(col, 2 * size):
            lead[j] /= scale
        for r in range(size):
            if r != col:
                factor = rows[r][col]
                if factor != 0.0:
                    row = rows[r]
                    for j in range(col, 2 * size):
                        row[j] -= factor * lead[j]
    return [row[size:] for row in rows]
