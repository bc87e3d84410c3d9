"""``golive evidence verify`` and ``golive keygen`` run as a person runs them: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.evidence import pack

TIMEOUT = 60  # seconds; a cold interpreter on a busy two-core machine


def golive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


@pytest.fixture
def keyed_pack(tmp_path: Path) -> tuple[Path, Path]:
    done = golive("keygen", "--out", "keys", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "pack.zip"
    pack.write_pack(
        out,
        [pack.PackFile("a.txt", b"alpha\n"), pack.PackFile("b/c.txt", b"gamma\n")],
        {"run_id": "run-7"},
        sign_key=tmp_path / "keys" / "golive-evidence.key",
    )
    return out, tmp_path / "keys" / "golive-evidence.pub"


def test_keygen_prints_paths_and_fingerprint(tmp_path: Path) -> None:
    """keygen writes the two files and prints where they are and the fingerprint."""
    done = golive("keygen", "--out", "k", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "k" / "golive-evidence.key").is_file()
    assert "fingerprint: sha256:" in done.stdout


def test_keygen_twice_exits_2(tmp_path: Path) -> None:
    """A second keygen into the same folder refuses with exit 2 and no traceback."""
    golive("keygen", "--out", "k", cwd=tmp_path)
    done = golive("keygen", "--out", "k", cwd=tmp_path)
    assert done.returncode == 2
    assert "already exists" in done.stderr
    assert "Traceback" not in done.stderr


def test_verify_valid_signed_pack_exits_0(keyed_pack: tuple[Path, Path]) -> None:
    """A valid pack verified with its key exits 0 and says so."""
    out, pub = keyed_pack
    done = golive("evidence", "verify", str(out), "--pubkey", str(pub), cwd=out.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid: yes" in done.stdout
    assert "signature: valid" in done.stdout


def test_verify_tampered_pack_exits_1_with_json_detail(keyed_pack: tuple[Path, Path], tmp_path: Path) -> None:
    """A changed member exits 1; --json names it in mismatches."""
    out, pub = keyed_pack
    import zipfile

    with zipfile.ZipFile(out) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["a.txt"] = b"alphA\n"
    out.unlink()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    done = golive("evidence", "verify", str(out), "--pubkey", str(pub), "--json", cwd=tmp_path)
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["valid"] is False
    assert doc["mismatches"] == ["a.txt"]
    assert doc["signature"] == "valid"
    assert set(doc) >= {"valid", "missing_files", "mismatches", "unexpected_files", "signature", "manifest"}


@pytest.mark.parametrize("args", [["nope.zip"], ["pack.zip", "--pubkey", "missing.pub"]])
def test_verify_unreadable_input_exits_2(keyed_pack: tuple[Path, Path], args: list[str]) -> None:
    """A missing pack or key exits 2 with a one-line message."""
    out, _pub = keyed_pack
    done = golive("evidence", "verify", *args, cwd=out.parent)
    assert done.returncode == 2
    assert done.stderr.startswith("golive: ")
    assert "Traceback" not in done.stderr


def test_verify_imports_no_pydantic(keyed_pack: tuple[Path, Path]) -> None:
    """Verifying a pack needs hashes, the chain and the signature, not the runbook models: the command runs
    without importing pydantic (about 70 ms of its start-up), and its JSON output is unchanged in shape."""
    out, pub = keyed_pack
    code = (
        "import sys, runpy; sys.argv = ['golive', 'evidence', 'verify', sys.argv[1], '--pubkey', sys.argv[2], '--json']\n"
        "try:\n    runpy.run_module('golive', run_name='__main__')\n"
        "except SystemExit as exc:\n    print('exit', exc.code, 'pydantic' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out), str(pub)], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.stderr.strip().splitlines()[-1] == "exit 0 False", done.stderr
    doc = json.loads(done.stdout)
    assert doc["valid"] is True
    assert doc["signature"] == "valid"
    assert doc["missing_files"] == []
    assert isinstance(doc["manifest"], dict)
