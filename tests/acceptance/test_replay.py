"""`golive replay RUN --runbook EDITED.yaml` on a run of the demo: a stricter trigger reports the rollback it
would have made, at the time the recorded readings say, as text and JSON."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from .test_demo import DEMO_LIMIT, GOLIVE, ROOT, clean_env, golive, run_demo

FOR = 2.0  # seconds: the demo's order_errors `for:`
INTERVAL = 1.0  # seconds: its interval
SLACK = 0.1  # triggers.FOR_SLACK


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo cutover (it passes: no trigger fires); its store and run id."""
    work = tmp_path_factory.mktemp("replay-demo")
    demo = run_demo([GOLIVE, "demo"], work / "golive.db", work / "demo", cwd=work, env=clean_env(), limit=DEMO_LIMIT)
    # The cutover's own result line (what the demo does after it, hypercare and the outputs, is not replayed).
    m = re.search(r"^\s*run (\S+): PASSED", demo.out, re.MULTILINE)
    assert m, demo.out
    res = golive("status", m.group(1), "--json", "--db", str(demo.db))
    assert json.loads(res.stdout)["status"] == "passed", demo.out
    return demo.db, m.group(1)


def _recorded_readings(db: Path, run_id: str) -> list[tuple[datetime, str]]:
    """Every order_errors reading of the observe window, from the raw event rows (the window's own: the armed
    watch's readings outside it carry no step)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT data FROM events WHERE run_id = ? AND step_id = 'watch'"
            " AND type IN ('trigger_evaluated', 'trigger_fired') ORDER BY seq",
            (run_id,),
        ).fetchall()
    finally:
        con.close()
    out: dict[datetime, str] = {}
    for (raw,) in rows:
        d: dict[str, Any] = json.loads(raw)
        if d.get("trigger_id") != "order_errors":
            continue
        for r in d["samples"]:  # the batch of readings the event holds
            out[_ts(r[0])] = r[1]
    return sorted(out.items())


def test_a_stricter_trigger_would_have_rolled_back_at_the_right_time(
    demo_run: tuple[Path, str], tmp_path: Path
) -> None:
    """With `when: value >= 0` every reading of order_errors breaches: the replay rolls back at the first
    reading that completes the `for: 2s` streak, and says so instead of the PASSED the run ended with."""
    db, run_id = demo_run
    text = (ROOT / "examples" / "demo-cutover.yaml").read_text()
    assert "    when: value > 0.2\n" in text
    strict = tmp_path / "strict.yaml"
    strict.write_text(text.replace("    when: value > 0.2\n", "    when: value >= 0\n"))

    readings = _recorded_readings(db, run_id)
    assert len(readings) >= 10, "the observe window's readings are all in the log (1 s interval, 15 s window)"
    ok = [at for at, status in readings if status == "ok"]
    start = ok[0]
    expected = next(at for at in ok if (at - start).total_seconds() + SLACK * INTERVAL >= FOR)

    res = golive("replay", run_id, "--runbook", str(strict), "--json", "--db", str(db))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["actual"]["status"] == "passed"
    would = data["would"]
    assert (would["then"], would["trigger"], would["step"]) == ("rollback", "order_errors", "watch")
    assert _ts(would["at"]) == expected
    assert would["t"].startswith("T")

    text_out = golive("replay", run_id, "--runbook", str(strict), "--db", str(db))
    assert text_out.returncode == 0, text_out.stderr
    assert f"rollback at {would['t']} in watch (trigger order_errors" in text_out.stdout
    assert "instead of PASSED" in text_out.stdout


def test_the_unchanged_runbook_replays_to_what_happened(demo_run: tuple[Path, str]) -> None:
    """The demo runbook as it ran: no trigger would stop the window; the run would still pass."""
    db, run_id = demo_run
    res = golive("replay", run_id, "--runbook", str(ROOT / "examples" / "demo-cutover.yaml"), "--json", "--db", str(db))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["would"] is None
    assert data["verdict"].startswith("no trigger would stop a window")
    assert data["windows"][0]["readings"] >= 10


def test_a_bad_edited_runbook_is_a_usage_error(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    """An edited runbook that does not validate: exit 2 with file:line, no traceback."""
    db, run_id = demo_run
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "examples" / "demo-cutover.yaml")
        .read_text()
        .replace("    when: value > 0.2\n", "    when: value >>> 0.2\n")
    )
    res = golive("replay", run_id, "--runbook", str(bad), "--db", str(db))
    assert res.returncode == 2
    assert "bad.yaml:" in res.stderr
    assert "Traceback" not in res.stderr
