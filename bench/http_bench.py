"""End-to-end HTTP benchmark: CLI imports, then the running server over 127.0.0.1.

    python -m bench.http_bench [--events 1000000] [--days 60] [--quick]
                               [--workdir DIR] [--keep]

``--events`` takes a comma-separated list (``250000,1000000,4000000``); unless ``--days``
is given each size N spans ``60 * N / 1M`` days (at least 1), so daily traffic stays that
of 1M events over 60 days and only the history grows. ``--quick`` is 20,000 events over
10 days. For each size N, D days of demo events (``attributionhub.demo``, seed 7) ending
now are written as NDJSON and measured as follows; every figure carries "vs base", a
ratio to a baseline measured in the same run on the same machine.

Import, through ``attributionhub import FILE --site ID --json`` in a subprocess (rates
from the command's own ``elapsed_seconds``). Baseline: raw ``sqlite3`` ``executemany``
of the same lines (``bench.import_bench.baseline_insert``); "vs base" is the time per
line divided by the baseline's time per line.

- (a) the N events into a fresh, empty store;
- (c) the first 60,000 lines of that file into a fresh, empty store;
- (b) the same 60,000 lines into a fresh store that first imported 16 events of another
  generated set (seed 8): a first small import must not slow the next big one;
- the size of store (a) (database + WAL, after ``wal_checkpoint(TRUNCATE)``) per accepted
  event, against the baseline's table per row, and per table and index from ``dbstat``
  when SQLite has it;
- (d) the N file again into store (a): all duplicates, lines/s;
- (e) min(N, 1M) different events (seed 9, same D days) into store (a), which already
  holds the N events, as a ratio to (a).

(d) and (e) run after the server has stopped, so every HTTP figure is on store (a) as
imported, plus the few events the benchmark itself posts.

HTTP, against ``attributionhub serve`` on store (a), every request from one persistent
keep-alive aiohttp session unless said otherwise. Baseline: the median of 200
``GET /healthz`` round-trips, the floor of any request; "vs base" is a time divided by it.
A read figure counts only on the first request after new data was written (so a cache
cannot answer it), so every timed read is preceded by a ``POST /api/v1/events`` of 5
events of a brand-new visitor within the last hour, and timed only after that write's 2xx.

- ``/pages`` with the default window (the 30 days ending now) for each touch scope, for
  ``assist`` with ``meta_type=hubspot_form`` and ``any`` with ``source=google.com``: 5
  timed requests each, median and min;
- the GraphQL aggregates a dashboard loads beside the page report, default window:
  ``timeseries`` by day in Europe/Berlin, ``breakdown`` by channel and by landing page
  (5 timed requests each, median and min, and each as a ratio to ``/pages`` any);
- ``/attribution`` with the default window and all seven models, by channel and by
  campaign: 5 timed requests each, median and min;
- ``/sessions`` page 1 unfiltered, ``source=google.com``, ``medium=cpc``, and page 2000
  (or the last page when there are fewer): 20 timed requests each;
- throughput: ``wrk -t2 -c32 -d10s`` on ``/sessions`` page 1 (``bench/wrk_sessions.lua``)
  against the same wrk run on ``/healthz`` (skipped, with a note, when wrk is not on the
  PATH); then a wait until /healthz is fast again, since wrk leaves requests queued;
- latency under report load: for 15 s, 4 clients loop write + ``/pages`` (any) while one
  client loops ``/sessions`` page 1; its p50 and p99 against the unloaded median;
- the server's resident memory (``VmRSS``) at start, after all queries and after 5 s
  idle, against the figure at start;
- non-2xx responses, as the clients saw them and as the server's access log has them, and
  the tracebacks in its stderr, grouped by exception (there should be none of either).

The server's stderr and stdout go to ``server.stderr.log`` / ``server.stdout.log`` in the
work directory. Without ``--keep`` the stores and NDJSON files are deleted after each
size; the logs stay when ``--workdir`` was given, a temporary directory goes entirely.

Targets (printed beside the figures, never asserted): /pages any <= 0.20 s;
each aggregate <= 0.30 s;
/attribution <= 0.50 s (channel and campaign);
assist+meta_type <= 0.10 s; every scope within 1.5x of any; /sessions page 1 <= 5 ms and
page 2000 <= 30 ms; wrk >= 1,500 req/s; /sessions p99 <= 50 ms under the 4 /pages loops;
import >= 60,000 events/s, into a store holding 1M events >= 80% of that, after a
16-line import >= 80% of the empty-store rate, all duplicates >= 150,000 lines/s;
<= 300 bytes/event; server RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

if not __package__:  # run as a file (python bench/http_bench.py): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import orjson

from attributionhub.demo import generate_events
from bench.common import header, row
from bench.import_bench import baseline_insert, cli

ROOT: Final = Path(__file__).resolve().parents[1]
WRK_SCRIPT: Final = Path(__file__).with_name("wrk_sessions.lua")

DEFAULT_EVENTS: Final = 1_000_000
REFERENCE_EVENTS: Final = 1_000_000
REFERENCE_DAYS: Final = 60.0
QUICK_EVENTS: Final = 20_000
QUICK_DAYS: Final = 10.0
SEED: Final = 7
SMALL_SEED: Final = 8
SECOND_SEED: Final = 9
SMALL_LINES: Final = 16
HEAD_LINES: Final = 60_000
SECOND_MAX_EVENTS: Final = 1_000_000

HEALTHZ_RUNS: Final = 200
PAGES_RUNS: Final = 5
SESSIONS_RUNS: Final = 20
DEEP_PAGE: Final = 2000
WRITE_EVENTS: Final = 5
WRK_ARGS: Final = ("-t2", "-c32", "-d10s")
LOAD_SECONDS: Final = 15.0
LOAD_PAGES_CLIENTS: Final = 4
# Caps that keep every loop bounded in count as well as in time.
LOAD_MAX_REQUESTS: Final = 200_000
IDLE_SECONDS: Final = 5.0
READY_TIMEOUT: Final = 120.0
REQUEST_TIMEOUT: Final = 300.0
STOP_TIMEOUT: Final = 30.0
SETTLE_TIMEOUT: Final = 60.0
SERVER_LOG: Final = "server.stderr.log"

TARGET_PAGES_ANY_S: Final = 0.20
TARGET_ASSIST_META_S: Final = 0.10
TARGET_SCOPE_VS_ANY: Final = 1.5
TARGET_ATTRIBUTION_S: Final = 0.50
# A dashboard draws the page report, a time series and breakdowns within 1.5 s.
TARGET_AGGREGATE_S: Final = 0.30
TARGET_SESSIONS_PAGE1_S: Final = 0.005
TARGET_SESSIONS_DEEP_S: Final = 0.030
TARGET_WRK_RPS: Final = 1_500
TARGET_LOADED_P99_S: Final = 0.050
TARGET_IMPORT_RATE: Final = 60_000
TARGET_FULL_STORE_SHARE: Final = 0.80
TARGET_AFTER_SMALL_SHARE: Final = 0.80
TARGET_DUPLICATE_RATE: Final = 150_000
TARGET_BYTES_PER_EVENT: Final = 300
TARGET_RSS_BYTES: Final = 300_000_000

_BROWSER: Final = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
_SITE_URL: Final = "https://demo.attributionhub.dev"


# --- data and imports -------------------------------------------------------------------
def write_ndjson(path: Path, count: int, start: datetime, end: datetime, seed: int) -> float:
    """``bench.import_bench.write_ndjson`` with the window and the seed as arguments."""
    started = time.perf_counter()
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for event in generate_events(count=count, start=start, end=end, seed=seed):
            chunk.append(orjson.dumps(event))
            if len(chunk) >= 10_000:
                out.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")
    return time.perf_counter() - started


def copy_head(source: Path, target: Path, lines: int) -> int:
    copied = 0
    with source.open("rb") as src, target.open("wb") as out:
        for line in src:
            if copied >= lines:
                break
            out.write(line)
            copied += 1
    return copied


def create_site(db: Path) -> dict[str, str]:
    output, _, _ = cli("--store", str(db), "sites", "create", "Bench", "--json")
    created = orjson.loads(output)
    return {k: str(v) for k, v in created.items()}


@dataclass(frozen=True, slots=True)
class Imported:
    lines: int
    accepted: int
    duplicates: int
    seconds: float  # the command's own elapsed_seconds
    peak_rss_mib: float

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else float("inf")


def import_file(db: Path, site_id: str, ndjson: Path) -> Imported:
    output, _, rss = cli("--store", str(db), "import", str(ndjson), "--site", site_id, "--json")
    summary = orjson.loads(output)
    return Imported(
        lines=int(summary["lines"]),
        accepted=int(summary["accepted"]),
        duplicates=int(summary["duplicates"]),
        seconds=float(summary["elapsed_seconds"]),
        peak_rss_mib=rss,
    )


def store_bytes(db: Path) -> int:
    """Database plus WAL, with the WAL folded into the database first (a WAL left at its
    high-water mark would count pages twice)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    files = (db, db.with_name(db.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.exists())


def table_sizes(db: Path) -> list[tuple[str, int]]:
    """Bytes per table and index, largest first; empty when SQLite lacks ``dbstat``."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [(str(name), int(size)) for name, size in rows]


def scaled(base_seconds: float, base_count: int, count: int) -> float:
    """The baseline's time for ``count`` lines, so "vs base" compares time per line."""
    return base_seconds * count / base_count


def target(met: bool, text: str) -> str:
    return f"target {text}: {'met' if met else 'MISSED'}"


# --- the server -------------------------------------------------------------------------
def _env() -> dict[str, str]:
    # Settings come from the command line only: an ATTRIBUTIONHUB_RATE_LIMIT or store
    # left in the caller's environment would change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``attributionhub serve`` on 127.0.0.1 in a subprocess, its stderr kept in a file."""

    def __init__(self, db: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.with_name("server.stdout.log").open("wb")
        self._err = log.open("wb")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "attributionhub", "--store", str(db), "serve"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
            ],
            stdout=self._out,
            stderr=self._err,
            env=_env(),
            cwd=ROOT,
        )

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    async def wait_ready(self, session: aiohttp.ClientSession) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < READY_TIMEOUT:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"the server exited ({self.process.returncode}) before it was ready:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            try:
                async with session.get(self.base + "/healthz") as response:
                    await response.read()
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit(f"the server did not answer /healthz within {READY_TIMEOUT:.0f} s")

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._out.close()
        self._err.close()
        return self.process.returncode


