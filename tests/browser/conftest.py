"""Browser fixtures: Debian's Chromium through Playwright against a live server on SQLite.

Every page records console errors, uncaught exceptions and 5xx answers; a test fails in teardown
when any appeared. The browser's own "Failed to load resource … status of 4xx" line is allowed only
for the statuses a test declared with ``ui.console.allow(422)``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, TOKEN
from tests.e2e.helpers import Api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
UI = ROOT / "ui"
# the README's screenshots: written to a scratch folder unless AUTOMATION_SCREENSHOTS names one
# (refresh them with `AUTOMATION_SCREENSHOTS=docs/screenshots bash scripts/test tests/browser/test_editor.py`):
# tests never modify tracked files
SCREENSHOTS = Path(
    os.environ.get("AUTOMATION_SCREENSHOTS") or Path(tempfile.gettempdir()) / "automation-screenshots"
)
FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


@pytest.fixture
def database_url(tmp_path):
    """Shadows the root fixture: browser tests run on SQLite only (the API suites cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'automation.db'}"


def _stale(dist: Path) -> bool:
    index = dist / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    sources = [
        UI / "index.html",
        UI / "package-lock.json",
        *(p for p in (UI / "src").rglob("*") if p.is_file()),
    ]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


@pytest.fixture(scope="session")
def ui_dist() -> Path:
    """ui/dist, built with npm when it is missing or older than ui/src (scripts/test builds it first)."""
    dist = UI / "dist"
    if _stale(dist):
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("ui/dist is missing or stale and npm is not installed to build it")
        if not (UI / "node_modules" / ".package-lock.json").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI, check=True)
        subprocess.run([npm, "run", "build", "--silent"], cwd=UI, check=True)
    return dist


@pytest.fixture(scope="session")
def browser(ui_dist):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class ConsoleWatch:
    """Console errors, page errors and 5xx answers of one page."""

    def __init__(self):
        self.problems: list[str] = []
        self.allowed_statuses: set[int] = set()
        self.failed_resources: list[str] = []

    def allow(self, *statuses: int) -> None:
        """Tolerate the browser's "Failed to load resource" line for these (deliberate) 4xx statuses."""
        assert all(400 <= s < 500 for s in statuses), statuses
        self.allowed_statuses.update(statuses)

    def on_console(self, msg) -> None:
        if msg.type != "error":
            return
        text = msg.text
        m = FAILED_RESOURCE.match(text)
        if m:
            self.failed_resources.append(f"{int(m.group(1))} {msg.location.get('url', '')}")
            return  # judged in check(): allow() may be called after the line arrived
        self.problems.append(f"console.error: {text} ({msg.location.get('url', '')})")

    def on_page_error(self, err) -> None:
        self.problems.append(f"pageerror: {err}")

    def on_response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def check(self) -> list[str]:
        out = list(self.problems)
        for line in self.failed_resources:
            status = int(line.split(" ", 1)[0])
            if status not in self.allowed_statuses:
                out.append(f"console.error: Failed to load resource: {line}")
        return out


class UiSession:
    """One browser page on the live server, plus the API of the same server for setup and checks."""

    def __init__(self, page, live, console: ConsoleWatch):
        self.page = page
        self.url = live.url
        self.console = console
        self.api = Api(live.url)

    def open(self, hash_route: str = "") -> None:
        self.page.goto(f"{self.url}/?token={TOKEN}{hash_route}")
        if hash_route.startswith("#/flows/"):
            self.page.locator(".react-flow__pane").wait_for()
        else:
            self.page.get_by_test_id("flow-table").wait_for()

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_call_failed = report.failed


@pytest.fixture
def ui(request, browser, live, tmp_path):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="ru-RU")
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = ConsoleWatch()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    page.on("response", console.on_response)
    yield UiSession(page, live, console)
    problems = console.check()
    if problems or getattr(request.node, "browser_call_failed", False):
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot))
            print(f"screenshot of the failed page: {shot}")
        except Exception as exc:  # noqa: BLE001 - a diagnostic only
            print(f"no screenshot of the failed page: {exc}")
    context.close()
    assert not problems, "the page logged errors:\n" + "\n".join(problems)
