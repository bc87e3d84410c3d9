"""Shared fixtures. Real services (PostgreSQL, Prometheus, SMTP, HTTP) start from fixtures in
``tests/integration/conftest.py``; this file keeps what every tier needs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other artifacts for a person to look at."""
    path = Path(os.environ.get("GOLIVE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


class _FileProgress:
    """Under ``-q`` (which prints only dots), one line as each test file starts: how far the run is and how
    long it has taken, so a long suite is never silent for minutes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.files: list[str] = []
        self.current: str | None = None
        self.started = 0.0

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.files = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))

    def pytest_runtestloop(self, session: pytest.Session) -> None:
        import time

        self.started = time.monotonic()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        import time

        path = nodeid.split("::")[0]
        if path == self.current:
            return
        self.current = path
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        n = self.files.index(path) + 1 if path in self.files else 0
        took = int(time.monotonic() - self.started)
        if reporter._tw.width_of_current_line:  # after the previous file's dots
            reporter._tw.line()
        reporter.write_line(f"[{n}/{len(self.files)} files, {took // 60}m{took % 60:02d}s] {path}")


def pytest_configure(config: pytest.Config) -> None:
    if config.get_verbosity() < 0:
        config.pluginmanager.register(_FileProgress(config), "golive-file-progress")
