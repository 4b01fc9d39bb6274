"""Fixtures for the browser tests: the test app served over HTTP, and a Chromium page per test.

The app is the ``app`` fixture of tests/conftest.py (so each test runs on SQLite and on PostgreSQL,
with the frozen clock), served by werkzeug in a thread on 127.0.0.1 and a free port. The browser is
Debian's Chromium (``make browser`` installs it with a CJK font); Playwright never downloads one.
A failed test leaves a screenshot in test-artifacts/<test name>.png.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "demo"
TIMEOUT_MS = 15_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Record each phase's report on the item (rep_setup, rep_call, rep_teardown) for the fixtures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The test app served over HTTP in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium and fonts-wqy-zenhei"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context (1366×768, zh-CN, Asia/Shanghai); a screenshot if the test fails."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            folder = Path(request.config.rootpath) / "test-artifacts"
            folder.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
            try:
                page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            except Exception as error:  # a screenshot must not hide the test's own failure
                print(f"no screenshot for {request.node.nodeid}: {error}")
        context.close()


def sign_in(page: Any, base_url: str, username: str) -> None:
    """Sign in to the web UI as a demo user (password demo) and wait until the login form has gone."""
    page.goto(f"{base_url}/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("login-username").wait_for(state="detached")
