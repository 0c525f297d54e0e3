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

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

if not __package__:  # run as a file (python bench/attribution_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import in_process
from domain.services import AttributionService

TARGET_S: Final = 0.50
BASELINE: Final = "page report, scope any (baseline)"


def cases(service: AttributionService, site_id: str) -> Mapping[str, in_process.Case]:
    async def pages() -> object:
        return await service.page_report(site_id, {})

    def attribution(dimension: str) -> in_process.Case:
        async def run() -> object:
            return await service.attribution(site_id, {"dimension": dimension})

        return run

    return {
        BASELINE: pages,
        "attribution, seven models, by channel": attribution("channel"),
        "attribution, seven models, by campaign": attribution("campaign"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    in_process.run(
        "python -m bench.attribution_bench",
        "attribution",
        cases,
        baseline=BASELINE,
        target_s=TARGET_S,
        argv=argv,
    )


if __name__ == "__main__":
    main()
