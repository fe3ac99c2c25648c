"""A real headless Chromium (Debian's `chromium`), driven over the DevTools protocol.

Enough of CDP for the report's tests: open a page with the network cut off, collect console
errors, uncaught exceptions and every request the page makes, evaluate JavaScript, click where
an element is (real mouse events), take screenshots. aiohttp's websocket client speaks the
protocol; the methods are synchronous (each runs the event loop until it is done), so tests
read straight.

    with Browser(tmp_path) as browser:
        page = browser.open(path.as_uri())
        assert page.evaluate("document.title") == "…"
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import subprocess
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 60.0  # generous: a loaded 2-core machine
T = TypeVar("T")


class BrowserError(AssertionError):
    """Chromium is missing, did not start, or a DevTools command failed."""


@dataclass
class Page:
    """One tab: what happened in it, and how to ask it things."""

    browser: Browser
    session: str
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and error log entries (CSP violations among them)."""
    requests: list[str] = field(default_factory=list)
    """The URL of every request the page made (its own file:// load included)."""
    blocked: dict[str, str] = field(default_factory=dict)
    """Requests Chromium stopped before they left (URL: why, e.g. `csp`)."""
    _urls: dict[str, str] = field(default_factory=dict, repr=False)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if a promise); raises on an exception."""
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real left click in the middle of the element `selector` finds."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                self.session,
            )

    def screenshot(self, *, full_page: bool = False) -> bytes:
        """A PNG of the viewport, or of the whole page."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            width, height = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            }
        data = self.browser.send("Page.captureScreenshot", params, self.session)["data"]
        return base64.b64decode(data)


class Browser:
    """A headless Chromium with a profile in `workdir`; a context manager that stops it."""

    def __init__(self, workdir: Path, *, width: int = 1400, height: int = 900) -> None:
        if not Path(CHROMIUM).exists():
            raise BrowserError(
                f"{CHROMIUM} is missing: install Debian's chromium and fonts-wqy-microhei "
                "(`./scripts/bootstrap --for-tests` does, as root)"
            )
        self.size = (width, height)
        self._profile = workdir / "chromium-profile"
        self._profile.mkdir(parents=True)
        self._runner = asyncio.Runner()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._loaded: dict[str, asyncio.Event] = {}
        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._run(self._connect())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(asyncio.wait_for(coroutine, TIMEOUT))

    def _endpoint(self) -> str:
        """The browser's websocket, from the DevToolsActivePort file Chromium writes."""
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                assert self._process.stderr is not None
                raise BrowserError(
                    f"chromium exited ({self._process.returncode}): "
                    f"{self._process.stderr.read().decode(errors='replace')[-2000:]}"
                )
            lines = port_file.read_text().split("\n") if port_file.exists() else []
            if len(lines) >= 2 and lines[1]:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise BrowserError(f"chromium wrote no {port_file} in {TIMEOUT} s")

    async def _connect(self) -> None:
        self._http = aiohttp.ClientSession()
        self._socket = await self._http.ws_connect(self._endpoint(), max_msg_size=0)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Answers to their commands, events to their pages; whatever stops this fails every
        command still waiting with the reason (not a timeout)."""
        failure = BrowserError("the DevTools connection closed")
        try:
            async for message in self._socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "id" in data:
                    waiter = self._waiting.pop(data["id"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(data)
                else:
                    self._event(data)
        except Exception as exc:
            failure = BrowserError(f"reading DevTools messages failed: {exc!r}")
            raise
        finally:
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(failure)

    def _event(self, data: dict[str, Any]) -> None:
        page = self._pages.get(data.get("sessionId", ""))
        if page is None:
            return
        method, params = data["method"], data.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            page.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            page.errors.append(
                "exception: " + str(details.get("exception", {}).get("description", details))
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            page.errors.append(f"log ({params['entry']['source']}): {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            page.requests.append(params["request"]["url"])
            page._urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.loadingFailed" and params.get("blockedReason"):
            page.blocked[page._urls.get(params["requestId"], "?")] = params["blockedReason"]
        elif method == "Page.loadEventFired":
            self._loaded[page.session].set()

    async def _send(self, method: str, params: dict[str, Any], session: str | None) -> Any:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = waiter
        await self._socket.send_str(json.dumps(message))
        answer = await waiter
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def send(self, method: str, params: dict[str, Any], session: str | None = None) -> Any:
        """One DevTools command; its result."""
        return self._run(self._send(method, params, session))

    def open(self, url: str, *, offline: bool = True) -> Page:
        """A new tab showing `url` once loaded; with `offline` the network is cut off first."""
        return self._run(self._open(url, offline))

    async def _open(self, url: str, offline: bool) -> Page:
        target = await self._send("Target.createTarget", {"url": "about:blank"}, None)
        attached = await self._send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, None
        )
        session = attached["sessionId"]
        page = Page(self, session)
        self._pages[session] = page
        self._loaded[session] = asyncio.Event()
        for domain in ("Runtime", "Log", "Page", "Network"):
            await self._send(f"{domain}.enable", {}, session)
        if offline:
            await self._send(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
                session,
            )
        width, height = self.size
        await self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        await self._send("Page.navigate", {"url": url}, session)
        await self._loaded[session].wait()
        return page

    def close(self) -> None:
        """Stop Chromium (and this connection); the profile stays for the test's tmp_path."""
        try:
            if getattr(self, "_http", None) is not None:
                self._runner.run(self._disconnect())
        finally:
            self._runner.close()
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(10)
            if self._process.stderr is not None:
                self._process.stderr.close()

    async def _disconnect(self) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.cancel()
        socket = getattr(self, "_socket", None)
        if socket is not None:
            await socket.close()
        await self._http.close()
