"""Browser tests: Playwright drives Debian's Chromium (never `playwright install`) against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from golive.server import config as config_mod
from golive.server.testing import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UI_TIMEOUT = 15_000  # ms a page may take to show what a test waits for before the test fails

TOKENS = {
    "admin": ("tok-admin-browser-0123456789", "admin", ("admin",)),
    "ic": ("tok-alice-browser-0123456789", "alice", ("ic",)),
    "ops": ("tok-bob-browser-012345678901", "bob", ("ops",)),
    "cab": ("tok-carol-browser-01234567890", "carol", ("cab",)),
    "viewer": ("tok-audrey-browser-01234567", "audrey", ("viewer",)),
}


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    """A headless Chromium for one test module.

    Module scope, not session: Playwright's sync API keeps an event loop running in this thread while it is
    open, and later tests (other tiers run after this one) must be free to call asyncio.run.
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/setup installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (it is in the test extras)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class War:
    """A live server with runbooks and tokens, and helpers to open pages as someone."""

    server: LiveServer
    db: Path
    browser: Any
    artifacts: Path

    @property
    def url(self) -> str:
        return self.server.url

    def page(self, who: str, width: int = 1280, height: int = 900) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(UI_TIMEOUT)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        return page

    def open_run(self, page: Any, run_id: str, who: str) -> None:
        page.goto(f"{self.url}/runs/{run_id}")
        page.fill("#token", TOKENS[who][0])
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#panel-phases")

    def shot(self, page: Any, name: str) -> Path:
        path = self.artifacts / f"dashboard-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def war(tmp_path: Path, playwright_browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[War]:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    for name, text in getattr(request.module, "RUNBOOKS", {}).items():
        (runbooks / name).write_text(text)
    grants = {
        config_mod.hash_token(tok): config_mod.TokenGrant(user_id=user, roles=roles)
        for tok, user, roles in TOKENS.values()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, runbook_dir=runbooks)
    db = tmp_path / "golive.db"
    with LiveServer(str(db), cfg) as srv:
        yield War(srv, db, playwright_browser, artifacts_dir)
