"""Domain-level benchmark: sessionization and the page report, no store involved.

    python -m bench.domain_bench [--sizes 100000,1000000] [--quick]

For each size N it generates N demo events (``attributionhub.demo``), validates them
with ``EventParser`` and measures, on the parsed events:

- baseline: ``sorted()`` of the N events by (visitor, time order). Any sessionizer has
  to group each visitor's events and order them; this is that work alone, done by the
  C sort, so it tracks the machine's speed and little else. Every other figure is also
  given as its time divided by the baseline's time for the same N ("vs base"), which
  stays comparable between machines and shows how cost grows with N.
- parse: ``orjson.loads`` + ``EventParser.parse`` of the same events (what ingestion
  pays per event before any store work), for scale.
- sessionize: ``domain.sessionization.sessionize`` over all events (events/s).
- page report, touch scope any: ``build_page_report`` over every session (sessions/s).
- page report, touch scope assist: the same, with each visitor's first converting
  session found from the conversions of every visitor's history, timed with it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:  # run as a file (python bench/domain_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from attributionhub.demo import generate_events
from bench.common import header, peak_rss_mib, row, sizes_from_args, timed
from domain.events import EventParser
from domain.model import Event
from domain.page_report import build_page_report
from domain.queries import (
    ConversionDefinition,
    PagesQuery,
    SessionFilters,
    TimeWindow,
    TouchScope,
)
from domain.sessionization import sessionize

END = datetime(2025, 7, 31, 23, 59, 59, tzinfo=UTC)
DAYS = 90


def run(size: int) -> None:
    start = END - timedelta(days=DAYS)
    raw, gen_s = timed(lambda: list(generate_events(count=size, start=start, end=END)))
    lines = [orjson.dumps(event) for event in raw]
    del raw
    parser = EventParser(site_id="site-bench", now=END)

    def parse() -> list[Event]:
        return [parser.parse(orjson.loads(line)) for line in lines]

    events, parse_s = timed(parse)
    lines = []  # freed before the next measurements
    _, base_s = timed(lambda: sorted(events, key=lambda e: (e.visitor_id, e.sort_key)))
    sessions, sessionize_s = timed(lambda: sessionize(events))
    events = []
    window = TimeWindow(start=start, end=END)
    any_query = PagesQuery(SessionFilters(), window, ConversionDefinition(), TouchScope.ANY)
    report, any_s = timed(lambda: build_page_report(sessions, any_query, END))
    assist_query = PagesQuery(SessionFilters(), window, ConversionDefinition(), TouchScope.ASSIST)
    _, assist_s = timed(lambda: build_page_report(sessions, assist_query, END))

    print(f"\n{size:,} events over {DAYS} days -> {len(sessions):,} sessions")
    print(f"  (generated in {gen_s:.2f} s, {size / gen_s:,.0f} events/s; not part of the ratios)")
    print(header())
    print(row("baseline: sort by visitor and time", size, "events", base_s, None))
    print(row("parse: orjson + EventParser", size, "events", parse_s, base_s))
    print(row("sessionize", size, "events", sessionize_s, base_s))
    print(row("page report, touch scope any", len(sessions), "sessions", any_s, base_s))
    print(row("page report, assist (with history)", len(sessions), "sessions", assist_s, base_s))
    total = report.summary.total_sessions if report else 0
    print(f"  report check: {total:,} sessions in S; peak RSS so far {peak_rss_mib():,.0f} MiB")


def main(argv: Sequence[str] | None = None) -> None:
    sizes = sizes_from_args(__doc__.splitlines()[0] if __doc__ else "", argv)
    print(f"domain benchmark, Python {sys.version.split()[0]}")
    for size in sizes:
        run(size)


if __name__ == "__main__":
    main()
