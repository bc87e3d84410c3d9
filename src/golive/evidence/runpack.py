"""The evidence pack of a run: its events, timeline, reports, runbook and every evidence blob, checksummed.

Layout (a directory, or a zip when ``out`` ends in ``.zip``; see :mod:`golive.evidence.pack`)::

    events.jsonl          every event as stored (already redacted), one canonical JSON object a line
    timeline.json         the scribe's timeline lines, and phases/steps with their T-times
    summary.json          the run summary (what `golive status --json` prints)
    report.json           the JSON report         report.md    the Markdown report
    junit.xml             the JUnit report        report.html  the HTML report
    runbook.yaml          the runbook text the run ran, redacted (secrets are references in it, never values)
    evidence.json         one entry per evidence file: path, step, name, sha256, size, media type, event
    evidence/<step>/<name>  the evidence blobs referenced by the events
    checksums.json  manifest.json  [signature.json]

The chain of events is verified first: a run whose chain is broken is not packed. Blobs are streamed
from the store's files when it keeps them on disk (SQLite) and fetched one at a time otherwise, so a
gigabyte of evidence is never held in memory; each packed blob is checked against its sha256 name before
the pack is finished. The blobs are copied on a thread while the reports are made (the report page is drawn
from the events packed, whose chain was just checked, not read and checked again).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from golive import clock as clock_mod
from golive import exceptions
from golive.evidence import anchor, pack
from golive.store import base as store_base

if TYPE_CHECKING:
    from golive import redact
    from golive.engine import acts
    from golive.views.model import StepView, Summary

__all__ = ["EVIDENCE_DIR", "RunPackSummary", "evidence_refs", "pack_run", "read_anchor", "safe_name"]

EVIDENCE_DIR = "evidence"
EVIDENCE_INDEX = "evidence.json"
STAGE_ABOVE = 1024 * 1024  # bytes; a blob fetched as bytes and larger than this is staged to a temp file
MAX_NAME = 120  # characters of one sanitised path part
_DIGEST = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def read_anchor(path: Path, pubkey: Path | None = None) -> dict[str, Any]:
    """The anchored head (run_id, head_seq, head_hash) from a checkpoint file or an evidence pack.

    A checkpoint with a signature is checked against ``pubkey`` when given; a pack is verified whole (its
    own chain included). UsageError when it cannot be read; EvidenceError when it is not authentic.
    """
    path = Path(path)
    if not (path.is_dir() or path.suffix.lower() == ".zip"):
        return anchor.read_checkpoint(path, pubkey)
    result = pack.verify_pack(path, pubkey)
    if not result.valid:
        raise exceptions.EvidenceError(f"{path}: the pack does not verify: {'; '.join(result.problems)}")
    m = result.manifest
    return {"run_id": m.get("run_id"), "head_seq": m.get("head_seq"), "head_hash": m.get("head_hash")}


@dataclass(frozen=True, kw_only=True)
class RunPackSummary(pack.PackSummary):
    """What :func:`pack_run` wrote: the pack summary, plus the run's facts from the manifest."""

    run_id: str
    head_hash: str
    head_seq: int
    evidence_files: int
    manifest: dict[str, Any]
    attestation: Path | None = None  # <pack>.intoto.json when --attest


@dataclass(frozen=True)
class EvidenceRef:
    """One evidence blob an event refers to, and the name it gets in the pack."""

    path: str  # evidence/<step>/<name>
    step_id: str
    name: str
    sha256: str
    size: int | None
    media_type: str | None
    redacted: bool | None
    seq: int
    event: str


