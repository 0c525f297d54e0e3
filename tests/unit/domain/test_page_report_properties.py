"""The page report's counting against a plain reference: for any rows, the builder (which
counts in C, and dedupes users only for visitors seen more than once) gives what counting
each session one by one gives."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import to_micros
from domain.page_report import (
    CountingRule,
    PageReportBuilder,
    ReportConversion,
    ReportSession,
    RoleCount,
)
from domain.queries import ConversionDefinition, PagesQuery, SessionFilters, TimeWindow

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
PAGES = ["/a", "/b", "/c", "/d"]

conversions = st.lists(
    st.builds(
        ReportConversion,
        page=st.sampled_from(PAGES),
        previous_page=st.sampled_from(PAGES),
        meta_type=st.sampled_from(["custom", "hubspot_form"]),
        meta_id=st.none(),
    ),
    max_size=3,
).map(lambda found: tuple(found) or None)

rows = st.lists(
    st.builds(
        ReportSession,
        visitor=st.sampled_from(["v1", "v2", "v3", "v4", "v5"]),
        ordinal=st.integers(0, 3),
        landing=st.sampled_from(PAGES),
        exit=st.sampled_from(PAGES),
        exit_previous=st.sampled_from(PAGES),
        closes_after=st.sampled_from([0, to_micros(NOW) + 1]),
        conversions=conversions,
    ),
    max_size=40,
)


def reference(
    sessions: list[ReportSession], definition: ConversionDefinition
) -> dict[tuple[str, str, int], RoleCount]:
    """Per (section, page, role): sessions and distinct visitors, one session at a time."""
    held: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    now = to_micros(NOW)
    for s in sessions:
        counting = [
            c
            for c in s.conversions or ()
            if definition.meta_type is None or c.meta_type == definition.meta_type
        ]
        if counting:
            for role, pages in enumerate(
                ({c.page for c in counting}, {c.previous_page for c in counting}, {s.landing})
            ):
                for page in pages:
                    held[("conversion", page, role)].append(s.visitor)
        elif now > s.closes_after:
            for role, page in enumerate((s.exit, s.exit_previous, s.landing)):
                held[("drop_off", page, role)].append(s.visitor)
    return {key: RoleCount(len(v), len(set(v))) for key, v in held.items()}


@settings(max_examples=300, deadline=None)
@given(sessions=rows, meta_type=st.sampled_from([None, "hubspot_form"]))
def test_the_builder_counts_what_a_session_by_session_count_gives(
    sessions: list[ReportSession], meta_type: str | None
) -> None:
    definition = ConversionDefinition(meta_type=meta_type)
    query = PagesQuery(SessionFilters(), TimeWindow(), definition)
    builder = PageReportBuilder(query, NOW, rule=CountingRule(definition))
    # In two feeds, as stores hand chunks.
    builder.add(sessions[: len(sessions) // 2])
    builder.add(sessions[len(sessions) // 2 :])
    report = builder.result({page: str(page) for page in builder.page_keys()})

    expected = reference(sessions, definition)
    if report is None:
        assert sessions == []
        return
    assert report.summary.total_sessions == len(sessions)
    assert report.summary.total_users == len({s.visitor for s in sessions})
    actual: dict[tuple[str, str, int], RoleCount] = {}
    for c in report.conversion_performance:
        for role, count in enumerate(
            (c.conversion, c.conversion_assist, c.landing_assisted_conversion)
        ):
            if count.sessions:
                actual[("conversion", c.url, role)] = count
    for d in report.drop_off_performance:
        for role, count in enumerate((d.drop_off, d.drop_off_assist, d.landing_assisted_drop_off)):
            if count.sessions:
                actual[("drop_off", d.url, role)] = count
    assert actual == expected
