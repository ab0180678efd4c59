"""Browser tests: the system Chromium driven by Playwright against pytest-django's live server."""

import os
import shutil
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections
from playwright.sync_api import ConsoleMessage, Error, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# As measured on these machines: no sandbox as root, no background network (it is closed).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for candidate in [os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome"]:
        found = candidate and shutil.which(candidate)
        if found:
            return found
    raise RuntimeError("Browser tests need Chromium: run `make chromium` or set CHROMIUM_PATH.")


def in_db_thread[T](query: Callable[[], T]) -> T:
    """Run ORM code from a browser test.

    Playwright's sync API keeps an event loop running in the test's thread, which Django's
    async guard rightly refuses to query from; a short-lived thread with its own connection
    sees what the live server committed and closes its connection when done.
    """

    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


@pytest.fixture
def page(live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh Chromium page, started after the database is ready and closed before it is flushed."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item, so `page` can screenshot a failed test.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# Chromium reports every blocked resource or inline code as a `securitypolicyviolation` event;
# the init script runs outside the page's policy and turns each one into a console error.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
        + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@dataclass
class Problems:
    """What went wrong in the browser while the test ran."""

    messages: list[str]

    def take(self) -> list[str]:
        taken, self.messages[:] = list(self.messages), []
        return taken


@pytest.fixture
def problems(page: Page) -> Iterator[Problems]:
    found = Problems([])

    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            found.messages.append(f"console.{message.type}: {message.text}")

    def on_page_error(error: Error) -> None:
        found.messages.append(f"uncaught: {error}")

    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    # The browser asks for /favicon.ico on its own; TicketFlower has none.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    yield found
    assert found.messages == [], "\n".join(found.messages)


@pytest.fixture
def layout_sandbox(live_server: LiveServer, settings: Any) -> str:
    """Stored layouts on: the sandbox is the live server under another host name (another site).

    127.0.0.1 and localhost (whichever the app is not) are different sites to the browser: separate cookies, and a frame
    of the other runs in its own process, as a separate registrable domain does in production.
    """
    app = urlsplit(live_server.url)
    other = "127.0.0.1" if app.hostname == "localhost" else "localhost"
    origin = f"{app.scheme}://{other}:{app.port}"
    settings.LAYOUT_SANDBOX_ORIGIN = origin
    settings.LAYOUT_APP_ORIGINS = [live_server.url]
    settings.SECURE_CSP = {**settings.SECURE_CSP, "frame-src": ["'self'", origin]}
    return origin
