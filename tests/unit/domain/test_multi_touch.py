"""Multi-touch attribution: worked examples per model and transform, numbers by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.model import to_micros
from domain.multi_touch import (
    AttributionQuery,
    AttributionReport,
    Dimension,
    JourneyConversion,
    JourneySession,
    Model,
    PathTransform,
    Touch,
    attribution_report,
    transform,
    weights,
)
from domain.page_report import CountingRule
from domain.queries import ConversionDefinition, TimeWindow

JULY = TimeWindow(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 31, 23, 59, 59, tzinfo=UTC))
T0 = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)
SHOP = "https://shop.example/buy"

ORGANIC = ("google.com", "organic", None)
EMAIL = ("newsletter", "email", "summer")
DIRECT = ("direct", "none", None)
PAID = ("google.com", "cpc", "brand")


def micros(days: float, minutes: float = 0) -> int:
    return to_micros(T0 + timedelta(days=days, minutes=minutes))


def visit(
    visitor: str,
    day: float,
    touch: tuple[str, str, str | None],
    *conversions: JourneyConversion,
) -> JourneySession:
    source, medium, campaign = touch
    return JourneySession(visitor, micros(day), source, medium, campaign, conversions or None)


def bought(day: float, minutes: float = 5, value: float | None = None) -> JourneyConversion:
    return JourneyConversion(micros(day, minutes), SHOP, "custom", None, value)


def report(sessions: list[JourneySession], **options: object) -> AttributionReport:
    query = AttributionQuery(window=JULY, **options)  # type: ignore[arg-type]
    found = attribution_report(sessions, query, CountingRule(query.definition))
    assert found is not None
    return found


def assert_close(
    actual: dict[str, tuple[float, float]],
    expected: dict[str, tuple[float, float]],
    tolerance: float = 1e-9,
) -> None:
    assert set(actual) == set(expected)
    for value, (conversions, revenue) in expected.items():
        assert actual[value][0] == pytest.approx(conversions, abs=tolerance), value
        assert actual[value][1] == pytest.approx(revenue, abs=tolerance), value


def credit(found: AttributionReport, model: Model) -> dict[str, tuple[float, float]]:
    at = found.models.index(model)
    return {
        row.value: (row.credits[at].conversions, row.credits[at].revenue)
        for row in found.rows
        if row.credits[at].conversions or row.credits[at].revenue
    }


# Organic Search on day 0, Email on day 2, Direct on day 4 with a 100.00 purchase at
# 4 days 5 minutes: the path [Organic Search, Email, Direct].
THREE = [
    visit("v1", 0, ORGANIC),
    visit("v1", 2, EMAIL),
    visit("v1", 4, DIRECT, bought(4, value=100.0)),
]


def test_first_touch_credits_the_first_touch() -> None:
    assert credit(report(THREE), Model.FIRST_TOUCH) == {"Organic Search": (1.0, 100.0)}


def test_last_touch_credits_the_last_touch_even_when_direct() -> None:
    assert credit(report(THREE), Model.LAST_TOUCH) == {"Direct": (1.0, 100.0)}


def test_last_non_direct_credits_the_last_touch_that_was_not_direct() -> None:
    assert credit(report(THREE), Model.LAST_NON_DIRECT) == {"Email": (1.0, 100.0)}


def test_last_non_direct_on_an_all_direct_path_credits_the_last_touch() -> None:
    sessions = [visit("v1", 0, DIRECT), visit("v1", 1, DIRECT, bought(1, value=10.0))]
    found = report(sessions, models=(Model.LAST_NON_DIRECT,))
    # Both touches are "Direct"; the last one gets the whole credit.
    assert credit(found, Model.LAST_NON_DIRECT) == {"Direct": (1.0, 10.0)}


def test_linear_splits_evenly() -> None:
    third = 1 / 3
    assert_close(
        credit(report(THREE), Model.LINEAR),
        {
            "Organic Search": (third, 100 * third),
            "Email": (third, 100 * third),
            "Direct": (third, 100 * third),
        },
    )


def test_position_based_with_three_touches_gives_forty_twenty_forty() -> None:
    assert_close(
        credit(report(THREE), Model.POSITION_BASED),
        {"Organic Search": (0.4, 40.0), "Email": (0.2, 20.0), "Direct": (0.4, 40.0)},
    )


def test_position_based_with_one_and_two_touches() -> None:
    one = [Touch("A", 0, False)]
    two = [Touch("A", 0, False), Touch("B", 1, False)]
    four = [Touch(label, 0, False) for label in "ABCD"]
    assert weights(Model.POSITION_BASED, one, 0, half_life_days=7) == [1.0]
    assert weights(Model.POSITION_BASED, two, 0, half_life_days=7) == [0.5, 0.5]
    # n = 4: 0.4 first and last, 0.2 / 2 = 0.1 to each of the two in the middle.
    assert weights(Model.POSITION_BASED, four, 0, half_life_days=7) == pytest.approx(
        [0.4, 0.1, 0.1, 0.4]
    )


def test_time_decay_halves_a_touchs_weight_every_half_life() -> None:
    # Days from each touch to the purchase: 4d5m = 4.003472, 2.003472, 0.003472.
    # 2^(-d/7): 0.672719, 0.820053, 0.999656; sum 2.492428; normalized:
    # 0.269905, 0.329018, 0.401077.
    found = credit(report(THREE), Model.TIME_DECAY)
    assert_close(
        found,
        {
            "Organic Search": (0.26990495440, 26.990495440),
            "Email": (0.32901782475, 32.901782475),
            "Direct": (0.40107722085, 40.107722085),
        },
    )


def test_time_decay_with_a_one_day_half_life() -> None:
    # Two touches 1 day apart, the purchase at the second's start: 2^-1 and 2^0, so 1/3
    # and 2/3.
    sessions = [visit("v1", 0, ORGANIC), visit("v1", 1, EMAIL, bought(1, minutes=0))]
    found = report(sessions, models=(Model.TIME_DECAY,), half_life_days=1.0)
    assert_close(
        credit(found, Model.TIME_DECAY), {"Organic Search": (1 / 3, 0.0), "Email": (2 / 3, 0.0)}
    )


# --- transforms ---------------------------------------------------------------------------


def test_transforms_of_a_path_with_repeats() -> None:
    path = [Touch(label, i, False) for i, label in enumerate("AABA")]
    assert [t.label for t in transform(path, PathTransform.NONE)] == list("AABA")
    assert [t.label for t in transform(path, PathTransform.EXPOSURE)] == list("ABA")
    assert [t.label for t in transform(path, PathTransform.FIRST)] == list("AB")
    # A kept touch keeps the start of the session it came from: the first of a run.
    assert [t.start for t in transform(path, PathTransform.EXPOSURE)] == [0, 2, 3]
    assert [t.start for t in transform(path, PathTransform.FIRST)] == [0, 2]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        # [A, A, B, A] linear: A 3/4, B 1/4.
        (PathTransform.NONE, {"google.com": 0.75, "newsletter": 0.25}),
        # [A, B, A]: A 2/3, B 1/3.
        (PathTransform.EXPOSURE, {"google.com": 2 / 3, "newsletter": 1 / 3}),
        # [A, B]: 1/2 each.
        (PathTransform.FIRST, {"google.com": 0.5, "newsletter": 0.5}),
    ],
)
def test_each_transform_changes_the_linear_split(
    how: PathTransform, expected: dict[str, float]
) -> None:
    sessions = [
        visit("v1", 0, ORGANIC),
        visit("v1", 1, ORGANIC),
        visit("v1", 2, EMAIL),
        visit("v1", 3, ORGANIC, bought(3)),
    ]
    found = report(sessions, dimension=Dimension.SOURCE, transform=how, models=(Model.LINEAR,))
    assert {k: v[0] for k, v in credit(found, Model.LINEAR).items()} == pytest.approx(expected)


def test_last_non_direct_after_a_transform_judges_the_session_the_touch_came_from() -> None:
    # Dimension medium: [organic, none, none] collapses to [organic, none]; the kept
    # "none" touch is the first Direct session, so the credit goes to organic.
    sessions = [
        visit("v1", 0, ORGANIC),
        visit("v1", 1, DIRECT),
        visit("v1", 2, DIRECT, bought(2)),
    ]
    found = report(
        sessions,
        dimension=Dimension.MEDIUM,
        transform=PathTransform.EXPOSURE,
        models=(Model.LAST_NON_DIRECT,),
    )
    assert credit(found, Model.LAST_NON_DIRECT) == {"organic": (1.0, 0.0)}


# --- paths, lookback, counting ------------------------------------------------------------


def test_the_lookback_cuts_sessions_that_started_too_early() -> None:
    sessions = [
        visit("v1", 0, ORGANIC),
        visit("v1", 9, EMAIL),
        visit("v1", 10, DIRECT, bought(10)),
    ]
    # A 7-day lookback from day 10 + 5 min reaches back to day 3 + 5 min: not day 0.
    found = report(sessions, lookback_days=7, models=(Model.FIRST_TOUCH,))
    assert credit(found, Model.FIRST_TOUCH) == {"Email": (1.0, 0.0)}
    assert found.top_paths[0].path == ("Email", "Direct")


def test_each_counting_conversion_is_credited_on_its_own() -> None:
    # Two purchases: the first path is [Organic Search], the second [Organic Search,
    # Email].
    sessions = [
        visit("v1", 0, ORGANIC, bought(0, value=10.0)),
        visit("v1", 1, EMAIL, bought(1, value=30.0)),
    ]
    found = report(sessions, models=(Model.LAST_TOUCH, Model.FIRST_TOUCH))
    assert credit(found, Model.LAST_TOUCH) == {
        "Organic Search": (1.0, 10.0),
        "Email": (1.0, 30.0),
    }
    assert credit(found, Model.FIRST_TOUCH) == {"Organic Search": (2.0, 40.0)}
    summary = found.summary
    assert (summary.conversions, summary.converting_users, summary.revenue) == (2, 1, 40.0)
    # Paths of lengths 1 and 2.
    assert summary.average_path_length == 1.5
    # Touches: both paths hold Organic Search, one holds Email.
    assert {row.value: row.touches for row in found.rows} == {"Organic Search": 2, "Email": 1}


def test_only_conversions_of_the_definition_inside_the_window_count() -> None:
    form = JourneyConversion(micros(1, 5), SHOP, "hubspot_form", "f-1", 5.0)
    before_window = JourneyConversion(
        to_micros(datetime(2025, 6, 30, 23, tzinfo=UTC)), SHOP, "custom", None, 9.0
    )
    sessions = [
        JourneySession("v0", before_window.at - 60_000_000, *DIRECT, (before_window,)),
        visit("v1", 0, ORGANIC, bought(0, value=1.0)),
        visit("v1", 1, EMAIL, form),
    ]
    query = AttributionQuery(
        window=JULY,
        definition=ConversionDefinition(meta_type="hubspot_form"),
        models=(Model.LAST_TOUCH,),
    )
    found = attribution_report(sessions, query, CountingRule(query.definition))
    assert found is not None
    assert credit(found, Model.LAST_TOUCH) == {"Email": (1.0, 5.0)}
    # v1's purchase does not count, so its only path is the form's; v0's session started
    # before the window: no non-converting path either.
    assert found.summary.non_converting_paths == 0


def test_nothing_counting_is_no_report() -> None:
    query = AttributionQuery(window=JULY)
    rule = CountingRule(query.definition)
    assert attribution_report([visit("v1", 0, ORGANIC)], query, rule) is None


def test_campaign_absent_is_not_set_and_source_medium_joins_both() -> None:
    sessions = [visit("v1", 0, ORGANIC), visit("v1", 1, PAID, bought(1))]
    by_campaign = report(sessions, dimension=Dimension.CAMPAIGN, models=(Model.LINEAR,))
    assert set(credit(by_campaign, Model.LINEAR)) == {"(not set)", "brand"}
    pairs = report(sessions, dimension=Dimension.SOURCE_MEDIUM, models=(Model.LINEAR,))
    assert set(credit(pairs, Model.LINEAR)) == {"google.com / organic", "google.com / cpc"}


def test_rows_follow_the_first_requested_model_then_the_value() -> None:
    sessions = [
        visit("v1", 0, ORGANIC),
        visit("v1", 1, EMAIL, bought(1)),
        visit("v2", 0, PAID, bought(0)),
    ]
    found = report(sessions, models=(Model.FIRST_TOUCH, Model.LAST_TOUCH))
    # First touch: Organic Search 1, Paid Search 1, Email 0 -> ties by value.
    assert [row.value for row in found.rows] == ["Organic Search", "Paid Search", "Email"]
    assert found.models == (Model.FIRST_TOUCH, Model.LAST_TOUCH)
    assert [c.model for c in found.rows[0].credits] == [Model.FIRST_TOUCH, Model.LAST_TOUCH]


def test_top_paths_count_conversions_by_path_with_ties_by_path() -> None:
    sessions = [
        visit("v1", 0, ORGANIC, bought(0, value=2.0)),
        visit("v2", 0, EMAIL, bought(0, value=3.0)),
        visit("v3", 0, EMAIL, bought(0, value=4.0)),
        visit("v4", 0, DIRECT, bought(0, value=5.0)),
    ]
    paths = [(p.path, p.conversions, p.revenue) for p in report(sessions).top_paths]
    assert paths == [
        (("Email",), 2, 7.0),
        (("Direct",), 1, 5.0),
        (("Organic Search",), 1, 2.0),
    ]


# --- data-driven --------------------------------------------------------------------------


def test_data_driven_credit_of_a_two_channel_example_solved_by_hand() -> None:
    # Visitors: v1 Organic -> Email, converts; v2 Organic, does not; v3 Email, converts.
    # Transitions: start->O 2, start->E 1; O->E 1, O->null 1; E->conv 2.
    # P = 2/3 * (1/2 * 1) + 1/3 * 1 = 2/3.
    # Without O: only start->E converts: P_O = 1/3, effect 1 - (1/3)/(2/3) = 1/2.
    # Without E: nothing converts: P_E = 0, effect 1.
    # Credits of the 2 conversions: O 2 * (1/2) / (3/2) = 2/3, E 2 * 1 / (3/2) = 4/3.
    sessions = [
        visit("v1", 0, ORGANIC),
        visit("v1", 1, EMAIL, bought(1, value=60.0)),
        visit("v2", 0, ORGANIC),
        visit("v3", 0, EMAIL, bought(0, value=30.0)),
    ]
    found = report(sessions, models=(Model.DATA_DRIVEN,))
    assert_close(
        credit(found, Model.DATA_DRIVEN),
        {"Organic Search": (2 / 3, 90 * (1 / 3)), "Email": (4 / 3, 90 * (2 / 3))},
    )
    assert found.summary.non_converting_paths == 1


def test_data_driven_merges_the_least_touched_values_beyond_fifty_into_other() -> None:
    # 60 campaigns, each the only touch of one converting visitor; campaign c00..c09 twice.
    sessions = []
    for i in range(60):
        sessions.append(visit(f"v{i}", 0, ("s", "m", f"c{i:02d}"), bought(0)))
        if i < 10:
            sessions.append(visit(f"w{i}", 0, ("s", "m", f"c{i:02d}"), bought(0)))
    found = report(sessions, dimension=Dimension.CAMPAIGN, models=(Model.DATA_DRIVEN,))
    credited = credit(found, Model.DATA_DRIVEN)
    # 49 kept: the ten touched twice, then c10..c48 by value; c49..c59 become "(other)".
    assert len(credited) == 50
    assert credited["(other)"][0] == pytest.approx(11.0)
    assert credited["c00"][0] == pytest.approx(2.0)
    assert "c49" not in credited
    # The other models are not merged.
    assert {row.value for row in found.rows} >= {"c49", "c59"}


def test_the_worked_example_of_the_docs_through_the_data_driven_model() -> None:
    # docs/attribution.md: THREE, plus a visitor from Google who left and one from the
    # newsletter who bought. P = 2/3; effects O 1/2, E 1, D 1/2; credits 0.5, 1, 0.5.
    sessions = [
        *THREE,
        visit("v2", 0, ORGANIC),
        visit("v3", 1, EMAIL, bought(1, value=50.0)),
    ]
    found = report(sessions, models=(Model.DATA_DRIVEN,))
    assert_close(
        credit(found, Model.DATA_DRIVEN),
        {
            "Organic Search": (0.5, 150 * 0.25),
            "Email": (1.0, 150 * 0.5),
            "Direct": (0.5, 150 * 0.25),
        },
    )
