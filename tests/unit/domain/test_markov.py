"""The Markov removal effects against a hand solution and an independent computation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.markov import CONVERSION, NULL, START, removal_effects, transition_counts


def test_a_two_state_chain_solved_by_hand() -> None:
    # Paths: A B -> conv, A -> null, B -> conv.
    # P = 2/3 * 1/2 + 1/3 * 1 = 2/3; without A: 1/3 (effect 1/2); without B: 0 (effect 1).
    counts = transition_counts([(["A", "B"], True), (["A"], False), (["B"], True)])
    assert counts == Counter(
        {(START, "A"): 2, (START, "B"): 1, ("A", "B"): 1, ("A", NULL): 1, ("B", CONVERSION): 2}
    )
    found = removal_effects(counts)
    assert found.conversion_probability == pytest.approx(2 / 3, abs=1e-12)
    assert found.effects == pytest.approx({"A": 0.5, "B": 1.0}, abs=1e-12)


def test_a_self_loop_is_part_of_the_chain() -> None:
    # A A -> conv, A -> null: from A, 1/3 back to A, 1/3 conv, 1/3 null: x_A = 1/2.
    counts = transition_counts([(["A", "A"], True), (["A"], False)])
    found = removal_effects(counts)
    assert found.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert found.effects == pytest.approx({"A": 1.0}, abs=1e-12)


def test_no_conversion_at_all_has_no_effects() -> None:
    found = removal_effects(transition_counts([(["A", "B"], False)]))
    assert found.conversion_probability == 0.0
    assert found.effects == {"A": 0.0, "B": 0.0}


def iterated(counts: Counter[tuple[Hashable, Hashable]], removed: Hashable | None) -> float:
    """P(conversion from start) by iterating x <- Q x + b to a fixed point: an independent
    computation (no algebra shared with the module)."""
    out: Counter[Hashable] = Counter()
    for (origin, _), count in counts.items():
        out[origin] += count
    states = {origin for origin, _ in counts}
    x = dict.fromkeys(states, 0.0)
    for _ in range(200_000):
        new = {}
        for state in states:
            if state == removed:
                new[state] = 0.0
                continue
            total = 0.0
            for (origin, target), count in counts.items():
                if origin != state:
                    continue
                p = count / out[state]
                if target == CONVERSION:
                    total += p
                elif target != NULL:
                    total += p * x[target]
            new[state] = total
        change = max(abs(new[s] - x[s]) for s in states)
        x = new
        if change < 1e-15:
            break
    return x[START]


paths = st.lists(
    st.tuples(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=5), st.booleans()),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(paths)
def test_removal_effects_agree_with_iterating_the_chain(
    drawn: list[tuple[Sequence[str], bool]],
) -> None:
    counts = transition_counts(drawn)
    found = removal_effects(counts)
    p = iterated(counts, None)
    assert found.conversion_probability == pytest.approx(p, abs=1e-9)
    for value, effect in found.effects.items():
        if p == 0:
            assert effect == 0.0
        else:
            assert effect == pytest.approx(1 - iterated(counts, value) / p, abs=1e-9)