# --- the HTTP client --------------------------------------------------------------------
@dataclass(slots=True)
class Api:
    session: aiohttp.ClientSession
    base: str
    api_key: str
    # Every response outside 2xx, by "METHOD path status": there must be none.
    bad: Counter[str]
    writes: int = 0

    async def request(self, method: str, path: str, body: object = None) -> tuple[bytes, float]:
        """The response body and the seconds from sending to the last byte read."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Authentication": self.api_key, "Content-Type": "application/json"}
        started = time.perf_counter()
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            payload = await response.read()
            status = response.status
        elapsed = time.perf_counter() - started
        if not 200 <= status < 300:
            self.bad[f"{method} {path} {status}"] += 1
        return payload, elapsed

    async def post(self, path: str, body: object) -> tuple[bytes, float]:
        return await self.request("POST", path, body)

    async def post_after_writes(
        self, path: str, body: object, runs: int
    ) -> tuple[bytes, list[float]]:
        """``runs`` timed POSTs, each the first request after a write of its own (no
        answer can come from a cache); the last body and every time."""
        times: list[float] = []
        payload = b""
        for _ in range(runs):
            await self.write()
            payload, elapsed = await self.post(path, body)
            times.append(elapsed)
        return payload, times

    async def write(self) -> None:
        """5 events of a visitor never seen before, within the last hour: new data that
        every report over the last 30 days and every unbounded /sessions listing covers."""
        visitor = f"bench-{uuid.uuid4().hex}"
        first = datetime.now(UTC) - timedelta(minutes=50)
        pages = ("/", "/features", "/pricing", "/signup")
        events: list[dict[str, object]] = []
        for i in range(WRITE_EVENTS):
            at = (first + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            url = _SITE_URL + pages[min(i, len(pages) - 1)]
            event: dict[str, object] = {
                "type": "pageview" if i < WRITE_EVENTS - 1 else "exit",
                "event_id": f"{visitor}-{i}",
                "visitor_id": visitor,
                "timestamp": at,
                "url": url + ("?utm_source=google&utm_medium=cpc" if i == 0 else ""),
                "user_agent": _BROWSER,
            }
            if i == 0:
                event["referrer"] = "https://www.google.com/"
            events.append(event)
        payload, _ = await self.post("/api/v1/events", {"events": events})
        self.writes += 1
        try:
            accepted = int(orjson.loads(payload).get("accepted", -1))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            accepted = -1
        if accepted != WRITE_EVENTS:
            self.bad[f"POST /api/v1/events accepted {accepted} of {WRITE_EVENTS}"] += 1


def new_session() -> aiohttp.ClientSession:
    # One connection, kept alive, as a dashboard or script would use it.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1, force_close=False),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def http_row(label: str, med: float, low: float, base: float, note: str = "") -> str:
    return f"  {label:<38} {ms(med)} med {ms(low)} min {med / base:8.1f}x  {note}".rstrip()


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    # Nearest rank: with few samples p99 is the worst one, not an interpolation past it.
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(slots=True)
class HttpFigures:
    """The baselines later figures are divided by, and the printer."""

    healthz: float = 0.0
    sessions_page1: float = 0.0
    pages_any: float = 0.0

    def add(self, line: str) -> None:
        # Printed as soon as measured: the phase takes minutes at 1M events.
        print(line, flush=True)


PAGES_VARIANTS: Final[tuple[tuple[str, dict[str, str]], ...]] = (
    ("any", {"touch_scope": "any"}),
    ("first", {"touch_scope": "first"}),
    ("converting", {"touch_scope": "converting"}),
    ("assist", {"touch_scope": "assist"}),
    ("after", {"touch_scope": "after"}),
    ("assist, meta_type=hubspot_form", {"touch_scope": "assist", "meta_type": "hubspot_form"}),
    ("any, source=google.com", {"touch_scope": "any", "source": "google.com"}),
)
ATTRIBUTION_VARIANTS: Final[tuple[tuple[str, dict[str, str]], ...]] = (
    ("dimension channel", {}),
    ("dimension campaign", {"dimension": "campaign"}),
)


async def measure_healthz(api: Api, out: HttpFigures) -> None:
    times = []
    for _ in range(HEALTHZ_RUNS):
        _, elapsed = await api.request("GET", "/healthz")
        times.append(elapsed)
    out.healthz = statistics.median(times)
    out.add(
        f"  {'GET /healthz (the HTTP floor)':<38} {ms(out.healthz)} med {ms(min(times))} min"
        f"     base  ({HEALTHZ_RUNS} round-trips, keep-alive)"
    )


async def measure_pages(api: Api, out: HttpFigures) -> None:
    out.add(
        f"  /pages, default window (30 days ending now); {PAGES_RUNS} runs each, "
        "each after a fresh write:"
    )
    any_median = 0.0
    for label, body in PAGES_VARIANTS:
        payload, times = await api.post_after_writes("/api/v1/pages", body, PAGES_RUNS)
        med = statistics.median(times)
        try:
            sessions = int(orjson.loads(payload)["summary_totals"]["total_sessions"])
            total = f"{sessions:>9,} sessions"
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            total = "  no summary_totals"
        notes = [total]
        if label == "any":
            any_median = out.pages_any = med
            notes.append(target(med <= TARGET_PAGES_ANY_S, f"<= {TARGET_PAGES_ANY_S:.2f} s"))
        else:
            ratio = med / any_median if any_median else float("nan")
            notes.append(
                f"{ratio:4.2f}x any, "
                + target(ratio <= TARGET_SCOPE_VS_ANY, f"<= {TARGET_SCOPE_VS_ANY}x any")
            )
        if "meta_type" in body:
            notes.append(target(med <= TARGET_ASSIST_META_S, f"<= {TARGET_ASSIST_META_S:.2f} s"))
        out.add(http_row(f"  {label}", med, min(times), out.healthz, "; ".join(notes)))


AGGREGATE_ZONE: Final = "Europe/Berlin"
# What a dashboard loads beside the page report (docs/concepts.md, "Aggregates").
AGGREGATE_VARIANTS: Final[tuple[tuple[str, str], ...]] = (
    (
        f"timeseries DAY {AGGREGATE_ZONE}",
        f'{{ timeseries(interval: DAY, timeZone: "{AGGREGATE_ZONE}") '
        "{ buckets { start sessions users conversions convertingSessions } } }",
    ),
    (
        "breakdown CHANNEL",
        "{ breakdown(by: CHANNEL) { totalRows rows { value sessions users conversions "
        "convertingSessions conversionRate } } }",
    ),
    (
        "breakdown LANDING_PAGE",
        "{ breakdown(by: LANDING_PAGE) { totalRows rows { value sessions users conversions "
        "convertingSessions conversionRate } } }",
    ),
)


async def measure_aggregates(api: Api, out: HttpFigures) -> None:
    out.add(
        f"  /graphql aggregates, default window (30 days ending now); {PAGES_RUNS} runs each, "
        "each after a fresh write:"
    )
    for label, query in AGGREGATE_VARIANTS:
        payload, times = await api.post_after_writes("/graphql", {"query": query}, PAGES_RUNS)
        med = statistics.median(times)
        try:
            answer = orjson.loads(payload)
            data = answer["data"]
            if "timeseries" in data:
                buckets = data["timeseries"]["buckets"]
                sessions = sum(int(b["sessions"]) for b in buckets)
                total = f"{sessions:>9,} sessions in {len(buckets)} buckets"
            else:
                rows = data["breakdown"]["rows"]
                sessions = sum(int(r["sessions"]) for r in rows)
                total = f"{sessions:>9,} sessions in the first {len(rows)} rows"
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            total = "  no data"
            api.bad[f"POST /graphql {label}: errors"] += 1
        ratio = med / out.pages_any if out.pages_any else float("nan")
        notes = [
            total,
            f"{ratio:4.2f}x /pages any",
            target(med <= TARGET_AGGREGATE_S, f"<= {TARGET_AGGREGATE_S:.2f} s"),
        ]
        out.add(http_row(f"  {label}", med, min(times), out.healthz, "; ".join(notes)))


async def measure_attribution(api: Api, out: HttpFigures) -> None:
    out.add(
        f"  /attribution, all seven models, default window (30 days of conversions ending "
        f"now, 30-day lookback); {PAGES_RUNS} runs each, each after a fresh write:"
    )
    for label, body in ATTRIBUTION_VARIANTS:
        payload, times = await api.post_after_writes("/api/v1/attribution", body, PAGES_RUNS)
        med = statistics.median(times)
        try:
            totals = orjson.loads(payload)["summary_totals"]
            total = (
                f"{int(totals['conversions']):>7,} conversions, "
                f"{int(totals['non_converting_paths']):>9,} other paths"
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            total = "  no summary_totals"
        notes = [total, target(med <= TARGET_ATTRIBUTION_S, f"<= {TARGET_ATTRIBUTION_S:.2f} s")]
        out.add(http_row(f"  {label}", med, min(times), out.healthz, "; ".join(notes)))


async def measure_sessions(api: Api, out: HttpFigures) -> None:
    out.add(f"  /sessions, no date bounds; {SESSIONS_RUNS} runs each, each after a fresh write:")
    first, _ = await api.post("/api/v1/sessions", {"page": 1})
    try:
        total_pages = int(orjson.loads(first)["pagination"]["total_pages"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        total_pages = 1
    deep = DEEP_PAGE if total_pages >= DEEP_PAGE else total_pages
    variants: tuple[tuple[str, dict[str, object], float], ...] = (
        ("page 1, no filter", {"page": 1}, TARGET_SESSIONS_PAGE1_S),
        ("page 1, source=google.com", {"page": 1, "source": "google.com"}, 0.0),
        ("page 1, medium=cpc", {"page": 1, "medium": "cpc"}, 0.0),
        (
            f"page {deep:,} of {total_pages:,}, no filter",
            {"page": deep},
            TARGET_SESSIONS_DEEP_S,
        ),
    )
    for label, body, goal in variants:
        payload, times = await api.post_after_writes("/api/v1/sessions", body, SESSIONS_RUNS)
        med = statistics.median(times)
        try:
            records = int(orjson.loads(payload)["pagination"]["total_records"])
            notes = [f"{records:>9,} records"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            notes = ["  no pagination"]
        if goal:
            notes.append(target(med <= goal, f"<= {goal * 1000:.0f} ms"))
        if body == {"page": 1}:
            out.sessions_page1 = med
        out.add(http_row(f"  {label}", med, min(times), out.healthz, "; ".join(notes)))


@dataclass(frozen=True, slots=True)
class WrkResult:
    rps: float
    non_2xx: int
    socket_errors: str
    text: str


async def run_wrk(url: str, api_key: str, script: Path | None) -> WrkResult | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    args = [wrk, *WRK_ARGS, "--timeout", "10s"]
    if script is not None:
        args += ["-s", str(script)]
    env = {**os.environ, "BENCH_API_KEY": api_key}
    process = await asyncio.create_subprocess_exec(
        *args, url, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        return WrkResult(0.0, 0, "wrk timed out", "")
    text = output.decode(errors="replace")
    rps = 0.0
    non_2xx = 0
    socket_errors = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        elif line.startswith("Non-2xx or 3xx responses:"):
            non_2xx = int(line.split(":")[1])
        elif line.startswith("Socket errors:"):
            socket_errors = line
    return WrkResult(rps, non_2xx, socket_errors, text)


async def measure_wrk(api: Api, out: HttpFigures) -> None:
    base = await run_wrk(api.base + "/healthz", api.api_key, None)
    if base is None:
        out.add("  wrk: not on the PATH, throughput not measured (apt-get install -y wrk)")
        return
    sessions = await run_wrk(api.base + "/api/v1/sessions", api.api_key, WRK_SCRIPT)
    assert sessions is not None
    ratio = base.rps / sessions.rps if sessions.rps else float("inf")
    flags = " ".join(f"wrk {w.text.strip()!r}" for w in (base, sessions) if not w.rps)
    out.add(
        f"  {'wrk ' + ' '.join(WRK_ARGS) + ' GET /healthz':<38} {base.rps:>12,.0f} req/s"
        f"             base"
    )
    out.add(
        f"  {'wrk, POST /sessions page 1':<38} {sessions.rps:>12,.0f} req/s  {ratio:12.1f}x  "
        + target(sessions.rps >= TARGET_WRK_RPS, f">= {TARGET_WRK_RPS:,} req/s")
        + " (no writes in between: repeated identical reads)"
    )
    for name, result in (("/healthz", base), ("/sessions", sessions)):
        if result.non_2xx or result.socket_errors:
            out.add(
                f"  !!! wrk {name}: {result.non_2xx:,} non-2xx responses {result.socket_errors} !!!"
            )
    if flags:
        out.add(f"  !!! {flags}")
    settled = await settle(api, out.healthz)
    if settled > 0.1:
        out.add(f"  (the server took {settled:.1f} s to drain the requests wrk left behind)")


async def settle(api: Api, floor: float) -> float:
    """Seconds until /healthz answers near its floor again: wrk stops at its deadline
    with requests still queued in the server, which must not spill into the next figure."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_TIMEOUT:
        _, elapsed = await api.request("GET", "/healthz")
        if elapsed <= max(5 * floor, 0.002):
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def measure_under_load(
    server: Server, api_key: str, bad: Counter[str], unloaded: float
) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOAD_SECONDS
    sessions_times: list[float] = []
    pages_done = 0

    async def pages_looper() -> None:
        nonlocal pages_done
        async with new_session() as session:
            api = Api(session, server.base, api_key, bad)
            for _ in range(LOAD_MAX_REQUESTS):
                if loop.time() >= deadline:
                    break
                # The write keeps every /pages a first read after new data, as above.
                await api.write()
                await api.post("/api/v1/pages", {"touch_scope": "any"})
                pages_done += 1

    async def sessions_looper() -> None:
        async with new_session() as session:
            api = Api(session, server.base, api_key, bad)
            for _ in range(LOAD_MAX_REQUESTS):
                if loop.time() >= deadline:
                    break
                _, elapsed = await api.post("/api/v1/sessions", {"page": 1})
                sessions_times.append(elapsed)

    started = time.perf_counter()
    tasks = [asyncio.create_task(pages_looper()) for _ in range(LOAD_PAGES_CLIENTS)]
    tasks.append(asyncio.create_task(sessions_looper()))
    # The loops stop at the deadline; a /pages already sent then may still be running.
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=LOAD_SECONDS + REQUEST_TIMEOUT)
    wall = time.perf_counter() - started
    if not sessions_times:
        return ["  !!! no /sessions request completed under load !!!"]
    p50 = quantile(sessions_times, 0.50)
    p99 = quantile(sessions_times, 0.99)
    base = unloaded or float("nan")
    return [
        f"  under load: {LOAD_PAGES_CLIENTS} clients loop write + /pages any for "
        f"{LOAD_SECONDS:.0f} s ({wall:.1f} s until the last finished), one loops /sessions; "
        "vs base = time / unloaded /sessions page 1 median",
        f"  {'  /pages any completed':<38} {pages_done:>9,}    ({pages_done / wall:.2f}/s)",
        f"  {'  /sessions page 1, p50':<38} {ms(p50)}     {p50 / base:8.1f}x  "
        f"({len(sessions_times):,} requests)",
        f"  {'  /sessions page 1, p99':<38} {ms(p99)}     {p99 / base:8.1f}x  "
        + target(p99 <= TARGET_LOADED_P99_S, f"<= {TARGET_LOADED_P99_S * 1000:.0f} ms"),
    ]


