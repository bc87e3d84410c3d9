"""in-toto attestation of an evidence pack: written by `golive evidence pack --attest`, verified by golive and
by the in-toto reference implementation (in-toto's DSSE Envelope with a securesystemslib key), and refused
after a one-byte change to the pack or to the envelope.

The run is a real one in a real SQLite store: a command check, a GO decision by the IC and a sign-off.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from in_toto.models.metadata import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.evidence import attest, pack, runpack, signing
from golive.spec import loader
from golive.store import sqlite

TIMEOUT = 60  # seconds for a CLI subprocess on a busy machine
ARTIFACT = "sha256:" + "4f1c" * 16
SHA = "9902729" + "a" * 33
RUNBOOK = f"""\
golive: 1
name: attest-test
release:
  tag: v1.4.0
  sha: {SHA}
  artifacts:
    - {{name: api-image, digest: "{ARTIFACT}", ref: registry.example.com/payments/api:v1.4.0}}
roles:
  ic: {{title: Incident commander, may: [decide, signoff]}}
phases:
  - id: preflight
    steps:
      - {{id: green, kind: check, type: command, with: {{run: [echo, overall_status PASS]}}}}
  - id: decide
    steps:
      - {{id: go, kind: decision, role: ic, requires: [preflight]}}
signoff:
  areas: [{{id: engineering, title: Engineering, role: ic}}]
"""


async def _run(db: Path, workdir: Path) -> str:
    book = workdir / "runbook.yaml"
    book.write_text(RUNBOOK)
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        handle = await runner.create_run(store, loader.load(book), roles={"ic": "alice"}, run_id="attest-run")
        engine = asyncio.ensure_future(runner.Engine(handle, poll=0.02).run())
        for _ in range(1500):
            await handle.refresh()
            if handle.state.step("go").status == "waiting" or engine.done():
                break
            await asyncio.sleep(0.02)
        h = await acts.open_run(store, handle.run_id)
        await acts.decide(h, "go", "alice", "pre-flight green")
        assert await asyncio.wait_for(engine, 30) is RunStatus.PASSED
        await acts.signoff(await acts.open_run(store, handle.run_id), "engineering", "alice", "shipped")
        return handle.run_id
    finally:
        await store.close()


async def _pack(db: Path, run_id: str, out: Path, **kw: Any) -> runpack.RunPackSummary:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        return await runpack.pack_run(store, run_id, out, **kw)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(pack.zip, its attestation, the public key) of a finished run."""
    work = tmp_path_factory.mktemp("attest")
    db = work / "store" / "golive.db"
    run_id = asyncio.run(_run(db, work))
    key, pub = signing.generate_keypair(work / "keys")
    done = asyncio.run(_pack(db, run_id, work / "pack.zip", sign_key=key, attest=True))
    assert done.attestation == attest.attestation_path(work / "pack.zip")
    return work / "pack.zip", done.attestation, pub


def _envelope(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_bytes())
    assert isinstance(doc, dict)
    return doc


def _statement(path: Path) -> dict[str, Any]:
    doc = json.loads(base64.b64decode(_envelope(path)["payload"]))
    assert isinstance(doc, dict)
    return doc


def test_the_statement_names_the_release_and_the_run(attested: tuple[Path, Path, Path]) -> None:
    pack_path, att, _ = attested
    st = _statement(att)
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == attest.PREDICATE_TYPE
    assert st["subject"] == [
        {"name": "registry.example.com/payments/api:v1.4.0", "digest": {"sha256": "4f1c" * 16}},
        {"name": "git+commit:v1.4.0", "digest": {"gitCommit": SHA}},
    ]
    pred = st["predicate"]
    assert (pred["outcome"], pred["verdict"], pred["decision"]) == ("passed", "GO", "go")
    assert [(a["act"], a["by"]) for a in pred["approvers"]] == [("decision", "alice"), ("signoff", "alice")]
    manifest = pack.verify_pack(pack_path).manifest
    assert pred["runbook"]["digest"] == {"sha256": manifest["runbook_digest"]}
    assert pred["pack"]["digest"] == {"sha256": hashlib.sha256(pack_path.read_bytes()).hexdigest()}


def test_golive_verifies_the_attested_pack(attested: tuple[Path, Path, Path]) -> None:
    pack_path, _, pub = attested
    result = pack.verify_pack(pack_path, pub)
    assert result.valid, result.problems
    assert (result.signature, result.attestation) == ("valid", "valid")
    unkeyed = pack.verify_pack(pack_path)
    assert unkeyed.attestation == "unverified"


def test_the_in_toto_library_verifies_the_envelope(attested: tuple[Path, Path, Path]) -> None:
    _, att, pub = attested
    public_key = signing.load_public_key(pub)
    key = SSlibKey.from_crypto(public_key, keyid=signing.fingerprint(public_key))
    envelope = Envelope.from_dict(_envelope(att))
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert key.keyid in envelope.verify([key], 1)
    assert json.loads(envelope.pae()[envelope.pae().index(b"{") :]) == _statement(att)
    other = SSlibKey.from_crypto(signing.load_public_key(signing.generate_keypair(att.parent / "other")[1]))
    with pytest.raises(VerificationError):
        Envelope.from_dict(_envelope(att)).verify([other], 1)


def test_a_one_byte_change_to_the_pack_is_refused(attested: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pack_path, att, pub = attested
    copy = tmp_path / pack_path.name
    data = bytearray(pack_path.read_bytes())
    data[-30] ^= 0x01  # in the zip's central directory comment area: the members may even still read
    copy.write_bytes(bytes(data))
    attest.attestation_path(copy).write_bytes(att.read_bytes())
    result = pack.verify_pack(copy, pub)
    assert not result.valid
    assert result.attestation == "invalid"
    assert any("attests pack sha256" in p for p in result.problems)


def test_a_one_byte_change_to_the_envelope_is_refused(attested: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pack_path, att, pub = attested
    copy = tmp_path / pack_path.name
    copy.write_bytes(pack_path.read_bytes())
    env = _envelope(att)
    payload = bytearray(base64.b64decode(env["payload"]))
    at = payload.index(b'"passed"') + 1
    payload[at] = ord("f")  # "passed" -> "fassed": one byte of the statement
    env["payload"] = base64.b64encode(bytes(payload)).decode()
    attest.attestation_path(copy).write_text(json.dumps(env))
    result = pack.verify_pack(copy, pub)
    assert not result.valid
    assert result.attestation == "invalid"
    public_key = signing.load_public_key(pub)
    key = SSlibKey.from_crypto(public_key, keyid=signing.fingerprint(public_key))
    with pytest.raises(VerificationError):
        Envelope.from_dict(env).verify([key], 1)


def test_attest_needs_a_signing_key(tmp_path: Path) -> None:
    with pytest.raises(exceptions.UsageError, match="--sign KEY"):
        asyncio.run(_pack(tmp_path / "db.sqlite", "any", tmp_path / "p.zip", attest=True))


def test_the_cli_packs_with_attest_and_verify_reports_it(attested: tuple[Path, Path, Path]) -> None:
    pack_path, _, pub = attested
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "golive", "evidence", "verify", str(pack_path), "--pubkey", str(pub)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "attestation: valid" in done.stdout
