"""Ed25519 keys and signatures for evidence packs.

Keys are PEM files: the private key PKCS#8 (unencrypted, file mode 0600), the public key
SubjectPublicKeyInfo. A key's fingerprint is ``sha256:`` and the hex SHA-256 of its 32 raw public bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from golive import exceptions

__all__ = [
    "PRIVATE_KEY_NAME",
    "PUBLIC_KEY_NAME",
    "fingerprint",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "sign",
    "verify",
]

PRIVATE_KEY_NAME = "golive-evidence.key"
PUBLIC_KEY_NAME = "golive-evidence.pub"
PRIVATE_KEY_MODE = 0o600  # owner read/write only


def generate_keypair(directory: Path) -> tuple[Path, Path]:
    """Write a new ed25519 key pair into ``directory``; returns (private key path, public key path).

    Refuses to overwrite an existing key: losing a signing key makes old packs unverifiable.
    """
    directory = Path(directory)
    private_path = directory / PRIVATE_KEY_NAME
    public_path = directory / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise exceptions.UsageError(f"{path}: a key already exists; move it away or choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Created with 0600 from the start so the key is never readable by others, not even briefly.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_KEY_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        os.chmod(private_path, PRIVATE_KEY_MODE)  # umask may have narrowed it; never widened
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise exceptions.UsageError(f"{directory}: cannot write the key pair: {exc.strerror or exc}") from exc
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an ed25519 private key from a PEM file, or raise UsageError naming the file."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise exceptions.UsageError(
            f"{path}: not an unencrypted PEM private key ({exc}); make one with `golive keygen`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise exceptions.UsageError(f"{path}: not an ed25519 key; make one with `golive keygen`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an ed25519 public key from a PEM file, or raise UsageError naming the file."""
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise exceptions.UsageError(
            f"{path}: not a PEM public key ({exc}); use the .pub file written by `golive keygen`"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise exceptions.UsageError(f"{path}: not an ed25519 public key; use the .pub file of `golive keygen`")
    return key


def fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """``sha256:<hex>`` of the raw public key bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sign(data: bytes, private_path: Path) -> bytes:
    """The 64-byte ed25519 signature of ``data`` with the key in ``private_path``."""
    return load_private_key(private_path).sign(data)


def verify(data: bytes, signature: bytes, public_path: Path) -> bool:
    """True when ``signature`` is a valid ed25519 signature of ``data`` by the key in ``public_path``."""
    try:
        load_public_key(public_path).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise exceptions.UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
