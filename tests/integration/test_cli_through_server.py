"""The CLI through the server: on a shared (PostgreSQL) store a person's act goes through `golive serve`, where
it is authenticated and checked by the same rules; written straight to the store it is refused with the fix,
unless --local (recorded as auth: local). Logins for the CLI: a token ($GOLIVE_TOKEN) or single sign-on
(`golive login`, the provider's device flow), kept with mode 0600."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.oidc_provider import Client, Person, Provider

from golive import exceptions
from golive.cli import main
from golive.server import config as config_mod
from golive.server.testing import LiveServer
from golive.store import open_store

pytestmark = pytest.mark.postgres

RUNBOOK = """golive: 1
name: gate
roles:
  ic: {may: [decide, assign]}
  ops: {}
  scribe: {}
phases:
  - id: p
    steps:
      - {id: gate, kind: decision, role: ic}
"""
MANUAL = """golive: 1
name: manual
roles:
  ic: {}
  ops: {}
phases:
  - id: p
    steps:
      - {id: snapshot, kind: manual, role: ops, inputs: [{id: snapshot_id, required: true}]}
"""
ADMIN = "tok-admin-0123456789abcdef"
ALICE = "tok-alice-0123456789abcdef"
BOB = "tok-bob-0123456789abcdefgh"
SECRET = "golive-client-secret-0123456789"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    """One provider for the module (its RSA key takes a while to make); each test registers its own server."""
    provider = Provider([Person("u-1001", "alice", ["warroom-ic"])], Client("golive", SECRET)).start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def server(postgres_url: str, tmp_path: Path, idp: Provider) -> Iterator[LiveServer]:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "gate.yaml").write_text(RUNBOOK, encoding="utf-8")
    (books / "manual.yaml").write_text(MANUAL, encoding="utf-8")
    tokens = {ADMIN: ("admin", ("admin",)), ALICE: ("alice", ("ic",)), BOB: ("bob", ("ops",))}
    cfg = config_mod.ServerConfig(
        token_hashes={
            config_mod.hash_token(t): config_mod.TokenGrant(user_id=u, roles=r) for t, (u, r) in tokens.items()
        },
        runbook_dir=books,
        token_cache_ttl=0,
        oidc=config_mod.OidcConfig(
            issuer=idp.url,
            client_id="golive",
            client_secret=SECRET,
            groups={"warroom-ic": config_mod.OidcGroup(roles=("ic",))},
        ),
    )
    with LiveServer(postgres_url, cfg) as srv:
        yield srv


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_url: str) -> Path:
    """A person's terminal: the shared store's URL in the environment, a config dir of their own."""
    monkeypatch.setenv("GOLIVE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("GOLIVE_SERVER", raising=False)
    monkeypatch.delenv("GOLIVE_TOKEN", raising=False)
    return tmp_path / "config"


def start_run(srv: LiveServer, runbook: str = "gate.yaml", waiting: str = "decision") -> str:
    with httpx.Client(base_url=srv.url, timeout=10, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
        r = http.post("/api/v1/runs", json={"runbook": runbook, "roles": {"ic": "alice", "ops": "bob"}})
        assert r.status_code == 201, r.text
        rid = str(r.json()["run_id"])
        for _ in range(500):  # bounded: the engine reaches the wait within a few polls
            if f'"waiting_for":"{waiting}"' in http.get(f"/api/v1/runs/{rid}").text:
                return rid
            time.sleep(0.02)
    raise AssertionError(f"the run never waited for {waiting}")


def events(url: str, rid: str) -> list[Any]:
    async def go() -> list[Any]:
        store = open_store(url)
        await store.open()
        try:
            return list(await store.events(rid))
        finally:
            await store.close()

    return asyncio.run(go())


def run_cli(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_cli_act_on_postgres_without_the_server_is_refused_with_the_fix(
    server: LiveServer, cli_env: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = start_run(server)
    assert run_cli(["decide", rid, "no-go", "--as", "alice", "--reason", "not today"]) == 2
    err = capsys.readouterr().err
    assert "the store is shared" in err
    assert "--server URL" in err
    assert "--local" in err
    assert not [e for e in events(postgres_url, rid) if e.type == "decision_recorded" and e.actor == "alice"]


def test_the_same_act_through_the_server_lands_with_the_subject_recorded(
    server: LiveServer,
    cli_env: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rid = start_run(server)
    monkeypatch.setenv("GOLIVE_SERVER", server.url)
    monkeypatch.setenv("GOLIVE_TOKEN", ALICE)
    # --as may repeat the credential's user, never name another.
    assert run_cli(["decide", rid, "no-go", "--as", "bob", "--reason", "x"]) == 2
    assert "you act as alice" in capsys.readouterr().err
    assert run_cli(["decide", rid, "no-go", "--reason", "not today"]) == 0
    assert "NO-GO recorded by alice" in capsys.readouterr().out
    decided = [e for e in events(postgres_url, rid) if e.type == "decision_recorded" and e.actor == "alice"]
    assert decided
    assert decided[-1].data["auth"] == "token"
    assert decided[-1].data["auth_subject"] == "alice"


def test_a_vacant_role_claim_through_the_cli_and_server_is_refused(
    server: LiveServer,
    cli_env: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rid = start_run(server)
    monkeypatch.setenv("GOLIVE_TOKEN", BOB)
    assert run_cli(["assign", rid, "scribe=bob", "--server", server.url]) == 1
    assert "roles are given, not taken" in capsys.readouterr().err
    refused = [e for e in events(postgres_url, rid) if e.type == "act_refused"]
    assert refused
    assert refused[-1].actor == "bob"
    assert refused[-1].data["auth"] == "token"


def test_local_on_postgres_is_recorded_as_a_local_act(server: LiveServer, cli_env: Path, postgres_url: str) -> None:
    rid = start_run(server)
    assert run_cli(["decide", rid, "no-go", "--as", "alice", "--reason", "db admin", "--local"]) == 0
    decided = [e for e in events(postgres_url, rid) if e.type == "decision_recorded" and e.actor == "alice"]
    assert decided[-1].data["auth"] == "local"


def test_golive_login_device_flow_stores_a_0600_login_and_acts_record_oidc(
    server: LiveServer, cli_env: Path, postgres_url: str, idp: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = start_run(server)
    env = {**os.environ, "GOLIVE_SERVER": server.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "golive", "login"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "approve the code" in line, line
        code = line.rsplit(" ", 1)[-1].strip()
        r = httpx.post(idp.url + "/device", data={"user_code": code, "username": "alice"}, timeout=10)
        assert r.status_code == 200
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "logged in to" in out
    assert "as alice" in out
    creds = cli_env / "golive" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    assert run_cli(["decide", rid, "no-go", "--reason", "sso", "--server", server.url]) == 0
    decided = [e for e in events(postgres_url, rid) if e.type == "decision_recorded" and e.actor == "alice"]
    assert decided[-1].data["auth"] == "oidc"
    assert decided[-1].data["auth_subject"] == "u-1001"


def test_continuing_a_run_on_postgres_needs_local(
    server: LiveServer, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resume --from` is a person's act the API does not offer: on a shared store only with --local."""
    rid = start_run(server)
    assert run_cli(["resume", rid, "--from", "p", "--as", "alice"]) == 2
    err = capsys.readouterr().err
    assert "the store is shared" in err
    assert "--local" in err


