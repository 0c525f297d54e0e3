"""The collector's pause around reports."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from domain.gc_pause import collection_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    # As it was before the test, whatever the test left.
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_the_block_and_on_again_after() -> None:
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("report failed")
    assert gc.isenabled()


def test_overlapping_pauses_resume_the_collector_when_the_last_one_ends() -> None:
    first = collection_paused()
    second = collection_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_pauses_on_other_threads_count_as_overlapping() -> None:
    entered = threading.Event()
    release = threading.Event()

    def report() -> None:
        with collection_paused():
            entered.set()
            release.wait(5)

    other = threading.Thread(target=report)
    other.start()
    assert entered.wait(5)
    with collection_paused():
        pass
    assert not gc.isenabled()  # the other thread's report still runs
    release.set()
    other.join(5)
    assert gc.isenabled()
