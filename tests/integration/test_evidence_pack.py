"""Evidence packs on disk, as a directory and as a zip: writing, verifying, tampering, signatures."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from golive import exceptions
from golive.evidence import pack, signing

MANIFEST = {"run_id": "run-42", "runbook_digest": "sha256:ab", "release_pin": "v1.2.3", "event_chain_head": "cd"}


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path / "keys")


@pytest.fixture
def sources(tmp_path: Path) -> list[pack.PackFile]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "run.log").write_text("line\n" * 5000)
    (src / "big.bin").write_bytes(bytes(range(256)) * (5 * 4096 + 7))  # > 1 chunk: exercises the overlap
    (src / "shot.png").write_bytes(b"\x89PNG fake image bytes")
    return [
        pack.PackFile("logs/run.log", src / "run.log"),
        pack.PackFile("data/big.bin", src / "big.bin"),
        pack.PackFile("screens/shot.png", src / "shot.png"),
        pack.PackFile("events.jsonl", b'{"seq": 1}\n{"seq": 2}\n'),
        pack.PackFile("empty.txt", b""),
    ]


def make(tmp_path: Path, form: str, files: list[pack.PackFile], key: Path | None = None) -> Path:
    out = tmp_path / ("pack.zip" if form == "zip" else "pack")
    pack.write_pack(out, files, MANIFEST, sign_key=key)
    return out


def rewrite_zip(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    """Rewrite a zip with its members changed by ``change`` (the way a person would edit one)."""
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    change(members)
    path.unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def change_member(path: Path, name: str, change: Callable[[bytes], bytes | None]) -> None:
    """Change (or delete, when ``change`` returns None) one member of a directory or zip pack."""
    if path.is_dir():
        target = path / name
        new = change(target.read_bytes())
        if new is None:
            target.unlink()
        else:
            target.write_bytes(new)
        return

    def edit(members: dict[str, bytes]) -> None:
        new = change(members[name])
        if new is None:
            del members[name]
        else:
            members[name] = new

    rewrite_zip(path, edit)


def add_member(path: Path, name: str, data: bytes) -> None:
    if path.is_dir():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    else:
        rewrite_zip(path, lambda members: members.__setitem__(name, data))


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:] if data else b"!"


FORMS = ["dir", "zip"]


@pytest.mark.parametrize("form", FORMS)
def test_fresh_pack_verifies_and_carries_the_manifest(tmp_path: Path, sources: list[pack.PackFile], form: str) -> None:
    """A pack just written is valid, unsigned, and its manifest has the caller's and golive's fields."""
    out = make(tmp_path, form, sources)
    result = pack.verify_pack(out)
    assert result.valid, result.problems
    assert result.signature == "absent"
    assert (result.missing_files, result.mismatches, result.unexpected_files) == ((), (), ())
    for key, value in MANIFEST.items():
        assert result.manifest[key] == value
    assert result.manifest["format_version"] == 1
    assert result.manifest["file_count"] == len(sources)
    assert result.manifest["created_at"].endswith("Z")


@pytest.mark.parametrize("form", FORMS)
def test_pack_holds_exact_bytes(tmp_path: Path, sources: list[pack.PackFile], form: str) -> None:
    """Every packed file reads back byte for byte."""
    out = make(tmp_path, form, sources)
    for item in sources:
        want = item.source if isinstance(item.source, bytes) else item.source.read_bytes()
        if form == "dir":
            got = (out / item.name).read_bytes()
        else:
            with zipfile.ZipFile(out) as zf:
                got = zf.read(item.name)
        assert got == want, item.name


def test_zip_pack_passes_an_independent_zip_checker(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """Info-ZIP's ``unzip -t`` (not Python's zipfile) finds every member's CRC correct."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("unzip is not installed")
    out = make(tmp_path, "zip", sources)
    done = subprocess.run([unzip, "-t", str(out)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout
    assert "No errors detected" in done.stdout


def test_zip_pack_without_the_fast_append_path_is_the_same(
    tmp_path: Path, sources: list[pack.PackFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With zipfile's internals unavailable, members go through writestr and the pack still verifies."""
    monkeypatch.setattr(pack, "_RAW_APPEND", False)
    out = make(tmp_path, "zip", sources)
    assert pack.verify_pack(out).valid
    with zipfile.ZipFile(out) as zf:
        assert zf.read("events.jsonl") == b'{"seq": 1}\n{"seq": 2}\n'


@pytest.mark.parametrize("form", FORMS)
def test_large_in_memory_member_is_packed(tmp_path: Path, form: str) -> None:
    """Bytes of 1 MiB and more (a rendered report, say) pack and verify like a file; zip stores them."""
    data = b"report line\n" * 200_000
    out = make(tmp_path, form, [pack.PackFile("report.html", data)])
    assert pack.verify_pack(out).valid
    if form == "zip":
        with zipfile.ZipFile(out) as zf:
            assert zf.getinfo("report.html").compress_type == zipfile.ZIP_STORED
            assert zf.read("report.html") == data


def test_zip_stores_compressed_and_large_files_and_deflates_small_text(
    tmp_path: Path, sources: list[pack.PackFile]
) -> None:
    """PNGs and files of 1 MiB or more are stored; small text is deflated."""
    out = make(tmp_path, "zip", sources)
    with zipfile.ZipFile(out) as zf:
        kinds = {info.filename: info.compress_type for info in zf.infolist()}
    assert kinds["screens/shot.png"] == zipfile.ZIP_STORED
    assert kinds["data/big.bin"] == zipfile.ZIP_STORED
    assert kinds["logs/run.log"] == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", ["logs/run.log", "data/big.bin", "empty.txt"])
def test_one_changed_byte_is_exactly_one_mismatch(
    tmp_path: Path, sources: list[pack.PackFile], form: str, name: str
) -> None:
    """Changing one byte of one file reports exactly that file in mismatches."""
    out = make(tmp_path, form, sources)
    change_member(out, name, flip)
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.mismatches == (name,)
    assert (result.missing_files, result.unexpected_files) == ((), ())


def test_byte_flipped_inside_a_stored_zip_member_is_a_mismatch(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """A byte changed in place inside the zip file (CRC no longer matches) is reported for that member."""
    out = make(tmp_path, "zip", sources)
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("data/big.bin")
        header_end = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(out.read_bytes())
    raw[header_end + 1000] ^= 0xFF
    out.write_bytes(bytes(raw))
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.mismatches == ("data/big.bin",)


@pytest.mark.parametrize("form", FORMS)
def test_deleted_file_is_exactly_one_missing(tmp_path: Path, sources: list[pack.PackFile], form: str) -> None:
    """Deleting one file reports exactly that file in missing_files."""
    out = make(tmp_path, form, sources)
    change_member(out, "events.jsonl", lambda _data: None)
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.missing_files == ("events.jsonl",)
    assert (result.mismatches, result.unexpected_files) == ((), ())


@pytest.mark.parametrize("form", FORMS)
def test_added_file_is_exactly_one_unexpected(tmp_path: Path, sources: list[pack.PackFile], form: str) -> None:
    """Adding a file reports exactly that file in unexpected_files."""
    out = make(tmp_path, form, sources)
    add_member(out, "logs/extra.log", b"planted\n")
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.unexpected_files == ("logs/extra.log",)
    assert (result.missing_files, result.mismatches) == ((), ())


@pytest.mark.parametrize("form", FORMS)
def test_edited_checksums_json_is_a_mismatch(tmp_path: Path, sources: list[pack.PackFile], form: str) -> None:
    """Rewriting checksums.json (to hide a change) no longer matches the manifest's checksums_sha256."""
    out = make(tmp_path, form, sources)

    def hide(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["files"]["events.jsonl"]["size"] += 0  # same content, different formatting
        return json.dumps(doc).encode()

    change_member(out, "checksums.json", hide)
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.mismatches == ("checksums.json",)


@pytest.mark.parametrize("form", FORMS)
def test_signed_pack_is_valid_with_its_key_and_unverified_without(
    tmp_path: Path, sources: list[pack.PackFile], keys: tuple[Path, Path], form: str
) -> None:
    """With the public key the signature is valid; without one it is 'unverified' and the pack valid."""
    out = make(tmp_path, form, sources, keys[0])
    assert pack.verify_pack(out, keys[1]).signature == "valid"
    assert pack.verify_pack(out, keys[1]).valid
    unkeyed = pack.verify_pack(out)
    assert unkeyed.signature == "unverified"
    assert unkeyed.valid


@pytest.mark.parametrize("form", FORMS)
def test_tampered_manifest_makes_the_signature_invalid(
    tmp_path: Path, sources: list[pack.PackFile], keys: tuple[Path, Path], form: str
) -> None:
    """Changing the manifest of a signed pack is reported as an invalid signature."""
    out = make(tmp_path, form, sources, keys[0])
    change_member(out, "manifest.json", lambda data: data.replace(b"run-42", b"run-43"))
    result = pack.verify_pack(out, keys[1])
    assert result.signature == "invalid"
    assert not result.valid
    assert result.manifest["run_id"] == "run-43"


@pytest.mark.parametrize("form", FORMS)
def test_wrong_public_key_is_an_invalid_signature(
    tmp_path: Path, sources: list[pack.PackFile], keys: tuple[Path, Path], form: str
) -> None:
    """A pack signed by one key does not verify with another."""
    out = make(tmp_path, form, sources, keys[0])
    _other_private, other_public = signing.generate_keypair(tmp_path / "other")
    result = pack.verify_pack(out, other_public)
    assert result.signature == "invalid"
    assert not result.valid


@pytest.mark.parametrize("form", FORMS)
def test_unsigned_pack_fails_when_a_key_is_required(
    tmp_path: Path, sources: list[pack.PackFile], keys: tuple[Path, Path], form: str
) -> None:
    """Giving a public key means the pack must be signed: an absent signature is not valid."""
    out = make(tmp_path, form, sources)
    result = pack.verify_pack(out, keys[1])
    assert result.signature == "absent"
    assert not result.valid


@pytest.mark.parametrize("form", FORMS)
def test_forged_signature_bytes_are_invalid(
    tmp_path: Path, sources: list[pack.PackFile], keys: tuple[Path, Path], form: str
) -> None:
    """A signature.json whose signature bytes were changed is invalid."""
    out = make(tmp_path, form, sources, keys[0])

    def forge(data: bytes) -> bytes:
        doc = json.loads(data)
        doc["signature"] = ("0" if doc["signature"][0] != "0" else "1") + doc["signature"][1:]
        return json.dumps(doc).encode()

    change_member(out, "signature.json", forge)
    assert pack.verify_pack(out, keys[1]).signature == "invalid"


def test_existing_output_is_not_overwritten(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """Writing onto an existing pack is refused; the old pack is untouched."""
    out = make(tmp_path, "zip", sources)
    before = out.read_bytes()
    with pytest.raises(exceptions.EvidenceError, match="already exists"):
        pack.write_pack(out, sources, MANIFEST)
    assert out.read_bytes() == before


def test_failed_write_leaves_nothing_behind(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """A source that is not a file fails the whole pack and no partial output remains."""
    broken = [*sources, pack.PackFile("gone.log", tmp_path / "does-not-exist.log")]
    with pytest.raises(exceptions.EvidenceError, match=r"gone\.log"):
        pack.write_pack(tmp_path / "out", broken, MANIFEST)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_source_vanishing_mid_write_removes_the_partial_pack(
    tmp_path: Path, sources: list[pack.PackFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error while copying becomes EvidenceError and the temporary directory is removed."""
    real = pack._hash_copy

    def failing(read_into: Callable[..., int], write: Callable[..., object]) -> tuple[str, int]:
        real(read_into, write)
        raise OSError("disk full")

    monkeypatch.setattr(pack, "_hash_copy", failing)
    with pytest.raises(exceptions.EvidenceError, match="disk full"):
        pack.write_pack(tmp_path / "out", sources, MANIFEST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_empty_existing_directory_can_receive_a_pack(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """An empty directory made beforehand is filled rather than refused."""
    out = tmp_path / "empty"
    out.mkdir()
    pack.write_pack(out, sources, MANIFEST)
    assert pack.verify_pack(out).valid


@pytest.mark.parametrize("what", ["missing", "not-a-pack"])
def test_unreadable_input_is_a_usage_error(tmp_path: Path, what: str) -> None:
    """A path that does not exist, or a file that is neither a directory nor a zip, raises UsageError."""
    path = tmp_path / "x.zip"
    if what == "not-a-pack":
        path.write_text("hello")
    with pytest.raises(exceptions.UsageError):
        pack.verify_pack(path)


def test_missing_checksums_json_makes_the_pack_invalid(tmp_path: Path, sources: list[pack.PackFile]) -> None:
    """Without checksums.json nothing can be verified: reported missing, pack invalid."""
    out = make(tmp_path, "dir", sources)
    (out / "checksums.json").unlink()
    result = pack.verify_pack(out)
    assert not result.valid
    assert result.missing_files == ("checksums.json",)


def test_many_small_files_round_trip(tmp_path: Path) -> None:
    """A pack of 300 small files verifies (the two workers share the list)."""
    files = [pack.PackFile(f"steps/{i:03d}/output.txt", f"step {i}\n".encode()) for i in range(300)]
    out = tmp_path / "many"
    summary = pack.write_pack(out, files, MANIFEST)
    assert summary.file_count == 300
    assert pack.verify_pack(out).valid
    shutil.rmtree(out / "steps" / "007")
    assert pack.verify_pack(out).missing_files == ("steps/007/output.txt",)
