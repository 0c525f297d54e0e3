"""Properties of the attribution report over random journeys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import to_micros
from domain.multi_touch import (
    ALL_MODELS,
    AttributionQuery,
    JourneyConversion,
    JourneySession,
    Model,
    PathTransform,
    Touch,
    attribution_report,
    collect_paths,
    transform,
    transformed_labels,
    weights,
)
from domain.page_report import CountingRule
from domain.queries import TimeWindow

START = datetime(2025, 7, 1, tzinfo=UTC)
WINDOW = TimeWindow(START, START + timedelta(days=30))
TOUCHES = [
    ("google.com", "organic", None),
    ("google.com", "cpc", "brand"),
    ("newsletter", "email", "june"),
    ("direct", "none", None),
    ("facebook.com", "social", None),
]


@st.composite
def journeys(
    draw: st.DrawFn, *, single_touch: bool = False, value: float | None = None
) -> list[JourneySession]:
    sessions: list[JourneySession] = []
    for visitor in range(draw(st.integers(1, 6))):
        count = 1 if single_touch else draw(st.integers(1, 5))
        hours = sorted(
            draw(st.sets(st.integers(-24 * 20, 24 * 30), min_size=count, max_size=count))
        )
        for hour in hours:
            start = to_micros(START + timedelta(hours=hour))
            source, medium, campaign = draw(st.sampled_from(TOUCHES))
            conversions = None
            if draw(st.booleans()):
                worth = (
                    value
                    if value is not None
                    else draw(st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)))
                )
                conversions = (JourneyConversion(start + 60_000_000, "p", "custom", None, worth),)
            sessions.append(
                JourneySession(f"v{visitor}", start, source, medium, campaign, conversions)
            )
    return sessions


def query(transform: PathTransform = PathTransform.NONE) -> AttributionQuery:
    return AttributionQuery(window=WINDOW, transform=transform)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("ABC"), min_size=1, max_size=8),
    st.floats(0.1, 30),
)
def test_the_weights_of_one_path_sum_to_one_for_every_model(
    labels: list[str], half_life: float
) -> None:
    touches = [Touch(label, i * 3_600_000_000, label == "C") for i, label in enumerate(labels)]
    at = len(labels) * 3_600_000_000
    for model in ALL_MODELS:
        if model is Model.DATA_DRIVEN:
            continue
        assert sum(weights(model, touches, at, half_life_days=half_life)) == pytest.approx(1.0)


@settings(max_examples=150, deadline=None)
@given(journeys(), st.sampled_from(PathTransform))
def test_credits_summed_over_values_equal_the_totals_for_every_model(
    sessions: list[JourneySession], how: PathTransform
) -> None:
    found = attribution_report(sessions, query(how), CountingRule(query().definition))
    if found is None:
        return
    for at, model in enumerate(found.models):
        conversions = sum(row.credits[at].conversions for row in found.rows)
        revenue = sum(row.credits[at].revenue for row in found.rows)
        assert conversions == pytest.approx(found.summary.conversions, abs=1e-9), model
        assert revenue == pytest.approx(found.summary.revenue, abs=1e-9), model


@settings(max_examples=150, deadline=None)
@given(journeys(), st.sampled_from(PathTransform))
def test_every_heuristic_credit_is_the_path_by_path_sum_of_the_weights_to_the_last_bit(
    sessions: list[JourneySession], how: PathTransform
) -> None:
    rule = CountingRule(query().definition)
    found = attribution_report(sessions, query(how), rule)
    if found is None:
        return
    # The reference: each path's weights added in the report's order of paths (by
    # content), one path after the other.
    paths = sorted(
        collect_paths(sessions, query(how), rule).converting,
        key=lambda p: (p.at, tuple(t.label for t in p.touches), p.value),
    )
    for at, model in enumerate(found.models):
        if model is Model.DATA_DRIVEN:
            continue
        expected: dict[str, list[float]] = {}
        for path in paths:
            split = weights(model, path.touches, path.at, half_life_days=7.0)
            for touch, weight in zip(path.touches, split, strict=True):
                if weight:
                    share = expected.setdefault(touch.label, [0.0, 0.0])
                    share[0] += weight
                    share[1] += weight * path.value
        credited = {
            row.value: [row.credits[at].conversions, row.credits[at].revenue]
            for row in found.rows
            if row.credits[at].conversions or row.credits[at].revenue
        }
        assert credited == {k: v for k, v in expected.items() if v[0] or v[1]}, model


@settings(max_examples=150, deadline=None)
@given(journeys(single_touch=True, value=25.0))
def test_on_single_touch_paths_all_seven_models_agree(sessions: list[JourneySession]) -> None:
    found = attribution_report(sessions, query(), CountingRule(query().definition))
    if found is None:
        return
    for row in found.rows:
        first = row.credits[0]
        for other in row.credits[1:]:
            assert other.conversions == pytest.approx(first.conversions, abs=1e-9)
            assert other.revenue == pytest.approx(first.revenue, abs=1e-9)


@given(
    st.lists(st.sampled_from("ABC"), max_size=10),
    st.sampled_from([PathTransform.EXPOSURE, PathTransform.FIRST]),
)
def test_a_transform_applied_twice_equals_once(labels: list[str], how: PathTransform) -> None:
    touches = [Touch(label, i, False) for i, label in enumerate(labels)]
    once = transform(touches, how)
    assert transform(once, how) == once


@settings(max_examples=100, deadline=None)
@given(journeys(), st.randoms())
def test_the_order_sessions_arrive_in_changes_nothing(
    sessions: list[JourneySession], random: object
) -> None:
    shuffled = list(sessions)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    rule = CountingRule(query().definition)
    assert attribution_report(shuffled, query(), rule) == attribution_report(
        sessions, query(), rule
    )


@given(st.lists(st.sampled_from("ABC"), min_size=1, max_size=10), st.sampled_from(PathTransform))
def test_a_path_known_by_its_labels_transforms_as_its_touches_do(
    labels: list[str], how: PathTransform
) -> None:
    touches = [Touch(label, i, False) for i, label in enumerate(labels)]
    expected = tuple(t.label for t in transform(touches, how))
    assert transformed_labels(labels, how) == expected
