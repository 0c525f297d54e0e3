from __future__ import annotations

from datetime import timedelta

from domain.model import Attribution
from domain.sessionization import recut_visitor, resume_point, sessionize

from .builders import SITE, at, conversion, exit_, pageview

GOOGLE = "https://www.google.com/"


def paths(sessions: list) -> list[list[str]]:  # type: ignore[type-arg]
    return [[v.url.removeprefix(SITE) or "/" for v in s.path] for s in sessions]


# --- rules 1 and 2: first event, timeout -------------------------------------------------


def test_first_event_of_a_visitor_starts_a_session() -> None:
    [session] = sessionize([pageview(0, "/a")])
    assert session.start == at(0)
    assert session.landing_page == SITE + "/a"


def test_gap_of_exactly_the_timeout_stays_in_the_session() -> None:
    sessions = sessionize([pageview(0, "/a"), pageview(30, "/b")])
    assert paths(sessions) == [["/a", "/b"]]


def test_gap_longer_than_the_timeout_starts_a_new_session() -> None:
    sessions = sessionize([pageview(0, "/a"), pageview(30.5, "/b")])
    assert paths(sessions) == [["/a"], ["/b"]]


def test_timeout_is_configurable() -> None:
    events = [pageview(0, "/a"), pageview(20, "/b")]
    assert len(sessionize(events, timeout=timedelta(minutes=10))) == 2
    assert len(sessionize(events)) == 1


def test_visitors_are_sessionized_separately() -> None:
    sessions = sessionize([pageview(0, "/a", visitor="x"), pageview(1, "/b", visitor="y")])
    assert sorted(s.visitor_id for s in sessions) == ["x", "y"]


# --- rule 3: campaign touches ------------------------------------------------------------


def test_new_campaign_touch_starts_a_new_session() -> None:
    sessions = sessionize(
        [pageview(0, "/a?utm_source=news&utm_campaign=june"), pageview(5, "/b?utm_source=ads")]
    )
    assert paths(sessions) == [["/a"], ["/b"]]
    assert sessions[1].attribution.source == "ads"


def test_touch_with_the_same_attribution_continues_the_session() -> None:
    sessions = sessionize(
        [pageview(0, "/a?utm_source=news"), pageview(5, "/b?utm_source=news&x=1")]
    )
    assert len(sessions) == 1


def test_external_referrer_is_a_touch() -> None:
    sessions = sessionize([pageview(0, "/a"), pageview(5, "/b", referrer=GOOGLE)])
    assert len(sessions) == 2
    assert sessions[1].attribution == Attribution(source="google.com", medium="organic")


def test_internal_referrer_never_starts_a_session() -> None:
    sessions = sessionize(
        [pageview(0, "/a", referrer=GOOGLE), pageview(5, "/b", referrer=SITE + "/a")]
    )
    assert len(sessions) == 1
    assert sessions[0].attribution.source == "google.com"


def test_pageview_without_referrer_never_starts_a_session() -> None:
    sessions = sessionize([pageview(0, "/a", referrer=GOOGLE), pageview(5, "/b")])
    assert len(sessions) == 1


def test_click_id_is_a_touch() -> None:
    sessions = sessionize([pageview(0, "/a"), pageview(5, "/b?gclid=abc")])
    assert len(sessions) == 2
    assert sessions[1].attribution == Attribution(source="google.com", medium="cpc")


def test_conversion_with_utm_in_its_url_does_not_start_a_session() -> None:
    sessions = sessionize([pageview(0, "/a"), conversion(2, "/signup?utm_source=mail")])
    assert len(sessions) == 1


# --- rule 4: exits -----------------------------------------------------------------------


def test_exit_never_starts_a_session() -> None:
    assert sessionize([exit_(0, "/a")]) == []


def test_exit_within_the_timeout_counts_as_activity() -> None:
    # The exit at 25 extends the session: the pageview at 50 is 25 minutes after it.
    sessions = sessionize([pageview(0, "/a"), exit_(25, "/a"), pageview(50, "/b")])
    assert len(sessions) == 1
    assert sessions[0].last_activity == at(50)


