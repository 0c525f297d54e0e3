"""Pausing Python's cyclic garbage collector around a report's burst of allocations.

A report over a large window allocates hundreds of thousands of small containers (rows,
paths, touches) that live until the report is done, and nearly none of them are ever
part of a reference cycle. The collector, which runs every few hundred allocations and
over the whole heap from time to time, spends about a fifth of such a report walking
them (bench/README.md). Reference counting still frees everything as usual while the
collector is paused; only cycles wait for it to resume.

The collector is one per process: overlapping pauses (reports running at once, on any
thread) resume it when the last one ends, and a collector that was already off when the
first began stays off. Pause only around synchronous work, which always ends: a pause
held across an ``await`` by a coroutine that is never resumed would leave the collector
off for good.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_resume = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic collector off for the extent of the block (see the module's doc)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