def mb(value: int) -> str:
    return f"{value / 1e6:9.1f} MB"


async def http_phase(server: Server, api_key: str) -> Counter[str]:
    """Steps 2 to 8 against a started server; the non-2xx responses by kind."""
    bad: Counter[str] = Counter()
    out = HttpFigures()
    async with new_session() as session:
        ready = await server.wait_ready(session)
        rss_start = server.rss_bytes()
        api = Api(session, server.base, api_key, bad)
        out.add(
            f"  server ready in {ready:.1f} s (pid {server.process.pid}); "
            "vs base = time / median GET /healthz"
        )
        await measure_healthz(api, out)
        await measure_pages(api, out)
        await measure_aggregates(api, out)
        await measure_attribution(api, out)
        await measure_sessions(api, out)
        await measure_wrk(api, out)
        for line in await measure_under_load(server, api_key, bad, out.sessions_page1):
            out.add(line)
        rss_after = server.rss_bytes()
        await asyncio.sleep(IDLE_SECONDS)
        rss_idle = server.rss_bytes()
        out.add(
            f"  server RSS, vs base = / RSS at start; target <= {TARGET_RSS_BYTES / 1e6:.0f} MB:"
        )
        for label, value in (
            ("at start (/healthz answered)", rss_start),
            ("after all the queries", rss_after),
            (f"after {IDLE_SECONDS:.0f} s idle", rss_idle),
        ):
            ratio = value / rss_start if rss_start else float("nan")
            out.add(
                f"  {'  ' + label:<38} {mb(value)}     {ratio:8.2f}x  "
                + target(value <= TARGET_RSS_BYTES, f"<= {TARGET_RSS_BYTES / 1e6:.0f} MB")
            )
    return bad