def test_exit_after_the_timeout_is_ignored() -> None:
    sessions = sessionize([pageview(0, "/a"), exit_(45, "/a")])
    assert len(sessions) == 1
    assert sessions[0].last_activity == at(0)


def test_ignored_late_exit_does_not_keep_the_visitor_active() -> None:
    sessions = sessionize([pageview(0, "/a"), exit_(40, "/a"), pageview(60, "/b")])
    assert paths(sessions) == [["/a"], ["/b"]]


def test_mid_session_exit_on_navigation_keeps_one_session() -> None:
    # The tracker sends the hide-exit of /a just before /b loads.
    events = [pageview(0, "/a"), exit_(0.99, "/a"), pageview(1, "/b"), exit_(2, "/b")]
    sessions = sessionize(events)
    assert paths(sessions) == [["/a", "/b"]]


# --- tie order ---------------------------------------------------------------------------


def test_ties_order_pageview_then_conversion_then_exit() -> None:
    # All at one instant: the conversion happens on /form after the pageview of /form.
    events = [
        exit_(1, "/form", event_id="a"),
        conversion(1, "/form", event_id="b"),
        pageview(1, "/form", event_id="c"),
        pageview(0, "/", event_id="d"),
    ]
    [session] = sessionize(events)
    assert paths([session]) == [["/", "/form"]]
    assert session.conversion is not None
    assert session.conversion.previous_page == SITE


def test_ties_of_the_same_type_order_by_event_id() -> None:
    events = [pageview(0, "/b", event_id="e2"), pageview(0, "/a", event_id="e1")]
    [session] = sessionize(events)
    assert paths([session]) == [["/a", "/b"]]


# --- page path, conversion, exit ---------------------------------------------------------


def test_reload_adds_the_page_again_but_is_not_a_previous_page() -> None:
    events = [pageview(0, "/a"), pageview(1, "/b"), pageview(2, "/b"), conversion(3, "/b")]
    [session] = sessionize(events)
    assert paths([session]) == [["/a", "/b", "/b"]]
    assert session.conversion is not None
    assert session.conversion.previous_page == SITE + "/a"


def test_conversion_on_landing_page_has_the_landing_page_as_previous_page() -> None:
    [session] = sessionize([pageview(0, "/offer"), pageview(1, "/offer"), conversion(2, "/offer")])
    assert session.conversion is not None
    assert session.conversion.page == SITE + "/offer"
    assert session.conversion.previous_page == SITE + "/offer"


def test_conversion_on_a_new_url_adds_it_to_the_path() -> None:
    [session] = sessionize([pageview(0, "/pricing"), conversion(3, "/signup")])
    assert paths([session]) == [["/pricing", "/signup"]]
    assert session.conversion is not None
    assert session.conversion.previous_page == SITE + "/pricing"


def test_earliest_conversion_is_the_session_conversion() -> None:
    events = [
        pageview(0, "/a"),
        conversion(2, "/a", email="late@example.org", event_id="z"),
        conversion(1, "/a", email="early@example.org", event_id="y"),
    ]
    [session] = sessionize(events)
    assert len(session.conversions) == 2
    assert session.conversion is not None
    assert session.conversion.email == "early@example.org"


def test_conversion_first_session_is_direct_and_lands_on_the_conversion_page() -> None:
    [session] = sessionize([conversion(0, "/signup", email="a@b.c")])
    assert session.attribution == Attribution(source="direct", medium="none")
    assert session.landing_page == SITE + "/signup"


def test_exit_page_is_the_last_page_and_previous_is_the_page_before() -> None:
    events = [pageview(0, "/a"), pageview(1, "/b"), exit_(2, "/c")]
    [session] = sessionize(events)
    exit = session.exit(at(60))
    assert exit is not None
    assert exit.exit_page == SITE + "/c"
    assert exit.previous_page == SITE + "/b"
    assert exit.timestamp == at(2)
    assert session.duration_seconds(at(60)) == 120


