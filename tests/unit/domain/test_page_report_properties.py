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
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    TimeWindow,
    TouchScope,
)

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
PAGES = ["/a", "/b", "/c", "/d"]
VISITORS = ["v1", "v2", "v3", "v4", "v5"]

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
        visitor=st.sampled_from(VISITORS),
        ordinal=st.integers(0, 3),
        landing=st.sampled_from(PAGES),
        exit=st.sampled_from(PAGES),
        exit_previous=st.sampled_from(PAGES),
        closes_after=st.sampled_from([0, to_micros(NOW) + 1]),
        conversions=conversions,
    ),
    max_size=40,
)


def in_scope(
    scope: TouchScope, s: ReportSession, converting: bool, first_converting: dict[str, int]
) -> bool:
    """The touch scopes as docs/concepts.md words them, over ordinals."""
    fc = first_converting.get(str(s.visitor))
    return {
        TouchScope.ANY: True,
        TouchScope.FIRST: s.ordinal == 0,
        TouchScope.CONVERTING: converting,
        TouchScope.ASSIST: fc is not None and 0 < s.ordinal < fc,
        TouchScope.AFTER: fc is not None and s.ordinal > fc,
    }[scope]


def reference(
    sessions: list[ReportSession],
    definition: ConversionDefinition,
    scope: TouchScope,
    first_converting: dict[str, int],
) -> tuple[list[str], dict[tuple[str, str, int], RoleCount]]:
    """The visitor of each session in scope, and per (section, page, role) sessions and
    distinct visitors, one session at a time."""
    held: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    now = to_micros(NOW)
    in_report: list[str] = []  # the visitor of each session in the report
    for s in sessions:
        counting = [
            c
            for c in s.conversions or ()
            if definition.meta_type is None or c.meta_type == definition.meta_type
        ]
        if not in_scope(scope, s, bool(counting), first_converting):
            continue
        in_report.append(str(s.visitor))
        if counting:
            for role, pages in enumerate(
                ({c.page for c in counting}, {c.previous_page for c in counting}, {s.landing})
            ):
                for page in pages:
                    held[("conversion", page, role)].append(s.visitor)
        elif now > s.closes_after:
            for role, page in enumerate((s.exit, s.exit_previous, s.landing)):
                held[("drop_off", page, role)].append(s.visitor)
    return in_report, {key: RoleCount(len(v), len(set(v))) for key, v in held.items()}


@settings(max_examples=400, deadline=None)
@given(
    sessions=rows,
    meta_type=st.sampled_from([None, "hubspot_form"]),
    scope=st.sampled_from(TouchScope),
    first_converting=st.dictionaries(st.sampled_from(VISITORS), st.integers(0, 3)),
)
def test_the_builder_counts_what_a_session_by_session_count_gives(
    sessions: list[ReportSession],
    meta_type: str | None,
    scope: TouchScope,
    first_converting: dict[str, int],
) -> None:
    definition = ConversionDefinition(meta_type=meta_type)
    query = PagesQuery(SessionFilters(), TimeWindow(), definition, scope)
    builder = PageReportBuilder(
        query, NOW, rule=CountingRule(definition), first_converting=dict(first_converting)
    )
    # In two feeds, as stores hand chunks.
    builder.add(sessions[: len(sessions) // 2])
    builder.add(sessions[len(sessions) // 2 :])
    report = builder.result({page: str(page) for page in builder.page_keys()})

    in_report, expected = reference(sessions, definition, scope, first_converting)
    if report is None:
        assert in_report == []
        return
    assert report.summary.total_sessions == len(in_report)
    assert report.summary.total_users == len(set(in_report))
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
