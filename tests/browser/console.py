"""Driving the voice console page in headless Chromium, and reading its test hook (`window.__ttsConsole`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from realtime.protocol import codec

CHROMIUM = os.environ.get("REALTIME_TTS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"

# Without the networking flags Chromium keeps dialling Google on a closed network and can hang;
# the autoplay flag stands in for the click a person makes before audio may start, and the
# fake media flags give MediaRecorder a microphone (a beep) without asking.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

# Generous: five other jobs may share the two cores.
WAIT_MS = 30_000


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, as it is (never a browser Playwright downloads).

    Playwright's `launch` gives it a fresh, empty profile directory of its own each time.
    """
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class ConsolePage:
    """The console loaded from one server, with the page's uncaught errors collected."""

    page: Page
    base_url: str
    page_errors: list[str] = field(default_factory=list)

    def open(self) -> ConsolePage:
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.goto(self.base_url + "/")
        self.wait("window.__ttsConsole && window.__ttsConsole.library !== 'loading'")
        return self

    def hook(self, expression: str) -> Any:
        """Evaluate `expression` with `c` bound to the page's test hook."""
        return self.page.evaluate(f"(() => {{ const c = window.__ttsConsole; return ({expression}); }})()")

    def wait(self, condition: str, timeout_ms: int = WAIT_MS) -> None:
        """Wait until `condition` holds (`c` is the test hook)."""
        self.page.wait_for_function(
            f"(() => {{ const c = window.__ttsConsole; return Boolean(c) && Boolean({condition}); }})()",
            timeout=timeout_ms,
        )

    def connect(self, *, selects: dict[str, str] | None = None, fields: dict[str, str] | None = None) -> None:
        """Fill the form (select and input ids), press Connect; returns once the socket is open."""
        for element_id, value in (selects or {}).items():
            self.page.select_option(f"#{element_id}", value)
        for element_id, value in (fields or {}).items():
            self.page.fill(f"#{element_id}", value)
        self.page.click("#connect")
        self.wait("c.state !== 'connecting' && c.state !== 'idle'")

    def say(self, line: str) -> None:
        self.page.fill("#line-input", line)
        self.page.press("#line-input", "Enter")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        path = ARTIFACTS_DIR / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


def server_reply(url: str, **fields: Any) -> dict[str, Any]:
    """The server's answer to this `session.start`, asked directly over the socket: what the page must show.

    Synchronous, because Playwright's sync API owns this thread's event loop.
    """
    with connect(url, subprotocols=[Subprotocol("tts.v1.msgpack")]) as socket:
        socket.send(codec.pack({"type": "session.start", **fields}))
        frame = socket.recv(timeout=20)
        assert isinstance(frame, bytes), f"a text frame from the server: {frame!r}"
        reply: dict[str, Any] = codec.unpack(frame)
        return reply
