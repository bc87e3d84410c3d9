"""The payments example's update cadence goes on through hypercare: the cutover ends at GO+2h, and
``golive hypercare`` keeps sending the hourly summaries until 24 hours after GO (fake clock, real SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.engine import acts, runner
from golive.engine import hypercare as service
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments-go-live.yaml"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GO_AFTER = timedelta(minutes=75)  # GO at T+15 of a run that starts at T-60


async def test_payments_hourly_updates_go_out_until_24h_after_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    """After the run passed at GO+2h, hypercare sends the '2-24 hours' tier's 22 hourly updates (3h ... 24h
    after GO) to the war room, and nothing of that tier after 24 hours."""
    war_room = tmp_path / "war-room.log"
    monkeypatch.setenv("WAR_ROOM_WEBHOOK_URL", f"log://{war_room}")
    clock = FakeClock(START)
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        loaded = loader.load(
            EXAMPLE, var_overrides={"prometheus_url": f"http://127.0.0.1:{closed_port}", "previous_release_tag": "v1"}
        )
        h = await runner.create_run(store, loaded, roles={"ic": "alice"}, clock=clock, run_id="pay-1")
        clock.advance(GO_AFTER.total_seconds())
        await h.append("decision_recorded", step_id="go-decision", actor="alice", decision="go", reason="green")
        clock.advance(timedelta(hours=2).total_seconds())
        await h.append("run_finished", status="passed", reason="every phase passed")
        go = START + GO_AFTER

        # Hypercare to 26 hours after GO (its checks and reports run as scheduled; the rest is not needed here).
        hc = await service.hypercare_runner(store, "pay-1", tmp_path / "reports", lambda s: None)
        try:
            await hc.run_forever(until=go + timedelta(hours=26))
        finally:
            await hc.engine.aclose()

        st = (await acts.open_run(store, "pay-1")).state
        updates = [c for c in st.comms if c["event"] == "status_update" and c["channel"] == "war-room"]
        hourly = [u for u in updates if u["tier"] == "2-24-hours"]
        assert [u["slot"] for u in hourly] == list(range(1, 23))
        assert [datetime.fromisoformat(u["due_at"].replace("Z", "+00:00")) - go for u in hourly] == [
            timedelta(hours=k) for k in range(3, 25)
        ]
        assert all(u["ok"] for u in hourly)
        # The first-2-hours tier's last slot (120m after GO, the moment the cutover ended) went out too.
        assert any(u["tier"] == "first-2-hours" and u["slot"] == 4 for u in updates)
        assert war_room.read_text().count("Status update") == len(updates)
    finally:
        await store.close()
