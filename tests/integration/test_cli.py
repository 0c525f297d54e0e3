"""The command line against real SQLite files: sites, NDJSON import, and `serve` run as a
subprocess the way an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.sqlite import SqliteStore
from attributionhub.cli import cli
from attributionhub.demo import generate_events
from domain.model import Session, Site
from domain.queries import SessionFilters, TimeWindow
from domain.services import AttributionService

REPO = Path(__file__).resolve().parents[2]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def run(store: Path, *args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["--store", str(store), *args], input=input)


def create_site(store: Path, name: str = "Acme") -> dict[str, str]:
    result = run(store, "sites", "create", name, "--json")
    assert result.exit_code == 0, result.output
    created: dict[str, str] = json.loads(result.stdout)
    return created


def write_ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def event(event_id: str, **fields: str) -> str:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": "v-1",
        "timestamp": "2025-07-15T10:00:00Z",
        "url": "https://example.com/",
        **fields,
    }
    return json.dumps(raw)


# The CLI runs its own event loop (asyncio.run), so these tests are synchronous and
# look into the store through their own short-lived loops.
def all_sessions(store_path: Path, site_id: str) -> list[Session]:
    async def read() -> list[Session]:
        store = await SqliteStore.open(store_path)
        try:
            return await store.list_sessions(site_id, SessionFilters(), TimeWindow(), limit=10**6)
        finally:
            await store.close()

    return asyncio.run(read())


# --- sites create ---------------------------------------------------------------------
def test_sites_create_json_is_one_object_whose_api_key_authenticates(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    result = run(db, "sites", "create", "Acme", "--json")

    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert set(created) == {"site_id", "name", "api_key", "tracker_token"}
    assert created["name"] == "Acme"

    async def look_up() -> tuple[Site | None, Site | None]:
        store = await SqliteStore.open(db)
        try:
            service = AttributionService(store, SystemClock(), CrawlerDetectBots())
            return (
                await service.site_for_api_key(created["api_key"]),
                await service.site_for_tracker_token(created["tracker_token"]),
            )
        finally:
            await store.close()

    site, tracker_site = asyncio.run(look_up())
    assert site is not None
    assert site.site_id == created["site_id"]
    assert tracker_site is not None
    assert tracker_site.site_id == created["site_id"]


def test_sites_create_in_human_form_shows_the_key_and_warns_it_is_shown_once(
    tmp_path: Path,
) -> None:
    result = run(tmp_path / "cli.db", "sites", "create", "Acme")

    assert result.exit_code == 0, result.output
    assert "API key:        ahk_" in result.stdout
    assert "tracker token:  aht_" in result.stdout
    assert "cannot be shown again" in result.stdout


def test_blank_site_name_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path / "cli.db", "sites", "create", "  ")

    assert result.exit_code == 2
    assert "name: expected a non-empty site name" in result.output


# --- import ---------------------------------------------------------------------------
MIXED_FILE = [
    event("e1"),  # line 1: accepted
    event(
        "e2",
        type="conversion",
        timestamp="2025-07-15T10:05:00Z",
        email="ann@example.org",
        meta_type="hubspot_form",
    ),  # line 2: accepted
    event("e1"),  # line 3: the same event_id as line 1, a duplicate
    "",  # line 4: blank, skipped
    '{"type": "pageview", "event_id": ',  # line 5: not JSON
    event("e5", timestamp="2025-13-01T00:00:00Z"),  # line 6: invalid field
    event("e3", type="exit", timestamp="2025-07-15T10:06:00Z"),  # line 7: accepted
    event("e4", user_agent=GOOGLEBOT),  # line 8: a crawler, dropped
]


def test_import_summary_counts_each_outcome_and_names_rejected_lines(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    ndjson = write_ndjson(tmp_path / "events.ndjson", MIXED_FILE)

    result = run(db, "import", str(ndjson), "--site", site["site_id"], "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lines"] == 8
    assert summary["blank"] == 1
    assert summary["accepted"] == 3  # lines 1, 2, 7
    assert summary["duplicates"] == 1  # line 3
    assert summary["bots"] == 1  # line 8
    assert summary["rejected_count"] == 2
    assert [r["line"] for r in summary["rejected"]] == [5, 6]
    assert summary["rejected"][0]["error"].startswith("not valid JSON (column ")
    assert summary["rejected"][1]["error"].startswith("timestamp: ")


def test_import_prints_rejected_line_numbers_in_the_human_summary(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    ndjson = write_ndjson(tmp_path / "events.ndjson", MIXED_FILE)

    result = run(db, "import", str(ndjson), "--site", site["site_id"])

    assert result.exit_code == 0, result.output
    assert "line 5: not valid JSON" in result.stdout
    assert "line 6: timestamp:" in result.stdout
    assert "line 3:" not in result.stdout  # a duplicate is not a rejection


def test_importing_the_same_file_twice_makes_every_stored_line_a_duplicate(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    ndjson = write_ndjson(tmp_path / "events.ndjson", MIXED_FILE)
    first = run(db, "import", str(ndjson), "--site", site["site_id"], "--json")
    sessions_before = all_sessions(db, site["site_id"])

    second = run(db, "import", str(ndjson), "--site", site["site_id"], "--json")

    assert first.exit_code == second.exit_code == 0
    summary = json.loads(second.stdout)
    assert summary["accepted"] == 0
    assert summary["duplicates"] == 4  # lines 1, 2, 3, 7
    assert summary["bots"] == 1
    assert [r["line"] for r in summary["rejected"]] == [5, 6]
    assert all_sessions(db, site["site_id"]) == sessions_before


def test_import_reads_stdin_when_the_file_is_a_dash(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    data = "".join(line + "\n" for line in MIXED_FILE).encode()

    result = run(db, "import", "-", "--site", site["site_id"], "--json", input=data)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 3


def test_import_stores_batches_larger_than_the_http_api_allows(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    # 12,000 events, one visitor a minute apart: one batch of 12,000 (> the API's 10,000).
    start = datetime(2025, 7, 1, tzinfo=UTC)
    lines = [
        event(
            f"e-{i}",
            visitor_id=f"v-{i % 3000}",
            timestamp=f"{start + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ}",
        )
        for i in range(12_000)
    ]
    ndjson = write_ndjson(tmp_path / "events.ndjson", lines)

    result = run(
        db, "import", str(ndjson), "--site", site["site_id"], "--json", "--batch-size", "50000"
    )
    too_large = run(db, "import", str(ndjson), "--site", site["site_id"], "--batch-size", "50001")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 12_000
    assert summary["rejected_count"] == 0
    assert too_large.exit_code == 2
    assert "50001" in too_large.output


def test_batches_are_stored_in_file_order_so_the_first_of_two_same_ids_wins(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    # One event per batch: each batch is validated while the one before is stored, yet
    # e-1 must be stored from line 2 (its first occurrence), not from line 4.
    lines = [
        event("e-0", url="https://example.com/a"),
        event("e-1", url="https://example.com/first"),
        event("e-2", url="https://example.com/b"),
        event("e-1", url="https://example.com/second"),
        event("e-3", url="https://example.com/c"),
    ]
    ndjson = write_ndjson(tmp_path / "events.ndjson", lines)

    result = run(
        db, "import", str(ndjson), "--site", site["site_id"], "--json", "--batch-size", "1"
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["duplicates"]) == (4, 1)

    async def stored_urls() -> dict[str, str]:
        store = await SqliteStore.open(db)
        try:
            return {e.event_id: e.url for e in await store.visitor_events(site["site_id"], "v-1")}
        finally:
            await store.close()

    assert asyncio.run(stored_urls())["e-1"] == "https://example.com/first"


def test_import_into_an_unknown_site_exits_with_code_2_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    ndjson = write_ndjson(tmp_path / "events.ndjson", MIXED_FILE)

    result = run(db, "import", str(ndjson), "--site", "site_missing")

    assert result.exit_code == 2
    assert "site 'site_missing' does not exist" in result.output


def test_a_store_that_cannot_be_opened_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    # A directory where the database file should be.
    result = run(tmp_path, "sites", "create", "Acme")

    assert result.exit_code == 1
    assert "cannot open the embedded store" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, nothing escaped


def test_shuffled_rebatched_import_yields_the_same_sessions_as_an_ordered_one(
    tmp_path: Path,
) -> None:
    end = datetime(2025, 7, 31, tzinfo=UTC)
    events = list(generate_events(count=1200, start=end - timedelta(days=20), end=end, seed=3))
    shuffled = events[:]
    random.Random(11).shuffle(shuffled)
    ordered_file = tmp_path / "ordered.ndjson"
    shuffled_file = tmp_path / "shuffled.ndjson"
    ordered_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    shuffled_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in shuffled))
    db_a, db_b = tmp_path / "a.db", tmp_path / "b.db"
    site_id = create_site(db_a)["site_id"]
    # The same site (same id) in the second store, so session ids are comparable.

    async def copy_site() -> None:
        store_a = await SqliteStore.open(db_a)
        store_b = await SqliteStore.open(db_b)
        try:
            site = await store_a.get_site(site_id)
            assert site is not None
            await store_b.add_site(site)
        finally:
            await store_a.close()
            await store_b.close()

    asyncio.run(copy_site())

    ordered = run(db_a, "import", str(ordered_file), "--site", site_id, "--batch-size", "5000")
    rebatched = run(db_b, "import", str(shuffled_file), "--site", site_id, "--batch-size", "7")

    assert ordered.exit_code == rebatched.exit_code == 0
    sessions_a = sorted(all_sessions(db_a, site_id), key=lambda s: s.session_id)
    sessions_b = sorted(all_sessions(db_b, site_id), key=lambda s: s.session_id)
    assert len(sessions_a) > 100  # a meaningful comparison, not two empty lists
    # Returning visitors: some histories span several sessions, which a re-cut must
    # rebuild identically whatever the batches.
    assert len({s.visitor_id for s in sessions_a}) < len(sessions_a)
    assert sessions_a == sessions_b


# --- serve ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`attributionhub serve` in a subprocess, its stdout collected line by line."""

    def __init__(self, store: Path, *args: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
        env["PYTHONPATH"] = str(REPO)
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "attributionhub", "--store", str(store), "serve"),
                *("--port", str(self.port), *args),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=store.parent,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.decode())

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} in the output: {''.join(self.output)}")

    def value(self, label: str) -> str:
        for line in self.output:
            if line.startswith(label):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no {label!r} line in {''.join(self.output)}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._pump_thread.join(timeout=10)  # the pipe is at its end once the process is
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def http(url: str, body: object = None, key: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authentication", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow
def test_serve_demo_answers_with_the_printed_key_and_stops_cleanly_on_sigint(
    tmp_path: Path, servers: list[Server]
) -> None:
    server = Server(tmp_path / "demo.db", "--demo", "--demo-events", "400")
    servers.append(server)

    server.wait_for("serving on")
    key = server.value("API key")

    assert http(server.url("/healthz")) == (200, {"status": "ok"})
    status, body = http(server.url("/api/v1/sessions"), {"page": 1}, key)
    assert status == 200
    assert body["pagination"]["total_records"] > 0
    assert "curl -s -X POST" in "".join(server.output)
    assert server.stop(signal.SIGINT) == 0


@pytest.mark.slow
def test_restarting_the_server_loses_nothing_that_was_acknowledged(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "restart.db"
    site = create_site(db)
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        {
            "type": "pageview",
            "event_id": f"r-{i}",
            "visitor_id": f"v-{i % 3}",
            "timestamp": (now - timedelta(hours=i)).isoformat(),
            "url": f"https://example.com/page-{i}?utm_source=news",
        }
        for i in range(6)
    ]
    first = Server(db)
    servers.append(first)
    first.wait_for("serving on")
    status, report = http(first.url("/api/v1/events"), {"events": events}, site["api_key"])
    assert (status, report["accepted"]) == (200, 6)
    assert first.stop(signal.SIGTERM) == 0

    second = Server(db)
    servers.append(second)
    second.wait_for("serving on")
    status, body = http(second.url("/api/v1/sessions"), {}, site["api_key"])

    assert status == 200
    assert body["pagination"]["total_records"] == 6  # an hour apart: one session each
    again, report = http(second.url("/api/v1/events"), {"events": events}, site["api_key"])
    assert (again, report["accepted"], report["duplicates"]) == (200, 0, 6)
    assert second.stop() == 0


def test_serve_reports_an_unusable_rate_limit_as_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path / "cli.db", "serve", "--rate-limit", "lots")

    assert result.exit_code == 2
    assert "--rate-limit: expected a limit such as '600/minute'" in result.output
    assert "got 'lots'" in result.output


