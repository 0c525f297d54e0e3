"""The /pages report (docs/concepts.md, "/pages") on small hand-worked session sets."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from domain.model import Attribution, Conversion, PageVisit, Session
from domain.page_report import (
    ConversionPageStats,
    CountingRule,
    DropOffPageStats,
    PageReport,
    PageReportBuilder,
    RoleCount,
    SummaryTotals,
    VisitorConversions,
    build_page_report,
    first_converting_ordinals,
    in_touch_scope,
    report_conversions,
    report_session,
    with_ordinals,
)
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    TimeWindow,
    TouchScope,
)

SITE = "https://ex.com"
HOME = SITE
BLOG = f"{SITE}/blog"
CONTACT = f"{SITE}/contact"
FEATURES = f"{SITE}/features"
PRICING = f"{SITE}/pricing"
SIGNUP = f"{SITE}/signup"

JULY = TimeWindow(
    start=datetime(2025, 7, 1, tzinfo=UTC), end=datetime(2025, 7, 31, 23, 59, 59, tzinfo=UTC)
)
NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)
DIRECT = Attribution(source="direct", medium="none")

_ids = itertools.count()

# (page, meta_type, meta_id); the conversion happens on `page`, which must be on the path.
ConversionSpec = tuple[str, str, str | None]


def _previous_page(path: Sequence[str], index: int) -> str:
    """Walking back from ``path[index]``, the first different page, else itself
    (docs/concepts.md, "Previous page")."""
    for page in reversed(path[:index]):
        if page != path[index]:
            return page
    return path[index]


def make_session(
    visitor: str,
    start: datetime,
    path: Sequence[str],
    conversions: Iterable[ConversionSpec] = (),
    *,
    is_last: bool = False,
    attribution: Attribution = DIRECT,
) -> Session:
    """A session whose pages are one minute apart. It is closed unless ``is_last`` is set
    and its timeout has not passed at ``NOW``."""
    visits = tuple(
        PageVisit(url=page, timestamp=start + timedelta(minutes=i)) for i, page in enumerate(path)
    )
    convs = tuple(
        Conversion(
            event_id=f"c{next(_ids)}",
            timestamp=visits[path.index(page)].timestamp,
            page=page,
            previous_page=_previous_page(path, path.index(page)),
            email=None,
            meta_type=meta_type,
            meta_id=meta_id,
        )
        for page, meta_type, meta_id in conversions
    )
    last_activity = visits[-1].timestamp
    return Session(
        site_id="site-1",
        visitor_id=visitor,
        session_id=f"s{next(_ids)}",
        start=start,
        last_activity=last_activity,
        attribution=attribution,
        path=visits,
        conversions=convs,
        exit_previous_page=_previous_page(path, len(path) - 1),
        is_last=is_last,
        inactive_after=last_activity + TIMEOUT,
    )


def july(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, 7, day, hour, minute, tzinfo=UTC)


def report(
    sessions: Sequence[Session],
    *,
    scope: TouchScope = TouchScope.ANY,
    definition: ConversionDefinition = ConversionDefinition(),  # noqa: B008
    filters: SessionFilters = SessionFilters(),  # noqa: B008
    window: TimeWindow = JULY,
) -> PageReport | None:
    query = PagesQuery(filters=filters, window=window, definition=definition, touch_scope=scope)
    return build_page_report(sessions, query, NOW)


def rc(sessions: int, users: int) -> RoleCount:
    return RoleCount(sessions=sessions, users=users)


def conv(
    url: str, conversion: RoleCount, assist: RoleCount, landing: RoleCount
) -> ConversionPageStats:
    return ConversionPageStats(
        url=url,
        conversion=conversion,
        conversion_assist=assist,
        landing_assisted_conversion=landing,
    )


def drop(url: str, drop_off: RoleCount, assist: RoleCount, landing: RoleCount) -> DropOffPageStats:
    return DropOffPageStats(
        url=url, drop_off=drop_off, drop_off_assist=assist, landing_assisted_drop_off=landing
    )


def totals(sessions: int, users: int, events: int, conversion_users: int) -> SummaryTotals:
    return SummaryTotals(
        total_sessions=sessions,
        total_users=users,
        total_conversion_events=events,
        total_conversion_users=conversion_users,
    )


CUSTOM = "custom"

# The shared dataset. Scope membership per session (whole history, any conversion counts):
#   v1: s1a Jul 2  [home, pricing]               closed          first
#       s1b Jul 5  [blog, pricing, signup] conv@signup (prev pricing)   converting
#       s1c Jul 8  [home]                        closed          after
#   v2: s2a Jun 20 [home]                        closed          first, OUTSIDE the window
#       s2b Jul 3  [features]                    closed          assist
#       s2c Jul 4  [pricing, signup] conv@signup (prev pricing)         converting
#   v3: s3a Jul 6  [signup] conv@signup (prev signup: landing conversion)  first + converting
#       s3b Jul 20 [features, pricing]           OPEN at NOW     after
#   v4: s4a Jul 10 [home, features]              closed          first (never converts)
#       s4b Jul 11 [pricing]                     closed          (only `any`)
S1A = make_session("v1", july(2), [HOME, PRICING])
S1B = make_session("v1", july(5), [BLOG, PRICING, SIGNUP], [(SIGNUP, CUSTOM, None)])
S1C = make_session("v1", july(8), [HOME])
S2A = make_session("v2", datetime(2025, 6, 20, tzinfo=UTC), [HOME])
S2B = make_session("v2", july(3), [FEATURES])
S2C = make_session("v2", july(4), [PRICING, SIGNUP], [(SIGNUP, CUSTOM, None)])
S3A = make_session("v3", july(6), [SIGNUP], [(SIGNUP, CUSTOM, None)])
S3B = make_session("v3", july(20, 11, 50), [FEATURES, PRICING], is_last=True)
S4A = make_session("v4", july(10), [HOME, FEATURES])
S4B = make_session("v4", july(11), [PRICING], is_last=True)  # last but timed out: closed

DATASET = [S1A, S1B, S1C, S2A, S2B, S2C, S3A, S3B, S4A, S4B]


def test_dataset_open_and_closed_sessions_are_as_described() -> None:
    assert not S3B.is_closed(NOW)
    assert S4B.is_closed(NOW)
    assert S1A.is_closed(NOW)


def test_scope_any_reports_every_session_in_the_window() -> None:
    # S = all but s2a (June): 9 sessions, visitors v1..v4.
    # Counting conversions: s1b, s2c, s3a -> 3 events by v1, v2, v3.
    # Converting sessions s1b, s2c, s3a:
    #   signup:  conversion {s1b,s2c,s3a}=3/3; assist {s3a}=1/1; landing {s3a}=1/1
    #   pricing: assist {s1b,s2c}=2/2; landing {s2c}=1/1
    #   blog:    landing {s1b}=1/1
    #   order: signup(3); blog(0) and pricing(0) tie -> url ascending.
    # Closed non-converting: s1a, s1c, s2b, s4a, s4b (s3b is open):
    #   s1a exit pricing prev home land home; s1c exit home prev home land home;
    #   s2b exit features prev features land features; s4a exit features prev home land home;
    #   s4b exit pricing prev pricing land pricing.
    #   features: drop {s2b,s4a}=2/2; assist {s2b}=1/1; landing {s2b}=1/1
    #   pricing:  drop {s1a,s4b}=2/2; assist {s4b}=1/1; landing {s4b}=1/1
    #   home:     drop {s1c}=1/1; assist {s1a,s1c,s4a}=3 by v1,v4=2; landing same 3/2
    #   order: features(2), pricing(2) by url, then home(1).
    assert report(DATASET) == PageReport(
        time_frame=JULY,
        summary=totals(9, 4, 3, 3),
        conversion_performance=(
            conv(SIGNUP, rc(3, 3), rc(1, 1), rc(1, 1)),
            conv(BLOG, rc(0, 0), rc(0, 0), rc(1, 1)),
            conv(PRICING, rc(0, 0), rc(2, 2), rc(1, 1)),
        ),
        drop_off_performance=(
            drop(FEATURES, rc(2, 2), rc(1, 1), rc(1, 1)),
            drop(PRICING, rc(2, 2), rc(1, 1), rc(1, 1)),
            drop(HOME, rc(1, 1), rc(3, 2), rc(3, 2)),
        ),
    )


def test_scope_first_keeps_each_visitors_first_session_ever() -> None:
    # First sessions ever: s1a, s2a (outside the window), s3a, s4a -> S = s1a, s3a, s4a.
    # s3a converts on its landing page: signup conversion, assist and landing 1/1.
    # Drop-offs: s1a (exit pricing, prev home, land home), s4a (exit features, prev home,
    # land home) -> features 1/1, pricing 1/1, home assist 2/2 and landing 2/2.
    assert report(DATASET, scope=TouchScope.FIRST) == PageReport(
        time_frame=JULY,
        summary=totals(3, 3, 1, 1),
        conversion_performance=(conv(SIGNUP, rc(1, 1), rc(1, 1), rc(1, 1)),),
        drop_off_performance=(
            drop(FEATURES, rc(1, 1), rc(0, 0), rc(0, 0)),
            drop(PRICING, rc(1, 1), rc(0, 0), rc(0, 0)),
            drop(HOME, rc(0, 0), rc(2, 2), rc(2, 2)),
        ),
    )


def test_first_session_outside_the_window_makes_no_session_inside_it_first() -> None:
    result = report([S2A, S2B, S2C], scope=TouchScope.FIRST)

    # v2's first session is s2a (June), so s2b, the earliest one in July, is not `first`.
    assert result is None


def test_scope_converting_keeps_only_converting_sessions() -> None:
    # S = s1b, s2c, s3a: 3 sessions, 3 visitors, 3 events, 3 converting visitors; the
    # conversion section is the one of `any`, and nothing can drop off.
    assert report(DATASET, scope=TouchScope.CONVERTING) == PageReport(
        time_frame=JULY,
        summary=totals(3, 3, 3, 3),
        conversion_performance=(
            conv(SIGNUP, rc(3, 3), rc(1, 1), rc(1, 1)),
            conv(BLOG, rc(0, 0), rc(0, 0), rc(1, 1)),
            conv(PRICING, rc(0, 0), rc(2, 2), rc(1, 1)),
        ),
        drop_off_performance=(),
    )


def test_scope_assist_keeps_sessions_strictly_between_first_and_first_converting() -> None:
    # v1: first s1a, first converting s1b: nothing strictly between.
    # v2: first s2a, first converting s2c: s2b.  v3: first = first converting.  v4 never
    # converts. S = s2b -> features is drop-off, its assist and its landing page.
    assert report(DATASET, scope=TouchScope.ASSIST) == PageReport(
        time_frame=JULY,
        summary=totals(1, 1, 0, 0),
        conversion_performance=(),
        drop_off_performance=(drop(FEATURES, rc(1, 1), rc(1, 1), rc(1, 1)),),
    )


def test_scope_after_keeps_sessions_after_the_first_converting_one() -> None:
    # v1: s1c; v3: s3b (open). S = s1c, s3b: 2 sessions, 2 visitors, no conversions.
    # s1c, a session after the first conversion without one, drops off on home;
    # s3b is still open and counts in the totals only.
    assert report(DATASET, scope=TouchScope.AFTER) == PageReport(
        time_frame=JULY,
        summary=totals(2, 2, 0, 0),
        conversion_performance=(),
        drop_off_performance=(drop(HOME, rc(1, 1), rc(1, 1), rc(1, 1)),),
    )


def test_open_session_counts_in_totals_but_not_as_drop_off() -> None:
    result = report([S3B])

    assert result is not None
    assert result.summary == totals(1, 1, 0, 0)
    assert result.drop_off_performance == ()
    assert result.conversion_performance == ()


def history_conversions(sessions: Iterable[Session]) -> list[VisitorConversions]:
    return [
        VisitorConversions(s.visitor_id, ordinal, report_conversions(s))
        for s, ordinal in with_ordinals(sessions)
        if s.conversions
    ]


def test_ordinals_number_each_visitors_sessions_in_any_input_order() -> None:
    numbered = with_ordinals([S1C, S4B, S1B, S2B, S4A, S1A])

    assert sorted((s.visitor_id, s.start, n) for s, n in numbered) == [
        ("v1", S1A.start, 0),
        ("v1", S1B.start, 1),
        ("v1", S1C.start, 2),
        ("v2", S2B.start, 0),
        ("v4", S4A.start, 0),
        ("v4", S4B.start, 1),
    ]


def test_first_converting_ordinals_keep_each_visitors_first_in_any_order() -> None:
    history = history_conversions([S1A, S1B, S1C, S2A, S2B, S2C, S4A, S4B])
    rule = CountingRule(ConversionDefinition())

    expected = {"v1": 1, "v2": 2}
    assert first_converting_ordinals(history, rule) == expected
    assert first_converting_ordinals(reversed(history), rule) == expected


def test_first_converting_ordinals_count_only_conversions_of_the_definition() -> None:
    # S1B's only conversion is on SIGNUP, so a definition naming another page leaves v1
    # without a converting session.
    history = history_conversions([S1A, S1B, S1C])
    rule = CountingRule(ConversionDefinition(conversion_page=PRICING))

    assert first_converting_ordinals(history, rule) == {}


def test_a_conversion_page_the_store_never_saw_counts_no_conversion() -> None:
    rule = CountingRule(ConversionDefinition(conversion_page=SIGNUP), page_keys={})

    assert rule.counting(report_conversions(S1B)) == ()


def test_in_touch_scope_judges_each_scope_per_session() -> None:
    # v2: S2A (ordinal 0), S2B (1), S2C (2, the first converting one).
    converting = [False, False, True]
    expected = {
        TouchScope.ANY: [True, True, True],
        TouchScope.FIRST: [True, False, False],
        TouchScope.CONVERTING: [False, False, True],
        TouchScope.ASSIST: [False, True, False],
        TouchScope.AFTER: [False, False, False],
    }

    actual = {
        scope: [in_touch_scope(scope, ordinal, converting[ordinal], 2) for ordinal in range(3)]
        for scope in TouchScope
    }

    assert actual == expected


def test_visitor_without_conversion_has_no_assist_or_after_sessions() -> None:
    assert not in_touch_scope(TouchScope.ASSIST, 1, False, None)
    assert not in_touch_scope(TouchScope.AFTER, 1, False, None)


# Conversion definition dataset:
#   v5: s5a Jul 2 [home, contact]  custom conversion "c-1" on contact (prev home), closed
#       s5b Jul 3 [pricing, signup] hubspot_form "form-7" on signup (prev pricing), closed
S5A = make_session("v5", july(2), [HOME, CONTACT], [(CONTACT, CUSTOM, "c-1")])
S5B = make_session("v5", july(3), [PRICING, SIGNUP], [(SIGNUP, "hubspot_form", "form-7")])


@pytest.mark.parametrize(
    "definition",
    [
        ConversionDefinition(meta_type="hubspot_form"),
        ConversionDefinition(meta_id="form-7"),
        ConversionDefinition(conversion_page=SIGNUP),
    ],
    ids=["meta_type", "meta_id", "conversion_page"],
)
def test_session_with_only_a_non_counting_conversion_is_a_drop_off(
    definition: ConversionDefinition,
) -> None:
    # Only s5b's conversion counts: 1 event by v5. s5a drops off on contact (prev home,
    # landing home); s5b converts on signup (prev pricing, landing pricing).
    assert report([S5A, S5B], definition=definition) == PageReport(
        time_frame=JULY,
        summary=totals(2, 1, 1, 1),
        conversion_performance=(
            conv(SIGNUP, rc(1, 1), rc(0, 0), rc(0, 0)),
            conv(PRICING, rc(0, 0), rc(1, 1), rc(1, 1)),
        ),
        drop_off_performance=(
            drop(CONTACT, rc(1, 1), rc(0, 0), rc(0, 0)),
            drop(HOME, rc(0, 0), rc(1, 1), rc(1, 1)),
        ),
    )


def test_touch_scopes_use_the_conversion_definition() -> None:
    hubspot = ConversionDefinition(meta_type="hubspot_form")

    # Under hubspot_form, v5 first converts in s5b, so s5a (its first session) precedes it
    # and nothing comes after; with any conversion counting, s5b comes after s5a.
    assert report([S5A, S5B], scope=TouchScope.AFTER, definition=hubspot) is None
    after_any = report([S5A, S5B], scope=TouchScope.AFTER)
    assert after_any is not None
    assert after_any.summary == totals(1, 1, 1, 1)
    converting = report([S5A, S5B], scope=TouchScope.CONVERTING, definition=hubspot)
    assert converting is not None
    assert [p.url for p in converting.conversion_performance] == [SIGNUP, PRICING]


def test_conversion_on_the_landing_page_is_its_own_conversion_assist() -> None:
    session = make_session("v6", july(4), [SIGNUP, SIGNUP], [(SIGNUP, CUSTOM, None)])

    result = report([session])

    # Only a reload came before the conversion, so previous_page is signup itself.
    assert result is not None
    assert result.conversion_performance == (conv(SIGNUP, rc(1, 1), rc(1, 1), rc(1, 1)),)


def test_each_role_counts_once_per_session() -> None:
    # Two conversions on signup, both preceded by pricing, in one session: 2 events but
    # signup is the conversion page of 1 session and pricing the assist of 1.
    session = make_session(
        "v7", july(4), [PRICING, SIGNUP], [(SIGNUP, CUSTOM, "a"), (SIGNUP, CUSTOM, "b")]
    )

    result = report([session])

    assert result is not None
    assert result.summary == totals(1, 1, 2, 1)
    assert result.conversion_performance == (
        conv(SIGNUP, rc(1, 1), rc(0, 0), rc(0, 0)),
        conv(PRICING, rc(0, 0), rc(1, 1), rc(1, 1)),
    )


def test_users_are_distinct_visitors_among_the_sessions() -> None:
    # v8 bounces on pricing twice, v9 once: 3 sessions by 2 users in every role.
    sessions = [
        make_session("v8", july(2), [PRICING]),
        make_session("v8", july(3), [PRICING]),
        make_session("v9", july(3), [PRICING]),
    ]

    result = report(sessions)

    assert result is not None
    assert result.summary == totals(3, 2, 0, 0)
    assert result.drop_off_performance == (drop(PRICING, rc(3, 2), rc(3, 2), rc(3, 2)),)


def test_conversion_users_are_distinct_visitors_with_a_counting_conversion() -> None:
    sessions = [
        make_session("v8", july(2), [SIGNUP], [(SIGNUP, CUSTOM, None)]),
        make_session("v8", july(3), [SIGNUP], [(SIGNUP, CUSTOM, None)]),
        make_session("v9", july(3), [HOME]),
    ]

    result = report(sessions)

    # 3 sessions by 2 users; 2 conversion events, both by v8.
    assert result is not None
    assert result.summary == totals(3, 2, 2, 1)


def test_ties_are_ordered_by_url_ascending() -> None:
    sessions = [make_session(f"v{page}", july(2), [page]) for page in (PRICING, BLOG, HOME)]

    result = report(sessions)

    assert result is not None
    assert [p.url for p in result.drop_off_performance] == [HOME, BLOG, PRICING]


def test_pages_are_ordered_by_first_role_sessions_descending() -> None:
    sessions = [
        make_session("a", july(2), [BLOG]),
        make_session("b", july(2), [HOME, PRICING]),
        make_session("c", july(2), [HOME, PRICING]),
    ]

    result = report(sessions)

    # pricing is drop-off twice, blog once, home never (though it is landing twice).
    assert result is not None
    assert [p.url for p in result.drop_off_performance] == [PRICING, BLOG, HOME]
    assert result.drop_off_performance[2] == drop(HOME, rc(0, 0), rc(2, 2), rc(2, 2))


def test_empty_session_set_gives_no_report() -> None:
    assert report([]) is None
    assert report(DATASET, filters=SessionFilters(source="nowhere.example")) is None


def test_window_is_inclusive_and_excludes_sessions_starting_outside_it() -> None:
    window = TimeWindow(start=july(3), end=july(5))
    sessions = [
        make_session("a", july(2, 23, 59), [HOME]),  # before
        make_session("b", july(3, 0, 0), [HOME]),  # on the start bound
        make_session("c", july(5, 0, 0), [HOME]),  # on the end bound
        make_session("d", july(5, 0, 1), [HOME]),  # after
    ]

    result = report(sessions, window=window)

    assert result is not None
    assert result.time_frame == window
    assert result.summary == totals(2, 2, 0, 0)


def test_session_filters_are_applied() -> None:
    google = Attribution(source="google.com", medium="organic")
    sessions = [
        make_session("a", july(2), [PRICING], attribution=google),
        make_session("b", july(2), [PRICING]),
        make_session("c", july(2), [HOME, PRICING], attribution=google),
    ]

    result = report(sessions, filters=SessionFilters(source="google.com", landing_page=PRICING))

    # Only a: source google.com AND landing page pricing.
    assert result is not None
    assert result.summary == totals(1, 1, 0, 0)
    assert result.drop_off_performance == (drop(PRICING, rc(1, 1), rc(1, 1), rc(1, 1)),)


def test_builder_needs_no_conversion_history_for_scope_any() -> None:
    query = PagesQuery(filters=SessionFilters(), window=JULY, definition=ConversionDefinition())
    builder = PageReportBuilder(query, NOW, rule=CountingRule(query.definition))

    # The store selects the window's sessions; the builder takes what it is given.
    builder.add([report_session(s, n) for s, n in with_ordinals(DATASET) if JULY.contains(s.start)])

    result = builder.result({page: str(page) for page in builder.page_keys()})
    assert result is not None
    assert result.summary == totals(9, 4, 3, 3)


@pytest.mark.parametrize("scope", [TouchScope.ASSIST, TouchScope.AFTER])
def test_builder_requires_the_conversion_history_for_assist_and_after(scope: TouchScope) -> None:
    query = PagesQuery(
        filters=SessionFilters(),
        window=JULY,
        definition=ConversionDefinition(),
        touch_scope=scope,
    )

    with pytest.raises(ValueError, match="first_converting"):
        PageReportBuilder(query, NOW, rule=CountingRule(query.definition))


def test_the_builder_gives_the_same_report_fed_at_once_or_in_chunks() -> None:
    query = PagesQuery(filters=SessionFilters(), window=JULY, definition=ConversionDefinition())
    rows = [report_session(s, n) for s, n in with_ordinals(DATASET)]
    whole = PageReportBuilder(query, NOW, rule=CountingRule(query.definition))
    whole.add(rows)
    chunked = PageReportBuilder(query, NOW, rule=CountingRule(query.definition))
    for row in rows:
        chunked.add([row])

    urls = {page: str(page) for page in whole.page_keys()}
    assert chunked.result(urls) == whole.result(urls)