def server_log_report(log: Path) -> list[str]:
    """What the server's stderr says: access-log statuses, tracebacks grouped by their
    exception line, and any other line."""
    statuses: Counter[int] = Counter()
    failed: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    other: Counter[str] = Counter()
    logged: Counter[str] = Counter()
    first_traceback: list[str] = []
    lines = log.read_text(errors="replace").splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if line.startswith("{"):
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                entry = None
            if isinstance(entry, dict):
                # The server logs JSON lines (docs/deployment.md, "Logs").
                if entry.get("event") == "request" and isinstance(entry.get("status"), int):
                    status = entry["status"]
                    statuses[status] += 1
                    if not 200 <= status < 300:
                        failed[f"{entry.get('method')} {entry.get('path')} {status}"] += 1
                elif entry.get("traceback"):
                    exceptions[str(entry.get("message"))[:200]] += 1
                    first_traceback = first_traceback or str(entry["traceback"]).splitlines()
                else:
                    kind = entry.get("event") or entry.get("message")
                    logged[f"{entry.get('level')} {kind}"] += 1
                continue
        if line.startswith("Traceback"):
            block = [line]
            # A traceback is indented frames, then one unindented exception line.
            while number < len(lines) and lines[number].startswith(" "):
                block.append(lines[number])
                number += 1
            if number < len(lines):
                block.append(lines[number])
                number += 1
            exceptions[block[-1][:200]] += 1
            first_traceback = first_traceback or block
        elif line.strip():
            other[line[:200]] += 1
    shown = ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items()))
    report = [f"  server stderr ({log.name}): access log statuses {{{shown}}}"]
    if failed:
        report.append("  !!! NON-2xx STATUSES IN THE SERVER'S ACCESS LOG !!!")
        report.extend(f"  !!!   {kind}: {count:,}" for kind, count in sorted(failed.items()))
    if exceptions:
        report.append(
            f"  !!! {exceptions.total():,} TRACEBACK(S) IN THE SERVER'S STDERR, by exception:"
        )
        report.extend(f"  !!!   {count:,} x {text}" for text, count in exceptions.most_common())
        report.append("  the first one:")
        report.extend("    " + text for text in first_traceback)
    if logged:
        shown = ", ".join(f"{kind}: {count:,}" for kind, count in sorted(logged.items()))
        report.append(f"  other log lines, by level and event: {{{shown}}}")
    if other:
        report.append(f"  other stderr lines, by text ({other.total():,}):")
        report.extend(f"    {count:,} x {text}" for text, count in other.most_common(10))
    return report


