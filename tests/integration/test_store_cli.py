"""`golive db upgrade` run as a person would: the installed CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.store import sqlfiles

LATEST = sqlfiles.load_migrations("sqlite")[-1].version
CLI_TIMEOUT = 60.0  # seconds one CLI call may take


def golive(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "GOLIVE_DATABASE_URL"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_db_upgrade_migrates_the_default_store_and_prints_both_versions(tmp_path: Path) -> None:
    first = golive("db", "upgrade", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"schema version before: 0\nschema version after: {LATEST}\n" in first.stdout
    assert (tmp_path / ".golive" / "golive.db").is_file()
    again = golive("db", "upgrade", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"schema version before: {LATEST}\nschema version after: {LATEST}\nalready up to date" in again.stdout


def test_db_upgrade_takes_the_store_from_the_environment(tmp_path: Path) -> None:
    result = golive("db", "upgrade", cwd=tmp_path, env={"GOLIVE_DATABASE_URL": "sqlite:///team.db"})
    assert result.returncode == 0, result.stderr
    assert "store: sqlite:///team.db" in result.stdout
    assert (tmp_path / "team.db").is_file()


def test_db_upgrade_with_a_bad_scheme_exits_2_with_the_fix(tmp_path: Path) -> None:
    result = golive("db", "upgrade", "--db", "mysql://ops:hunter2@db/golive", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown scheme 'mysql'" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_db_upgrade_migrates_a_postgres_database(tmp_path: Path, postgres_database: str) -> None:
    result = golive("db", "upgrade", "--db", postgres_database, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"schema version before: 0\nschema version after: {LATEST}\n" in result.stdout


def test_importing_the_store_package_loads_no_database_driver(tmp_path: Path) -> None:
    """Drivers load only with the store chosen, so `golive --help` and friends stay fast."""
    code = (
        "import sys, golive.store; print(sorted(m for m in ('sqlite3', 'psycopg', 'psycopg_pool') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=True
    )
    assert result.stdout.strip() == "[]"