@pytest.mark.slow
def test_serve_demo_again_reuses_the_demo_site_with_renewed_keys(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "demo-twice.db"
    first = Server(db, "--demo", "--demo-events", "300")
    servers.append(first)
    first.wait_for("serving on")
    old_key, site_id = first.value("API key"), first.value("Demo site")
    _, before = http(first.url("/api/v1/sessions"), {}, old_key)
    assert first.stop() == 0

    second = Server(db, "--demo", "--demo-events", "300")
    servers.append(second)
    second.wait_for("serving on")
    new_key = second.value("API key")

    assert second.value("Demo site") == site_id
    assert any("Reusing the demo site" in line for line in second.output)
    assert http(second.url("/api/v1/sessions"), {}, old_key)[0] == 401
    status, after = http(second.url("/api/v1/sessions"), {}, new_key)
    assert status == 200
    assert after["pagination"] == before["pagination"]  # not filled a second time
    assert second.stop() == 0


def test_sites_list_and_rotate_keys(tmp_path: Path) -> None:
    db = tmp_path / "sites.db"
    created = create_site(db)
    listed = run(db, "sites", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["site_id"], row["name"]) == (created["site_id"], created["name"])
    assert "api_key" not in row

    rotated = run(db, "sites", "rotate-keys", created["site_id"], "--json")
    assert rotated.exit_code == 0, rotated.output
    renewed = json.loads(rotated.stdout)
    assert renewed["site_id"] == created["site_id"]
    assert renewed["api_key"] != created["api_key"]

    unknown = run(db, "sites", "rotate-keys", "site_nope")
    assert unknown.exit_code == 2
    assert "site_nope" in unknown.output


def test_a_bad_report_concurrency_setting_is_named_in_one_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--store", str(tmp_path / "cli.db"), "sites", "list"],
        env={"ATTRIBUTIONHUB_REPORT_CONCURRENCY": "abc"},
    )

    assert result.exit_code == 2
    assert (
        "ATTRIBUTIONHUB_REPORT_CONCURRENCY: expected an integer from 1 to 64, got 'abc'"
        in result.output
    )
    assert "Traceback" not in result.output