# --- one size ---------------------------------------------------------------------------
def run(size: int, days: float, workdir: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    here = workdir / f"n{size}"
    here.mkdir(parents=True, exist_ok=True)
    events = here / "events.ndjson"
    gen_s = write_ndjson(events, size, start, now, SEED)
    mib = events.stat().st_size / 2**20
    print(
        f"\n=== {size:,} events over {days:g} days ending {now:%Y-%m-%dT%H:%M:%SZ} "
        f"(seed {SEED}; {mib:,.1f} MiB of NDJSON written in {gen_s:.1f} s; in {here}) ===",
        flush=True,
    )
    small = here / "small.ndjson"
    write_ndjson(small, SMALL_LINES, start, now, SMALL_SEED)
    head = here / "head.ndjson"
    head_lines = copy_head(events, head, HEAD_LINES)

    base_s = baseline_insert(events, here / "baseline.db")
    base_bytes = store_bytes(here / "baseline.db")
    head_base_s = baseline_insert(head, here / "baseline-head.db")

    store = here / "store-a.db"
    site = create_site(store)
    a = import_file(store, site["site_id"], events)
    a_bytes = store_bytes(store)
    tables = table_sizes(store)

    empty = here / "store-c.db"
    c = import_file(empty, create_site(empty)["site_id"], head)
    primed = here / "store-b.db"
    primed_site = create_site(primed)["site_id"]
    small_import = import_file(primed, primed_site, small)
    b = import_file(primed, primed_site, head)

    print(
        "import: attributionhub import --json in a subprocess, the command's own "
        "elapsed_seconds;\n  vs base = time per line / raw sqlite3 executemany's on the "
        "same lines (bench.import_bench.baseline_insert)",
        flush=True,
    )
    print(header())
    print(row("baseline: orjson + sqlite3 executemany", size, "lines", base_s, None))
    print(row("(a) into an empty store", size, "lines", a.seconds, base_s))
    print(
        f"      accepted {a.accepted:,}, duplicates {a.duplicates:,}; "
        f"peak RSS {a.peak_rss_mib:,.0f} MiB; "
        + target(a.rate >= TARGET_IMPORT_RATE, f">= {TARGET_IMPORT_RATE:,} events/s")
    )
    print(row(f"baseline, first {head_lines:,} lines", head_lines, "lines", head_base_s, None))
    print(row(f"(c) first {head_lines:,}, empty store", c.lines, "lines", c.seconds, head_base_s))
    print(
        row(
            f"(b) the same after a {small_import.lines}-line import",
            b.lines,
            "lines",
            b.seconds,
            head_base_s,
        )
    )
    share = b.rate / c.rate
    print(
        f"      (b) / (c) rate {share:.2f} ({small_import.accepted} of the "
        f"{small_import.lines} seed-{SMALL_SEED} events accepted first); "
        + target(share >= TARGET_AFTER_SMALL_SHARE, f">= {TARGET_AFTER_SMALL_SHARE:.0%}")
    )
    per_event = a_bytes / a.accepted if a.accepted else float("nan")
    base_per_row = base_bytes / size
    print(
        f"  store (a) after wal_checkpoint(TRUNCATE): {a_bytes:,} bytes, "
        f"{per_event:,.0f} bytes/accepted event, {per_event / base_per_row:.2f}x the "
        f"baseline table's {base_per_row:,.0f} bytes/row; "
        + target(per_event <= TARGET_BYTES_PER_EVENT, f"<= {TARGET_BYTES_PER_EVENT} bytes/event")
    )
    if tables:
        print("  by table and index (dbstat), bytes per accepted event:")
        for name, nbytes in tables:
            print(f"    {name:<44} {nbytes:>14,} bytes {nbytes / max(1, a.accepted):8.1f}")
    sys.stdout.flush()

    print(
        "HTTP: attributionhub serve on store (a) as imported, before (d) and (e); "
        "one keep-alive aiohttp session",
        flush=True,
    )
    server = Server(store, here / SERVER_LOG)
    try:
        bad = asyncio.run(http_phase(server, site["api_key"]))
    finally:
        code = server.stop()
    print(f"  server stopped by SIGTERM, exit code {code}")
    if bad:
        print("  !!! NON-2xx RESPONSES (or writes not fully accepted) !!!")
        for kind, count in sorted(bad.items()):
            print(f"  !!!   {kind}: {count:,}")
    else:
        print("  non-2xx responses seen by the clients: none")
    for line in server_log_report(server.log):
        print(line)
    sys.stdout.flush()

    d = import_file(store, site["site_id"], events)
    second_size = min(size, SECOND_MAX_EVENTS)
    second = here / "second.ndjson"
    write_ndjson(second, second_size, start, now, SECOND_SEED)
    e = import_file(store, site["site_id"], second)
    print(
        "import into store (a), after the server stopped; vs base as above "
        "(the N-line baseline, per line)"
    )
    print(header())
    print(row("(d) the N lines again: all duplicates", d.lines, "lines", d.seconds, base_s))
    print(
        f"      duplicates {d.duplicates:,}, accepted {d.accepted:,}; "
        + target(d.rate >= TARGET_DUPLICATE_RATE, f">= {TARGET_DUPLICATE_RATE:,} lines/s")
    )
    print(
        row(
            f"(e) {second_size:,} new (seed {SECOND_SEED}) on top",
            e.lines,
            "lines",
            e.seconds,
            scaled(base_s, size, e.lines),
        )
    )
    print(
        f"      accepted {e.accepted:,}; (e) / (a) rate {e.rate / a.rate:.2f}; "
        + target(
            e.rate >= TARGET_FULL_STORE_SHARE * a.rate,
            f">= {TARGET_FULL_STORE_SHARE:.0%} of (a)",
        )
        + "; "
        + target(
            e.rate >= TARGET_FULL_STORE_SHARE * TARGET_IMPORT_RATE,
            f">= {TARGET_FULL_STORE_SHARE * TARGET_IMPORT_RATE:,.0f} events/s",
        )
        + (f" (a store of {size:,} events, not 1M)" if size != REFERENCE_EVENTS else "")
    )
    sys.stdout.flush()


# --- command line -----------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> tuple[list[tuple[int, float]], Path | None, bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--events",
        default=str(DEFAULT_EVENTS),
        help="comma-separated event counts (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=float,
        help="days of traffic for every size (default: 60 * N / 1M, at least 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_EVENTS:,} events over {QUICK_DAYS:g} days"
    )
    parser.add_argument("--workdir", type=Path, help="where files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores and files")
    args = parser.parse_args(argv)
    if args.quick:
        sizes = [QUICK_EVENTS]
    else:
        try:
            sizes = [int(p.replace("_", "")) for p in args.events.split(",") if p.strip()]
        except ValueError:
            parser.error(f"--events: expected comma-separated integers, got {args.events!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--events: expected positive integers")
    if args.days is not None and args.days <= 0:
        parser.error("--days: expected a positive number")

    def days_for(size: int) -> float:
        if args.days is not None:
            return float(args.days)
        if args.quick:
            return QUICK_DAYS
        return max(1.0, REFERENCE_DAYS * size / REFERENCE_EVENTS)

    return [(size, days_for(size)) for size in sizes], args.workdir, bool(args.keep)


