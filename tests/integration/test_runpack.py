"""The evidence pack of a real run in a real SQLite store: layout, manifest, events, evidence, tampering.

The run is driven by the real engine: a command check (its output becomes evidence), a manual step
confirmed with a text file and a PNG, a manual step waived, a GO decision and a smoke check after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from golive import exceptions, testing
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.evidence import pack, runpack, signing
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite

WAIT_STEPS = 600  # polls of 0.05 s: 30 s at most for the run to reach a state
RUNBOOK = """\
golive: 1
name: runpack-test
title: Run pack test
release: {tag: v3.1.0, sha: 0123abcd}
roles:
  ic: {title: Incident commander, may: [decide, waive, rollback]}
  ops: {title: Operations}
phases:
  - id: preflight
    title: Pre-flight
    steps:
      - id: prod_green
        title: Prod is green
        kind: check
        type: command
        with: {run: "echo 'preflight: 12/12 checks PASS'; echo 'overall_status PASS'"}
      - id: backup
        title: Backup taken
        kind: manual
        role: ops
        instructions: Take the backup; attach its log and a screenshot.
        inputs: [{id: backup_id, title: Backup id, pattern: "bk-[0-9]+"}]
        evidence:
          - {name: Backup log, required: true}
          - {name: Console screenshot}
      - id: dns_ttl
        title: DNS TTL lowered
        kind: manual
        role: ops
        instructions: Lower the TTL to 60 s.
  - id: decide
    title: Decision
    steps:
      - {id: go, title: GO/NO-GO, kind: decision, role: ic, requires: [preflight]}
  - id: enable
    title: Enable
    steps:
      - {id: smoke, title: Smoke test, kind: check, type: command, with: {run: "echo smoke ok"}}
evidence:
  - {id: preflight_green, title: "Preflight JSON/MD showing prod green", steps: [prod_green]}
  - {id: backup_proof, title: Backup proof, steps: [backup]}
"""


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, grey) PNG: signature, IHDR, IDAT and IEND chunks with their CRCs."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Run:
    db: Path
    run_id: str
    runbook: Path
    log: Path
    png: Path


async def wait_until(handle: acts.RunHandle, engine: asyncio.Future[Any], ready: Any) -> None:
    for _ in range(WAIT_STEPS):
        await handle.refresh()
        if ready(handle) or engine.done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not reach the expected state in time")


async def drive(db: Path, workdir: Path) -> Run:
    book = workdir / "runbook.yaml"
    book.write_text(RUNBOOK)
    log = workdir / "backup.log"
    log.write_text("backup bk-2041 finished: 3 tables, 12,004 rows, checksum ok\n")
    png = workdir / "console.png"
    png.write_bytes(png_bytes())
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        loaded = loader.load(str(book))
        handle = await runner.create_run(store, loaded, roles={"ic": "alice", "ops": "olga"}, run_id="pack-run")
        engine = asyncio.ensure_future(runner.Engine(handle, poll=0.05).run())
        both = ("backup", "dns_ttl")
        await wait_until(handle, engine, lambda h: all(h.state.step(s).status == "waiting" for s in both))
        other = await acts.open_run(store, handle.run_id)
        await acts.confirm(other, "backup", "olga", inputs={"backup_id": "bk-2041"}, evidence=[log, png])
        await acts.waive(other, "dns_ttl", "alice", "CHG-118", "TTL is already 60 s in this zone")
        await wait_until(handle, engine, lambda h: h.state.step("go").status == "waiting")
        await acts.decide(await acts.open_run(store, handle.run_id), "go", "alice", "pre-flight green")
        status = await asyncio.wait_for(engine, timeout=30)
        assert status is RunStatus.PASSED, handle.state.reason
        return Run(db, handle.run_id, book, log, png)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    workdir = tmp_path_factory.mktemp("runpack")
    return asyncio.run(drive(workdir / "store" / "golive.db", workdir))


@pytest.fixture
def store_copy(run: Run, tmp_path: Path) -> Path:
    """A private copy of the run's store (database and blobs), for tests that damage it."""
    target = tmp_path / "store"
    shutil.copytree(run.db.parent, target)
    return target / run.db.name


