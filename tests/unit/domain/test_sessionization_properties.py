"""Properties of the cut: the sessions depend on the set of events only."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import Event
from domain.sessionization import recut_visitor, resume_point, sessionize, sessionize_visitor

from .builders import event

PATHS = [
    "/",
    "/a",
    "/b",
    "/pricing",
    "/signup?utm_source=news",
    "/x?gclid=1",
    "/c?utm_source=ads&utm_medium=cpc",
]
REFERRERS = [None, "https://www.google.com/", "https://example.com/a", "https://t.co/x"]


@st.composite
def event_sets(draw: st.DrawFn, max_minute: int = 240) -> list[Event]:
    count = draw(st.integers(min_value=1, max_value=25))
    events = []
    for i in range(count):
        type_ = draw(st.sampled_from(["pageview", "pageview", "conversion", "exit"]))
        minute = draw(st.integers(min_value=0, max_value=max_minute))
        path = draw(st.sampled_from(PATHS))
        visitor = draw(st.sampled_from(["v1", "v2"]))
        referrer = draw(st.sampled_from(REFERRERS)) if type_ == "pageview" else None
        kwargs: dict[str, str] = {"visitor": visitor, "event_id": f"e{i}"}
        if referrer is not None:
            kwargs["referrer"] = referrer
        events.append(event(type_, minute, path, **kwargs))
    return events


@settings(max_examples=200, deadline=None)
@given(events=event_sets(), data=st.data())
def test_any_permutation_gives_the_same_sessions(events: list[Event], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events))
    assert sessionize(shuffled) == sessionize(events)


@settings(max_examples=200, deadline=None)
@given(events=event_sets(), data=st.data())
def test_any_batching_gives_the_same_sessions_as_one_batch(
    events: list[Event], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(shuffled)), max_size=5)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    # Feed the batches one visitor at a time, as a store would.
    stored: dict[str, list[Event]] = {}
    sessions: dict[str, tuple[object, ...]] = {}
    for batch in batches:
        for visitor in {e.visitor_id for e in batch}:
            recut = recut_visitor(
                stored.get(visitor, []), [e for e in batch if e.visitor_id == visitor]
            )
            stored.setdefault(visitor, []).extend(recut.added)
            sessions[visitor] = recut.sessions
    incremental = [s for visitor in sorted(sessions) for s in sessions[visitor]]
    assert incremental == sessionize(events)


@settings(max_examples=100, deadline=None)
@given(events=event_sets(), data=st.data())
def test_reingesting_duplicates_changes_nothing(events: list[Event], data: st.DataObject) -> None:
    again = data.draw(st.lists(st.sampled_from(events), max_size=10))
    assert sessionize([*events, *again]) == sessionize(events)
    for visitor in {e.visitor_id for e in events}:
        mine = [e for e in events if e.visitor_id == visitor]
        repeats = [e for e in again if e.visitor_id == visitor]
        recut = recut_visitor(mine, repeats)
        assert recut.added == ()
        assert recut.duplicates == len(repeats)
        assert list(recut.sessions) == sessionize(mine)


# A narrow time range makes events share instants, where clean boundaries matter.
@settings(max_examples=300, deadline=None)
@given(events=st.one_of(event_sets(), event_sets(max_minute=8)), data=st.data())
def test_recutting_from_the_resume_point_equals_a_full_recut(
    events: list[Event], data: st.DataObject
) -> None:
    stored_ids = data.draw(st.sets(st.sampled_from([e.event_id for e in events])))
    stored = [e for e in events if e.event_id in stored_ids]
    new = [e for e in events if e.event_id not in stored_ids]
    for visitor in {e.visitor_id for e in new}:
        mine_stored = [e for e in stored if e.visitor_id == visitor]
        mine_new = [e for e in new if e.visitor_id == visitor]
        before = sessionize(mine_stored)
        point = resume_point(before, min(e.timestamp for e in mine_new))
        everything = [*mine_stored, *mine_new]
        if point is None:
            resumed = sessionize(everything)
        else:
            kept = [s for s in before if s.start < point]
            resumed = kept + sessionize([e for e in everything if e.timestamp >= point])
        assert resumed == sessionize(everything)


@settings(max_examples=200, deadline=None)
@given(events=event_sets(), data=st.data())
def test_the_one_visitor_cut_equals_the_general_cut_duplicates_included(
    events: list[Event], data: st.DataObject
) -> None:
    one_visitor = [e for e in events if e.visitor_id == "v1"]
    # An event id sent again with other content: both keep the first event seen.
    originals = data.draw(st.lists(st.sampled_from(one_visitor), max_size=3)) if one_visitor else []
    repeated = [replace(e, url=e.url + "/again", page=e.page + "/again") for e in originals]
    shuffled = data.draw(st.permutations([*one_visitor, *repeated]))
    assert sessionize_visitor(shuffled) == sessionize(shuffled)
