"""The command line against real SQLite files: sites, NDJSON import, and `serve` run as a
subprocess the way an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
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

    def __init__(self, store: Path, *args: str, store_after_serve: bool = False) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
        env["PYTHONPATH"] = str(REPO)
        where = ("serve", "--store", str(store))
        if not store_after_serve:
            where = ("--store", str(store), "serve")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "attributionhub", *where),
                *("--port", str(self.port), *args),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=store.parent,
        )
        self.stderr_lines: list[str] = []
        self._stderr_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_thread.start()
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line.decode())

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
        self._stderr_thread.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.stderr is not None:
            self.process.stderr.close()


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


def example_requests(output: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The (URL, body) of each curl example printed by `serve --demo`."""
    found: list[tuple[str, dict[str, Any]]] = []
    url = ""
    for line in output:
        words = line.split()
        if words[:1] == ["curl"]:
            url = next(w for w in words if w.startswith("http://"))
        elif words[:1] == ["-d"] and url:
            found.append((url, json.loads(line.split("-d", 1)[1].strip().strip("'"))))
    return found


@pytest.mark.slow
def test_serve_demo_again_keeps_the_demo_keys_and_prints_requests_inside_its_data(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "demo-twice.db"
    first = Server(db, "--demo", "--demo-events", "300")
    servers.append(first)
    first.wait_for("serving on")
    key, token, site_id = (first.value(k) for k in ("API key", "Tracker token", "Demo site"))
    _, before = http(first.url("/api/v1/sessions"), {}, key)
    assert first.stop() == 0

    second = Server(db, "--demo", "--demo-events", "300")
    servers.append(second)
    second.wait_for("serving on")

    assert second.value("Demo site") == site_id
    assert (second.value("API key"), second.value("Tracker token")) == (key, token)
    status, after = http(second.url("/api/v1/sessions"), {}, key)
    assert status == 200
    assert after["pagination"] == before["pagination"]  # not filled a second time
    kept = db.with_name(db.name + ".demo-keys.json")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text())["api_key"] == key
    # The data's range is printed, and every example request asks for days inside it.
    first_day, last_day = second.value("Demo data").split("from ", 1)[1].split(" to ")
    examples = example_requests(second.output)
    assert [url.rsplit("/", 1)[1] for url, _ in examples] == [
        "sessions",
        "pages",
        "graphql",
        "attribution",
    ]
    for url, body in examples[:2]:
        assert first_day <= body["start_date"] <= body["end_date"] <= last_day
        status, answer = http(url, body, key)
        assert status == 200, answer
        assert answer.get("records") or answer.get("summary_totals", {}).get("total_sessions")
    # The GraphQL example asks for fields the schema has.
    status, answer = http(examples[2][0], examples[2][1], key)
    assert status == 200
    assert "errors" not in answer, answer
    assert answer["data"]["sessions"]["pagination"]["totalRecords"] > 0
    status, answer = http(examples[3][0], examples[3][1], key)
    assert status == 200, answer
    assert first_day <= examples[3][1]["start_date"] <= examples[3][1]["end_date"] <= last_day
    assert second.stop() == 0


@pytest.mark.slow
def test_a_second_ctrl_c_during_shutdown_exits_quietly(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "twice.db"
    site = create_site(db)
    server = Server(db)
    servers.append(server)
    server.wait_for("serving on")
    # A request in flight (its body still arriving) keeps the graceful shutdown busy, so
    # the second Ctrl+C lands during it.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authentication: {site['api_key']}\r\n".encode()
            + b'Content-Length: 1000\r\n\r\n{"events": ['
        )
        time.sleep(0.5)
        server.process.send_signal(signal.SIGINT)
        time.sleep(1)  # the shutdown is now waiting for that request
        server.process.send_signal(signal.SIGINT)
        status = server.process.wait(timeout=30)
    server.kill()  # joins the output threads

    stderr = "".join(server.stderr_lines)
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert "RuntimeError" not in stderr


@pytest.mark.slow
def test_serve_accepts_the_store_after_the_subcommand(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "after.db"
    site = create_site(db)
    server = Server(db, store_after_serve=True)
    servers.append(server)
    server.wait_for("serving on")

    assert f"store: {db}" in "".join(server.output)
    assert http(server.url("/api/v1/sessions"), {}, site["api_key"])[0] == 200
    assert server.stop() == 0


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


# --- settings, store selection, --version ----------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["sites", "list"],
        ["sites", "create", "Acme"],
        ["sites", "rotate-keys", "site_x"],
        ["import", "-", "--site", "site_x"],
        ["erase", "--site", "site_x", "--visitor", "v-1"],
        ["purge", "--days", "30"],
    ],
)
@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_bad_setting_stops_every_command_with_one_line_naming_it(
    tmp_path: Path, command: list[str], value: str
) -> None:
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(
        cli,
        ["--store", str(db), *command],
        env={"ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES": value},
        input=b"",
    )

    assert result.exit_code == 2
    assert result.output == (
        "Error: ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES: expected a whole number of minutes "
        f"from 1 to 1440, got {value!r}\n"
    )
    assert not db.exists()  # refused before anything was opened