def safe_name(text: str, fallback: str = "file") -> str:
    """One path part that is safe in a pack and on any filesystem: letters, digits, ``._+-`` only."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or fallback
    if len(cleaned) > MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        keep = f".{ext}" if dot and stem and len(ext) <= 16 else ""
        cleaned = cleaned[: MAX_NAME - len(keep)] + keep
    return cleaned


def _entries(ev: store_base.Event) -> Iterator[dict[str, Any]]:
    """The evidence entries of an event: its ``evidence`` list (step results, confirmations) or, for
    ``evidence_added``, the event's own data. Other ``sha256`` values (a file check's digest) are not blobs."""
    if ev.type == "evidence_added":
        yield ev.data
        return
    items = ev.data.get("evidence")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                yield item


def evidence_refs(events: list[store_base.Event]) -> list[EvidenceRef]:
    """Every evidence blob the events refer to, once per step, with a unique sanitised path.

    The same blob under the same step is packed once; a second file of the same name in a step (a retry's
    log) gets its digest's first 12 characters added to the name.
    """
    out: list[EvidenceRef] = []
    seen: set[tuple[str, str]] = set()
    paths: set[str] = set()
    for ev in events:
        for item in _entries(ev):
            digest = item.get("sha256")
            if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
                raise exceptions.EvidenceError(
                    f"run {ev.run_id}: event {ev.seq} ({ev.type}) names evidence with an invalid sha256 {digest!r}"
                )
            step = safe_name(ev.step_id or "run", "run")
            if (step, digest) in seen:
                continue
            seen.add((step, digest))
            raw_name = str(item.get("name") or digest[:12])
            name = safe_name(PurePosixPath(raw_name.replace("\\", "/")).name, digest[:12])
            path = f"{EVIDENCE_DIR}/{step}/{name}"
            if path in paths:
                stem, dot, ext = name.rpartition(".")
                name = f"{stem}-{digest[:12]}.{ext}" if dot and stem else f"{name}-{digest[:12]}"
                path = f"{EVIDENCE_DIR}/{step}/{name}"
            paths.add(path)
            size = item.get("size")
            redacted = item.get("redacted")
            out.append(
                EvidenceRef(
                    path=path,
                    step_id=ev.step_id or "",
                    name=raw_name,
                    sha256=digest,
                    size=size if isinstance(size, int) else None,
                    media_type=str(item["media_type"]) if item.get("media_type") else None,
                    redacted=redacted if isinstance(redacted, bool) else None,
                    seq=ev.seq,
                    event=ev.type,
                )
            )
    return out


def _jsonl(events: list[store_base.Event]) -> bytes:
    # The canonical form the hashes are computed over: each line's hash can be recomputed from it.
    return "".join(store_base.canonical_json(ev.as_dict()) + "\n" for ev in events).encode("utf-8")


def _json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def timeline(h: acts.RunHandle, data: Summary) -> dict[str, Any]:
    """The scribe's timeline (what `golive timeline --json` prints) and each phase and step with its T-times."""
    from golive.views import summary

    lines = summary.timeline(h, data)

    def step_view(s: StepView) -> dict[str, Any]:
        keys = ("id", "title", "kind", "role", "actor", "planned_at", "t", "started_at", "finished_at")
        return {
            **{k: s.get(k) for k in keys},
            "t_end": summary.tminus(h, s["finished_at"]),
            "duration": s["duration"],
            "expected": s.get("expected"),
            "outcome": s["outcome"],
            "status": s["status"],
        }

    return {
        "run_id": data["run_id"],
        "anchor": data["anchor"],
        "lines": lines,
        "phases": [
            {
                "id": ph["id"],
                "title": ph["title"],
                "planned_at": ph["planned_at"],
                "t": ph["t"],
                "t_end": summary.tminus(h, ph["finished_at"]),
                "started_at": ph["started_at"],
                "finished_at": ph["finished_at"],
                "outcome": ph["outcome"],
                "steps": [step_view(s) for s in ph["steps"]],
            }
            for ph in data["phases"]
        ],
        "rollback_steps": [step_view(s) for s in data["rollback_steps"] or [] if s["status"] != "pending"],
    }


def _release_pin(release: dict[str, Any]) -> str | None:
    tag, sha = release.get("tag"), release.get("sha")
    if tag and sha:
        return f"{tag}@{sha}"
    return tag or sha or None


def _unreadable(ref: EvidenceRef, exc: exceptions.GoliveError) -> exceptions.EvidenceError:
    if isinstance(exc, exceptions.NotFound):
        return exceptions.EvidenceError(
            f"evidence {ref.name!r} of step {ref.step_id or '-'} (event {ref.seq}, sha256 {ref.sha256}) "
            "is not in the store; the pack would be incomplete, so none was written"
        )
    return exceptions.EvidenceError(
        f"evidence {ref.name!r} of step {ref.step_id or '-'} (event {ref.seq}) cannot be read: {exc.message}"
    )


async def _local_file(store: store_base.Store, ref: EvidenceRef) -> Path | None:
    """The store's own file of a blob (streamed into the pack), or None when the store hands out bytes."""
    try:
        return await store.blob_file(ref.sha256)
    except NotImplementedError:
        return None
    except (exceptions.NotFound, exceptions.StoreError) as exc:
        raise _unreadable(ref, exc) from None


