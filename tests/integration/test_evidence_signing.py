"""Ed25519 key files, signatures and fingerprints."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from golive import exceptions
from golive.evidence import signing


def test_keygen_writes_pem_files_and_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    """The private key is PEM with mode 0600; the public key is PEM."""
    private_path, public_path = signing.generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_sign_then_verify_round_trips_and_detects_changes(tmp_path: Path) -> None:
    """A signature verifies for its data and key only."""
    private_path, public_path = signing.generate_keypair(tmp_path)
    sig = signing.sign(b"manifest bytes", private_path)
    assert len(sig) == 64
    assert signing.verify(b"manifest bytes", sig, public_path)
    assert not signing.verify(b"manifest bytes!", sig, public_path)
    _other, other_public = signing.generate_keypair(tmp_path / "other")
    assert not signing.verify(b"manifest bytes", sig, other_public)


def test_fingerprint_is_the_same_for_both_halves(tmp_path: Path) -> None:
    """The fingerprint of a private key equals that of its public key."""
    private_path, public_path = signing.generate_keypair(tmp_path)
    fp = signing.fingerprint(signing.load_public_key(public_path))
    assert fp == signing.fingerprint(signing.load_private_key(private_path))
    assert fp.startswith("sha256:")
    assert len(fp) == len("sha256:") + 64


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    """An existing key is never overwritten."""
    private_path, _ = signing.generate_keypair(tmp_path)
    before = private_path.read_bytes()
    with pytest.raises(exceptions.UsageError, match="already exists"):
        signing.generate_keypair(tmp_path)
    assert private_path.read_bytes() == before


def test_non_ed25519_key_is_a_usage_error(tmp_path: Path) -> None:
    """An EC key is refused with a message naming the file."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(exceptions.UsageError, match=r"ec\.pem"):
        signing.load_private_key(path)


@pytest.mark.parametrize("content", [b"", b"not a key"])
def test_garbage_key_file_is_a_usage_error(tmp_path: Path, content: bytes) -> None:
    """A file that is not a PEM key is refused by name."""
    path = tmp_path / "bad.pub"
    path.write_bytes(content)
    with pytest.raises(exceptions.UsageError, match=r"bad\.pub"):
        signing.load_public_key(path)
