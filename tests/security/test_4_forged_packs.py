"""Issue item 4: evidence packs verify on their own, and truncation is detectable.

A forger who edits a pack can recompute checksums.json and the manifest's checksum; they cannot make the
pack's event chain agree. `golive evidence verify` (no key) re-checks the chain, its head, its run id and
runbook.yaml against the digest the run recorded. The runbook text in the store is covered by the chain, and
a head anchored outside the store (a checkpoint, or a pack) catches deleted trailing events.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

RUNBOOK = """golive: 1
name: forge
roles:
  ic: {may: [decide]}
phases:
  - id: p
    steps:
      - {id: check, kind: check, type: command, with: {run: [echo, ok]}}
      - {id: gate, kind: decision, role: ic, needs: [check], requires: [check], default: no-go, deadline: 1ms}
"""


def _db(env: dict[str, str]) -> Path:
    return Path(env["GOLIVE_DATABASE_URL"])


def _run(cli: Cli, tmp_path: Path, run_id: str) -> None:
    (tmp_path / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    r = cli("run", "rb.yaml", "--run-id", run_id, "--role", "ic=alice")
    assert r.returncode in (0, 1), r.stdout + r.stderr


def _pack(cli: Cli, tmp_path: Path, run_id: str) -> Path:
    out = tmp_path / f"pack-{run_id}"
    r = cli("evidence", "pack", run_id, "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def _reseal(pack: Path) -> None:
    """What a forger does after editing files: recompute checksums.json and the manifest's checksum."""
    sums = json.loads((pack / "checksums.json").read_text())
    for name in sums["files"]:
        data = (pack / name).read_bytes()
        sums["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    raw = json.dumps(sums, indent=2, sort_keys=True).encode()
    (pack / "checksums.json").write_bytes(raw)
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["checksums_sha256"] = hashlib.sha256(raw).hexdigest()
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _verify(cli: Cli, pack: Path) -> tuple[bool, str]:
    r = cli("evidence", "verify", str(pack))
    assert r.returncode in (0, 1), r.stderr
    return r.returncode == 0, r.stdout


@pytest.fixture
def packed(cli: Cli, tmp_path: Path) -> Path:
    _run(cli, tmp_path, "run-a")
    pack = _pack(cli, tmp_path, "run-a")
    ok, out = _verify(cli, pack)
    assert ok, out
    assert "chain: valid" in out
    return pack


def test_an_edited_event_is_refused_even_with_checksums_recomputed(cli: Cli, packed: Path) -> None:
    lines = (packed / "events.jsonl").read_text().splitlines()
    edited = [ln.replace('"no_go"', '"passed"').replace('"no-go"', '"go"') for ln in lines]
    assert edited != lines
    (packed / "events.jsonl").write_text("\n".join(edited) + "\n")
    _reseal(packed)
    ok, out = _verify(cli, packed)
    assert not ok
    assert "breaks the chain" in out


def test_a_truncated_event_log_is_refused(cli: Cli, packed: Path) -> None:
    lines = (packed / "events.jsonl").read_text().splitlines()
    (packed / "events.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    _reseal(packed)
    ok, out = _verify(cli, packed)
    assert not ok
    assert "events were removed or replaced" in out


def test_another_runs_events_are_refused(cli: Cli, tmp_path: Path, packed: Path) -> None:
    _run(cli, tmp_path, "run-b")
    other = _pack(cli, tmp_path, "run-b")
    shutil.copy(other / "events.jsonl", packed / "events.jsonl")
    _reseal(packed)
    ok, out = _verify(cli, packed)
    assert not ok
    assert "not of run run-a" in out


def test_an_edited_runbook_in_the_pack_is_refused(cli: Cli, packed: Path) -> None:
    rb = packed / "runbook.yaml"
    rb.write_text(rb.read_text().replace("requires: [check]", "requires: []"))
    _reseal(packed)
    ok, out = _verify(cli, packed)
    assert not ok
    assert "is not the runbook the run ran" in out


def test_an_edited_runbook_text_in_the_store_is_refused_by_verify_and_pack(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    _run(cli, tmp_path, "run-c")
    with sqlite3.connect(_db(env)) as conn:
        conn.execute("UPDATE runs SET runbook_text = replace(runbook_text, 'requires: [check]', 'requires: []')")
    v = cli("verify", "run-c")
    assert v.returncode == 1
    assert "runbook text kept with the run is not the one" in v.stdout
    p = cli("evidence", "pack", "run-c", "--out", str(tmp_path / "pc"))
    assert p.returncode == 1
    assert "not packed" in p.stdout + p.stderr


def _truncate_store(env: dict[str, str], run_id: str, keep: int) -> None:
    """Delete the last events and move the stored head back to the new last event, as an attacker would."""
    with sqlite3.connect(_db(env)) as conn:
        # Someone with the store's file drops the append-only triggers first.
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"):
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", (run_id, keep))
        (last,) = conn.execute("SELECT hash FROM events WHERE run_id = ? AND seq = ?", (run_id, keep)).fetchone()
        conn.execute("UPDATE run_heads SET head_seq = ?, head_hash = ? WHERE run_id = ?", (keep, last, run_id))


def test_truncation_in_the_store_is_caught_by_a_signed_checkpoint_and_by_a_pack(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    _run(cli, tmp_path, "run-d")
    assert cli("keygen", "--out", str(tmp_path / "keys")).returncode == 0
    key = next((tmp_path / "keys").glob("*.key"))
    pub = next((tmp_path / "keys").glob("*.pub"))
    cp = tmp_path / "cp.json"
    w = cli("checkpoint", "run-d", "-o", str(cp), "--sign", str(key))
    assert w.returncode == 0, w.stdout + w.stderr
    pack = _pack(cli, tmp_path, "run-d")
    assert cli("verify", "run-d", "--checkpoint", str(cp), "--pubkey", str(pub)).returncode == 0
    _truncate_store(env, "run-d", keep=3)
    assert cli("verify", "run-d").returncode == 0  # the store alone cannot tell
    by_checkpoint = cli("verify", "run-d", "--checkpoint", str(cp), "--pubkey", str(pub))
    assert by_checkpoint.returncode == 1
    assert "events were deleted (truncated)" in by_checkpoint.stdout
    by_pack = cli("verify", "run-d", "--checkpoint", str(pack))
    assert by_pack.returncode == 1
    assert "truncated" in by_pack.stdout


def test_a_forged_checkpoint_signature_is_refused(cli: Cli, tmp_path: Path) -> None:
    _run(cli, tmp_path, "run-e")
    assert cli("keygen", "--out", str(tmp_path / "keys")).returncode == 0
    key = next((tmp_path / "keys").glob("*.key"))
    pub = next((tmp_path / "keys").glob("*.pub"))
    cp = tmp_path / "cp.json"
    assert cli("checkpoint", "run-e", "-o", str(cp), "--sign", str(key)).returncode == 0
    doc = json.loads(cp.read_text())
    doc["checkpoint"]["head_seq"] = 2
    cp.write_text(json.dumps(doc))
    r = cli("verify", "run-e", "--checkpoint", str(cp), "--pubkey", str(pub))
    assert r.returncode == 1
    assert "signature does not verify" in r.stdout + r.stderr