async def _fetched(store: store_base.Store, ref: EvidenceRef, stage: Path) -> Path | bytes:
    """A blob's bytes from the store (re-hashed there), staged to a file when large: one blob in memory."""
    try:
        data = await store.get_blob(ref.sha256)
    except (exceptions.NotFound, exceptions.StoreError) as exc:
        raise _unreadable(ref, exc) from None
    if len(data) <= STAGE_ABOVE:
        return data
    staged = stage / ref.sha256
    if not staged.exists():
        await asyncio.to_thread(staged.write_bytes, data)
    return staged


def _discard(out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out, ignore_errors=True)
    else:
        out.unlink(missing_ok=True)


async def _blob_sources(store: store_base.Store, refs: list[EvidenceRef], stage: Path) -> list[pack.PackFile]:
    """Each evidence blob as a pack file: the store's own file (streamed), else its bytes (large ones staged)."""
    # One lookup for all the blobs (thousands of small blobs would otherwise wait on a round trip each);
    # a blob it does not find is asked about alone, which names what is wrong or fetches its bytes.
    try:
        local = await store.blob_files(r.sha256 for r in refs)
    except (NotImplementedError, exceptions.NotFound, exceptions.StoreError):
        local = {}
    files = []
    for r in refs:
        path = local.get(r.sha256) or await _local_file(store, r)
        files.append(pack.PackFile(r.path, path if path is not None else await _fetched(store, r, stage)))
    return files


async def _reports(
    store: store_base.Store, record: store_base.RunRecord, events: list[store_base.Event], refs: list[EvidenceRef]
) -> tuple[acts.RunHandle, redact.Redactor, list[pack.PackFile], dict[str, Any]]:
    """The run's handle and redactor, the pack's files other than the blobs, and its manifest."""
    # Imported here, not with this module: a fresh `golive evidence pack` imports them while the blobs copy.
    from golive.engine import acts
    from golive.engine import handle as handle_mod
    from golive.engine import state as state_mod
    from golive.report import formats, html
    from golive.spec import loader
    from golive.views import summary

    rid = record.run_id
    head = events[-1]
    loaded = loader.load_text(
        record.runbook_text, record.runbook_path, environ={}, var_overrides=handle_mod.stored_var_overrides(record)
    )
    # The state of exactly the events packed (open_run would read the log again, maybe longer by now).
    h = acts.RunHandle(store, record, loaded, state_mod.fold(rid, events, loaded.runbook))
    # Titles, descriptions and names come from the runbook as written: they leave in the pack redacted
    # by the run's settings (with redact_ips, "Point DNS at 10.0.0.5" keeps no address), like the events.
    red = handle_mod.make_redactor(loaded.runbook)
    data: Summary = acts.redact_strings(red, summary.summarize(h))
    page = await html.render_run(h, data, rehash_evidence=False, verified_events=events)
    suffix = Path(record.runbook_path).suffix.lower()
    runbook_name = "runbook" + (suffix if suffix in (".yaml", ".yml", ".json") else ".yaml")
    index = [
        {
            "path": r.path,
            "step_id": r.step_id,
            "name": r.name,
            "sha256": r.sha256,
            "size": r.size,
            "media_type": r.media_type,
            "redacted": r.redacted,
            "event_seq": r.seq,
            "event_type": r.event,
        }
        for r in refs
    ]
    files = [
        pack.PackFile("events.jsonl", _jsonl(events)),
        pack.PackFile("timeline.json", _json(timeline(h, data))),
        pack.PackFile("summary.json", _json(data)),
        pack.PackFile("report.json", formats.to_json(data).encode("utf-8")),
        pack.PackFile("report.md", formats.to_markdown(data).encode("utf-8")),
        pack.PackFile("junit.xml", formats.to_junit(data).encode("utf-8")),
        pack.PackFile("report.html", page.encode("utf-8")),
        pack.PackFile(
            runbook_name, handle_mod.packed_runbook_text(loaded.runbook, record.runbook_text).encode("utf-8")
        ),
        pack.PackFile(EVIDENCE_INDEX, _json(index)),
    ]
    release = dict(data["release"] or {})
    completion = data["completion"]
    manifest = {
        "run_id": rid,
        "runbook": record.runbook_name,
        "runbook_digest": record.runbook_digest,
        "runbook_file": runbook_name,
        "release": release,
        "release_pin": _release_pin(release),
        "mode": record.mode,
        "head_hash": head.hash,
        "head_seq": head.seq,
        "chain_verified": True,
        "status": data["status"],
        "status_label": data["status_label"],
        "verdict": data["verdict"],
        "complete": bool(completion and completion["complete"]),
        "run_created_at": data["created_at"],
        "run_finished_at": data["finished_at"],
        "evidence_files": len(refs),
    }
    return h, red, files, manifest


