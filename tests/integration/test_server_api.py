"""The war-room API on a live loopback server: every endpoint, auth (401/403/429), CORS, SSE, and the full
role matrix (each runbook role holder against each act: allowed, or 403 from the shared rules)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from golive.server import app as app_mod
from golive.server import config as config_mod
from golive.server import endpoints as endpoints_mod
from golive.server import schemas
from golive.server.testing import LiveServer

WAIT = 20.0  # seconds a run may take to reach the state a test needs before the test fails

# name -> (token, user, server roles)
TOKENS: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("tok-admin-0123456789abcdef", "admin", ["admin"]),
    "ic": ("tok-alice-0123456789abcdef", "alice", ["ic"]),
    "ops": ("tok-bob-0123456789abcdefgh", "bob", ["ops"]),
    "qa": ("tok-carol-0123456789abcdef", "carol", ["qa"]),
    "scribe": ("tok-sam-0123456789abcdefgh", "sam", ["scribe"]),
    "norole": ("tok-eve-0123456789abcdefgh", "eve", ["ops"]),  # a person who holds no role in the run
    "viewer": ("tok-audrey-0123456789abcde", "audrey", ["viewer"]),
}
HOLDERS = {"ic": "alice", "ops": "bob", "qa": "carol", "scribe": "sam"}

MATRIX_RUNBOOK = """\
golive: 1
name: matrix
title: Matrix cutover
service: orders
environment: prod
roles:
  ic: {title: Incident Commander, may: [decide, assign]}
  ops: {title: Operations, may: [rollback]}
  qa: {title: QA}
  scribe: {title: Scribe}
settings:
  waiver_roles: [ic]
signoff:
  areas:
    - {id: qa, title: QA sign-off, role: qa}
phases:
  - id: cutover
    at: T-10m
    steps:
      - id: precheck
        kind: check
        type: command
        with: {run: "true"}
      - id: drain
        kind: manual
        role: ops
        instructions: Drain the queue.
        inputs:
          - {id: ticket, title: Change ticket, required: false, pattern: "CHG-[0-9]+"}
      - id: decide
        kind: decision
        role: ic
        requires: [precheck]
        deadline: 30m
        default: no-go
"""

CANARY_RUNBOOK = """\
golive: 1
name: canary
title: Canary cutover
roles:
  ic: {title: Incident Commander, may: [decide]}
phases:
  - id: canary-phase
    steps:
      - id: canary
        kind: check
        type: command
        with: {run: "exit 1"}
      - id: decide
        kind: decision
        role: ic
        requires: [canary]
        default: no-go
"""

BROKEN_RUNBOOK = """\
golive: 1
name: broken
phases:
  - id: p
    steps:
      - id: s
        kind: check
