"""In-process benchmark of the attribution report (docs/attribution.md).

    python -m bench.attribution_bench STORE [--runs 5]

STORE is an embedded store holding one site, such as the one ``http_bench --keep``
leaves (``n1000000/store-a.db``); it is written to (5 events per timed run), so give it a
copy. Over the 30 days ending now, through ``AttributionService`` and no HTTP, each run
of each case follows a write of 5 events of a new visitor within the last hour (a figure
counts on the first read after new data was written):

- baseline: the page report (touch scope any), as ``/pages`` serves it;
- attribution, all seven models, default window and lookback, by channel and by
  campaign, as ``/attribution`` serves it.

Median and min per case, and the median as a ratio to the baseline's median. Target
(printed, never asserted): attribution <= 0.50 s at 1M events. To compare two versions
of the code, run this file on two copies of one store, once from each checkout
(``PYTHONPATH=OTHER_CHECKOUT python bench/attribution_bench.py COPY``): the ratio to the
page report, measured in the same run, is what compares.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

if not __package__:  # run as a file (python bench/aggregates_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from domain.services import AttributionService

TARGET_S: Final = 0.50


async def measure(store_path: Path, runs: int) -> None:
    store = await SqliteStore.open(store_path)
    try:
        service = AttributionService(store, SystemClock(), CrawlerDetectBots())
        sites = await service.sites()
        if len(sites) != 1:
            raise SystemExit(f"{store_path}: expected a store of one site, found {len(sites)}")
        site_id = sites[0].site_id

        async def write() -> None:
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

        async def pages() -> object:
            return await service.page_report(site_id, {})

        def attribution(dimension: str) -> Callable[[], Awaitable[object]]:
            async def run() -> object:
                return await service.attribution(site_id, {"dimension": dimension})

            return run

        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "page report, scope any (baseline)": pages,
            "attribution, seven models, by channel": attribution("channel"),
            "attribution, seven models, by campaign": attribution("campaign"),
        }
        times: dict[str, list[float]] = {label: [] for label in cases}
        # Interleaved, so that a busy moment of the machine weighs on every case alike.
        for _ in range(runs):
            for label, case in cases.items():
                await write()
                started = time.perf_counter()
                await case()
                times[label].append(time.perf_counter() - started)
        base = statistics.median(times["page report, scope any (baseline)"])
        for label, measured in times.items():
            med = statistics.median(measured)
            note = "base" if label.endswith("(baseline)") else f"{med / base:4.2f}x base"
            if not label.endswith("(baseline)"):
                note += f"; target <= {TARGET_S:.2f} s: " + ("met" if med <= TARGET_S else "MISSED")
            print(
                f"  {label:<40} {med * 1000:8.1f} ms med {min(measured) * 1000:8.1f} ms min"
                f"   {note}",
                flush=True,
            )
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attribution_bench")
    parser.add_argument("store", type=Path, help="an embedded store of one site (a copy)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.store.is_file():
        raise SystemExit(f"{args.store}: no such file")
    print(f"attribution in process on {args.store}, 30 days ending now, {args.runs} runs each")
    asyncio.run(measure(args.store, max(1, args.runs)))


if __name__ == "__main__":
    main()
