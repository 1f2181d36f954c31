"""Browser fixtures: one headless Chromium for this package's tests, a fresh page per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from realtime.server.run import BackgroundServer
from tests.browser.console import CHROMIUM, ConsolePage, launch_chromium


# Package scope, not session: while Playwright's sync API runs it owns this thread's event loop,
# so the tests outside this package (which call asyncio.run) must not run before it has stopped.
@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/setup-browser (or set REALTIME_TTS_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_console(chromium: Browser) -> Iterator[Callable[[BackgroundServer], ConsolePage]]:
    """Open the console served by a server, in its own browser context; no uncaught page error allowed."""
    opened: list[ConsolePage] = []

    def factory(server: BackgroundServer) -> ConsolePage:
        context = chromium.new_context(viewport={"width": 1100, "height": 900})
        console = ConsolePage(context.new_page(), server.http_url).open()
        opened.append(console)
        return console

    yield factory
    for console in opened:
        console.page.context.close()
    errors = [error for console in opened for error in console.page_errors]
    assert errors == [], f"uncaught errors in the page: {errors}"