@pytest.mark.parametrize("value", ["abc", "0"])
def test_serve_refuses_a_bad_setting_before_it_listens(tmp_path: Path, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
    env |= {"PYTHONPATH": str(REPO), "ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES": value}
    command = [sys.executable, "-m", "attributionhub", "--store", str(tmp_path / "s.db")]
    port = str(free_port())

    # A server that starts anyway would run until the timeout: that is the failure.
    done = subprocess.run(
        [*command, "serve", "--port", port], env=env, capture_output=True, timeout=60
    )

    assert done.returncode == 2
    assert done.stderr.decode() == (
        "Error: ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES: expected a whole number of minutes "
        f"from 1 to 1440, got {value!r}\n"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATTRIBUTIONHUB_RATE_LIMIT", "600/fortnight"),
        ("ATTRIBUTIONHUB_GRAPHQL_IDE", "maybe"),
        ("ATTRIBUTIONHUB_MONGO_WRITE_CONCERN", "0"),
        ("ATTRIBUTIONHUB_MONGO_QUERY_TIMEOUT_MS", "soon"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS", "5"),
        ("ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS", "20"),
        ("ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE", "Secondary"),
        ("ATTRIBUTIONHUB_CORS_ORIGINS", "*"),
    ],
)
def test_a_bad_setting_is_refused_even_by_commands_that_do_not_use_it(
    tmp_path: Path, name: str, value: str
) -> None:
    result = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "cli.db"), "sites", "list"], env={name: value}
    )

    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {name}: expected ")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_serve_refuses_a_host_that_is_no_address_or_name(tmp_path: Path) -> None:
    result = run(tmp_path / "cli.db", "serve", "--host", "not a host")

    assert result.exit_code == 2
    assert "--host: expected an IP address or a host name, got 'not a host'" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["sites", "create", "Acme", "--json"],
        ["sites", "list", "--json"],
        ["purge", "--days", "30", "--json"],
    ],
)
def test_every_command_names_the_store_it_opened_on_stderr(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "named.db"
    result = run(db, *command)

    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout stays one JSON document
    assert result.stderr == f"Store: {db}\n"


def test_a_mongodb_store_is_named_without_its_password(tmp_path: Path) -> None:
    url = "mongodb://ah:s3cret@127.0.0.1:9/attributionhub?serverSelectionTimeoutMS=300"
    result = CliRunner().invoke(cli, ["sites", "list", "--store", url])

    assert result.exit_code == 1
    assert "s3cret" not in result.output
    assert "ah:***@127.0.0.1:9" in result.output or "***@127.0.0.1:9" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["sites", "create", "Acme", "--json"],
        ["sites", "list"],
        ["sites", "rotate-keys", "site_x"],
        ["import", "-", "--site", "site_x"],
    ],
)
def test_store_is_accepted_after_the_subcommand(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "after.db"

    result = CliRunner().invoke(cli, [*command, "--store", str(db)], input=b"")

    assert f"Store: {db}" in result.stderr
    assert db.exists()


def test_a_store_given_after_the_subcommand_wins_over_one_given_before(tmp_path: Path) -> None:
    before, after = tmp_path / "before.db", tmp_path / "after.db"

    result = CliRunner().invoke(
        cli, ["--store", str(before), "sites", "create", "Acme", "--store", str(after)]
    )

    assert result.exit_code == 0, result.output
    assert after.exists()
    assert not before.exists()


def test_a_missing_store_folder_is_named_and_not_created(tmp_path: Path) -> None:
    wanted = tmp_path / "nonexistent" / "dir" / "x.db"

    result = run(wanted, "sites", "list")

    assert result.exit_code == 1
    assert f"the folder '{wanted.parent}' does not exist" in result.output
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.skipif(
    sys.platform != "linux", reason="the per-user data folder follows XDG_DATA_HOME on Linux"
)
def test_without_store_every_folder_uses_the_same_per_user_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "ATTRIBUTIONHUB_STORE": ""}
    expected = tmp_path / "xdg" / "attributionhub" / "attributionhub.db"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()

    monkeypatch.chdir(tmp_path / "one")
    created = CliRunner().invoke(cli, ["sites", "create", "Acme", "--json"], env=env)
    monkeypatch.chdir(tmp_path / "two")
    listed = CliRunner().invoke(cli, ["sites", "list", "--json"], env=env)

    assert created.exit_code == listed.exit_code == 0, created.output + listed.output
    assert [s["name"] for s in json.loads(listed.stdout)] == ["Acme"]
    assert listed.stderr == f"Store: {expected}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two", "xdg"]
    assert list((tmp_path / "one").iterdir()) == list((tmp_path / "two").iterdir()) == []


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"attributionhub, version {version('attributionhub')}\n"