def test_duration_is_the_difference_of_the_start_and_exit_times_as_shown() -> None:
    # 10:00:58.9 to 10:01:00.1 is 1.2 s, but the record shows 10:00:58 and 10:01:00
    # (instants are written to the second): a duration of 2 agrees with what is shown.
    seconds = 1 / 60
    events = [pageview(58.9 * seconds, "/a"), exit_(60.1 * seconds, "/b")]
    [session] = sessionize(events)
    assert session.duration_seconds(at(60)) == 2


def test_single_page_session_exit_previous_page_is_itself() -> None:
    [session] = sessionize([pageview(0, "/a"), pageview(1, "/a")])
    exit = session.exit(at(60))
    assert exit is not None
    assert exit.previous_page == exit.exit_page == SITE + "/a"


def test_open_session_has_no_exit_until_the_timeout_passes() -> None:
    [session] = sessionize([pageview(0, "/a"), pageview(10, "/b")])
    assert session.exit(at(40)) is None
    assert session.duration_seconds(at(40)) is None
    assert session.exit(at(40.01)) is not None


def test_session_followed_by_another_is_closed_whatever_the_time() -> None:
    first, second = sessionize([pageview(0, "/a"), pageview(1, "/b?utm_source=x")])
    assert first.is_closed(at(1))
    assert not second.is_closed(at(1))


# --- incremental form --------------------------------------------------------------------


def test_late_event_bridging_two_sessions_merges_them() -> None:
    stored = [pageview(0, "/a"), pageview(50, "/c")]
    assert len(sessionize(stored)) == 2
    recut = recut_visitor(stored, [pageview(25, "/b")])
    assert paths(list(recut.sessions)) == [["/a", "/b", "/c"]]
    assert len(recut.added) == 1


def test_recut_counts_duplicates_of_stored_and_batch_events() -> None:
    stored = [pageview(0, "/a", event_id="e1")]
    new = [
        pageview(0, "/a", event_id="e1"),
        pageview(1, "/b", event_id="e2"),
        pageview(1, "/b", event_id="e2"),
    ]
    recut = recut_visitor(stored, new)
    assert recut.duplicates == 2
    assert [e.event_id for e in recut.added] == ["e2"]
    assert paths(list(recut.sessions)) == [["/a", "/b"]]


# --- resume point ------------------------------------------------------------------------


def test_resume_point_is_the_start_of_the_session_holding_the_new_event() -> None:
    stored = [pageview(0, "/a"), pageview(60, "/b"), pageview(120, "/c")]
    assert resume_point(sessionize(stored), at(65)) == at(60)


def test_resume_point_is_none_when_the_new_event_precedes_every_session() -> None:
    stored = [pageview(10, "/a")]
    assert resume_point(sessionize(stored), at(5)) is None


def test_resume_point_skips_a_session_starting_at_the_new_events_instant() -> None:
    # A touch at minute 5 starts session 2; a new plain pageview at that same instant
    # may sort before it and join session 1, so session 2 is no clean boundary.
    stored = [pageview(0, "/a"), pageview(5, "/b?utm_source=x", event_id="e9")]
    sessions = sessionize(stored)
    assert len(sessions) == 2
    assert resume_point(sessions, at(5)) == at(0)
    late = pageview(5, "/c", event_id="e1")
    assert paths(sessionize([*stored, late])) == [["/a", "/c"], ["/b"]]


def test_resume_point_skips_a_session_sharing_an_instant_with_the_one_before() -> None:
    # Session 1 ends at minute 5 with a plain pageview sorted before the touch that starts
    # session 2 at the same instant: cutting from minute 5 would misplace that pageview.
    stored = [
        pageview(0, "/a"),
        pageview(5, "/b", event_id="e1"),
        pageview(5, "/c?utm_source=x", event_id="e2"),
    ]
    sessions = sessionize(stored)
    assert paths(sessions) == [["/a", "/b"], ["/c"]]
    assert resume_point(sessions, at(9)) == at(0)
