"""A run's chain checked outside the store: inside an evidence pack, and against a signed checkpoint.

Checksums and a manifest can be recomputed by whoever edits a pack; the hash chain of its events cannot be
made to agree with another head without rewriting every event after the edit, and the head is kept where the
store cannot change it: in the pack's manifest (and its signature), and in checkpoints.

:func:`check_pack_chain` re-checks ``events.jsonl`` of a run pack: every event's hash, seq and link, that
they are all the manifest's run, that the last one is the manifest's head, and that ``runbook.yaml`` is the
runbook the ``run_created`` event names (its ``digest``, or the digest of the text as packed, redacted,
recorded beside it). :func:`write_checkpoint` writes a run's head (optionally signed with the evidence key);
:func:`check_against` tells whether a store's chain still reaches a head anchored outside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import exceptions
from golive.evidence import signing
from golive.store import base as store_base

__all__ = [
    "CHECKPOINT_KIND",
    "check_against",
    "check_pack_chain",
    "check_stored_runbook",
    "read_checkpoint",
    "runbook_digests",
    "text_digest",
    "write_checkpoint",
]

CHECKPOINT_KIND = "golive.checkpoint/v1"
RUNBOOK_PACK_DIGEST = "runbook_pack_digest"  # run_created: sha256 of the runbook text as a pack carries it
RUNBOOK_TEXT_DIGEST = "runbook_text_digest"  # run_created: sha256 of the runbook text as the store keeps it


def runbook_digests(created: Mapping[str, Any]) -> set[str]:
    """The digests a packed runbook may have, as recorded (chained) in ``run_created``."""
    keys = ("digest", RUNBOOK_TEXT_DIGEST, RUNBOOK_PACK_DIGEST)
    return {d for d in (created.get(k) for k in keys) if isinstance(d, str)}


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_stored_runbook(runbook_text: str, created: Mapping[str, Any]) -> str | None:
    """Why the runbook text a store keeps is not the one the run recorded (chained), or None."""
    want = created.get(RUNBOOK_TEXT_DIGEST) or created.get("digest")
    if not isinstance(want, str):
        return None  # a run recorded before runbook digests were chained
    if text_digest(runbook_text) != want:
        return "the runbook text kept with the run is not the one its run_created event records (edited)"
    return None


def _event(line: str, n: int) -> store_base.Event:
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise ValueError(f"line {n} is not a JSON object")
    return store_base.Event(
        run_id=str(doc["run_id"]),
        seq=int(doc["seq"]),
        ts=str(doc["ts"]),
        type=str(doc["type"]),
        step_id=doc.get("step_id"),
        actor=doc.get("actor"),
        data=dict(doc.get("data") or {}),
        prev_hash=str(doc["prev_hash"]),
        hash=str(doc["hash"]),
    )


def check_pack_chain(events_jsonl: bytes, manifest: Mapping[str, Any], runbook: bytes | None) -> list[str]:
    """Problems with a pack's own chain (empty when it holds), one sentence each."""
    problems: list[str] = []
    try:
        lines = [ln for ln in events_jsonl.decode("utf-8").splitlines() if ln.strip()]
        events = [_event(ln, i + 1) for i, ln in enumerate(lines)]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"events.jsonl cannot be read as events: {exc}"]
    run_id = manifest.get("run_id")
    if not events:
        return ["events.jsonl holds no events"]
    others = sorted({e.run_id for e in events if e.run_id != run_id})
    if others:
        problems.append(f"events.jsonl holds events of run(s) {', '.join(others)}, not of run {run_id}")
    try:
        store_base.verify_chain(events[0].run_id, events)
    except exceptions.ChainBroken as exc:
        problems.append(f"events.jsonl: event {exc.seq} breaks the chain ({exc.reason})")
        return problems
    head = events[-1]
    if head.seq != manifest.get("head_seq") or head.hash != manifest.get("head_hash"):
        problems.append(
            f"events.jsonl ends at event {head.seq} ({head.hash[:12]}), but the manifest's head is event "
            f"{manifest.get('head_seq')} ({str(manifest.get('head_hash'))[:12]}): events were removed or replaced"
        )
    created = events[0]
    if created.type != "run_created":
        problems.append(f"events.jsonl starts with {created.type}, not run_created")
        return problems
    digests = runbook_digests(created.data)
    if manifest.get("runbook_digest") != created.data.get("digest"):
        problems.append("the manifest's runbook_digest is not the one recorded in the run's run_created event")
    if runbook is None:
        problems.append("the pack has no runbook file")
    elif hashlib.sha256(runbook).hexdigest() not in digests:
        problems.append(
            f"{manifest.get('runbook_file') or 'runbook.yaml'} is not the runbook the run ran: its sha256 is not "
            "the digest recorded in the run's run_created event"
        )
    return problems


def write_checkpoint(out: Path, run_id: str, head_seq: int, head_hash: str, sign_key: Path | None) -> dict[str, Any]:
    """Write a run's head to ``out`` (JSON), signed with the evidence key when one is given."""
    body = {
        "kind": CHECKPOINT_KIND,
        "run_id": run_id,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    doc: dict[str, Any] = {"checkpoint": body}
    if sign_key is not None:
        payload = store_base.canonical_json(body).encode("utf-8")
        doc["signature"] = signing.sign(payload, sign_key).hex()
        doc["key_fingerprint"] = signing.fingerprint(signing.load_private_key(sign_key))
    if out.exists():
        raise exceptions.UsageError(f"{out}: already exists; choose a new path for the checkpoint")
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return doc


def read_checkpoint(path: Path, pubkey: Path | None = None) -> dict[str, Any]:
    """The anchored head (run_id, head_seq, head_hash) from a checkpoint file.

    A checkpoint with a signature is checked against ``pubkey`` when given. UsageError when it cannot be
    read; EvidenceError when it is not authentic. (``golive.evidence.runpack.read_anchor`` reads a pack too.)
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        body = doc["checkpoint"]
        if body.get("kind") != CHECKPOINT_KIND:
            raise ValueError(f"kind is not {CHECKPOINT_KIND}")
        anchor = {"run_id": str(body["run_id"]), "head_seq": int(body["head_seq"]), "head_hash": str(body["head_hash"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise exceptions.UsageError(f"{path}: not a golive checkpoint: {exc}") from None
    if pubkey is not None:
        sig = doc.get("signature")
        payload = store_base.canonical_json(body).encode("utf-8")
        if not isinstance(sig, str) or not signing.verify(payload, bytes.fromhex(sig), pubkey):
            raise exceptions.EvidenceError(f"{path}: the checkpoint's signature does not verify with {pubkey}")
    return anchor


def check_against(anchor: Mapping[str, Any], events: list[store_base.Event]) -> str | None:
    """Why the store's (verified) chain does not reach an anchored head, or None when it does."""
    seq, want = anchor.get("head_seq"), anchor.get("head_hash")
    if not isinstance(seq, int) or seq < 1:
        return "the anchor names no head"
    if len(events) < seq:
        return (
            f"the store's log ends at event {len(events)}, but event {seq} was anchored outside it: "
            "events were deleted (truncated)"
        )
    if events[seq - 1].hash != want:
        return f"event {seq} is not the one anchored outside the store: the log was rewritten from there"
    return None
