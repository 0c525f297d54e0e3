"""The dashboard's first complete render in headless Chromium, on a 1M-event store.

    python -m bench.dashboard_bench [--store DB] [--events 1000000] [--workdir DIR]
                                    [--runs 5]

``--store`` names an SQLite store to measure (for instance the one ``python -m
bench.http_bench --keep`` leaves, ``n1000000/store-a.db``); it is COPIED into the work
directory first and never changed. Without it, the kept store
``/tmp/bench1m/n1000000/store-a.db`` is copied when it exists (and ``--events`` is left
at 1M); otherwise ``--events`` demo events (seed 7) over ``60 * N / 1M`` days ending now
are generated and imported into a new store, as ``bench/http_bench.py`` does. The
store's first site is measured; its keys are renewed on the copy (``sites rotate-keys``)
since a store keeps keys only as hashes.

Each store is served by ``attributionhub serve`` (``bench.http_bench.Server``). For each
of ``--runs`` renders: 5 events of a new visitor are written first (``POST
/api/v1/events``, so a figure is the first request after new data, never a cache), then
a new tab opens the dashboard with the key already in its session storage and the page
draws every panel with its defaults (the last 7 days, the browser's time zone).

- **first complete render**: from the navigation's start (``performance.timeOrigin``)
  to the page's ``dashboard-ready`` mark, set when every panel (chart, breakdowns, page
  report, attribution, sessions) is drawn; and when each panel was drawn;
- **30 days**: from a click on the "30 days" preset to the next ``dashboard-ready``.

Baseline: the same page and steps on an empty store (one site, no events), measured in
the same run: the cost of the browser, the assets and the requests themselves. Target,
printed beside the figures and never asserted: first complete render <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import orjson

from bench.http_bench import (
    REFERENCE_DAYS,
    REFERENCE_EVENTS,
    SEED,
    Api,
    Server,
    create_site,
    import_file,
    new_session,
    write_ndjson,
)
from bench.import_bench import cli
from tests.e2e.browser_support import CHROMIUM, NO_CHROMIUM, Browser, Tab, chromium

DEFAULT_STORE: Final = Path("/tmp/bench1m/n1000000/store-a.db")
PANELS: Final = ("overview", "breakdowns", "pages", "attribution", "sessions")
TARGET_FIRST_RENDER_S: Final = 1.5
RENDER_TIMEOUT: Final = 120.0
KEY_STORAGE: Final = "attributionhub.apiKey"


@dataclass
class Figures:
    first: list[float] = field(default_factory=list)
    panels: dict[str, list[float]] = field(default_factory=dict)
    thirty_days: list[float] = field(default_factory=list)


def site_key(db: Path) -> str:
    """A fresh API key of the store's first site (creating one in an empty store)."""
    output, _, _ = cli("--store", str(db), "sites", "list", "--json")
    sites = orjson.loads(output)
    if not sites:
        return create_site(db)["api_key"]
    output, _, _ = cli("--store", str(db), "sites", "rotate-keys", sites[0]["site_id"], "--json")
    return str(orjson.loads(output)["api_key"])


async def _ready(tab: Tab) -> None:
    await tab.wait_for(
        "document.getElementById('main').dataset.state === 'ready'", within=RENDER_TIMEOUT
    )
    errors = await tab.evaluate(
        "[...document.querySelectorAll('main .error')].map(e => e.textContent)"
    )
    if errors:
        raise SystemExit(f"the dashboard shows errors: {errors}")


async def render_once(browser: Browser, base: str, api_key: str, out: Figures) -> None:
    tab = await browser.new_tab()
    try:
        await tab.set_viewport(1280, 900, mobile=False)
        # Session storage belongs to the tab and the origin: set it on a page of the
        # origin, then load the dashboard as a signed-in user would reload it.
        await tab.navigate(base + "/dashboard/assets/favicon.svg")
        await tab.wait_for("document.readyState === 'complete'")
        await tab.evaluate(
            f"sessionStorage.setItem({json.dumps(KEY_STORAGE)}, {json.dumps(api_key)})"
        )
        await tab.navigate(base + "/")
        await _ready(tab)
        marks = await tab.evaluate(
            "Object.fromEntries(performance.getEntriesByType('mark')"
            ".map(m => [m.name, m.startTime / 1000]))"
        )
        out.first.append(float(marks["dashboard-ready"]))
        for panel in PANELS:
            out.panels.setdefault(panel, []).append(float(marks[f"dashboard-{panel}"]))
        # Timed in the page, from the click to the next "ready" mark.
        await tab.evaluate(
            "window.clickedAt = performance.now();"
            " document.getElementById('main').dataset.state = 'stale';"
            " document.querySelector('.preset[data-preset=\"30\"]').click()"
        )
        await _ready(tab)
        elapsed = await tab.evaluate(
            "(performance.getEntriesByName('dashboard-ready').pop().startTime"
            " - window.clickedAt) / 1000"
        )
        out.thirty_days.append(float(elapsed))
    finally:
        await tab.send("Page.close")


