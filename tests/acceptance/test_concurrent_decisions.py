"""Two processes decide GO and NO-GO on the same decision at the same instant: exactly one lands.

Two live `golive serve` processes share the store; one drives the runs. Each trial pits a `golive decide`
process against an API call, or the API of one server against the API of the other.
A test hook (GOLIVE_TEST_ACT_BARRIER) holds both acts after they checked their rules against the head they
read and releases them together, so their appends really race. Compare-and-append lets one land; the other
re-reads, and is refused with the reason (exit 1 / HTTP 409, "already decided: GO by ian at 10:42:07Z").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance import ownership_support as sup
from tests.integration.conftest import free_port, throwaway_database

TRIALS = 20
BATCH = 10  # trials at once
TOKEN = "tok-ian-0123456789abcdefghij"
RUNBOOK = """\
golive: 1
name: gate
roles:
  ic: {may: [decide]}
phases:
  - id: gate
    steps:
      - {id: go, kind: decision, role: ic, on_no_go: stop}
  - id: work
    steps:
      - {id: enable, kind: action, type: command, with: {run: "true"}}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "golive.db")
        return
    with throwaway_database("golive_dec") as url:
        yield url


def test_overlapping_go_and_no_go_land_exactly_one_decision(tmp_path: Path, db_url: str) -> None:
    """20 trials, CLI against API and API against API, GO against NO-GO (sides alternate):
    one decision per trial, the other act refused with exit 1 or HTTP 409 naming the decision that landed."""
    trials = TRIALS
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "gate.yaml").write_text(RUNBOOK)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    config = tmp_path / "server.json"
    config.write_text(
        json.dumps({"tokens": {TOKEN: {"user_id": "ian", "roles": ["ic", "admin"]}}, "resume_orphans": False})
    )
    env = sup.env_for(db_url, GOLIVE_TEST_ACT_BARRIER=str(barrier))
    ports = [free_port(), free_port()]
    serve = ["serve", "--config", str(config), "--runbook-dir", str(books), "--log-level", "warning"]
    servers = [sup.spawn(*serve, "--port", str(port), env=env, cwd=tmp_path) for port in ports]
    apis = [
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0, headers={"Authorization": f"Bearer {TOKEN}"})
        for port in ports
    ]
    outcomes: dict[str, list[tuple[str, int, str]]] = {}
    try:
        for api in apis:
            sup.wait_until(lambda api=api: _up(api), "the servers to answer")
        runs = []
        for _ in range(trials):
            r = apis[0].post("/api/v1/runs", json={"runbook": "gate.yaml", "mode": "rehearsal", "roles": {"ic": "ian"}})
            assert r.status_code == 201, r.text
            runs.append(str(r.json()["run_id"]))
        for rid in runs:
            sup.wait_until(lambda rid=rid: _waiting(apis[0], rid), f"run {rid} to wait for its decision")
        for first in range(0, trials, BATCH):
            procs = {}
            threads = []
            for i, rid in enumerate(runs[first : first + BATCH], start=first):
                says = ("go", "no-go") if i % 4 < 2 else ("no-go", "go")
                outcomes[rid] = []
                if (
                    i % 2 == 0
                ):  # the CLI, writing to the store itself, against the API of the server that drives the run
                    procs[rid] = sup.spawn("decide", rid, says[0], "--as", "ian", "--reason", f"cli {says[0]}",
                                           "--local", env=env, cwd=tmp_path)  # fmt: skip
                    callers = [(apis[0], says[1])]
                else:  # the API of one server against the API of the other
                    callers = [(apis[0], says[0]), (apis[1], says[1])]
                for api, decision in callers:

                    def call(rid: str = rid, api: httpx.Client = api, decision: str = decision) -> None:
                        r = api.post(f"/api/v1/runs/{rid}/decide", json={"decision": decision, "reason": decision})
                        outcomes[rid].append(("api", 0 if r.status_code == 200 else r.status_code, r.text))

                    threads.append(threading.Thread(target=call))
                    threads[-1].start()
            for t in threads:
                t.join(timeout=sup.LIMIT)
            for rid, proc in procs.items():
                code, out, err = sup.finish(proc)
                outcomes[rid].append(("cli", code, out + err))
    finally:
        for api in apis:
            api.close()
        sup.reap(*servers)

    obs = sup.Observer(db_url)
    for i, rid in enumerate(runs):
        decisions = [e for e in obs.events(rid) if e.type == "decision_recorded"]
        assert len(decisions) == 1, f"trial {i}: {len(decisions)} decisions recorded: {outcomes[rid]}"
        landed = decisions[0].data["decision"]
        assert sorted(code for _, code, _ in outcomes[rid]) in ([0, 1], [0, 409]), f"trial {i}: {outcomes[rid]}"
        (how, code, text) = next(o for o in outcomes[rid] if o[1] != 0)
        assert code == (1 if how == "cli" else 409), text
        assert f"already decided: {landed.upper()} by ian at " in text, text
        assert len(list((barrier / rid).glob("arrive-*"))) == 2  # both acts reached the barrier together


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def _waiting(http: httpx.Client, rid: str) -> bool:
    data = http.get(f"/api/v1/runs/{rid}").json()
    return any(s["id"] == "go" and s["status"] == "waiting" for p in data["phases"] for s in p["steps"])
