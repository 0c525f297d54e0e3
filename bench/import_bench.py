"""End-to-end benchmark: CLI import into a fresh embedded store, then the reads.

    python -m bench.import_bench [--sizes 100000,1000000] [--quick]

For each size N:

1. N demo events spanning the 90 days before now are written as NDJSON to a temp file.
2. baseline: the same file read line by line, decoded with orjson and inserted with raw
   ``sqlite3`` ``executemany`` into an empty table (primary key on the event id, WAL,
   ``synchronous=FULL``, one commit per 5,000 rows): the floor of any durable import of
   these rows, with no validation, no bot check and no sessions. "vs base" is a time
   divided by this one.
3. import: ``attributionhub import FILE --site ID --json`` in a subprocess (as a user runs
   it) into a fresh SQLite file. Reported twice: the command's own import time (what the
   throughput target is about) and the wall time including interpreter start-up. The
   peak memory is the subprocess's maximum resident set size (``wait4``).
4. reads, in this process, through ``AttributionService`` over that store: the 30-day
   page report (touch scope any, and assist, which also loads visitor histories),
   first run (cold) and best of 3; /sessions page 1 with no filter and with
   ``medium=cpc`` (count + first page, as the endpoint does).

Targets (printed for comparison, never asserted; those of the live-reports round): at
least 60,000 events/s imported, and the 30-day page report over 1M events in at most
0.2 s (``bench/http_bench.py`` measures it over HTTP, as clients see it).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

if not __package__:  # run as a file (python bench/import_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from attributionhub.demo import generate_events
from bench.common import header, peak_rss_mib, row, sizes_from_args
from domain.queries import (
    TouchScope,
)
from domain.services import AttributionService

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
DAYS = 90
BATCH = 5_000
TARGET_IMPORT_RATE = 60_000
TARGET_REPORT_SECONDS = 0.2

_BASELINE_COLUMNS = (
    "type", "event_id", "visitor_id", "timestamp", "url", "referrer", "user_agent",
    "email", "meta_type", "meta_id",
)  # fmt: skip


def write_ndjson(path: Path, size: int, now: datetime) -> float:
    started = time.perf_counter()
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for event in generate_events(count=size, start=now - timedelta(days=DAYS), end=now):
            chunk.append(orjson.dumps(event))
            if len(chunk) >= 10_000:
                out.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")
    return time.perf_counter() - started


def baseline_insert(ndjson: Path, db: Path) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE events (site_id TEXT NOT NULL, "
            + ", ".join(f"{c} TEXT" for c in _BASELINE_COLUMNS)
            + ", PRIMARY KEY (site_id, event_id))"
        )
        sql = f"INSERT OR IGNORE INTO events VALUES ({', '.join('?' * 11)})"
        started = time.perf_counter()
        rows: list[tuple[object, ...]] = []
        with ndjson.open("rb") as lines:
            for line in lines:
                raw = orjson.loads(line)
                rows.append(("site", *(raw.get(c) for c in _BASELINE_COLUMNS)))
                if len(rows) >= BATCH:
                    _commit(conn, sql, rows)
                    rows = []
        if rows:
            _commit(conn, sql, rows)
        return time.perf_counter() - started
    finally:
        conn.close()


def _commit(conn: sqlite3.Connection, sql: str, rows: list[tuple[object, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")


def cli(*args: str) -> tuple[bytes, float, float]:
    """Run the command line; its stdout, wall seconds and peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "attributionhub", *args], stdout=out, env=env, cwd=ROOT
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise SystemExit(f"attributionhub {' '.join(args)} failed ({process.returncode})")
    return output, wall, peak_rss_mib(usage)


async def best_of(runs: int, fn: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    """The result, the first (cold) run's seconds and the best run's seconds."""
    times: list[float] = []
    result: T | None = None
    for _ in range(runs):
        started = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - started)
    assert result is not None
    return result, times[0], min(times)


async def reads(db: Path, site_id: str) -> list[str]:
    store = await SqliteStore.open(db)
    try:
        service = AttributionService(store, SystemClock(), CrawlerDetectBots())
        lines: list[str] = []
        for scope in (TouchScope.ANY, TouchScope.ASSIST):
            # No dates: the 30 days up to now.
            query = {"touch_scope": scope.value}
            report, cold, best = await best_of(3, partial(service.page_report, site_id, query))
            sessions = report.summary.total_sessions if report else 0
            lines.append(
                f"  30-day page report, scope {scope.value:<7} {sessions:>9,} sessions  "
                f"cold {cold:7.3f} s  best {best:7.3f} s  "
                f"(target at 1M events: <= {TARGET_REPORT_SECONDS} s)"
            )
        listings: tuple[tuple[str, dict[str, object]], ...] = (
            ("no filter", {}),
            ("medium=cpc", {"medium": "cpc"}),
        )
        for label, listing in listings:
            page, cold, best = await best_of(3, partial(service.list_sessions, site_id, listing))
            lines.append(
                f"  /sessions page 1, {label:<11} {page.total_records:>9,} records   "
                f"cold {cold:7.3f} s  best {best:7.3f} s"
            )
        return lines
    finally:
        await store.close()


def run(size: int, workdir: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ndjson = workdir / f"events-{size}.ndjson"
    gen_s = write_ndjson(ndjson, size, now)
    mib = ndjson.stat().st_size / 2**20
    base_s = baseline_insert(ndjson, workdir / f"baseline-{size}.db")
    db = workdir / f"store-{size}.db"
    created, _, _ = cli("--store", str(db), "sites", "create", "Bench", "--json")
    site_id = str(orjson.loads(created)["site_id"])
    output, wall, rss = cli("--store", str(db), "import", str(ndjson), "--site", site_id, "--json")
    summary = orjson.loads(output)
    import_s = float(summary["elapsed_seconds"])
    accepted = int(summary["accepted"])

    print(
        f"\n{size:,} events over {DAYS} days ({mib:,.1f} MiB of NDJSON, written in {gen_s:.1f} s)"
    )
    print(header())
    print(row("baseline: orjson + sqlite3 executemany", size, "events", base_s, None))
    print(row("import (the command's own time)", size, "events", import_s, base_s))
    print(row("import (wall, with interpreter start)", size, "events", wall, base_s))
    verdict = "meets" if size / import_s >= TARGET_IMPORT_RATE else "misses"
    print(
        f"  accepted {accepted:,}, bots {summary['bots']:,}, "
        f"rejected {summary['rejected_count']:,}; import {verdict} the "
        f"{TARGET_IMPORT_RATE:,} events/s target\n"
        f"  import peak RSS {rss:,.0f} MiB; store file {_size_mib(db):,.1f} MiB"
    )
    for line in asyncio.run(reads(db, site_id)):
        print(line)
    print(f"  bench process peak RSS so far {peak_rss_mib():,.0f} MiB (reads included)")


def _size_mib(db: Path) -> float:
    files = [db, db.with_name(db.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def main(argv: Sequence[str] | None = None) -> None:
    sizes = sizes_from_args(__doc__.splitlines()[0] if __doc__ else "", argv)
    print(f"import benchmark, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    print(
        f"targets: >= {TARGET_IMPORT_RATE:,} events/s imported; "
        f"30-day page report over 1M events <= {TARGET_REPORT_SECONDS} s"
    )
    with tempfile.TemporaryDirectory(prefix="attributionhub-bench-") as tmp:
        for size in sizes:
            run(size, Path(tmp))


if __name__ == "__main__":
    main()