async def measure(db: Path, workdir: Path, label: str, runs: int, browser: Browser) -> Figures:
    api_key = site_key(db)
    log = workdir / f"server-{label}.stderr.log"
    server = Server(db, log)
    figures = Figures()
    try:
        async with new_session() as session:
            await server.wait_ready(session)
            api = Api(session=session, base=server.base, api_key=api_key, bad=Counter())
            # One untimed render: Chromium's first tab pays for its own start-up.
            await render_once(browser, server.base, api_key, Figures())
            for _ in range(runs):
                await api.write()
                await render_once(browser, server.base, api_key, figures)
            if api.bad:
                raise SystemExit(f"unexpected responses: {dict(api.bad)}")
    finally:
        server.stop()
    return figures


def build_store(workdir: Path, events: int) -> Path:
    days = max(1.0, REFERENCE_DAYS * events / REFERENCE_EVENTS)
    end = datetime.now(UTC)
    ndjson = workdir / "events.ndjson"
    print(f"generating {events:,} demo events over {days:g} days ...", flush=True)
    write_ndjson(ndjson, events, end - timedelta(days=days), end, SEED)
    db = workdir / "store.db"
    site = create_site(db)
    print("importing ...", flush=True)
    imported = import_file(db, site["site_id"], ndjson)
    print(f"imported {imported.accepted:,} events in {imported.seconds:.0f} s", flush=True)
    ndjson.unlink()
    return db


def copy_store(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        part = source.with_name(source.name + suffix)
        if part.exists():
            shutil.copyfile(part, target.with_name(target.name + suffix))
    return target


def s(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:8.0f} ms (best {min(values) * 1000:.0f})"


def report(base: Figures, big: Figures, label: str) -> None:
    first = statistics.median(big.first)
    met = "met" if first <= TARGET_FIRST_RENDER_S else "MISSED"
    print()
    print(f"{'':34} {'empty store (base)':>26} {label:>26} {'vs base':>8}")
    lines = [("first complete render", base.first, big.first)]
    lines += [(f"  {p} drawn at", base.panels[p], big.panels[p]) for p in PANELS]
    lines.append(("click 30 days -> all drawn", base.thirty_days, big.thirty_days))
    for name, b, m in lines:
        ratio = statistics.median(m) / statistics.median(b)
        print(f"{name:34} {s(b):>26} {s(m):>26} {ratio:7.2f}x")
    print(f"\ntarget first complete render <= {TARGET_FIRST_RENDER_S} s: {met}")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    if args.store is not None:
        db = copy_store(args.store, workdir / "store.db")
        label = f"{args.store.name} (copy)"
    else:
        db = build_store(workdir, args.events)
        label = f"{args.events:,} events"
    empty = workdir / "empty.db"
    async with chromium(workdir / "chromium-profile") as browser:
        print(f"measuring the empty store ({args.runs} renders) ...", flush=True)
        base = await measure(empty, workdir, "empty", args.runs, browser)
        print(f"measuring {label} ({args.runs} renders) ...", flush=True)
        big = await measure(db, workdir, "big", args.runs, browser)
    report(base, big, label)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--store", type=Path, default=None, help="an SQLite store to copy")
    parser.add_argument("--events", type=int, default=REFERENCE_EVENTS)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.store is None and args.events == REFERENCE_EVENTS and DEFAULT_STORE.exists():
        args.store = DEFAULT_STORE
    if CHROMIUM is None:
        parser.error(NO_CHROMIUM)
    if args.store is not None and not args.store.exists():
        parser.error(f"--store {args.store}: no such file")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as here:
            asyncio.run(run(args, Path(here)))


if __name__ == "__main__":
    main()
