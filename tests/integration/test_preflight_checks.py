"""`run_preflight` (what `golive preflight` runs) against loopback services: outcomes, failure summaries that say
what was expected and what was seen, timeouts and refused connections as errors, the concurrency bound, and
which phase and which steps run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.cli import preflight_cmds
from golive.report import formats
from golive.spec import loader

from .conftest import LoopbackHTTPServer, Reply, Request

DEFAULT_TIMEOUT = 10.0  # seconds per check in these tests, unless a test is about timeouts


def http_check(step_id: str, url: str, **expect: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "check", "type": "http", "with": {"url": url, "expect": expect or {"status": 200}}}


def write(tmp_path: Path, phases: list[dict[str, Any]], name: str = "pf") -> loader.LoadedRunbook:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({"golive": 1, "name": name, "roles": {"ops": {}}, "phases": phases}))
    return loader.load(str(path))


async def run(
    loaded: loader.LoadedRunbook, phase: str | None = None, concurrency: int = 50, per_check: float = DEFAULT_TIMEOUT
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    data, steps, _ = await preflight_cmds.run_preflight(loaded, phase, concurrency, per_check)
    return data, {s["id"]: s for s in steps}


async def test_all_checks_pass_gives_overall_pass(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """Every check passing makes the pre-flight PASS, with each check's outcome and duration recorded."""
    http_server.route("/health", json={"status": "ok"})
    loaded = write(
        tmp_path,
        [
            {
                "id": "preflight",
                "steps": [
                    http_check("api", http_server.url("/health"), status=200, json={"$.status": "ok"}),
                    {"id": "home", "kind": "check", "type": "env", "with": {"name": "PATH"}},
                ],
            }
        ],
    )
    data, steps = await run(loaded)
    assert data["status_label"] == "PASS"
    assert {s["outcome"] for s in steps.values()} == {"pass"}
    assert all(isinstance(s["duration"], float) for s in steps.values())


