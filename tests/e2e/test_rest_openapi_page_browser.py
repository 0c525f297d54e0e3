"""/api/docs in a real headless Chromium: the page renders every documented operation,
and every request it makes goes to the service itself.

Chromium runs with ``--dump-dom`` after a virtual-time budget (the DOM once the page has
settled) and writes its network log; the log's requests that the page started (their
initiator is the page's origin) must all be to that origin. Chromium's own background
requests (update checks and the like, initiated by no page) are not the page's; a dead
proxy and a host-resolver rule keep them, and anything else, from leaving loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings
from rest_compat import openapi_document
from tests.e2e.conftest import NOW

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary on PATH: the browser tests need one"
    ),
]

RUN_TIMEOUT = 60.0
# Virtual time: the budget passes as fast as the page lets it (it waits for network).
VIRTUAL_TIME_BUDGET_MS = 15_000
# Port 9 (discard) on loopback: nothing listens, so a proxied request fails at once.
DEAD_PROXY = "http://127.0.0.1:9"
OFF_NETWORK_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every request to anything but loopback goes to a dead proxy, and no host name but
    # 127.0.0.1 resolves.
    f"--proxy-server={DEAD_PROXY}",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = init(Settings(access_log=False), store=MemoryStore(), clock=FixedClock(NOW))
    async with TestServer(app, host="127.0.0.1") as served:
        yield served


@dataclass
class Visit:
    dom: str
    net_log: list[dict[str, Any]]
    console: list[str]  # what the page logged, CSP violations included


async def run_chromium(url: str, work: Path) -> Visit:
    """The settled DOM of ``url``, Chromium's network log events and the page's console."""
    assert CHROMIUM is not None
    net_log = work / "net-log.json"
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *OFF_NETWORK_FLAGS,
        f"--user-data-dir={work / 'profile'}",
        f"--log-net-log={net_log}",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        # The page's console lines go to stderr, tagged CONSOLE.
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Its own process group: the launcher script, the browser and its helpers end
        # together.
        start_new_session=True,
    )
    try:
        dom, log_lines = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    log = json.loads(net_log.read_text(encoding="utf-8"))
    events: list[dict[str, Any]] = log["events"]
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    for event in events:
        event["type_name"] = names.get(event["type"], "")
    console = [
        line for line in log_lines.decode(errors="replace").splitlines() if ":CONSOLE" in line
    ]
    return Visit(dom.decode("utf-8", errors="replace"), events, console)


def requests_started(events: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """(initiator, url) of every request the network stack started."""
    return [
        (event["params"].get("initiator"), event["params"]["url"])
        for event in events
        if event["type_name"] == "URL_REQUEST_START_JOB" and "url" in event.get("params", {})
    ]


async def test_the_docs_page_renders_every_operation_from_files_served_here(
    server: TestServer, tmp_path: Path
) -> None:
    origin = f"http://127.0.0.1:{server.port}"
    visit = await run_chromium(f"{origin}/api/docs", tmp_path)
    dom, events = visit.dom, visit.net_log
    # The page works within its own Content-Security-Policy, without errors.
    assert not visit.console, visit.console

    # Swagger UI rendered one block per operation, path and method as documented.
    rendered = set(
        re.findall(
            r'class="opblock-summary-method">([A-Z]+)<.*?data-path="([^"]+)"', dom, re.DOTALL
        )
    )
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert ("POST", "/api/v1/sessions") in rendered
    assert rendered == documented

    started = requests_started(events)
    by_the_page = [url for initiator, url in started if initiator == origin]
    # What the page needs: its style sheet, its scripts and the document.
    assert {urlsplit(url).path for url in by_the_page} >= {
        "/api/docs/swagger-ui.css",
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/api-docs.js",
        "/api/v1/openapi.json",
    }
    # Nothing the page asked for is anywhere else: the navigation itself and every
    # request a page (any page, any frame) started are to this origin.
    from_pages = [url for initiator, url in started if initiator not in (None, "not an origin")]
    assert f"{origin}/api/docs" in [url for _, url in started]
    elsewhere = [url for url in from_pages if not url.startswith(origin + "/")]
    assert not elsewhere, elsewhere
