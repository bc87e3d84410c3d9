"""`golive evidence pack` and `golive evidence verify` on a run made with `golive run`, as a person runs them.

One run (module fixture): `golive run` in the background; `golive confirm --evidence` with a text file and
a PNG, `golive waive`, `golive decide go` from other processes; a command check's output is evidence.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 60.0  # seconds any one command or wait may take before the test fails
ROLES = ("--role", "ic=alice", "--role", "ops=olga")
RUNBOOK = """\
golive: 1
name: evidence-cli
title: Evidence CLI cutover
release: {tag: v5.0.1}
roles:
  ic: {title: Incident commander, may: [decide, waive]}
  ops: {title: Operations}
phases:
  - id: preflight
    steps:
      - {id: prod_green, kind: check, type: command, with: {run: "echo 'overall_status PASS'"}}
      - id: backup
        kind: manual
        role: ops
        instructions: Take the backup; attach the log and a screenshot.
        evidence: [{name: Backup log, required: true}]
      - {id: dns_ttl, kind: manual, role: ops, instructions: Lower the TTL.}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [preflight]}
evidence:
  - {id: preflight_green, title: "Preflight JSON/MD showing prod green", steps: [prod_green]}
  - {id: backup_proof, title: Backup proof, steps: [backup]}
"""


def png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x10\x20" * 2))
        + chunk(b"IEND", b"")
    )


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [GOLIVE, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=LIMIT, check=False
        )


def step_status(db: Path, run_id: str, type_: str, step: str) -> bool:
    if not db.exists():
        return False
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        row = conn.execute(
            "SELECT 1 FROM events WHERE run_id = ? AND type = ? AND step_id = ?", (run_id, type_, step)
        ).fetchone()
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return row is not None


def wait_for(db: Path, run_id: str, proc: subprocess.Popen[str], type_: str, step: str) -> None:
    limit = time.monotonic() + LIMIT
    while time.monotonic() < limit:
        if step_status(db, run_id, type_, step):
            return
        if proc.poll() is not None:
            raise AssertionError(f"golive run exited {proc.returncode} before {type_} {step}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"no {type_} for {step} within {LIMIT:g} s")


@dataclass
class Made:
    cli: Cli
    run_id: str


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    work = tmp_path_factory.mktemp("evidence-cli")
    db = work / "store" / "golive.db"
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    env["GOLIVE_DATABASE_URL"] = str(db)
    cli = Cli(env, work)
    (work / "runbook.yaml").write_text(RUNBOOK)
    (work / "backup.log").write_text("backup bk-77 done, checksum ok\n")
    (work / "screen.png").write_bytes(png_bytes())
    proc = subprocess.Popen(
        [GOLIVE, "run", "runbook.yaml", "--no-prompt", "-q", "--run-id", "ev1", *ROLES],
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(db, "ev1", proc, "step_waiting", "backup")
        wait_for(db, "ev1", proc, "step_waiting", "dns_ttl")
        done = cli("confirm", "ev1", "backup", "--as", "olga", "--evidence", "backup.log", "--evidence", "screen.png")
        assert done.returncode == 0, done.stderr
        done = cli("waive", "ev1", "dns_ttl", "--as", "alice", "--ticket", "CHG-7", "--reason", "already low")
        assert done.returncode == 0, done.stderr
        wait_for(db, "ev1", proc, "step_waiting", "go")
        done = cli("decide", "ev1", "go", "--as", "alice", "--reason", "green")
        assert done.returncode == 0, done.stderr
        out, err = proc.communicate(timeout=LIMIT)
        assert proc.returncode == 0, out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Made(cli, "ev1")


def test_pack_prints_where_it_wrote_the_file_count_and_the_head_hash(made: Made) -> None:
    """`evidence pack RUN --out DIR` exits 0 and prints the path, the file count and the manifest's head hash."""
    done = made.cli("evidence", "pack", made.run_id, "--out", "pack-dir")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((made.cli.cwd / "pack-dir" / "manifest.json").read_text())
    assert "wrote pack-dir" in done.stdout
    assert f"files: {manifest['file_count']} (3 evidence)" in done.stdout
    assert f"head_hash: {manifest['head_hash']}" in done.stdout
    assert (made.cli.cwd / "pack-dir" / "evidence" / "backup" / "screen.png").read_bytes() == png_bytes()