def http_only(store: Path, api_key: str) -> None:
    """Only the HTTP phase, on a store imported before (quicker to repeat while tuning the
    serving path; the import figures need a full run)."""
    print(f"HTTP: attributionhub serve on {store}; one keep-alive aiohttp session", flush=True)
    log = Path(tempfile.mkdtemp(prefix="attributionhub-http-only-")) / SERVER_LOG
    server = Server(store, log)
    try:
        bad = asyncio.run(http_phase(server, api_key))
    finally:
        code = server.stop()
    print(f"  server stopped by SIGTERM, exit code {code}")
    for kind, count in sorted(bad.items()):
        print(f"  !!! non-2xx {kind}: {count:,}")
    for line in server_log_report(log):
        print(line)


def main(argv: Sequence[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--http-only":
        if len(argv) != 4 or argv[2] != "--api-key":
            raise SystemExit("usage: http_bench --http-only STORE --api-key KEY")
        http_only(Path(argv[1]), argv[3])
        return
    plan, workdir, keep = parse_args(argv)
    wrk = shutil.which("wrk")
    print(
        f"HTTP benchmark, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version} "
        f"(bench process), {os.cpu_count()} CPUs, wrk: {wrk or 'missing'}"
    )
    print(
        f"targets: /pages any <= {TARGET_PAGES_ANY_S:.2f} s, aggregates <= "
        f"{TARGET_AGGREGATE_S:.2f} s each, assist+meta_type <= "
        f"{TARGET_ASSIST_META_S:.2f} s, every scope <= {TARGET_SCOPE_VS_ANY}x any; /sessions "
        f"page 1 <= {TARGET_SESSIONS_PAGE1_S * 1000:.0f} ms, page {DEEP_PAGE} <= "
        f"{TARGET_SESSIONS_DEEP_S * 1000:.0f} ms, p99 <= {TARGET_LOADED_P99_S * 1000:.0f} ms "
        f"under load; wrk >= {TARGET_WRK_RPS:,} req/s;\n  import >= {TARGET_IMPORT_RATE:,} "
        f"events/s, >= {TARGET_FULL_STORE_SHARE:.0%} of that into a full store and after a "
        f"small import, duplicates >= {TARGET_DUPLICATE_RATE:,} lines/s; <= "
        f"{TARGET_BYTES_PER_EVENT} bytes/event; server RSS <= {TARGET_RSS_BYTES / 1e6:.0f} MB",
        flush=True,
    )
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix="attributionhub-http-bench-")) if owned else workdir
    assert root is not None
    root.mkdir(parents=True, exist_ok=True)
    try:
        for size, days in plan:
            run(size, days, root)
            if not keep:
                clean(root / f"n{size}", keep_logs=not owned)
    finally:
        if keep:
            print(f"\nkept: {root}")
        elif owned:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"\nserver logs kept in {root}/n*/")


def clean(here: Path, *, keep_logs: bool) -> None:
    """Remove the stores and NDJSON files (gigabytes at 1M events); in a work directory
    of the user's choosing the server's logs stay, for a look after the run."""
    for path in here.iterdir() if here.exists() else ():
        if keep_logs and path.name.endswith(".log"):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
