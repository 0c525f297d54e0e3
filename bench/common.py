"""Helpers shared by the benchmark scripts: argument parsing, timing, printing."""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000,)


def sizes_from_args(description: str, argv: Sequence[str] | None = None) -> list[int]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="comma-separated event counts (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="one small run (10,000 events)")
    args = parser.parse_args(argv)
    if args.quick:
        return list(QUICK_SIZES)
    try:
        sizes = [int(part.replace("_", "")) for part in args.sizes.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: expected positive integers")
    return sizes


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and its wall-clock seconds, with the garbage collector settled first so
    one measurement does not pay for the previous one's garbage."""
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def peak_rss_mib(usage: resource.struct_rusage | None = None) -> float:
    usage = usage or resource.getrusage(resource.RUSAGE_SELF)
    # Linux reports kibibytes, macOS bytes.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss / divisor


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}/s" if seconds > 0 else "           inf"


def row(label: str, count: int, unit: str, seconds: float, baseline: float | None) -> str:
    ratio = f"{seconds / baseline:7.2f}x" if baseline else "       -"
    return f"  {label:<38} {count:>10,} {unit:<8} {seconds:9.3f} s {rate(count, seconds)} {ratio}"


def header() -> str:
    return f"  {'measure':<38} {'n':>10} {'unit':<8} {'time':>11} {'throughput':>14} {'vs base':>8}"
