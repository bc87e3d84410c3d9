"""``golive evidence ...`` and ``golive keygen``: verify evidence packs and make signing keys.

``evidence pack RUN`` packs a stored run through :func:`golive.evidence.runpack.pack_run`, which builds
the file list and the manifest and calls :func:`golive.evidence.pack.write_pack`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from golive import runids
from golive.cli import _common

__all__ = ["close_change", "evidence", "keygen"]

DEFAULT_KEY_DIR = Path(".golive") / "keys"


@click.group()
def evidence() -> None:
    """Pack and verify evidence."""


@evidence.command("verify")
@click.argument("pack", type=click.Path(path_type=Path))
@click.option(
    "--pubkey",
    type=click.Path(path_type=Path),
    default=None,
    help="Public key (.pub from `golive keygen`); with it the pack must carry a valid signature.",
)
@click.option(
    "--attestation",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The pack's in-toto attestation (default: PACK.intoto.json beside the pack, when there is one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(pack: Path, pubkey: Path | None, attestation: Path | None, as_json: bool) -> None:
    """Check a pack (directory or .zip): every file against checksums.json, a run pack's own event chain (its
    hashes, its head, its run id, and runbook.yaml against the digest the run recorded), the signature, and the
    in-toto attestation beside it (its DSSE signature, and that it attests this very pack).

    Exit 0 when valid, 1 when not, 2 when the pack or the key cannot be read.
    """
    from golive.evidence import pack as pack_mod

    result = pack_mod.verify_pack(pack, pubkey, attestation)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        click.echo(f"valid: {'yes' if result.valid else 'NO'}")
        for label, names in (
            ("missing_files", result.missing_files),
            ("mismatches", result.mismatches),
            ("unexpected_files", result.unexpected_files),
        ):
            click.echo(f"{label}: {len(names)}")
            for name in names:
                click.echo(f"  - {name}")
        click.echo(f"chain: {result.chain}")
        click.echo(f"signature: {result.signature}")
        click.echo(f"attestation: {result.attestation}")
        for field in ("run_id", "created_at", "file_count", "total_bytes"):
            if field in result.manifest:
                click.echo(f"{field}: {result.manifest[field]}")
        for problem in result.problems:
            click.echo(f"note: {problem}")
    if not result.valid:
        # SystemExit rather than click's Exit: `python -m golive` does not pass main()'s return value on.
        sys.exit(1)


@evidence.command("pack")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="A new directory, or a file ending in .zip (default: evidence-RUN.zip here).",
)
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(path_type=Path),
    default=None,
    metavar="KEY",
    help="Sign the manifest with this ed25519 private key (from `golive keygen`).",
)
@click.option(
    "--attest",
    is_flag=True,
    help="Also write PACK.intoto.json: an in-toto Statement (v1) in a DSSE envelope signed with the --sign key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@_common.db_option
def pack_cmd(
    run_id: str, out: Path | None, sign_key: Path | None, attest: bool, as_json: bool, db_url: str | None
) -> None:
    """Write RUN's evidence pack: events, timeline, reports, runbook, evidence files, checksums, manifest.

    Refused (exit 1) when the run's event chain is broken or an evidence file is missing from the store.
    """
    import asyncio

    from golive.evidence import runpack
    from golive.store import open_store

    async def go() -> runpack.RunPackSummary:
        store = open_store(db_url, create=False)
        await store.open()
        try:
            rid = (await store.get_run(run_id)).run_id
            return await runpack.pack_run(
                store, rid, out or Path(f"evidence-{runids.check(rid, 'run')}.zip"), sign_key=sign_key, attest=attest
            )
        finally:
            await store.close()

    done = asyncio.run(go())
    if as_json:
        click.echo(json.dumps(done.as_dict(), indent=2, sort_keys=True))
        return
    click.echo(f"wrote {done.path}")
    click.echo(f"files: {done.file_count} ({done.evidence_files} evidence), {done.total_bytes} bytes")
    click.echo(f"run: {done.run_id} ({done.manifest.get('status_label')}, {done.manifest.get('verdict')})")
    click.echo(f"head_hash: {done.head_hash} (event {done.head_seq})")
    click.echo(f"signed: {done.key_fingerprint}" if done.signed else "signed: no")
    if done.attestation is not None:
        click.echo(f"attestation: {done.attestation} (in-toto Statement v1, DSSE, signed by the same key)")
    click.echo(f"check it with: golive evidence verify {done.path}" + (" --pubkey KEY.pub" if done.signed else ""))


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_KEY_DIR,
    show_default=True,
    help="Folder to write golive-evidence.key (mode 0600) and golive-evidence.pub into.",
)
def keygen(out_dir: Path) -> None:
    """Make an ed25519 key pair for signing evidence packs."""
    from golive.evidence import signing

    private_path, public_path = signing.generate_keypair(out_dir)
    fp = signing.fingerprint(signing.load_public_key(public_path))
    click.echo(f"private key: {private_path} (mode 0600; keep it secret, never commit it)")
    click.echo(f"public key:  {public_path}")
    click.echo(f"fingerprint: {fp}")


@click.command("close-change")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--pack",
    "pack_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="The run's evidence pack (from `golive evidence pack`); its SHA-256 goes into the record.",
)
@click.option(
    "--step", "step_id", default=None, help="The change-record check naming the record (default: the only one)."
)
@click.option("--transition", default=None, help="Jira: the transition that closes the issue (default: Done).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_common.db_option
def close_change(
    run_id: str, pack_path: Path, step_id: str | None, transition: str | None, as_json: bool, db_url: str | None
) -> None:
    """Close RUN's change record (ServiceNow or Jira) with the run's outcome, its decision and PACK's digest.

    The record and credentials are those of the run's change-record check. Exit 0 when the record reads back
    closed, 1 when it does not or the change system failed, 2 for a bad run, step or pack.
    """
    from golive.evidence import closeout
    from golive.results import Outcome

    async def go(store: Any) -> Any:
        rid = await _common.latest_run_id(store, run_id)
        return await closeout.close_change(store, rid, pack_path, step_id=step_id, transition=transition)

    result: Any = _common.run_async(lambda: _common.with_store(db_url, go))
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True, default=str))
    else:
        click.echo(f"{result.outcome.value}: {result.summary}")
    if result.outcome is not Outcome.PASS:
        sys.exit(1)
