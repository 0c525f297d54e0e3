"""`attributionhub serve` logs JSON lines (attributionhub/logs.py) and answers even what
aiohttp's parser refuses in JSON (adapters/http/server.py): the real process, on a real
socket."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import Server, http

# What `serve` prints for people (stdout, merged with stderr here); everything else is
# a log line.
PRINTED = ("AttributionHub is serving on", "AttributionHub stopped.")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(tmp_path / "logs.db")
    try:
        yield started
    finally:
        started.kill()


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_serve_writes_every_log_line_as_json_and_answers_parser_errors_in_json(
    server: Server,
) -> None:
    server.wait_for("serving on")
    assert http(server.url("/healthz")) == (200, {"status": "ok"})
    assert http(server.url("/api/v1/sessions"), {}, "wrong")[0] == 401
    reply = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: \x00ECHO\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert json.loads(body)["error"].startswith("bad request: ")
    assert b"ECHO" not in body
    assert server.stop(signal.SIGINT) == 0
    server.wait_for("AttributionHub stopped.")

    server.kill()  # waits for the output pipes to be read to their end
    # stdout has the two lines for a person; stderr is the log.
    assert all(line.startswith(PRINTED) for line in server.output)
    logged = []
    for line in server.stderr_lines:
        record = json.loads(line)  # one JSON object a line: no bare text, no traceback
        assert {"time", "level", "logger", "message"} <= set(record)
        assert record["time"].endswith("+00:00")
        logged.append(record)
    events = [r.get("event") for r in logged]
    assert "started" in events
    requests = [r for r in logged if r.get("event") == "request"]
    assert [(r["path"], r["status"]) for r in requests] == [
        ("/healthz", 200),
        ("/api/v1/sessions", 401),
    ]
    assert all(r["client"] == "127.0.0.1" and len(r["request_id"]) == 32 for r in requests)
    (refused,) = [r for r in logged if r.get("event") == "bad_request"]
    assert refused["level"] == "info"
    assert "traceback" not in refused