async def pack_of(db: Path, run_id: str, out: Path, **kw: Any) -> runpack.RunPackSummary:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        return await runpack.pack_run(store, run_id, out, **kw)
    finally:
        await store.close()


async def blob(db: Path, digest: str) -> bytes:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        return await store.get_blob(digest)
    finally:
        await store.close()


async def stored_events(db: Path, run_id: str) -> list[store_base.Event]:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        return await store.events(run_id)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def packed(run: Run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, runpack.RunPackSummary]:
    out = tmp_path_factory.mktemp("packed") / "pack"
    return out, asyncio.run(pack_of(run.db, run.run_id, out))


def read(out: Path, name: str) -> bytes:
    return (out / name).read_bytes()


def test_a_run_pack_verifies_valid_with_no_missing_file_and_no_mismatch(packed: tuple[Path, Any]) -> None:
    """verify_pack on a fresh run pack: valid, missing_files=[], mismatches=[], nothing unexpected."""
    out, _ = packed
    result = pack.verify_pack(out)
    assert result.valid, result.problems
    assert result.missing_files == ()
    assert result.mismatches == ()
    assert result.unexpected_files == ()
    assert result.signature == "absent"


def test_the_pack_holds_events_timeline_reports_runbook_and_every_evidence_file(packed: tuple[Path, Any]) -> None:
    """Every part the issue names is in the pack, and the evidence sits under evidence/<step>/<name>."""
    out, done = packed
    names = set(json.loads(read(out, "checksums.json"))["files"])
    for name in (
        "events.jsonl",
        "timeline.json",
        "summary.json",
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
        "runbook.yaml",
        "evidence.json",
        "evidence/backup/backup.log",
        "evidence/backup/console.png",
        "evidence/prod_green/command.log",
        "evidence/smoke/command.log",
    ):
        assert name in names, name
    assert done.evidence_files == 4
    assert done.file_count == len(names)