async def pack_run(
    store: store_base.Store,
    run_id: str,
    out: Path,
    *,
    sign_key: Path | None = None,
    attest: bool = False,
    clock: clock_mod.Clock | None = None,
) -> RunPackSummary:
    """Write the evidence pack of ``run_id`` (a unique prefix is fine) to ``out`` (a new directory or a .zip).

    Raises EvidenceError (exit 1) when the run's event chain is broken (naming the first bad event) or an
    evidence blob is missing or damaged; NotFound when there is no such run; UsageError for a bad key.
    """
    out = Path(out)
    if attest and sign_key is None:
        raise exceptions.UsageError("--attest signs the attestation with the pack's key: add --sign KEY")
    if attest:
        from golive.evidence import attest as attest_mod

        if attest_mod.attestation_path(out).exists():
            raise exceptions.EvidenceError(f"{attest_mod.attestation_path(out)}: already exists; choose a new path")
    if out.exists() and not (out.is_dir() and out.suffix.lower() != ".zip" and not any(out.iterdir())):
        raise exceptions.EvidenceError(f"{out}: already exists; choose a new path for the evidence pack")
    record = await store.get_run(run_id)
    rid = record.run_id
    try:
        # The store's own check (hashes, seq, and the head it recorded) of exactly the events packed.
        events = await store.verified_events(rid)
    except exceptions.ChainBroken as exc:
        raise exceptions.EvidenceError(
            f"run {rid}: not packed: event {exc.seq} breaks the chain ({exc.reason}); `golive verify {rid}` shows it"
        ) from exc
    if not events:
        raise exceptions.EvidenceError(f"run {rid}: not packed: it has no events")
    edited = anchor.check_stored_runbook(record.runbook_text, events[0].data)
    if edited:
        raise exceptions.EvidenceError(f"run {rid}: not packed: {edited}; `golive verify {rid}` shows it")
    refs = evidence_refs(events)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".golive-stage-", dir=out.parent) as stage_dir:
        blobs = await _blob_sources(store, refs, Path(stage_dir))
        with await asyncio.to_thread(pack.PackWriter, out, sign_key, clock=clock) as writer:
            # The blobs are copied (and hashed: hashlib and file I/O release the GIL) on a thread while
            # the reports are made here; the copy ends before anything else happens to the pack.
            # Submitted now (run_in_executor, not a task that would start at the loop's next turn): making
            # the reports may not give the loop a turn before it is done.
            copying = asyncio.get_running_loop().run_in_executor(None, writer.add, blobs)
            try:
                h, red, files, manifest = await _reports(store, record, events, refs)
            finally:
                await asyncio.wait([copying])
            copying.result()
            # Each blob was hashed while it was copied: that digest must be its name in the store.
            damaged = [r for r in refs if writer.entries[r.path][0] != r.sha256]
            if damaged:
                first = damaged[0]
                raise exceptions.EvidenceError(
                    f"evidence {first.path} (event {first.seq}) does not hash to its sha256 {first.sha256}: the "
                    f"store's copy is damaged; no pack was written ({len(damaged)} damaged blob(s))"
                )
            await asyncio.to_thread(writer.add, files)
            written = await asyncio.to_thread(writer.finish, manifest)
    head = events[-1]
    attestation: Path | None = None
    if attest:
        from golive.evidence import attest as attest_mod

        assert sign_key is not None
        decision = dict(h.state.decision) if h.state.decision else None
        if decision and isinstance(decision.get("by"), str):
            decision["by"] = red.redact(decision["by"])
        signoffs = [
            {"area": area, "by": red.redact(str(v.get("by") or "")), "at": v.get("at")}
            for area, v in sorted(h.state.signoffs.items())
        ]
        try:
            attestation = await asyncio.to_thread(
                attest_mod.write_attestation, out, manifest, sign_key, decision=decision, signoffs=signoffs
            )
        except BaseException:
            await asyncio.to_thread(_discard, out)  # a pack asked to be attested is written with it or not at all
            raise
    return RunPackSummary(
        **written.fields(),
        attestation=attestation,
        run_id=rid,
        head_hash=head.hash,
        head_seq=head.seq,
        evidence_files=len(refs),
        manifest=manifest,
    )