def test_sites_list_starts_with_a_header_row_and_keeps_columns_aligned(tmp_path: Path) -> None:
    db = tmp_path / "sites.db"
    first = create_site(db, "Acme")
    second = create_site(db, "A much longer site name")

    lines = run(db, "sites", "list").stdout.splitlines()

    assert lines[0].split() == ["SITE", "ID", "CREATED", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == [first["site_id"], second["site_id"]]
    assert {line.index("A") for line in lines[1:]} == {lines[0].index("NAME")}


# --- import messages ------------------------------------------------------------------
def test_lines_that_are_not_one_json_object_are_rejected_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    ndjson = write_ndjson(
        tmp_path / "events.ndjson",
        [event("e1"), "not json at all", "[1, 2]", "42", "tru", event("e2", visitor_id="v-2")],
    )

    result = run(db, "import", str(ndjson), "--site", site["site_id"])

    assert result.exit_code == 0, result.output
    rejected = [line.strip() for line in result.stdout.splitlines() if line.startswith("  line")]
    assert rejected[0].startswith("line 2: not valid JSON (")
    assert rejected[1] == "line 3: event: expected a JSON object, got an array"
    assert rejected[2] == "line 4: event: expected a JSON object, got a number"
    assert rejected[3].startswith("line 5: not valid JSON (")
    assert len(rejected) == 4
    assert {s.visitor_id for s in all_sessions(db, site["site_id"])} == {"v-1", "v-2"}


def test_a_timestamp_beyond_the_representable_years_rejects_its_line_only(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cli.db"
    site = create_site(db)
    ndjson = write_ndjson(
        tmp_path / "events.ndjson",
        [
            event("e1"),
            event("e2", visitor_id="v-2", timestamp="0001-01-01T00:00:00+05:00"),
            event("e3", visitor_id="v-3", timestamp="9999-12-31T23:59:59-05:00"),
            event("e4", visitor_id="v-4"),
        ],
    )

    result = run(db, "import", str(ndjson), "--site", site["site_id"])

    assert result.exit_code == 0, result.output
    rejected = [line.strip() for line in result.stdout.splitlines() if line.startswith("  line")]
    assert rejected == [
        "line 2: timestamp: expected an ISO 8601 date-time, got '0001-01-01T00:00:00+05:00': "
        "outside the years 0001-9999 once converted to UTC",
        "line 3: timestamp: expected an ISO 8601 date-time, got '9999-12-31T23:59:59-05:00': "
        "outside the years 0001-9999 once converted to UTC",
    ]
    assert {s.visitor_id for s in all_sessions(db, site["site_id"])} == {"v-1", "v-4"}


def test_import_help_describes_the_event_format_and_points_to_the_concepts_page() -> None:
    result = CliRunner().invoke(cli, ["import", "--help"])

    assert result.exit_code == 0
    assert "one JSON object" in result.output
    assert '"type": "pageview"' in result.output
    assert "docs/concepts.md" in result.output
    assert "SPEC" not in result.output


# --- the README's usage section ---------------------------------------------------------
def readme_usage_block() -> str:
    section = (REPO / "README.md").read_text().split("\n## Using it\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0]


def json_documents(text: str) -> list[Any]:
    """The JSON objects printed one after the other (curl adds no newline after them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            at += 1
            continue
        found.append(value)
        at = end
    return found


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's queries use curl")
def test_the_readme_usage_section_runs_as_written_against_a_served_store(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "readme.db"
    server = Server(db)
    servers.append(server)
    server.wait_for("serving on")
    # The README's `. .venv/bin/activate`, for whichever environment runs these tests.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text(
        f'PATH="{Path(sys.executable).parent}:$PATH"\nexport PATH\n'
    )
    script = readme_usage_block().replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRIBUTIONHUB_")}
    env |= {"ATTRIBUTIONHUB_STORE": str(db), "PATH": "/usr/local/bin:/usr/bin:/bin"}

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )

    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stdout + stderr
    documents = [d for d in json_documents(stdout) if "records" in d or "summary_totals" in d]
    assert len(documents) == 2, stdout
    sessions, pages = documents
    [session] = sessions["records"]
    assert (session["source"], session["medium"]) == ("newsletter", "email")
    assert session["conversion"]["email"] == "ann@example.org"
    assert pages["summary_totals"]["total_conversion_users"] == 1
    assert "accepted" in stdout  # the import's summary
    assert "New keys for site 'My shop'" in stdout


def test_repair_on_the_embedded_store_finds_nothing_to_re_cut(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    run(db, "sites", "create", "Shop")

    result = run(db, "repair", "--json")
    human = run(db, "repair")

    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"visitors": 0}
    assert human.stdout.strip() == "Re-cut 0 visitors left pending."
