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