def test_confirm_through_the_server_uploads_the_evidence(
    server: LiveServer, cli_env: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rid = start_run(server, "manual.yaml", "manual")
    proof = tmp_path / "snapshot.txt"
    proof.write_text("snapshot snap-42 taken\n", encoding="utf-8")
    monkeypatch.setenv("GOLIVE_TOKEN", BOB)
    args = ["confirm", rid, "snapshot", "--input", "snapshot_id=snap-42", "--evidence", str(proof)]
    assert run_cli([*args, "--server", server.url]) == 0
    confirmed = [e for e in events(postgres_url, rid) if e.type == "step_confirmed"]
    assert confirmed[-1].actor == "bob"
    assert confirmed[-1].data["auth"] == "token"
    assert confirmed[-1].data["inputs"] == {"snapshot_id": "snap-42"}
    assert [ev["name"] for ev in confirmed[-1].data["evidence"]] == ["snapshot.txt"]


def test_local_outweighs_golive_server_from_the_environment(
    server: LiveServer,
    cli_env: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rid = start_run(server)
    monkeypatch.setenv("GOLIVE_SERVER", server.url)
    args = ["decide", rid, "no-go", "--as", "alice", "--reason", "dba"]
    assert run_cli([*args, "--local", "--server", server.url]) == 2
    assert "give one" in capsys.readouterr().err
    assert run_cli([*args, "--local"]) == 0
    decided = [e for e in events(postgres_url, rid) if e.type == "decision_recorded" and e.actor == "alice"]
    assert decided[-1].data["auth"] == "local"


FROZEN = """golive: 1
name: frozen
roles:
  ic: {may: [decide, rollback, waive]}
freeze:
  - {id: always, start: "2020-01-01T00:00:00Z", end: "2099-01-01T00:00:00Z"}
phases:
  - id: p
    steps:
      - {id: a, kind: action, type: command, with: {run: "true"}}
"""


def test_a_start_gate_waiver_on_postgres_needs_local_and_is_recorded_as_local(
    cli_env: Path, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`golive run --waive ID --as NAME` is a person's act: on a shared store it was written as anyone named,
    unauthenticated. Without --local it is refused with the fix (the run is not created); with it the waiver is
    recorded auth: local."""
    (tmp_path / "frozen.yaml").write_text(FROZEN)
    args = ["run", str(tmp_path / "frozen.yaml"), "--mode", "live", "--role", "ic=mallory", "--no-prompt", "-q"]
    waive = ["--waive", "always", "--as", "mallory", "--ticket", "CAB-1", "--reason", "urgent fix"]
    assert run_cli([*args, *waive, "--run-id", "frozen-1"]) == 2
    err = capsys.readouterr().err
    assert "the store is shared" in err
    assert "--local" in err
    with pytest.raises(exceptions.NotFound):
        events_of_run(postgres_url, "frozen-1")
    assert run_cli([*args, *waive, "--run-id", "frozen-2", "--local"]) == 0
    (waived,) = [e for e in events(postgres_url, "frozen-2") if e.type == "gate_waived"]
    assert (waived.actor, waived.data["auth"]) == ("mallory", "local")


def events_of_run(url: str, rid: str) -> Any:
    async def go() -> Any:
        store = open_store(url)
        await store.open()
        try:
            return await store.get_run(rid)
        finally:
            await store.close()

    return asyncio.run(go())


def _in_a_terminal(args: list[str], env: dict[str, str], answers: bytes, until: bytes, limit: float = 60.0) -> str:
    """Run golive in a pseudo-terminal (so it may prompt), type ``answers`` when it asks, and return what it
    printed once it printed ``until`` (bounded: the process is killed then, or at ``limit`` seconds)."""
    import pty
    import select

    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "golive", *args], stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env
    )
    os.close(child_fd)
    out = b""
    typed = False
    deadline = time.monotonic() + limit
    try:
        while proc.poll() is None and time.monotonic() < deadline and until not in out:
            ready, _, _ = select.select([main_fd], [], [], 0.2)
            if ready:
                try:
                    out += os.read(main_fd, 4096)
                except OSError:
                    break
            if not typed and b"go / no-go" in out:
                os.write(main_fd, answers)
                typed = True
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(main_fd)
    return out.decode(errors="replace")


def test_a_run_in_a_terminal_on_postgres_does_not_take_acts_at_its_prompt_without_local(
    postgres_url: str, tmp_path: Path
) -> None:
    """The terminal driving a run on a shared store asked for the IC's GO and wrote it as the IC, unauthenticated;
    without --local it does not prompt (acts go through the server), and the run waits."""
    (tmp_path / "gate.yaml").write_text(RUNBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    env |= {"GOLIVE_DATABASE_URL": postgres_url, "GOLIVE_LEASE_TTL": "2", "XDG_CONFIG_HOME": str(tmp_path)}
    args = ["run", str(tmp_path / "gate.yaml"), "--mode", "live", "--role", "ic=alice", "--run-id", "t1", "-q"]
    shown = _in_a_terminal(args, env, b"go\nlooks good\n", until=b"takes no acts", limit=30.0)
    assert "go / no-go" not in shown
    assert "--local" in shown
    assert not [e for e in events(postgres_url, "t1") if e.type == "decision_recorded"]


def test_taking_a_run_over_on_postgres_needs_local_and_is_recorded_as_local(
    cli_env: Path, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`golive resume RUN --take-over --as NAME` records NAME taking the run from its owner: on a shared store
    that was written as anyone named; without --local it is refused, with it recorded auth: local."""
    from golive.engine import runner
    from golive.spec import loader

    (tmp_path / "frozen.yaml").write_text(FROZEN.replace("freeze:\n", "freeze: []\n#"))

    async def create() -> str:
        store = open_store(postgres_url)
        await store.open()
        try:
            loaded = loader.load(tmp_path / "frozen.yaml", environ={})
            return (await runner.create_run(store, loaded, mode="rehearsal", run_id="taken-1")).run_id
        finally:
            await store.close()

    rid = asyncio.run(create())
    args = ["resume", rid, "--take-over", "--as", "mallory", "--no-prompt", "-q"]
    assert run_cli(args) == 2
    assert "the store is shared" in capsys.readouterr().err
    assert not [e for e in events(postgres_url, rid) if e.type == "engine_started"]
    assert run_cli([*args, "--local"]) == 0
    (took,) = [e for e in events(postgres_url, rid) if e.type == "engine_started"]
    assert (took.actor, took.data["takeover"], took.data["auth"]) == ("mallory", True, "local")
