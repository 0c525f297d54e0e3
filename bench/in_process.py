"""The harness of the in-process benchmarks (``aggregates_bench``, ``attribution_bench``):
a copied one-site embedded store, a write before every timed read (a figure counts on
the first read after new data was written), cases interleaved run by run, and medians
printed as ratios to the baseline case measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from domain.services import AttributionService

Case = Callable[[], Awaitable[object]]
# What a benchmark measures, given the service and the store's one site: cases by label.
Cases = Callable[[AttributionService, str], Mapping[str, Case]]


async def measure(
    store_path: Path, runs: int, cases: Cases, *, baseline: str, target_s: float
) -> None:
    """Time each case ``runs`` times after a fresh write; print median, min and ratio."""
    store = await SqliteStore.open(store_path)
    try:
        service = AttributionService(store, SystemClock(), CrawlerDetectBots())
        sites = await service.sites()
        if len(sites) != 1:
            raise SystemExit(f"{store_path}: expected a store of one site, found {len(sites)}")
        site_id = sites[0].site_id
        chosen = cases(service, site_id)
        times: dict[str, list[float]] = {label: [] for label in chosen}
        # Interleaved, so that a busy moment of the machine weighs on every case alike.
        for _ in range(runs):
            for label, case in chosen.items():
                await _write_a_visit(service, site_id)
                started = time.perf_counter()
                await case()
                times[label].append(time.perf_counter() - started)
        _print(times, baseline, target_s)
    finally:
        await store.close()


async def _write_a_visit(service: AttributionService, site_id: str) -> None:
    """Five pageviews of a new visitor within the last hour."""
    visitor = f"bench-{uuid.uuid4().hex}"
    first = datetime.now(UTC) - timedelta(minutes=50)
    await service.ingest(
        site_id,
        [
            {
                "type": "pageview",
                "event_id": f"{visitor}-{i}",
                "visitor_id": visitor,
                "timestamp": (first + timedelta(minutes=i)).isoformat(),
                "url": "https://demo.attributionhub.dev/pricing",
            }
            for i in range(5)
        ],
    )


def _print(times: Mapping[str, list[float]], baseline: str, target_s: float) -> None:
    base = statistics.median(times[baseline])
    width = max(len(label) for label in times)
    for label, measured in times.items():
        med = statistics.median(measured)
        if label == baseline:
            note = "base"
        else:
            verdict = "met" if med <= target_s else "MISSED"
            note = f"{med / base:4.2f}x base; target <= {target_s:.2f} s: {verdict}"
        print(
            f"  {label:<{width}} {med * 1000:8.1f} ms med {min(measured) * 1000:8.1f} ms min"
            f"   {note}",
            flush=True,
        )


def run(
    prog: str,
    what: str,
    cases: Cases,
    *,
    baseline: str,
    target_s: float,
    argv: Sequence[str] | None = None,
) -> None:
    """The command line: ``STORE [--runs N]``."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("store", type=Path, help="an embedded store of one site (a copy)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.store.is_file():
        raise SystemExit(f"{args.store}: no such file")
    print(f"{what} in process on {args.store}, 30 days ending now, {args.runs} runs each")
    asyncio.run(measure(args.store, max(1, args.runs), cases, baseline=baseline, target_s=target_s))
