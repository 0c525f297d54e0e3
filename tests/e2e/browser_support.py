"""Headless Chromium for the browser suites, driven over the DevTools protocol through
aiohttp's websocket client, kept off the network: only loopback can be reached.

Every request a tab makes is recorded (``Network.requestWillBeSent``), with the status it
got, and so is what the page logs (console messages, Content-Security-Policy refusals,
uncaught exceptions), so that a test can assert that nothing left the service's origin.
Suites skip themselves with the reason when there is no ``chromium`` on the PATH.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "no chromium binary on PATH: the browser tests need one"

# Port 9 (discard) on loopback: nothing listens, so a proxied request fails at once.
DEAD_PROXY = "http://127.0.0.1:9"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    # Anything but loopback goes to a dead proxy, and no host name but 127.0.0.1
    # resolves: a page that needs the internet fails here as it would offline.
    f"--proxy-server={DEAD_PROXY}",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
STARTUP_TIMEOUT = 20.0
COMMAND_TIMEOUT = 10.0
WAIT_TIMEOUT = 10.0
JsonDict = dict[str, Any]


class CdpError(Exception):
    pass


@dataclass
class Request:
    url: str
    method: str
    post_data: str | None
    status: int | None = None  # None: no answer (refused, blocked or still in flight)
    failure: str | None = None


@dataclass
class PageRecord:
    """What one tab did: its requests in order, and what it logged."""

    requests: dict[str, Request] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def on_event(self, method: str, params: JsonDict) -> None:
        if method == "Network.requestWillBeSent":
            request = params["request"]
            self.requests[params["requestId"]] = Request(
                request["url"], request["method"], request.get("postData")
            )
        elif method == "Network.responseReceived":
            if (known := self.requests.get(params["requestId"])) is not None:
                known.status = params["response"]["status"]
        elif method == "Network.loadingFailed":
            if (known := self.requests.get(params["requestId"])) is not None:
                known.failure = params.get("blockedReason") or params.get("errorText")
        elif method == "Runtime.consoleAPICalled":
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.messages.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Runtime.exceptionThrown":
            self.messages.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.messages.append(f"{entry['source']} {entry['level']}: {entry['text']}")


class Cdp:
    """One websocket to the browser; commands for a tab carry its flat session id, and
    its protocol events go to that tab's record."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JsonDict]] = {}
        self.records: dict[str, PageRecord] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" not in data:
                record = self.records.get(data.get("sessionId", ""))
                if record is not None:
                    record.on_event(data["method"], data.get("params", {}))
                continue
            future = self._pending.pop(data["id"], None)
            if future is None or future.done():
                continue
            if "error" in data:
                future.set_exception(CdpError(f"{data['error']}"))
            else:
                future.set_result(data.get("result", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("the browser closed the DevTools connection"))

    async def send(
        self, method: str, params: JsonDict | None = None, session_id: str | None = None
    ) -> JsonDict:
        command_id = next(self._ids)
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        message: JsonDict = {"id": command_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        await self._ws.send_str(json.dumps(message))
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT)
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {COMMAND_TIMEOUT} s") from None
        finally:
            self._pending.pop(command_id, None)

    async def close(self) -> None:
        await self._ws.close()
        await self._reader


@dataclass
class Tab:
    cdp: Cdp
    session_id: str
    record: PageRecord

    async def send(self, method: str, params: JsonDict | None = None) -> JsonDict:
        return await self.cdp.send(method, params, self.session_id)

    async def navigate(self, url: str) -> None:
        result = await self.send("Page.navigate", {"url": url})
        if "errorText" in result:
            raise CdpError(f"navigating to {url}: {result['errorText']}")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = WAIT_TIMEOUT) -> Any:
        """The first truthy value of ``expression`` within ``within`` seconds; errors (a
        navigation in flight destroys the context) are retried until the deadline."""
        deadline = asyncio.get_running_loop().time() + within
        last: object = None
        while asyncio.get_running_loop().time() < deadline:
            try:
                value = await self.evaluate(expression)
            except CdpError as err:
                last = err
            else:
                if value:
                    return value
                last = value
            await asyncio.sleep(0.05)
        pytest.fail(
            f"within {within} s the page never made {expression!r} true (last: {last}); "
            f"it logged: {self.record.messages}"
        )

    async def set_viewport(self, width: int, height: int, *, mobile: bool) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    async def press(self, key: str, code: str, key_code: int, text: str = "") -> None:
        """A key press (keyDown + keyUp) as the keyboard sends it; ``text`` is what the
        key types (``"\\r"`` for Enter, ``" "`` for Space), which is what activates a
        focused button or submits a form."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code}
        down = {"type": "keyDown", **common, **({"text": text} if text else {})}
        await self.send("Input.dispatchKeyEvent", down)
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    async def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        result = await self.send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(result["data"])

    async def wait_for_request(self, matches: Callable[[Request], bool], what: str) -> Request:
        """The first request the tab made that ``matches`` once it was answered."""
        deadline = asyncio.get_running_loop().time() + WAIT_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            for request in self.record.requests.values():
                if matches(request) and (request.status is not None or request.failure):
                    return request
            await asyncio.sleep(0.05)
        made = [(r.method, r.url[:100], r.status) for r in self.record.requests.values()]
        pytest.fail(f"within {WAIT_TIMEOUT} s the page made no {what}; it made {made}")

    async def wait_for_message(self, part: str) -> str:
        """The first thing the page logged that holds ``part``."""
        deadline = asyncio.get_running_loop().time() + WAIT_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            for message in self.record.messages:
                if part in message:
                    return message
            await asyncio.sleep(0.05)
        pytest.fail(f"within {WAIT_TIMEOUT} s the page logged no {part!r}: {self.record.messages}")


@dataclass
class Browser:
    cdp: Cdp

    async def new_tab(self) -> Tab:
        target = await self.cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        record = PageRecord()
        self.cdp.records[attached["sessionId"]] = record
        tab = Tab(self.cdp, attached["sessionId"], record)
        for domain in ("Page", "Network", "Runtime", "Log"):
            await tab.send(f"{domain}.enable")
        return tab


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while line := await process.stderr.readline():
        text = line.decode(errors="replace").strip()
        if text.startswith("DevTools listening on "):
            return text.removeprefix("DevTools listening on ")
    raise CdpError(f"chromium exited (status {await process.wait()}) before listening")


async def _drain(stream: asyncio.StreamReader) -> None:
    # An unread stderr pipe would fill up and stall the browser.
    while await stream.read(65536):
        pass


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Browser]:
    """A headless Chromium off the network, its profile in ``profile``."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        # Its own process group: the launcher script, the browser and its helpers end
        # together.
        start_new_session=True,
    )
    drain: asyncio.Task[None] | None = None
    try:
        url = await asyncio.wait_for(_devtools_url(process), STARTUP_TIMEOUT)
        assert process.stderr is not None
        drain = asyncio.create_task(_drain(process.stderr))
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, max_msg_size=0)
            cdp = Cdp(ws)
            try:
                yield Browser(cdp)
            finally:
                await cdp.close()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if drain is not None:
            await drain
