"""In-process benchmark of the aggregates a dashboard loads beside the page report.

    python -m bench.aggregates_bench STORE [--runs 5]

STORE is an embedded store holding one site, such as the one ``http_bench --keep``
leaves (``n1000000/store-a.db``); it is written to (5 events per timed run), so give it a
copy. Over the 30 days ending now, through ``AttributionService`` and no HTTP, each run
of each case follows a write of 5 events of a new visitor within the last hour (a figure
counts on the first read after new data was written):

- baseline: the page report (touch scope any), as ``/pages`` serves it;
- ``timeseries`` by day in Europe/Berlin;
- ``breakdown`` by channel, by landing page and by source.

Median and min per case, and the median as a ratio to the baseline's median. Target
(printed, never asserted): each aggregate <= 0.30 s at 1M events.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

if not __package__:  # run as a file (python bench/aggregates_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import in_process
from domain.services import AttributionService

TARGET_S: Final = 0.30
ZONE: Final = "Europe/Berlin"
BASELINE: Final = "page report, scope any (baseline)"


def cases(service: AttributionService, site_id: str) -> Mapping[str, in_process.Case]:
    async def pages() -> object:
        return await service.page_report(site_id, {})

    async def series() -> object:
        async with service.reading() as reads:
            return await reads.timeseries(site_id, {"interval": "day", "time_zone": ZONE})

    def breakdown(by: str) -> in_process.Case:
        async def run() -> object:
            async with service.reading() as reads:
                return await reads.breakdown(site_id, {"by": by})

        return run

    return {
        BASELINE: pages,
        f"timeseries DAY {ZONE}": series,
        "breakdown CHANNEL": breakdown("channel"),
        "breakdown LANDING_PAGE": breakdown("landing_page"),
        "breakdown SOURCE": breakdown("source"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    in_process.run(
        "python -m bench.aggregates_bench",
        "aggregates",
        cases,
        baseline=BASELINE,
        target_s=TARGET_S,
        argv=argv,
    )


if __name__ == "__main__":
    main()