async def test_wrong_status_fails_and_says_expected_and_seen(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """A 503 where 200 is expected is FAIL with the summary `status 503, expected 200`."""
    http_server.route("/health", status=503, json={"status": "down"})
    http_server.route("/ok", json={"status": "ok"})
    loaded = write(
        tmp_path,
        [
            {
                "id": "preflight",
                "steps": [http_check("api", http_server.url("/health")), http_check("ok", http_server.url("/ok"))],
            }
        ],
    )
    data, steps = await run(loaded)
    assert data["status_label"] == "FAIL"
    assert steps["api"]["outcome"] == "fail"
    assert steps["api"]["summary"] == "status 503, expected 200"
    assert steps["ok"]["outcome"] == "pass"


async def test_wrong_json_value_fails_and_says_expected_and_seen(
    tmp_path: Path, http_server: LoopbackHTTPServer
) -> None:
    """A JSON path with another value is FAIL with `$.status is "degraded", expected "ok"`."""
    http_server.route("/health", json={"status": "degraded"})
    loaded = write(
        tmp_path,
        [{"id": "preflight", "steps": [http_check("api", http_server.url("/health"), json={"$.status": "ok"})]}],
    )
    data, steps = await run(loaded)
    assert data["status_label"] == "FAIL"
    assert steps["api"]["outcome"] == "fail"
    assert steps["api"]["summary"] == '$.status is "degraded", expected "ok"'


async def test_a_check_over_the_default_timeout_is_an_error(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """A check that sets no timeout gets the pre-flight's; running over it is ERROR, never a pass."""
    http_server.route("/slow", json={"status": "ok"}, delay=3.0)
    loaded = write(tmp_path, [{"id": "preflight", "steps": [http_check("slow", http_server.url("/slow"))]}])
    data, steps = await run(loaded, per_check=1.0)
    assert steps["slow"]["outcome"] == "error"
    assert "timed out" in steps["slow"]["summary"]
    assert data["status_label"] == "FAIL"


async def test_a_refused_connection_is_an_error(tmp_path: Path, closed_port: int) -> None:
    """Nothing listening on the port is ERROR (the check could not find out), and the pre-flight FAILs."""
    loaded = write(tmp_path, [{"id": "preflight", "steps": [http_check("down", f"http://127.0.0.1:{closed_port}/")]}])
    data, steps = await run(loaded)
    assert steps["down"]["outcome"] == "error"
    assert str(closed_port) in steps["down"]["summary"]
    assert data["status_label"] == "FAIL"


async def test_checks_run_concurrently_but_never_over_the_bound(
    tmp_path: Path, http_server: LoopbackHTTPServer
) -> None:
    """With --concurrency 3, 12 slow checks overlap (more than one at a time) but never more than 3 at once."""
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    release = threading.Event()

    def slow(_req: Request) -> Reply:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight >= 3:
                release.set()
        release.wait(timeout=2.0)  # the first requests wait until three are in flight (or 2 s passed)
        with lock:
            in_flight -= 1
        return Reply.of_json({"status": "ok"})

    http_server.handle("/slow", slow)
    loaded = write(
        tmp_path, [{"id": "preflight", "steps": [http_check(f"c{i}", http_server.url("/slow")) for i in range(12)]}]
    )
    data, steps = await run(loaded, concurrency=3)
    assert data["status_label"] == "PASS"
    assert len(steps) == 12
    assert peak == 3


def phases_with_preflight(url: str) -> list[dict[str, Any]]:
    return [
        {"id": "prep", "title": "Preparation", "steps": [{"id": "m0", "kind": "manual", "role": "ops", "title": "Hi"}]},
        {
            "id": "pre-flight",
            "title": "Pre-flight checks",
            "steps": [
                {"id": "confirm", "kind": "manual", "role": "ops", "title": "A person confirms"},
                {**http_check("api", url), "needs": ["confirm"]},
                {"id": "flip", "kind": "action", "type": "wait", "with": {"duration": "1s"}},
            ],
        },
        {"id": "smoke", "title": "Smoke tests", "steps": [http_check("smoke-api", url)]},
    ]


async def test_default_phase_is_the_preflight_and_only_its_checks_run(
    tmp_path: Path, http_server: LoopbackHTTPServer
) -> None:
    """Without --phase the pre-flight phase runs; its manual steps and actions are left out, and a check's
    needs on them are dropped rather than waited for."""
    http_server.route("/health", json={"status": "ok"})
    loaded = write(tmp_path, phases_with_preflight(http_server.url("/health")))
    data, steps = await run(loaded)
    assert list(steps) == ["api"]
    assert data["preflight"]["phase"] == "pre-flight"
    assert data["status_label"] == "PASS"


@pytest.mark.parametrize("name", ["smoke", "Smoke tests"])
async def test_phase_is_chosen_by_id_or_title(tmp_path: Path, http_server: LoopbackHTTPServer, name: str) -> None:
    """--phase matches a phase's id or its title."""
    http_server.route("/health", json={"status": "ok"})
    loaded = write(tmp_path, phases_with_preflight(http_server.url("/health")))
    data, steps = await run(loaded, phase=name)
    assert list(steps) == ["smoke-api"]
    assert data["preflight"] == {
        "phase": "smoke",
        "title": "Smoke tests",
        "concurrency": 50,
        "timeout": DEFAULT_TIMEOUT,
    }


async def test_unknown_phase_is_a_usage_error_with_a_suggestion(tmp_path: Path) -> None:
    """A misspelt --phase names the closest phase and lists them all."""
    loaded = write(tmp_path, phases_with_preflight("http://127.0.0.1:1/"))
    with pytest.raises(exceptions.UsageError, match=r"did you mean 'smoke'\?.*phases: prep, pre-flight, smoke"):
        await run(loaded, phase="smoek")


async def test_a_phase_without_checks_is_a_usage_error(tmp_path: Path) -> None:
    """Naming a phase that has no check steps is refused, not an empty PASS."""
    loaded = write(tmp_path, phases_with_preflight("http://127.0.0.1:1/"))
    with pytest.raises(exceptions.UsageError, match="phase 'prep' has no check steps"):
        await run(loaded, phase="prep")


async def test_comms_are_not_sent_by_a_preflight(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """A runbook's comms channels get nothing from a pre-flight (a local look, not a war-room event)."""
    http_server.route("/health", status=500, json={"status": "down"})
    http_server.route("/hook", json={"ok": True})
    path = tmp_path / "comms.yaml"
    path.write_text(
        json.dumps(
            {
                "golive": 1,
                "name": "comms",
                "comms": {"channels": [{"id": "war-room", "url": f"json://127.0.0.1:{http_server.port}/hook"}]},
                "phases": [
                    {
                        "id": "preflight",
                        "announce": {"start": "pre-flight starting", "fail": "pre-flight failed"},
                        "steps": [http_check("api", http_server.url("/health"))],
                    }
                ],
            }
        )
    )
    _, steps = await run(loader.load(str(path)))
    assert steps["api"]["outcome"] == "fail"
    assert [r.path for r in http_server.requests] == ["/health"]


async def test_a_failure_does_not_stop_the_other_checks(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """Unlike a run, a pre-flight runs and reports every check after one fails; only a check that needs the
    failed one is not run (and says why)."""
    http_server.route("/health", json={"status": "ok"})
    steps = [
        {
            "id": "flag",
            "kind": "check",
            "type": "env",
            "with": {"name": "GOLIVE_SURELY_UNSET_FLAG", "state": "present"},
        },
        *(http_check(f"api{i}", http_server.url("/health")) for i in range(5)),
        {**http_check("after-flag", http_server.url("/health")), "needs": ["flag"]},
    ]
    data, got = await run(write(tmp_path, [{"id": "preflight", "steps": steps}]))
    assert data["status_label"] == "FAIL"
    assert got["flag"]["outcome"] == "fail"
    assert [got[f"api{i}"]["outcome"] for i in range(5)] == ["pass"] * 5
    assert len(http_server.requests) == 5
    assert got["after-flag"]["outcome"] == "not-run"
    assert got["after-flag"]["summary"] == "not run: needs flag did not pass"


async def test_run_level_sections_are_left_out_of_a_preflight(tmp_path: Path, http_server: LoopbackHTTPServer) -> None:
    """The runbook's evidence checklist (and sign-offs, decision) belong to a run: a pre-flight's report does
    not list them as missing."""
    http_server.route("/health", json={"status": "ok"})
    path = tmp_path / "evidence.yaml"
    path.write_text(
        json.dumps(
            {
                "golive": 1,
                "name": "evidence",
                "evidence": [{"id": "proof", "title": "Deploy log", "steps": ["api"]}],
                "phases": [{"id": "preflight", "steps": [http_check("api", http_server.url("/health"))]}],
            }
        )
    )
    data, _ = await run(loader.load(str(path)))
    assert data["status_label"] == "PASS"
    assert data["evidence_checklist"] == []
    assert "Evidence checklist" not in formats.to_markdown(data)
