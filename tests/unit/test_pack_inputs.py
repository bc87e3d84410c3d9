"""Unit tests of golive.evidence.pack input checks: bad names and manifests are refused before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive import exceptions
from golive.evidence import pack

NOWHERE = Path("/nonexistent-golive-test-dir/pack")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/abs/file",
        "../escape",
        "a/../b",
        "a//b",
        "./a",
        "a\\b",
        "checksums.json",
        "manifest.json",
        "signature.json",
    ],
)
def test_bad_archive_names_are_refused(name: str) -> None:
    """Absolute, parent-escaping, empty, backslashed and reserved names raise EvidenceError."""
    with pytest.raises(exceptions.EvidenceError):
        pack.write_pack(NOWHERE, [pack.PackFile(name, b"x")], {"run_id": "r"})
    assert not NOWHERE.parent.exists()  # refused before anything was made


def test_duplicate_names_are_refused() -> None:
    """Two files with one name raise EvidenceError naming it."""
    files = [pack.PackFile("a.txt", b"1"), pack.PackFile("a.txt", b"2")]
    with pytest.raises(exceptions.EvidenceError, match=r"a\.txt"):
        pack.write_pack(NOWHERE, files, {})


def test_file_and_folder_of_the_same_name_are_refused() -> None:
    """'logs' as a file and 'logs/x' as a file cannot both exist in a pack."""
    files = [pack.PackFile("logs", b"1"), pack.PackFile("logs/x", b"2")]
    with pytest.raises(exceptions.EvidenceError, match="clash"):
        pack.write_pack(NOWHERE, files, {})


def test_names_are_checked_across_the_calls_of_one_writer(tmp_path: Path) -> None:
    """Files added in two calls (blobs, then reports) are held to the same rules as files added in one."""
    with pack.PackWriter(tmp_path / "p.zip") as writer:
        writer.add([pack.PackFile("evidence/a.txt", b"1")])
        with pytest.raises(exceptions.EvidenceError, match="appears twice"):
            writer.add([pack.PackFile("evidence/a.txt", b"2")])
        with pytest.raises(exceptions.EvidenceError, match="clash"):
            writer.add([pack.PackFile("evidence", b"3")])
        with pytest.raises(exceptions.EvidenceError, match="clash"):
            writer.add([pack.PackFile("evidence/a.txt/b", b"4")])
    assert list(tmp_path.iterdir()) == []  # never finished: nothing is left, not even the partial file


def test_a_finished_writer_is_a_pack_that_verifies(tmp_path: Path) -> None:
    """Files added in several calls, then finished: one pack with all of them, valid."""
    with pack.PackWriter(tmp_path / "p") as writer:
        writer.add([pack.PackFile("evidence/a.txt", b"1")])
        writer.add([pack.PackFile("report.md", b"# r")])
        done = writer.finish({"run_id": "r"})
    assert done.file_count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    assert pack.verify_pack(tmp_path / "p").valid


@pytest.mark.parametrize("field", ["format", "created_at", "checksums_sha256", "file_count"])
def test_manifest_fields_owned_by_golive_are_refused(field: str) -> None:
    """The caller may not set the manifest fields golive computes."""
    with pytest.raises(exceptions.EvidenceError, match=field):
        pack.write_pack(NOWHERE, [], {field: "x"})


def test_manifest_must_be_json() -> None:
    """A manifest value that JSON cannot hold is refused."""
    with pytest.raises(exceptions.EvidenceError, match="JSON"):
        pack.write_pack(NOWHERE, [], {"when": object()})


def test_canonical_json_is_sorted_indented_and_ends_with_newline() -> None:
    """The canonical form does not depend on key order and ends with one newline."""
    a = pack.canonical_json({"b": 1, "a": {"y": 2, "x": "é"}})
    b = pack.canonical_json({"a": {"x": "é", "y": 2}, "b": 1})
    assert a == b
    assert a == '{\n  "a": {\n    "x": "é",\n    "y": 2\n  },\n  "b": 1\n}\n'.encode()
