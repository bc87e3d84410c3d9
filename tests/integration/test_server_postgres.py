"""The war room over PostgreSQL: start, act, live events (LISTEN/NOTIFY) and a CLI act seen by a viewer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_server_api import MATRIX_RUNBOOK, Api, _config

from golive.server.testing import LiveServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Api, str]]:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "matrix.yaml").write_text(MATRIX_RUNBOOK)
    with LiveServer(postgres_url, _config(runbooks)) as srv:
        client = Api(srv.url)
        yield client, postgres_url
        client.http.close()


def test_postgres_run_acts_and_live_events(pg_api: tuple[Api, str]) -> None:
    """Over PostgreSQL a run starts, a viewer's stream replays it, and an act from the CLI reaches the stream."""
    api, url = pg_api
    rid = api.start()
    head = api.ready(rid)["events"]
    with api.http.stream("GET", f"/api/v1/runs/{rid}/events", headers=api.h("viewer")) as r:
        lines = r.iter_lines()
        seen: list[dict[str, object]] = []
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["seq"] == head:
                    break
        done = subprocess.run(
            [sys.executable, "-m", "golive", "confirm", rid, "drain", "--as", "bob", "--db", url, "--local"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        for line in lines:
            if line.startswith("data: "):
                ev = json.loads(line[6:])
                if ev["type"] == "step_confirmed":
                    break
    assert [e["seq"] for e in seen] == list(range(1, head + 1))
    assert (ev["actor"], ev["step_id"]) == ("bob", "drain")
    go = api.post(f"/api/v1/runs/{rid}/decide", {"decision": "no-go", "reason": "rehearsal over"}, "ic")
    assert go.status_code == 200
    api.wait(rid, lambda d: d["status"] == "rolled_back", "rolled back after NO-GO")