def test_verify_of_a_fresh_zip_pack_is_valid_with_nothing_missing_or_mismatched(made: Made) -> None:
    """`evidence verify PACK --json` on a fresh zip pack: valid true, missing_files [], mismatches [], exit 0."""
    assert made.cli("evidence", "pack", made.run_id, "--out", "fresh.zip").returncode == 0
    done = made.cli("evidence", "verify", "fresh.zip", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert (result["valid"], result["missing_files"], result["mismatches"]) == (True, [], [])
    assert result["manifest"]["run_id"] == made.run_id


def test_a_tampered_run_pack_exits_1_and_names_the_file(made: Made) -> None:
    """Change the report in a zip run pack: verify exits 1 and lists report.md under mismatches."""
    assert made.cli("evidence", "pack", made.run_id, "--out", "tampered.zip").returncode == 0
    path = made.cli.cwd / "tampered.zip"
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["report.md"] = members["report.md"].replace(b"PASS", b"FAIL", 1)
    path.unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    done = made.cli("evidence", "verify", "tampered.zip")
    assert done.returncode == 1
    assert "valid: NO" in done.stdout
    assert "  - report.md" in done.stdout


def test_signed_pack_verifies_with_its_key_and_fails_with_another(made: Made) -> None:
    """`pack --sign` with a `golive keygen` key: verify --pubkey with it exits 0 (signature valid); with another
    key's .pub it exits 1 (signature invalid)."""
    assert made.cli("keygen", "--out", "k1").returncode == 0
    assert made.cli("keygen", "--out", "k2").returncode == 0
    done = made.cli("evidence", "pack", made.run_id, "--out", "signed.zip", "--sign", "k1/golive-evidence.key")
    assert done.returncode == 0, done.stderr
    assert "signed: sha256:" in done.stdout
    good = made.cli("evidence", "verify", "signed.zip", "--pubkey", "k1/golive-evidence.pub")
    assert good.returncode == 0, good.stdout
    assert "signature: valid" in good.stdout
    bad = made.cli("evidence", "verify", "signed.zip", "--pubkey", "k2/golive-evidence.pub")
    assert bad.returncode == 1
    assert "signature: invalid" in bad.stdout


def test_pack_of_an_unknown_run_exits_2_and_onto_an_existing_path_exits_1(made: Made) -> None:
    """No such run: exit 2 with a message; an --out that exists: exit 1, the file untouched; no traceback."""
    missing = made.cli("evidence", "pack", "nope", "--out", "x.zip")
    assert missing.returncode == 2
    assert "nope" in missing.stderr
    (made.cli.cwd / "taken.zip").write_bytes(b"mine")
    taken = made.cli("evidence", "pack", made.run_id, "--out", "taken.zip")
    assert taken.returncode == 1
    assert "already exists" in taken.stderr
    assert (made.cli.cwd / "taken.zip").read_bytes() == b"mine"
    assert "Traceback" not in missing.stderr + taken.stderr


def test_pack_refuses_a_run_whose_chain_is_broken_naming_the_event(made: Made, tmp_path: Path) -> None:
    """An event edited in a copy of the database: `evidence pack` exits 1 naming the event; no pack is written."""
    import shutil

    src = Path(made.cli.env["GOLIVE_DATABASE_URL"]).parent
    shutil.copytree(src, tmp_path / "store")
    db = tmp_path / "store" / "golive.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET actor = 'mallory' WHERE run_id = ? AND seq = 3", (made.run_id,))
    conn.commit()
    conn.close()
    done = made.cli("evidence", "pack", made.run_id, "--out", str(tmp_path / "x.zip"), "--db", str(db))
    assert done.returncode == 1
    assert "event 3 breaks the chain" in done.stderr
    assert not (tmp_path / "x.zip").exists()
