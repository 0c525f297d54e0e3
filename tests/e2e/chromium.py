"""Headless Chromium over the DevTools protocol, for the dashboard's browser tests and
``bench/dashboard_bench.py``.

The same approach as ``test_tracker_browser.py`` (one websocket through aiohttp's client,
flat sessions per tab), plus what a page-level test needs: the network requests a tab
makes (``Network.requestWillBeSent``), viewport emulation, key presses and screenshots.
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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "no chromium binary on PATH: the browser tests need one"

# A desktop user agent: the dashboard does not care, but the service's bot filter would
# drop events a test page sends with "HeadlessChrome" in it.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# The flags keep a headless browser off the network: only loopback traffic is expected.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
STARTUP_TIMEOUT = 20.0
COMMAND_TIMEOUT = 30.0
JsonDict = dict[str, Any]


class CdpError(Exception):
    pass


class Cdp:
    """One websocket to the browser; commands for a page carry its flat session id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JsonDict]] = {}
        # Protocol events by session id, for the tabs that asked to record them.
        self.events: dict[str, list[JsonDict]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" not in data:
                recorded = self.events.get(data.get("sessionId", ""))
                if recorded is not None:
                    recorded.append(data)
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
    events: list[JsonDict] = field(default_factory=list)

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

    async def wait_for(self, expression: str, within: float = 10.0) -> Any:
        """The first truthy value of ``expression``. A navigation in flight destroys the
        context it is evaluated in, so errors are retried until the deadline."""
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
            await asyncio.sleep(0.02)
        raise CdpError(f"within {within} s the page never made {expression!r} true (last: {last})")

    def requested_urls(self) -> list[str]:
        """Every URL the tab asked the network for since ``record_network``."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    async def record_network(self) -> None:
        await self.send("Network.enable")

    async def set_viewport(self, width: int, height: int, *, mobile: bool) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    async def press(self, key: str, code: str, key_code: int, text: str = "") -> None:
        """A real key press (keyDown + keyUp), as the keyboard would send it; ``text``
        is what the key types (``"\\r"`` for Enter), which is what submits a form."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code}
        down = {"type": "keyDown", **common, **({"text": text} if text else {})}
        await self.send("Input.dispatchKeyEvent", down)
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    async def screenshot(self, *, full_page: bool = False) -> bytes:
        result = await self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page}
        )
        return base64.b64decode(result["data"])

    async def close(self) -> None:
        await self.send("Page.close")


@dataclass
class Browser:
    cdp: Cdp

    async def new_tab(self) -> Tab:
        target = await self.cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        tab = Tab(self.cdp, attached["sessionId"])
        self.cdp.events[tab.session_id] = tab.events
        await tab.send("Page.enable")
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
async def launch(profile: Path, *, window: tuple[int, int] = (1280, 900)) -> AsyncIterator[Browser]:
    """A headless Chromium with its own profile folder, killed (with its helpers) on exit."""
    if CHROMIUM is None:
        raise CdpError(NO_CHROMIUM)
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--user-agent={DESKTOP_UA}",
        f"--window-size={window[0]},{window[1]}",
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