"""


class Api:
    """A small client for the live server, acting as one of TOKENS."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10.0)

    def h(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {TOKENS[who][0]}"}

    def get(self, path: str, who: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.http.get(path, headers={**self.h(who), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, body: Any = None, who: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers={**self.h(who), **kw.pop("headers", {})}, **kw)

    def start(self, runbook: str = "matrix.yaml", roles: dict[str, str] | None = None, who: str = "admin") -> str:
        r = self.post(
            "/api/v1/runs", {"runbook": runbook, "mode": "rehearsal", "roles": HOLDERS if roles is None else roles}, who
        )
        assert r.status_code == 201, r.text
        return str(r.json()["run_id"])

    def summary(self, rid: str) -> dict[str, Any]:
        r = self.get(f"/api/v1/runs/{rid}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait(self, rid: str, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            data = self.summary(rid)
            if pred(data):
                return data
            time.sleep(0.05)
        raise AssertionError(f"run {rid}: {what} did not happen within {WAIT:g} s; status {data['status']}")

    def ready(self, rid: str) -> dict[str, Any]:
        """Wait until the matrix run waits for both drain (manual) and decide, with precheck passed."""

        def ok(d: dict[str, Any]) -> bool:
            steps = {s["id"]: s for s in d["phases"][0]["steps"]}
            return (
                steps["precheck"]["outcome"] == "pass"
                and steps["drain"]["status"] == "waiting"
                and steps["decide"]["status"] == "waiting"
            )

        return self.wait(rid, ok, "precheck pass, drain and decide waiting")

    def events(self, rid: str) -> list[dict[str, Any]]:
        """The run's events, read from the SSE stream's replay up to the current head."""
        head = self.summary(rid)["events"]
        out: list[dict[str, Any]] = []
        with self.http.stream("GET", f"/api/v1/runs/{rid}/events", headers=self.h("admin")) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    out.append(json.loads(line[6:]))
                    if out[-1]["seq"] >= head:
                        break
        return out


def _config(runbook_dir: Path, **kw: Any) -> config_mod.ServerConfig:
    grants = {
        config_mod.hash_token(tok): config_mod.TokenGrant(user_id=user, roles=tuple(roles))
        for tok, user, roles in TOKENS.values()
    }
    return config_mod.ServerConfig(token_hashes=grants, runbook_dir=runbook_dir, token_cache_ttl=0, **kw)


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "matrix.yaml").write_text(MATRIX_RUNBOOK)
    (d / "canary.yaml").write_text(CANARY_RUNBOOK)
    (d / "broken.yaml").write_text(BROKEN_RUNBOOK)
    return d


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "golive.db"


@pytest.fixture
def server(db_path: Path, runbook_dir: Path) -> Iterator[LiveServer]:
    with LiveServer(str(db_path), _config(runbook_dir)) as srv:
        yield srv


@pytest.fixture
def api(server: LiveServer) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.http.close()


# --- auth ------------------------------------------------------------------------------------------------


def test_health_answers_without_a_token(api: Api) -> None:
    """/health is the one route that answers without a token."""
    r = api.get("/health", who=None)
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def _concrete(path: str) -> str:
    return (
        path.replace("{run_id}", "nosuchrun")
        .replace("{step_id}", "s")
        .replace("{fmt}", "md")
        .replace("{digest}", "0" * 64)
    )


@pytest.mark.parametrize("ep", [e for e in endpoints_mod.table() if e.access != "public"], ids=lambda e: e.name)
def test_every_route_but_health_is_401_without_a_token(api: Api, ep: Any) -> None:
    """Without a token every API and fragment route answers 401 with a Bearer challenge, and no data."""
    r = api.http.request(ep.method, _concrete(ep.path), json={} if ep.method == "POST" else None)
    assert r.status_code == 401, (ep.path, r.status_code, r.text)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"] == "unauthorized"


def test_unknown_token_is_401_invalid_token(api: Api) -> None:
    """A wrong bearer token is 401 with error="invalid_token" in the challenge."""
    r = api.http.get("/api/v1/runs", headers={"Authorization": "Bearer not-a-real-token-at-all"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_me_names_the_tokens_user_and_powers(api: Api) -> None:
    """GET /me says who the token speaks for and what the server lets it attempt."""
    assert api.get("/api/v1/me", "ic").json() == {"user": "alice", "roles": ["ic"], "can_act": True, "can_start": False}
    assert api.get("/api/v1/me", "viewer").json()["can_act"] is False
    assert api.get("/api/v1/me", "admin").json()["can_start"] is True


def test_repeated_auth_failures_are_rate_limited_with_retry_after(db_path: Path, runbook_dir: Path) -> None:
    """After max failed attempts from one address, even a good token gets 429 with Retry-After."""
    cfg = _config(runbook_dir, auth_failures=config_mod.AuthFailureLimit(max=3, window=300))
    with LiveServer(str(db_path), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        for _ in range(3):
            assert http.get("/api/v1/runs", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
        r = http.get("/api/v1/runs", headers={"Authorization": f"Bearer {TOKENS['admin'][0]}"})
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 300
        assert r.json()["error"] == "rate_limited"
        assert http.get("/health").status_code == 200


def test_cors_answers_only_configured_origins(db_path: Path, runbook_dir: Path) -> None:
    """A preflight from a configured origin is allowed; from any other origin it is not."""
    cfg = _config(runbook_dir, cors_origins=("https://warroom.example.com",))
    with LiveServer(str(db_path), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        ok = http.options("/api/v1/runs", headers={"Origin": "https://warroom.example.com", **pre})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://warroom.example.com"
        bad = http.options("/api/v1/runs", headers={"Origin": "https://evil.example.net", **pre})
        assert "access-control-allow-origin" not in bad.headers
        plain = http.get("/health", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in plain.headers


def test_store_token_from_the_cli_works_until_revoked(api: Api, db_path: Path) -> None:
    """`golive token create` prints a token once; it authenticates; `golive token revoke` ends it."""
    golive = [sys.executable, "-m", "golive"]
    made = subprocess.run(
        [*golive, "token", "create", "--user", "frank", "--roles", "ic,observer", "--json", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    info = json.loads(made.stdout)
    assert info["user"] == "frank"
    # Only the hash is stored. (Read through SQLite, not as a file: closing a second descriptor of the
    # database in this process would drop the in-process server's POSIX locks.)
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT * FROM tokens").fetchall()
    assert rows
    assert info["token"] not in repr(rows)
    assert info["sha256"] == config_mod.hash_token(info["token"]) in repr(rows)
    headers = {"Authorization": f"Bearer {info['token']}"}
    assert api.http.get("/api/v1/me", headers=headers).json()["user"] == "frank"
    listed = subprocess.run(
        [*golive, "token", "list", "--json", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert info["token"] not in listed.stdout
    revoked = subprocess.run(
        [*golive, "token", "revoke", info["sha256"][:12], "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "revoked" in revoked.stdout, revoked.stdout + revoked.stderr
    assert api.http.get("/api/v1/me", headers=headers).status_code == 401


# --- runs ------------------------------------------------------------------------------------------------


def test_start_run_then_list_and_read_it(api: Api) -> None:
    """POST /runs starts a run driven by the server; it is listed and readable by id and by prefix."""
    rid = api.start()
    data = api.ready(rid)
    assert data["roles"]["ic"]["holder"] == "alice"
    listed = api.get("/api/v1/runs").json()["runs"]
    assert [r["run_id"] for r in listed] == [rid]
    assert listed[0]["status"] == "WAITING"
    assert api.get(f"/api/v1/runs/{rid[:-2]}").json()["run_id"] == rid


def test_run_summary_matches_the_documented_schema(api: Api) -> None:
    """The RunSummary schema in the OpenAPI document accepts the real summary (extra keys are refused)."""
    rid = api.start()
    api.ready(rid)
    api.post(f"/api/v1/runs/{rid}/steps/drain/confirm", {"inputs": {"ticket": "CHG-1"}}, "ops")
    schemas.RunSummary.model_validate(api.summary(rid))


def test_start_run_needs_a_start_role(api: Api) -> None:
    """Only tokens with a start role may start runs; the rest get 403."""
    for who in ("ic", "viewer"):
        r = api.post("/api/v1/runs", {"runbook": "matrix.yaml"}, who)
        assert r.status_code == 403, who
        assert r.json()["error"] == "forbidden"


def test_start_run_input_errors(api: Api) -> None:
    """A path outside runbook_dir is 400, a missing file 404, an invalid runbook 422 with every problem."""
    r = api.post("/api/v1/runs", {"runbook": "../../etc/passwd"})
    assert r.status_code == 400
    assert "outside" in r.json()["message"]
    assert api.post("/api/v1/runs", {"runbook": "nope.yaml"}).status_code == 404
    bad = api.post("/api/v1/runs", {"runbook": "broken.yaml"})
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["path"].startswith("phases[0].steps[0]")
    assert api.post("/api/v1/runs", {"runbook": "matrix.yaml", "mode": "yolo"}).status_code == 422
    assert api.post("/api/v1/runs", {"runbook": "matrix.yaml", "roles": {"chef": "x"}}).status_code == 400


def test_runbooks_lists_loadable_files(api: Api) -> None:
    """GET /runbooks lists the runbooks under runbook_dir (invalid ones are left out)."""
    found = {r["path"]: r for r in api.get("/api/v1/runbooks").json()["runbooks"]}
    assert set(found) == {"matrix.yaml", "canary.yaml"}
    assert found["matrix.yaml"]["title"] == "Matrix cutover"
    problems = api.get("/api/v1/runbooks").json()["problems"]
    assert len(problems) == 1
    assert problems[0].startswith("broken.yaml:")


def test_unknown_run_and_step_are_404(api: Api) -> None:
    """An unknown run or step is 404 with a message."""
    assert api.get("/api/v1/runs/nosuchrun").status_code == 404
    rid = api.start()
    api.ready(rid)
    r = api.post(f"/api/v1/runs/{rid}/steps/nosuch/confirm", {}, "ops")
    assert r.status_code == 404
    assert "nosuch" in r.json()["message"]
    assert api.get("/api/v1/nothing-here").status_code == 404


def test_bad_input_to_an_act_is_400_and_bad_body_is_422(api: Api) -> None:
    """A value the rules reject (input pattern) is 400; a body off the schema is 422."""
    rid = api.start()
    api.ready(rid)
    r = api.post(f"/api/v1/runs/{rid}/steps/drain/confirm", {"inputs": {"ticket": "nope"}}, "ops")
    assert r.status_code == 400
    assert "CHG-" in r.json()["message"]
    r = api.post(f"/api/v1/runs/{rid}/decide", {"decision": "maybe", "reason": "x"}, "ic")
    assert r.status_code == 422
    r = api.http.post(
        f"/api/v1/runs/{rid}/decide", content=b"{not json", headers={**api.h("ic"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_acts_are_attributed_to_the_tokens_user(api: Api) -> None:
    """The confirmation event's actor is the token's user, and the step records who confirmed."""
    rid = api.start()
    api.ready(rid)
    r = api.post(f"/api/v1/runs/{rid}/steps/drain/confirm", {"inputs": {"ticket": "CHG-42"}}, "ops")
    assert r.status_code == 200, r.text
    assert r.json()["actor"] == "bob"
    confirmed = [e for e in api.events(rid) if e["type"] == "step_confirmed"]
    assert [(e["actor"], e["step_id"]) for e in confirmed] == [("bob", "drain")]
    step = next(s for s in api.summary(rid)["phases"][0]["steps"] if s["id"] == "drain")
    assert (step["outcome"], step["actor"], step["inputs"]) == ("pass", "bob", {"ticket": "CHG-42"})


def test_go_after_a_failed_canary_is_403_with_the_reason(api: Api) -> None:
    """GO is refused by the rule, for the IC too, naming the failed requirement; NO-GO is recorded."""
    rid = api.start("canary.yaml", {"ic": "alice"})
    api.wait(
        rid,
        lambda d: d["phases"][0]["steps"][0]["outcome"] == "fail" and d["phases"][0]["steps"][1]["status"] == "waiting",
        "canary FAIL with the decision waiting",
    )
    r = api.post(f"/api/v1/runs/{rid}/decide", {"decision": "go", "reason": "ship it"}, "ic")
    assert r.status_code == 403
    assert "canary" in r.json()["message"]
    assert "FAIL" in r.json()["message"]
    ok = api.post(f"/api/v1/runs/{rid}/decide", {"decision": "no-go", "reason": "canary failed"}, "ic")
    assert ok.status_code == 200
    api.wait(rid, lambda d: d["verdict"] == "NO-GO", "NO-GO verdict")


def test_confirm_with_evidence_upload_keeps_a_redacted_blob(api: Api) -> None:
    """multipart confirm stores the evidence file (secrets redacted) and serves it back by sha256."""
    rid = api.start()
    api.ready(rid)
    files = {"evidence": ("drain.txt", b"queue drained\npassword=hunter2hunter2\n", "text/plain")}
    data = {"inputs": json.dumps({"ticket": "CHG-7"}), "failed": "false", "reason": ""}
    r = api.http.post(f"/api/v1/runs/{rid}/steps/drain/confirm", data=data, files=files, headers=api.h("ops"))
    assert r.status_code == 200, r.text
    step = next(s for s in api.summary(rid)["phases"][0]["steps"] if s["id"] == "drain")
    (item,) = step["evidence"]
    assert item["name"] == "drain.txt"
    blob = api.get(f"/api/v1/runs/{rid}/blobs/{item['sha256']}")
    assert blob.status_code == 200
    assert b"queue drained" in blob.content
    assert b"hunter2hunter2" not in blob.content
    assert api.get(f"/api/v1/runs/{rid}/blobs/{'0' * 64}").status_code == 404


def test_resolve_an_unknown_action(api: Api, db_path: Path, runbook_dir: Path) -> None:
    """An action left unknown by a crash is resolved through the API by the holder of its role."""
    import asyncio

    from golive.engine import runner
    from golive.spec import loader
    from golive.store import open_store

    (runbook_dir / "act.yaml").write_text(
        "golive: 1\nname: act\nroles:\n  ops: {}\n  ic: {may: [decide]}\nphases:\n  - id: p\n    steps:\n"
        "      - {id: flip, kind: action, type: command, role: ops, with: {run: 'true'}}\n"
    )

    async def crashed_run() -> str:
        store = open_store(str(db_path))
        await store.open()
        try:
            h = await runner.create_run(
                store, loader.load(runbook_dir / "act.yaml"), mode="rehearsal", roles={"ops": "bob", "ic": "alice"}
            )
            await h.append("phase_started", step_id="p")
            await h.append("action_started", step_id="flip", attempt=1)
            await h.append("action_unknown", step_id="flip", idempotent=False, retry=False)
            return h.run_id
        finally:
            await store.close()

    rid = asyncio.run(crashed_run())
    assert api.post(f"/api/v1/runs/{rid}/steps/flip/resolve", {"outcome": "done"}, "qa").status_code == 403
    r = api.post(f"/api/v1/runs/{rid}/steps/flip/resolve", {"outcome": "done"}, "ops")
    assert r.status_code == 200, r.text
    step = api.summary(rid)["phases"][0]["steps"][0]
    assert (step["status"], step["outcome"]) == ("done", "pass")


def test_rollback_through_the_api_rolls_the_run_back(api: Api) -> None:
    """POST /rollback by a role that may is 202; the server's engine rolls the run back."""
    rid = api.start()
    api.ready(rid)
    r = api.post(f"/api/v1/runs/{rid}/rollback", {"reason": "error rate up"}, "ops")
    assert r.status_code == 202, r.text
    data = api.wait(rid, lambda d: d["status"] == "rolled_back", "rolled back")
    assert data["rollback"]["by"] == "bob"
    again = api.post(f"/api/v1/runs/{rid}/rollback", {"reason": "twice"}, "ops")
    assert again.status_code == 409  # another act got there first


def test_a_follow_up_is_due_after_a_rollback_and_confirmed_through_the_api(api: Api, runbook_dir: Path) -> None:
    """After a rollback the follow-up is due: the dashboard offers its holder a confirm form (not a viewer);
    POST /steps/<follow-up id>/confirm by a role that may roll back records it, a second time is 409."""
    text = MATRIX_RUNBOOK + "rollback:\n  follow_up: [Keep blue running for 24 h]\n"
    (runbook_dir / "follow.yaml").write_text(text)
    rid = api.start("follow.yaml")
    api.ready(rid)
    assert api.post(f"/api/v1/runs/{rid}/rollback", {"reason": "error rate up"}, "ops").status_code == 202
    data = api.wait(rid, lambda d: d["status"] == "rolled_back", "rolled back")
    assert [(f["id"], f["status"]) for f in data["follow_ups"]] == [("follow-up-1", "due")]
    assert 'data-testid="confirm-follow-up-1"' in api.get(f"/ui/runs/{rid}", "ops").text
    assert 'data-testid="confirm-follow-up-1"' not in api.get(f"/ui/runs/{rid}", "viewer").text
    r = api.post(f"/api/v1/runs/{rid}/steps/follow-up-1/confirm", {"reason": "blue stays up"}, "ops")
    assert r.status_code == 200, r.text
    done = api.summary(rid)["follow_ups"][0]
    assert (done["status"], done["by"], done["note"]) == ("confirmed", "bob", "blue stays up")
    again = api.post(f"/api/v1/runs/{rid}/steps/follow-up-1/confirm", {}, "ops")
    assert again.status_code == 409, again.text


def test_verify_reports_a_valid_chain(api: Api) -> None:
    """GET /verify checks the run's hash chain."""
    rid = api.start()
    api.ready(rid)
    body = api.get(f"/api/v1/runs/{rid}/verify").json()
    assert body["valid"] is True
    assert body["events"] == api.summary(rid)["events"]


def test_reports_and_evidence_pack_download_or_say_not_available(api: Api) -> None:
    """Reports come in every format; a format or pack this build lacks is 501 with a message, never a stub."""
    import importlib.util

    rid = api.start()
    api.ready(rid)
    md = api.get(f"/api/v1/runs/{rid}/report.md")
    assert md.status_code == 200
    assert "attachment" in md.headers["content-disposition"]
    assert "precheck" in md.text
    assert api.get(f"/api/v1/runs/{rid}/report.json").json()
    assert api.get(f"/api/v1/runs/{rid}/report.junit").text.startswith("<?xml")
    assert api.get(f"/api/v1/runs/{rid}/report.pdf").status_code == 404
    html = api.get(f"/api/v1/runs/{rid}/report.html")
    if importlib.util.find_spec("golive.report.html") is None:
        assert html.status_code == 501
        assert "not available" in html.json()["message"]
    else:
        assert html.status_code == 200
        assert "<html" in html.text.lower()
    pack = api.get(f"/api/v1/runs/{rid}/evidence.zip")
    if importlib.util.find_spec("golive.evidence.runpack") is None:
        assert pack.status_code == 501
        assert "not available" in pack.json()["message"]
    else:
        assert pack.status_code == 200
        assert pack.content[:2] == b"PK"


# --- the role matrix -------------------------------------------------------------------------------------

# act -> (method path, body, who is allowed by the matrix runbook's rules)
ACTS: dict[str, tuple[str, dict[str, Any], set[str]]] = {
    "confirm": ("steps/drain/confirm", {}, {"ops"}),
    "decide-go": ("decide", {"decision": "go", "reason": "all green"}, {"ic"}),
    "decide-no-go": ("decide", {"decision": "no-go", "reason": "not today"}, {"ic"}),
    "waive": ("steps/drain/waive", {"ticket": "CHG-9", "reason": "drained by hand"}, {"ic"}),
    "rollback": ("rollback", {"reason": "errors"}, {"ic", "ops"}),
    "signoff": ("signoff", {"area": "qa", "statement": "tests green"}, {"qa"}),
    "assign": ("assign", {"roles": {"scribe": "newbie"}}, {"ic", "scribe"}),
}
ROLES = ["ic", "ops", "qa", "scribe"]


@pytest.mark.parametrize("role", [*ROLES, "norole"])
@pytest.mark.parametrize("act", list(ACTS))
def test_role_matrix(api: Api, act: str, role: str) -> None:
    """Each runbook role holder against each act: allowed by the runbook's rules, or 403 'refused'."""
    path, body, allowed = ACTS[act]
    rid = api.start()
    api.ready(rid)
    r = api.post(f"/api/v1/runs/{rid}/{path}", body, role)
    user = TOKENS[role][1]
    if role in allowed:
        assert r.status_code in (200, 202), (act, role, r.text)
        assert r.json()["actor"] == user
    else:
        assert r.status_code == 403, (act, role, r.status_code, r.text)
        assert r.json()["error"] == "refused"
        refusals = api.summary(rid)["refusals"]
        assert refusals
        assert refusals[-1]["by"] == user


@pytest.mark.parametrize("act", list(ACTS))
def test_read_only_token_may_read_but_every_act_is_403(api: Api, act: str) -> None:
    """A viewer token reads the run, and every act is 403 before any rule runs (nothing is recorded)."""
    path, body, _ = ACTS[act]
    rid = api.start()
    before = api.ready(rid)
    assert api.get(f"/api/v1/runs/{rid}", "viewer").status_code == 200
    r = api.post(f"/api/v1/runs/{rid}/{path}", body, "viewer")
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    assert api.summary(rid)["refusals"] == before["refusals"]


# --- SSE ---------------------------------------------------------------------------------------------------


def _read_events(
    lines: Iterator[str], until: Callable[[dict[str, Any]], bool], limit: int = 500
) -> list[dict[str, Any]]:
    """Parse SSE lines until ``until(event)``; each data line must follow its id line (id = seq)."""
    out: list[dict[str, Any]] = []
    ids: list[int] = []
    for line in lines:
        if line.startswith("id: "):
            ids.append(int(line[4:]))
        elif line.startswith("data: "):
            ev = json.loads(line[6:])
            assert ev["seq"] == ids[-1]
            out.append(ev)
            if until(ev) or len(out) >= limit:
                break
    return out


def test_sse_replays_then_streams_live_events(api: Api) -> None:
    """The stream replays the log in order, then delivers an act made meanwhile, with id = seq."""
    rid = api.start()
    head = api.ready(rid)["events"]
    with api.http.stream("GET", f"/api/v1/runs/{rid}/events", headers=api.h("viewer")) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        replay = _read_events(lines, lambda e: e["seq"] >= head)
        assert [e["seq"] for e in replay] == list(range(1, head + 1))
        assert api.post(f"/api/v1/runs/{rid}/steps/drain/confirm", {}, "ops").status_code == 200
        live = _read_events(lines, lambda e: e["type"] == "step_confirmed")
    assert live[0]["seq"] == head + 1
    assert live[-1]["actor"] == "bob"


def test_sse_resumes_after_last_event_id(api: Api) -> None:
    """A reconnect with Last-Event-ID gets only the events after it."""
    rid = api.start()
    head = api.ready(rid)["events"]
    headers = {**api.h("admin"), "Last-Event-ID": str(head - 2)}
    with api.http.stream("GET", f"/api/v1/runs/{rid}/events", headers=headers) as r:
        got = _read_events(r.iter_lines(), lambda e: e["seq"] >= head)
    assert [e["seq"] for e in got] == [head - 1, head]


def test_sse_ticket_opens_only_its_runs_stream_and_cannot_act(api: Api) -> None:
    """A ticket (for EventSource) opens its run's stream; for another run, expired or for acts it is 401."""
    rid = api.start()
    api.ready(rid)
    other = api.start()
    t = api.post(f"/api/v1/runs/{rid}/events/ticket", None, "viewer").json()
    assert t["expires_in"] > 0
    with api.http.stream("GET", t["url"] + "&after=0") as r:
        assert r.status_code == 200
        assert _read_events(r.iter_lines(), lambda e: True)[0]["type"] == "run_created"
    assert api.http.get(f"/api/v1/runs/{other}/events?ticket={t['ticket']}").status_code == 401
    forged = t["ticket"][:-2] + ("AA" if not t["ticket"].endswith("AA") else "BB")
    assert api.http.get(f"/api/v1/runs/{rid}/events?ticket={forged}").status_code == 401
    act = api.http.post(f"/api/v1/runs/{rid}/rollback?ticket={t['ticket']}", json={"reason": "x"})
    assert act.status_code == 401


# --- the OpenAPI document and the dashboard fragments -----------------------------------------------------------


def test_openapi_documents_every_route_and_is_valid(api: Api, server: LiveServer) -> None:
    """The document lists exactly the app's API routes, each with its responses, and validates as OpenAPI 3.1."""
    from openapi_spec_validator import validate

    doc = api.get("/api/v1/openapi.json").json()
    validate(doc)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = {(e.method, e.path) for e in server.app.state.golive.endpoints}
    assert documented == routed
    assert set(app_mod.route_paths(server.app)) >= {p for _, p in routed}
    decide = doc["paths"]["/api/v1/runs/{run_id}/decide"]["post"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(decide["responses"])
    assert decide["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DecideRequest")
    assert doc["paths"]["/health"]["get"]["security"] == []


def test_dashboard_fragment_shows_go_no_go_only_to_the_ic(api: Api) -> None:
    """The run fragment has GO/NO-GO for the decision's role holder only; others see who is awaited."""
    rid = api.start()
    api.ready(rid)
    ic = api.get(f"/ui/runs/{rid}", "ic").text
    assert 'data-testid="go"' in ic
    assert 'data-testid="no-go"' in ic
    for who in ("ops", "viewer", "admin"):
        page = api.get(f"/ui/runs/{rid}", who).text
        assert 'data-testid="go"' not in page, who
        assert "Waiting for alice to decide" in page
    assert 'data-testid="confirm-drain"' in api.get(f"/ui/runs/{rid}", "ops").text
    runs = api.get("/ui/runs", "viewer").text
    assert rid in runs
    assert "Start a run" not in runs
    assert "Start a run" in api.get("/ui/runs", "admin").text


def test_pages_are_shells_without_run_data(api: Api) -> None:
    """The HTML pages answer without a token but carry no run data, only the login form and assets."""
    rid = api.start()
    api.ready(rid)
    page = api.http.get(f"/runs/{rid}")
    assert page.status_code == 200
    assert "login-form" in page.text
    assert "Drain the queue" not in page.text
    assert "alice" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert api.http.get("/static/app.js").status_code == 200


# --- runs nobody drives ---------------------------------------------------------------------------------------


async def _create_undriven(db_path: Path, runbook: Path, lease_owner: str | None = None) -> str:
    """A run written straight to the store (as `golive run` would), with no engine behind it."""
    from golive.engine import runner
    from golive.spec import loader
    from golive.store import open_store

    store = open_store(str(db_path))
    await store.open()
    try:
        h = await runner.create_run(store, loader.load(runbook), mode="rehearsal", roles=HOLDERS)
        if lease_owner is not None:
            assert await store.acquire_lease(h.run_id, lease_owner, 0.01)
        return h.run_id
    finally:
        await store.close()


def test_rollback_of_a_run_nobody_drives_is_carried_out_by_the_server(
    api: Api, db_path: Path, runbook_dir: Path
) -> None:
    """With no engine holding the run, the server takes the lease and runs the rollback itself."""
    import asyncio

    rid = asyncio.run(_create_undriven(db_path, runbook_dir / "matrix.yaml"))
    r = api.post(f"/api/v1/runs/{rid}/rollback", {"reason": "abandoned"}, "ic")
    assert r.status_code == 202, r.text
    assert "started by this server" in r.json()["message"]
    data = api.wait(rid, lambda d: d["status"] == "rolled_back", "rolled back by the server")
    assert data["rollback"]["by"] == "alice"


def test_server_resumes_a_run_whose_owner_died(db_path: Path, runbook_dir: Path) -> None:
    """A run whose lease expired (its process died) is taken over and driven on by the server."""
    import asyncio

    rid = asyncio.run(_create_undriven(db_path, runbook_dir / "matrix.yaml", lease_owner="dead-host:1:run"))
    time.sleep(0.05)  # let the 10 ms lease expire
    with LiveServer(str(db_path), _config(runbook_dir)) as srv:
        client = Api(srv.url)
        try:
            data = client.ready(rid)
        finally:
            client.http.close()
    assert data["phases"][0]["steps"][0]["outcome"] == "pass"


def test_uploaded_evidence_names_lose_paths_and_header_breaking_characters(api: Api) -> None:
    """An upload named with a path or shell characters is stored under its plain base name, served with a safe header."""
    rid = api.start()
    api.ready(rid)
    files = {"evidence": ("../../etc/cron; rm -rf.txt", b"drained\n", "text/plain")}
    r = api.http.post(
        f"/api/v1/runs/{rid}/steps/drain/confirm", data={"failed": "false"}, files=files, headers=api.h("ops")
    )
    assert r.status_code == 200, r.text
    (item,) = next(s for s in api.summary(rid)["phases"][0]["steps"] if s["id"] == "drain")["evidence"]
    assert item["name"] == "cron_rm_-rf.txt"
    served = api.get(f"/api/v1/runs/{rid}/blobs/{item['sha256']}")
    assert served.headers["content-disposition"] == 'attachment; filename="cron_rm_-rf.txt"'


FROZEN_RUNBOOK = """\
golive: 1
name: frozen
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, waive]}
freeze:
  - id: every-day
    title: Frozen every day
    start: "2020-01-01T00:00:00Z"
    end: "2020-01-02T00:00:00Z"
    rrule: FREQ=DAILY
phases:
  - id: switch
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
"""


def test_a_live_run_started_over_the_api_passes_the_start_gate_and_a_waiver_is_the_callers(
    api: Api, runbook_dir: Path
) -> None:
    """POST /runs of a live run inside a freeze: the run is refused at the start gate (FAILED, start_gate with
    the block); with waive: [...] by a caller who holds the IC role in the run it runs, the waiver attributed to the caller."""
    (runbook_dir / "frozen.yaml").write_text(FROZEN_RUNBOOK)
    body: dict[str, Any] = {"runbook": "frozen.yaml", "mode": "live", "roles": {"ic": "admin"}}
    r = api.post("/api/v1/runs", body, "admin")
    assert r.status_code == 201, r.text
    refused = api.wait(r.json()["run_id"], lambda d: d["status"] == "failed", "refused")
    assert refused["start_gate"]["outcome"] == "refused"
    assert [b["gate"] for b in refused["start_gate"]["blocks"]] == ["every-day"]
    page = api.get(f"/ui/runs/{refused['run_id']}").text
    assert 'data-testid="gate-block-every-day"' in page
    assert "Start gate: freeze every-day (Frozen every day)" in page
    r = api.post(
        "/api/v1/runs", {**body, "waive": [{"gate": "every-day", "ticket": "CHG-9", "reason": "hotfix"}]}, "admin"
    )
    assert r.status_code == 201, r.text
    passed = api.wait(r.json()["run_id"], lambda d: d["status"] == "passed", "passed")
    (w,) = passed["gate_waived"]
    assert (w["by"], w["gate"], w["ticket"], w["role"]) == ("admin", "every-day", "CHG-9", "ic")
    assert (w["auth"], w["auth_subject"]) == ("token", "admin")  # how the caller authenticated, as on every act
    assert 'data-testid="gate-waived-every-day"' in api.get(f"/ui/runs/{passed['run_id']}").text
    waive = [{"gate": "every-day", "ticket": "CHG-9", "reason": "hotfix"}]
    bad = api.post("/api/v1/runs", {**body, "mode": "rehearsal", "waive": waive}, "admin")
    assert bad.status_code == 422
