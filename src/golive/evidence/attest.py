"""in-toto attestations of evidence packs: a Statement (v1) in a DSSE envelope signed with the pack's key.

``golive evidence pack RUN --sign KEY --attest`` writes, next to the pack, ``<pack>.intoto.json``: a DSSE
envelope (``payloadType: application/vnd.in-toto+json``) whose payload is an in-toto Statement v1. Its
subjects are the released artifacts of the runbook's ``release`` pin (``sha256``/``sha512`` digests, and
the git commit when the pin names a full 40-hex SHA); a run that pins none attests the pack itself. The
predicate (type :data:`PREDICATE_TYPE`) holds the run's outcome and GO/NO-GO decision, who decided and
who signed off, the runbook's digest and the pack's digest.

The signature is ed25519 over DSSE's pre-authentication encoding (PAE) of the payload, with the same key
as the pack's ``signature.json``; the envelope's ``keyid`` is the key's fingerprint. Any DSSE verifier
reads it, the in-toto reference implementation included (the test suite checks one with it).

The pack digest is the SHA-256 of the zip file, or of ``manifest.json`` for a directory pack (the
manifest pins ``checksums.json``, which pins every file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from golive import exceptions
from golive.evidence import packformat, signing

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "AttestationStatus",
    "attestation_path",
    "make_statement",
    "pack_digest",
    "pae",
    "sign_envelope",
    "verify_attestation",
    "write_attestation",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://golive.dev/attestation/cutover/v1"
SUFFIX = ".intoto.json"
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024  # a statement is a few KiB; this only stops abuse
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-fA-F]+)$")
_GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
AttestationStatus = Literal["valid", "invalid", "absent", "unverified"]


def attestation_path(pack_path: Path) -> Path:
    """Where the attestation of ``pack_path`` lives: beside it, named ``<pack name>.intoto.json``."""
    pack_path = Path(pack_path)
    return pack_path.with_name(pack_path.name + SUFFIX)


def pack_digest(pack_path: Path) -> str:
    """Hex SHA-256 of the zip file, or of ``manifest.json`` of a directory pack."""
    pack_path = Path(pack_path)
    target = pack_path / packformat.MANIFEST_NAME if pack_path.is_dir() else pack_path
    h = hashlib.sha256()
    try:
        with open(target, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                h.update(chunk)
    except OSError as exc:
        raise exceptions.UsageError(f"{target}: cannot read the evidence pack: {exc.strerror or exc}") from exc
    return h.hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is signed."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _subjects(release: dict[str, Any], pack_path: Path, digest: str) -> list[dict[str, Any]]:
    subjects: list[dict[str, Any]] = []
    for art in release.get("artifacts") or []:
        m = _DIGEST.match(str(art.get("digest", "")))
        if m:
            subjects.append(
                {"name": str(art.get("ref") or art.get("name")), "digest": {m.group(1): m.group(2).lower()}}
            )
    sha = str(release.get("sha") or "")
    if _GIT_SHA.match(sha):
        subjects.append({"name": f"git+commit:{release.get('tag') or sha}", "digest": {"gitCommit": sha}})
    if not subjects:  # nothing released is pinned: the statement is about the pack itself
        subjects.append({"name": pack_path.name, "digest": {"sha256": digest}})
    return subjects


def make_statement(
    manifest: dict[str, Any],
    pack_path: Path,
    *,
    decision: dict[str, Any] | None,
    signoffs: list[dict[str, Any]],
) -> dict[str, Any]:
    """The in-toto Statement v1 of a written pack."""
    digest = pack_digest(pack_path)
    release = dict(manifest.get("release") or {})
    runbook_digest = str(manifest.get("runbook_digest") or "")
    approvers: list[dict[str, Any]] = []
    if decision:
        approvers.append(
            {
                "act": "decision",
                "decision": decision.get("decision"),
                "by": decision.get("by"),
                "at": decision.get("at"),
                "step": decision.get("step"),
            }
        )
    approvers += [{"act": "signoff", **s} for s in signoffs]
    predicate = {
        "run_id": manifest.get("run_id"),
        "mode": manifest.get("mode"),
        "outcome": manifest.get("status"),
        "outcome_label": manifest.get("status_label"),
        "verdict": manifest.get("verdict"),
        "complete": manifest.get("complete"),
        "decision": (decision or {}).get("decision"),
        "approvers": approvers,
        "runbook": {"name": manifest.get("runbook"), "digest": _digest_set(runbook_digest)},
        "release": {k: release.get(k) for k in ("tag", "sha") if release.get(k)},
        "pack": {
            "name": pack_path.name,
            "digest": {"sha256": digest},
            "digest_of": packformat.MANIFEST_NAME if pack_path.is_dir() else "file",
            "head_hash": manifest.get("head_hash"),
            "head_seq": manifest.get("head_seq"),
        },
        "started_at": manifest.get("run_created_at"),
        "finished_at": manifest.get("run_finished_at"),
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": _subjects(release, pack_path, digest),
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def _digest_set(text: str) -> dict[str, str]:
    algo, _, value = text.partition(":")
    if value:
        return {algo: value}
    return {"sha256": text} if text else {}


def sign_envelope(statement: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = packformat.canonical_json(statement)
    sig = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": signing.fingerprint(key), "sig": base64.b64encode(sig).decode("ascii")}],
    }


def write_attestation(
    pack_path: Path,
    manifest: dict[str, Any],
    key_path: Path,
    *,
    decision: dict[str, Any] | None,
    signoffs: list[dict[str, Any]],
) -> Path:
    """Write ``<pack>.intoto.json`` (whole or not at all); returns its path."""
    key = signing.load_private_key(key_path)
    envelope = sign_envelope(make_statement(manifest, pack_path, decision=decision, signoffs=signoffs), key)
    out = attestation_path(pack_path)
    if out.exists():
        raise exceptions.EvidenceError(f"{out}: already exists; choose a new path for the evidence pack")
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(packformat.canonical_json(envelope))
        os.rename(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise exceptions.EvidenceError(f"{out}: cannot write the attestation: {exc.strerror or exc}") from exc
    return out


def verify_attestation(
    pack_path: Path, public_key: Ed25519PublicKey | None, path: Path | None = None
) -> tuple[AttestationStatus, list[str], dict[str, Any] | None]:
    """Check the attestation of ``pack_path``: envelope shape, signature, statement, pack digest.

    Returns (status, problems, statement). ``absent`` when there is no attestation file; ``unverified``
    when it is well formed and matches the pack but no public key was given to check its signature.
    """
    att = Path(path) if path is not None else attestation_path(pack_path)
    if not att.exists():
        if path is not None:
            raise exceptions.UsageError(f"{att}: no such attestation")
        return "absent", [], None
    problems: list[str] = []
    try:
        raw = att.read_bytes()
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise ValueError(f"larger than {MAX_ENVELOPE_BYTES} bytes")
        env = json.loads(raw)
        if not isinstance(env, dict) or env.get("payloadType") != PAYLOAD_TYPE:
            raise ValueError(f"not a DSSE envelope with payloadType {PAYLOAD_TYPE}")
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = env["signatures"]
        if not isinstance(sigs, list) or not sigs:
            raise ValueError("no signatures")
        statement = json.loads(payload)
        if not isinstance(statement, dict):
            raise ValueError("the payload is not a JSON object")
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        return "invalid", [f"{att.name} is malformed: {exc}"], None
    status: AttestationStatus = "unverified"
    if public_key is None:
        problems.append(f"{att.name}: pass --pubkey to verify the attestation's signature")
    else:
        fp = signing.fingerprint(public_key)
        message = pae(PAYLOAD_TYPE, payload)
        ok = False
        for s in sigs:
            if not isinstance(s, dict) or s.get("keyid") != fp:
                continue
            try:
                public_key.verify(base64.b64decode(s.get("sig", ""), validate=True), message)
            except Exception:  # InvalidSignature, a bad base64: a failed check either way
                continue
            ok = True
        if not ok:
            return "invalid", [f"{att.name}: no valid signature by {fp}"], statement
        status = "valid"
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        return "invalid", [f"{att.name}: not a golive in-toto Statement v1"], statement
    if not statement.get("subject"):
        return "invalid", [f"{att.name}: the statement has no subject"], statement
    try:
        want = statement["predicate"]["pack"]["digest"]["sha256"]
    except (KeyError, TypeError):
        return "invalid", [f"{att.name}: the statement names no pack digest"], statement
    have = pack_digest(pack_path)
    if want != have:
        return "invalid", [f"{att.name}: attests pack sha256 {want}, but the pack is {have}"], statement
    return status, problems, statement