def test_evidence_files_are_the_stored_blobs_byte_for_byte(run: Run, packed: tuple[Path, Any]) -> None:
    """Each packed evidence file is its blob from the store; the PNG is kept as uploaded, the log as redacted."""
    out, _ = packed
    index = json.loads(read(out, "evidence.json"))
    assert {e["path"] for e in index} >= {"evidence/backup/console.png", "evidence/backup/backup.log"}
    for entry in index:
        data = read(out, entry["path"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data == asyncio.run(blob(run.db, entry["sha256"]))
    assert read(out, "evidence/backup/console.png") == run.png.read_bytes()
    assert b"12/12 checks PASS" in read(out, "evidence/prod_green/command.log")


def test_manifest_names_the_run_runbook_digest_release_pin_and_chain_head(
    run: Run, packed: tuple[Path, runpack.RunPackSummary]
) -> None:
    """manifest.json: run id, runbook name and digest (sha256 of the runbook file), release pin, head hash/seq."""
    out, done = packed
    manifest = json.loads(read(out, "manifest.json"))
    events = asyncio.run(stored_events(run.db, run.run_id))
    assert manifest["run_id"] == run.run_id
    assert manifest["runbook"] == "runpack-test"
    assert manifest["runbook_digest"] == hashlib.sha256(run.runbook.read_bytes()).hexdigest()
    assert manifest["runbook_digest"] == hashlib.sha256(read(out, "runbook.yaml")).hexdigest()
    assert manifest["release_pin"] == "v3.1.0@0123abcd"
    assert manifest["release"] == {"tag": "v3.1.0", "sha": "0123abcd", "artifacts": []}
    assert (manifest["head_hash"], manifest["head_seq"]) == (events[-1].hash, events[-1].seq)
    assert (manifest["status"], manifest["verdict"]) == ("passed", "GO")
    assert manifest["created_at"]  # the pack's own time, set by write_pack
    assert done.head_hash == events[-1].hash


def test_events_jsonl_is_the_chain_as_stored_and_every_hash_recomputes(run: Run, packed: tuple[Path, Any]) -> None:
    """One event per line; rebuilt as Events they pass verify_chain and equal the stored events."""
    out, _ = packed
    lines = read(out, "events.jsonl").decode().splitlines()
    events = [store_base.Event(**json.loads(line)) for line in lines]
    assert store_base.verify_chain(run.run_id, events) == len(events)
    assert events == asyncio.run(stored_events(run.db, run.run_id))


def test_timeline_has_the_scribe_lines_and_t_times_of_phases_and_steps(packed: tuple[Path, Any]) -> None:
    """timeline.json: the GO line with its actor, the waiver line, and each phase with its steps and T-times."""
    out, _ = packed
    doc = json.loads(read(out, "timeline.json"))
    whats = {(line["what"], line["result"], line["actor"]) for line in doc["lines"]}
    assert ("GO/NO-GO", "GO", "alice") in whats
    assert any(w.startswith("Waiver dns_ttl (CHG-118)") and r == "WAIVED" for w, r, _ in whats)
    assert all(line["t"] for line in doc["lines"])
    phases = {p["id"]: p for p in doc["phases"]}
    assert list(phases) == ["preflight", "decide", "enable"]
    steps = {s["id"]: s for s in phases["preflight"]["steps"]}
    assert steps["dns_ttl"]["outcome"] == "waived"
    assert steps["prod_green"]["t"]
    assert phases["enable"]["t"]


def test_reports_in_the_pack_show_the_run(run: Run, packed: tuple[Path, Any]) -> None:
    """report.md has the checklist, junit.xml parses with every step, report.html names the run."""
    out, _ = packed
    md = read(out, "report.md").decode()
    assert "Preflight JSON/MD showing prod green (complete)" in md
    assert "CHG-118" in md
    cases = {c.get("name") for c in ET.fromstring(read(out, "junit.xml")).iter("testcase")}
    assert {"prod_green", "backup", "dns_ttl", "go", "smoke"} <= cases
    assert run.run_id in read(out, "report.html").decode()
    assert json.loads(read(out, "summary.json"))["status_label"] == "PASSED"


def test_a_changed_evidence_file_is_named_in_mismatches(run: Run, tmp_path: Path) -> None:
    """Tamper one evidence file of a zip run pack: verify is not valid and names exactly that file."""
    out = tmp_path / "pack.zip"
    asyncio.run(pack_of(run.db, run.run_id, out))
    assert pack.verify_pack(out).valid
    with zipfile.ZipFile(out) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["evidence/backup/backup.log"] = members["evidence/backup/backup.log"].replace(b"ok", b"OK")
    out.unlink()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.mismatches == ("evidence/backup/backup.log",)
    assert result.missing_files == ()


def test_signed_with_the_keygen_key_verifies_and_another_key_does_not(run: Run, tmp_path: Path) -> None:
    """--sign: verify with the key's .pub says valid; with another key's .pub it says invalid."""
    key, pub = signing.generate_keypair(tmp_path / "keys")
    _, other_pub = signing.generate_keypair(tmp_path / "other")
    out = tmp_path / "signed.zip"
    done = asyncio.run(pack_of(run.db, run.run_id, out, sign_key=key))
    assert done.signed
    assert done.key_fingerprint == signing.fingerprint(signing.load_public_key(pub))
    good = pack.verify_pack(out, pub)
    assert (good.valid, good.signature) == (True, "valid")
    bad = pack.verify_pack(out, other_pub)
    assert (bad.valid, bad.signature) == (False, "invalid")


def test_a_broken_event_chain_refuses_to_pack_and_names_the_event(run: Run, store_copy: Path, tmp_path: Path) -> None:
    """An event edited in the database file: pack_run raises EvidenceError naming its seq, and writes nothing."""
    events = asyncio.run(stored_events(store_copy, run.run_id))
    target = next(e for e in events if e.type == "step_confirmed")
    conn = sqlite3.connect(store_copy)
    conn.execute("DROP TRIGGER events_no_update")  # as someone with write access to the file would
    data = dict(target.data, inputs={"backup_id": "bk-9999"})
    conn.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = ?", (json.dumps(data), run.run_id, target.seq))
    conn.commit()
    conn.close()
    out = tmp_path / "never.zip"
    with pytest.raises(exceptions.EvidenceError, match=rf"event {target.seq} breaks the chain"):
        asyncio.run(pack_of(store_copy, run.run_id, out))
    assert not out.exists()


def _blob_file(db: Path, digest: str) -> Path:
    return db.parent / "blobs" / digest[:2] / digest[2:]


def _png_digest(run: Run) -> str:
    return hashlib.sha256(run.png.read_bytes()).hexdigest()


def test_a_missing_evidence_blob_refuses_to_pack(run: Run, store_copy: Path, tmp_path: Path) -> None:
    """A blob file deleted from the store: EvidenceError naming the evidence and step; no pack is left."""
    _blob_file(store_copy, _png_digest(run)).unlink()
    out = tmp_path / "never"
    with pytest.raises(exceptions.EvidenceError, match=r"console\.png.*backup"):
        asyncio.run(pack_of(store_copy, run.run_id, out))
    assert not out.exists()
    assert not list(tmp_path.glob(".*"))  # no staging or partial directory left behind


def test_a_damaged_evidence_blob_refuses_to_pack(run: Run, store_copy: Path, tmp_path: Path) -> None:
    """A blob file whose bytes no longer hash to its name: EvidenceError, and the pack is removed."""
    path = _blob_file(store_copy, _png_digest(run))
    path.write_bytes(path.read_bytes() + b"x")
    out = tmp_path / "never.zip"
    with pytest.raises(exceptions.EvidenceError, match="damaged"):
        asyncio.run(pack_of(store_copy, run.run_id, out))
    assert not out.exists()
    assert not list(tmp_path.glob(".*"))  # the partial pack was never renamed into place, and is gone


def test_a_report_that_fails_while_blobs_are_copied_leaves_nothing(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blobs are copied while the reports are made: when making them fails, the copy ends, the error is
    raised as it was, and neither a pack nor a partial one is left."""
    from golive.report import html

    async def broken(*_args: Any, **_kw: Any) -> str:
        raise exceptions.EvidenceError("the report cannot be made")

    monkeypatch.setattr(html, "render_run", broken)
    out = tmp_path / "never.zip"
    with pytest.raises(exceptions.EvidenceError, match="the report cannot be made"):
        asyncio.run(pack_of(run.db, run.run_id, out))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_blobs_are_copied_while_the_reports_are_made(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy of the blobs has started on its thread by the time the report page is drawn (making the
    reports gives the loop no turn, so a copy that waited for one would start only after them)."""
    import threading

    from golive.report import html

    copying = threading.Event()
    add, render_run = pack.PackWriter.add, html.render_run

    def watched_add(self: pack.PackWriter, files: Any) -> None:
        copying.set()
        add(self, files)

    async def watched_render(*args: Any, **kw: Any) -> str:
        assert copying.wait(30), "the blobs were not being copied while the report was made"
        return await render_run(*args, **kw)

    monkeypatch.setattr(pack.PackWriter, "add", watched_add)
    monkeypatch.setattr(html, "render_run", watched_render)
    out = tmp_path / "p.zip"
    asyncio.run(pack_of(run.db, run.run_id, out))
    assert pack.verify_pack(out).valid


async def test_blob_files_gives_the_recorded_blobs_that_have_files(run: Run, store_copy: Path) -> None:
    """One call for many blobs: each recorded blob with its file; a recorded blob whose file is gone and a
    digest the store never saw are left out (blob_file says why about those)."""
    store = sqlite.SqliteStore(store_copy)
    await store.open()
    try:
        png = _png_digest(run)
        other = await store.put_blob(b"kept", "text/plain")
        gone = await store.put_blob(b"gone", "text/plain")
        _blob_file(store_copy, gone).unlink()
        unknown = "0" * 64
        found = await store.blob_files([png, other, gone, unknown, png])
        assert found == {png: _blob_file(store_copy, png), other: _blob_file(store_copy, other)}
        with pytest.raises(exceptions.StoreError, match="missing"):
            await store.blob_file(gone)
        with pytest.raises(exceptions.NotFound):
            await store.blob_file(unknown)
    finally:
        await store.close()


def test_an_existing_output_path_is_refused(run: Run, tmp_path: Path) -> None:
    """Packing onto an existing file is refused before anything is written."""
    out = tmp_path / "taken.zip"
    out.write_bytes(b"keep me")
    with pytest.raises(exceptions.EvidenceError, match="already exists"):
        asyncio.run(pack_of(run.db, run.run_id, out))
    assert out.read_bytes() == b"keep me"


def test_an_unknown_run_is_not_found(run: Run, tmp_path: Path) -> None:
    """No such run: NotFound (exit 2 on the CLI)."""
    with pytest.raises(exceptions.NotFound):
        asyncio.run(pack_of(run.db, "no-such-run", tmp_path / "x.zip"))


async def test_a_store_without_blob_files_stages_large_blobs_and_packs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a store that hands out bytes (the in-memory one; PostgreSQL alike), a blob above STAGE_ABOVE is
    staged to a file and packed; the pack verifies and holds the same bytes."""
    monkeypatch.setattr(runpack, "STAGE_ABOVE", 1024)
    store = testing.InMemoryStore()
    await store.open()
    loaded = loader.load_text(RUNBOOK.replace("runpack-test", "memory-run"), "memory.yaml", environ={})
    handle = await runner.create_run(store, loaded, roles={"ops": "olga"}, run_id="mem")
    big = bytes(range(256)) * 64  # 16 KiB, binary
    digest = await store.put_blob(big, "application/octet-stream")
    await handle.append("evidence_added", step_id="backup", actor="olga", name="dump.bin", sha256=digest)
    out = tmp_path / "mem.zip"
    done = await runpack.pack_run(store, "mem", out)
    assert done.evidence_files == 1
    assert pack.verify_pack(out).valid
    with zipfile.ZipFile(out) as zf:
        assert zf.read("evidence/backup/dump.bin") == big
    assert sorted(p.name for p in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == ["mem.zip"]


def test_evidence_names_are_sanitised_and_deduplicated() -> None:
    """Path tricks in evidence names are flattened; a second file of the same name in a step gets its digest."""

    def ev(seq: int, step: str | None, name: str, digest: str) -> store_base.Event:
        data = {"evidence": [{"name": name, "sha256": digest}]}
        return store_base.Event("r", seq, "2026-01-01T00:00:00Z", "step_finished", step, None, data, "", "")

    a, b = "a" * 64, "b" * 64
    refs = runpack.evidence_refs(
        [
            ev(1, "s1", "../../etc/passwd", a),
            ev(2, "s1", "out.log", a),  # same blob, same step: once
            ev(3, "s1", "passwd", b),  # same name, other blob
            ev(4, None, "run level.txt", a),
            ev(5, "../x", "", b),
        ]
    )
    assert [r.path for r in refs] == [
        "evidence/s1/passwd",
        f"evidence/s1/passwd-{b[:12]}",
        "evidence/run/run_level.txt",
        f"evidence/x/{b[:12]}",
    ]


async def test_a_run_whose_generated_files_are_over_a_mebibyte_packs_to_a_valid_zip(tmp_path: Path) -> None:
    """A long event log (events.jsonl over 1 MiB, held in memory) packs into a zip that verifies."""
    store = testing.InMemoryStore()
    await store.open()
    loaded = loader.load_text(RUNBOOK.replace("runpack-test", "long-run"), "long.yaml", environ={})
    handle = await runner.create_run(store, loaded, run_id="long")
    await store.append_many(
        "long",
        [
            store_base.NewEvent("step_retry", step_id="prod_green", data={"attempt": 1, "summary": f"{i} " + "x" * 400})
            for i in range(3000)
        ],
    )
    await handle.refresh()
    out = tmp_path / "long.zip"
    done = await runpack.pack_run(store, "long", out)
    assert done.head_seq > 3000
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("events.jsonl").file_size > 1024 * 1024
    assert pack.verify_pack(out).valid
