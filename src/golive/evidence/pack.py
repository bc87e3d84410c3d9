"""Evidence packs: a directory or a zip file of evidence, with checksums, a manifest and a signature.

Layout (the same in a directory and in a zip)::

    <files...>            the evidence, under the archive names the caller gave
    checksums.json        {"algorithm": "sha256", "files": {name: {"sha256": hex, "size": bytes}}}
    manifest.json         the caller's fields (run id, runbook digest, release pin, event chain head, ...)
                          plus format, format_version, created_at, file_count, total_bytes and
                          checksums_sha256 (the SHA-256 of checksums.json's bytes)
    signature.json        optional: ed25519 over the bytes of manifest.json, with the key fingerprint

manifest.json is written canonically (UTF-8 JSON, sorted keys, two-space indent, a final newline) and the
signature covers exactly its bytes; the manifest pins checksums.json, which pins every file, so one
signature covers the whole pack.

Speed: every byte of a source file is read once when packing (hashed while it is copied), in 4 MiB
chunks, with hashing and writing of a chunk overlapped and two files in flight at once; hashlib and file
I/O release the GIL, so both cores work. Verification hashes two files at a time. :class:`PackWriter` takes
the files in several calls (a run pack copies its blobs on a thread while its reports are made) and
finishes with the manifest; :func:`write_pack` is one call of each.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import secrets as _secrets
import shutil
import stat
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, NamedTuple

from golive import clock as clock_mod
from golive import exceptions
from golive.evidence import packformat, signing

__all__ = [
    "CHECKSUMS_NAME",
    "FORMAT",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "PackFile",
    "PackSummary",
    "PackWriter",
    "VerifyResult",
    "canonical_json",
    "verify_pack",
    "write_pack",
]

FORMAT = packformat.FORMAT
FORMAT_VERSION = packformat.FORMAT_VERSION
CHECKSUMS_NAME = packformat.CHECKSUMS_NAME
MANIFEST_NAME = packformat.MANIFEST_NAME
SIGNATURE_NAME = packformat.SIGNATURE_NAME
RESERVED_NAMES = packformat.RESERVED_NAMES
RESERVED_MANIFEST_KEYS = frozenset(
    {"format", "format_version", "created_at", "checksums_sha256", "file_count", "total_bytes"}
)
CHUNK = 4 * 1024 * 1024  # bytes per read; large enough that per-call overhead vanishes next to hashing
WORKERS = 2  # files in flight at once: the machines golive targets have two cores or more
DEFLATE_BELOW = 1024 * 1024  # bytes; larger files are stored: deflate would cost more than it saves
DEFLATE_LEVEL = 1  # fastest deflate level; evidence is mostly small text
LOOKAHEAD = 32  # small zip members prepared ahead of the writer (each under DEFLATE_BELOW: <= 32 MiB)
MAX_META_BYTES = 256 * 1024 * 1024  # bytes; checksums.json for a million files stays well under this
COMPRESSED_SUFFIXES = frozenset(
    {".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".br", ".png", ".jpg", ".jpeg", ".gif", ".webp",
     ".pdf", ".mp4", ".webm", ".woff2", ".jar", ".whl"}
)  # fmt: skip
SignatureStatus = Literal["valid", "invalid", "absent", "unverified"]
ChainStatus = Literal["valid", "broken", "absent"]  # absent: not a run pack (no run_id in the manifest)
RUN_EVENTS_NAME = packformat.RUN_EVENTS_NAME


class PackFile(NamedTuple):
    """One file to pack: its name inside the pack (POSIX, relative) and a source path or the bytes."""

    name: str
    source: Path | bytes


def _jsonable(value: Any) -> Any:
    """A summary's field as JSON has it: paths as strings, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class PackSummary:
    """What :func:`write_pack` wrote. A plain dataclass, like :class:`VerifyResult`: ``golive evidence verify``
    imports no pydantic (about 70 ms of its start-up)."""

    path: Path
    file_count: int
    total_bytes: int
    checksums_sha256: str
    manifest_sha256: str
    signed: bool
    key_fingerprint: str | None = None

    def fields(self) -> dict[str, Any]:
        """The fields as they are (no copies), e.g. to make a subclass's summary from this one."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON data (paths as strings)."""
        return {k: _jsonable(v) for k, v in self.fields().items()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """What :func:`verify_pack` found. ``valid`` is the verdict; the lists say why not."""

    valid: bool
    missing_files: tuple[str, ...] = ()
    mismatches: tuple[str, ...] = ()
    unexpected_files: tuple[str, ...] = ()
    signature: SignatureStatus = "absent"
    chain: ChainStatus = "absent"  # a run pack's events.jsonl: its hashes, head, run id and runbook digest
    attestation: SignatureStatus = "absent"  # the in-toto attestation beside the pack (<pack>.intoto.json)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()  # one sentence per finding, for people

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON data."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


canonical_json = packformat.canonical_json


# ---------------------------------------------------------------------------------------------------------
# Writing


def write_pack(
    out: Path,
    files: Iterable[PackFile],
    manifest: Mapping[str, Any],
    sign_key: Path | None = None,
    *,
    clock: clock_mod.Clock | None = None,
) -> PackSummary:
    """Write an evidence pack to ``out`` (a new directory, or a file whose name ends in ``.zip``).

    The pack appears whole or not at all: it is written under a temporary name and renamed at the end.
    """
    _check_manifest(manifest)
    with PackWriter(out, sign_key, clock=clock) as writer:
        writer.add(files)
        return writer.finish(manifest)


class PackWriter:
    """An evidence pack being written: :meth:`add` files (in as many calls as suit, one at a time), then
    :meth:`finish` with the manifest. Until then the pack is under a temporary name beside ``out``; leaving
    the ``with`` block without finishing (an error, a refusal) removes it, so the pack appears whole or not
    at all. A caller that is still making some files (a run's reports) can copy the others meanwhile.
    """

    def __init__(self, out: Path, sign_key: Path | None = None, *, clock: clock_mod.Clock | None = None) -> None:
        self.out = out = Path(out)
        self._key = signing.load_private_key(sign_key) if sign_key is not None else None
        self._now = (clock or clock_mod.SystemClock()).now()
        is_zip = out.suffix.lower() == ".zip"
        if out.exists() and not (out.is_dir() and not is_zip and not any(out.iterdir())):
            raise exceptions.EvidenceError(f"{out}: already exists; choose a new path for the evidence pack")
        self._tmp = out.with_name(f".{out.name}.partial-{os.getpid()}-{_secrets.token_hex(4)}")
        self.entries: dict[str, tuple[str, int]] = {}  # name -> (sha256, size) of every file added so far
        self._names: set[str] = set()
        self._folders: dict[str, str] = {}  # folder -> a name under it
        self._zip = is_zip
        self._done = False
        self._opened: _Writer | None = None  # made by the first write: bad input is refused before any I/O

    def _writer(self) -> _Writer:
        if self._opened is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._opened = _ZipWriter(self._tmp, self._now.timetuple()[:6]) if self._zip else _DirWriter(self._tmp)
        return self._opened

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.abort()

    def abort(self) -> None:
        """Remove the partial pack (nothing is left behind)."""
        self._done = True
        if self._opened is not None:
            with contextlib.suppress(OSError, ValueError):  # it is removed either way
                self._opened.close()
            _remove(self._tmp)

    def add(self, files: Iterable[PackFile]) -> None:
        """Copy files into the pack, each hashed as it is copied (read once)."""
        items = _check_files(list(files), self._names, self._folders)
        try:
            self.entries.update(self._writer().add_files(items))
        except OSError as exc:
            raise exceptions.EvidenceError(f"{self.out}: cannot write the evidence pack: {exc}") from exc

    def finish(self, manifest: Mapping[str, Any]) -> PackSummary:
        """Write checksums.json, the manifest (``manifest`` plus the pack's own fields) and the signature,
        and rename the pack into place."""
        _check_manifest(manifest)
        out, entries, key = self.out, self.entries, self._key
        try:
            checksums = canonical_json(
                {
                    "algorithm": "sha256",
                    "files": {name: {"sha256": digest, "size": size} for name, (digest, size) in entries.items()},
                }
            )
            total = sum(size for _digest, size in entries.values())
            full_manifest = dict(manifest)
            full_manifest.update(
                format=FORMAT,
                format_version=FORMAT_VERSION,
                created_at=clock_mod.utc_iso(self._now),
                checksums_sha256=hashlib.sha256(checksums).hexdigest(),
                file_count=len(entries),
                total_bytes=total,
            )
            manifest_bytes = canonical_json(full_manifest)
            writer = self._writer()
            writer.add_meta(CHECKSUMS_NAME, checksums)
            writer.add_meta(MANIFEST_NAME, manifest_bytes)
            fp = None
            if key is not None:
                fp = signing.fingerprint(key)
                signature = {
                    "algorithm": "ed25519",
                    "signed_file": MANIFEST_NAME,
                    "public_key_fingerprint": fp,
                    "signature": key.sign(manifest_bytes).hex(),
                }
                writer.add_meta(SIGNATURE_NAME, canonical_json(signature))
            writer.close()
            os.rename(self._tmp, out)
        except OSError as exc:
            raise exceptions.EvidenceError(f"{out}: cannot write the evidence pack: {exc}") from exc
        self._done = True
        return PackSummary(
            path=out,
            file_count=len(entries),
            total_bytes=total,
            checksums_sha256=full_manifest["checksums_sha256"],
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            signed=key is not None,
            key_fingerprint=fp,
        )


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise exceptions.EvidenceError(f"evidence file name {name!r}: must be a non-empty string")
    bad = (
        name.startswith("/") or "\\" in name or "\0" in name or any(part in ("", ".", "..") for part in name.split("/"))
    )
    if bad:
        raise exceptions.EvidenceError(
            f"evidence file name {name!r}: use a relative POSIX path without '.', '..', '\\' or empty parts"
        )
    if name in RESERVED_NAMES:
        raise exceptions.EvidenceError(f"evidence file name {name!r} is reserved for the pack's own metadata")
    return name


def _check_files(items: list[PackFile], names: set[str], folders: dict[str, str]) -> list[PackFile]:
    """Check names and sources; ``names`` and ``folders`` (folder -> a name under it) are those already in the
    pack, and are updated."""
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise exceptions.EvidenceError(f"evidence file {item!r}: expected PackFile(name, source)")
        name = _check_name(item[0])
        if name in names:
            raise exceptions.EvidenceError(f"evidence file name {name!r} appears twice; names must be unique")
        source = item[1]
        if not isinstance(source, bytes | bytearray | memoryview):
            if not isinstance(source, os.PathLike | str):
                raise exceptions.EvidenceError(f"evidence file {name!r}: source must be a path or bytes")
            if not Path(source).is_file():
                raise exceptions.EvidenceError(f"evidence file {name!r}: source {source} is not a readable file")
        clash = folders.get(name)
        parents = [str(parent) for parent in PurePosixPath(name).parents][:-1]  # the last is "."
        clash = clash or next((parent for parent in parents if parent in names), None)
        if clash is not None:
            a, b = sorted((name, clash), key=len)
            raise exceptions.EvidenceError(f"evidence file names {a!r} and {b!r} clash: one is a folder of the other")
        names.add(name)
        for parent in parents:
            folders.setdefault(parent, name)
    return [PackFile(item[0], item[1] if isinstance(item[1], bytes) else _as_source(item[1])) for item in items]


def _as_source(source: object) -> Path | bytes:
    if isinstance(source, bytearray | memoryview):
        return bytes(source)
    return Path(source)  # type: ignore[arg-type]


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    if not isinstance(manifest, Mapping):
        raise exceptions.EvidenceError("manifest: expected a mapping of field names to JSON values")
    clash = sorted(RESERVED_MANIFEST_KEYS & set(manifest))
    if clash:
        raise exceptions.EvidenceError(f"manifest fields {clash} are set by golive; rename them")
    try:
        canonical_json(dict(manifest))
    except (TypeError, ValueError) as exc:
        raise exceptions.EvidenceError(
            f"manifest: not JSON-serialisable ({exc}); pass str, numbers, lists, dicts"
        ) from exc


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _hash_copy(read_into: Callable[[memoryview], int], write: Callable[[memoryview], Any]) -> tuple[str, int]:
    """Stream a source to a sink in CHUNK pieces, hashing each piece while it is written.

    Files of one chunk are hashed inline; from the second chunk on a helper thread hashes chunk k while
    this thread writes it and reads chunk k+1 into the other buffer.
    """
    digest = hashlib.sha256()
    buffers = _buffers()
    n = read_into(buffers[0])
    if n < CHUNK:
        chunk = buffers[0][:n]
        digest.update(chunk)
        if n:
            write(chunk)
        if not n or not read_into(buffers[1]):
            return digest.hexdigest(), n
        raise OSError("the source grew while it was being packed")
    size = 0
    turn = 0
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="golive-hash") as hasher:
        while True:
            if pending is not None:
                pending.result()
            if not n:
                break
            chunk = buffers[turn][:n]
            pending = hasher.submit(digest.update, chunk)
            write(chunk)
            size += n
            turn ^= 1
            n = read_into(buffers[turn])
    return digest.hexdigest(), size


_local = threading.local()


def _buffers() -> tuple[memoryview, memoryview]:
    """Two CHUNK-sized buffers owned by the calling thread, allocated once: evidence is often thousands
    of small files, and zeroing fresh megabytes for each would cost more than hashing them."""
    buffers: tuple[memoryview, memoryview] | None = getattr(_local, "buffers", None)
    if buffers is None or len(buffers[0]) != CHUNK:
        buffers = (memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK)))
        _local.buffers = buffers
    return buffers


def _deflate_module() -> Any:
    """zlib-ng when installed (about twice as fast at level 1, same deflate format), else zlib."""
    try:
        return importlib.import_module("zlib_ng.zlib_ng")
    except ImportError:  # pragma: no cover - zlib-ng is a dependency; this keeps odd platforms working
        return zlib


_DEFLATE = _deflate_module()


class _Prepared(NamedTuple):
    """A small member read, hashed and (when it pays) deflated ahead of being appended."""

    data: bytes
    size: int
    sha256: str
    crc: int
    deflated: bytes | None  # raw deflate stream, or None to store the data as it is


def _prepare(item: PackFile) -> _Prepared:
    data = item.source if isinstance(item.source, bytes) else item.source.read_bytes()
    deflated = None
    compressible = PurePosixPath(item.name).suffix.lower() not in COMPRESSED_SUFFIXES
    if compressible and 0 < len(data) < DEFLATE_BELOW:
        compressor = _DEFLATE.compressobj(DEFLATE_LEVEL, _DEFLATE.DEFLATED, -15)  # raw deflate, as zip wants
        deflated = compressor.compress(data) + compressor.flush()
        if len(deflated) >= len(data):
            deflated = None
    return _Prepared(data, len(data), hashlib.sha256(data).hexdigest(), zlib.crc32(data), deflated)


# The zipfile internals _ZipWriter._append relies on; without them it falls back to writestr.
_RAW_APPEND = all(hasattr(zipfile.ZipFile, name) for name in ("_writecheck", "writestr")) and hasattr(
    zipfile.ZipInfo, "FileHeader"
)


class _Writer:
    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def add_files(self, items: list[PackFile]) -> dict[str, tuple[str, int]]:
        raise NotImplementedError

    def add_meta(self, name: str, data: bytes) -> None:
        raise NotImplementedError


class _DirWriter(_Writer):
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)

    def _target(self, name: str) -> Path:
        target = self.root.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _one(self, item: PackFile) -> tuple[str, int]:
        target = self._target(item.name)
        if isinstance(item.source, bytes):
            target.write_bytes(item.source)
            return hashlib.sha256(item.source).hexdigest(), len(item.source)
        with open(item.source, "rb", buffering=0) as src, open(target, "xb", buffering=0) as dst:
            return _hash_copy(src.readinto, _write_all(dst))

    def add_files(self, items: list[PackFile]) -> dict[str, tuple[str, int]]:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="golive-pack") as pool:
            results = list(pool.map(self._one, items))
        return {item.name: result for item, result in zip(items, results, strict=True)}

    def add_meta(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)


def _write_all(handle: IO[bytes]) -> Callable[[memoryview], None]:
    def write(chunk: memoryview) -> None:
        done = 0
        while done < len(chunk):
            n = handle.write(chunk[done:])
            done += n or 0
            if not n:
                raise OSError("short write")

    return write


class _ZipWriter(_Writer):
    def __init__(self, path: Path, date_time: tuple[int, ...]) -> None:
        self.zf = zipfile.ZipFile(path, "x", allowZip64=True)
        self.date_time = date_time

    def close(self) -> None:
        self.zf.close()

    def _info(self, name: str, size: int, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        if compress:
            # Python 3.13 made the per-member level public; before it, zipfile reads the private name.
            setattr(info, "compress_level" if sys.version_info >= (3, 13) else "_compresslevel", DEFLATE_LEVEL)
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        info.file_size = size
        return info

    def _small(self, item: PackFile) -> bool:
        if isinstance(item.source, bytes):
            return True  # already in memory (any size): prepared ahead like a small file, never streamed
        return item.source.stat().st_size < DEFLATE_BELOW

    def add_files(self, items: list[PackFile]) -> dict[str, tuple[str, int]]:
        # One zip stream, so members are appended one after another in order. Small files (most
        # evidence) are read, hashed and deflated ahead on worker threads, since deflate is the slow
        # part; large files are stored and streamed here, hashed while they are written.
        entries: dict[str, tuple[str, int]] = {}
        small = [self._small(item) for item in items]
        pending: dict[int, Future[_Prepared]] = {}
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="golive-zip") as pool:
            ahead = 0
            for i, item in enumerate(items):
                while ahead < len(items) and ahead < i + LOOKAHEAD:
                    if small[ahead]:
                        pending[ahead] = pool.submit(_prepare, items[ahead])
                    ahead += 1
                if small[i]:
                    prepared = pending.pop(i).result()
                    self._append(item.name, prepared)
                    entries[item.name] = (prepared.sha256, prepared.size)
                    continue
                assert isinstance(item.source, Path)
                size = item.source.stat().st_size
                info = self._info(item.name, size, False)
                with (
                    open(item.source, "rb", buffering=0) as src,
                    self.zf.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as dst,
                ):
                    entries[item.name] = _hash_copy(src.readinto, dst.write)
        return entries

    def _append(self, name: str, prepared: _Prepared) -> None:
        info = self._info(name, prepared.size, prepared.deflated is not None)
        if prepared.deflated is None or not _RAW_APPEND:
            self.zf.writestr(info, prepared.data)
            return
        # zipfile has no public call to add data deflated elsewhere; this is what its own writer does
        # for a seekable file (ZipFile._open_to_write and _ZipWriteFile.close), for a member under 4 GiB.
        zf: Any = self.zf
        info.CRC = prepared.crc
        info.compress_size = len(prepared.deflated)
        info.flag_bits = 0
        zf.fp.seek(zf.start_dir)
        info.header_offset = zf.fp.tell()
        zf._writecheck(info)
        zf._didModify = True
        zf.fp.write(info.FileHeader(False))
        zf.fp.write(prepared.deflated)
        zf.start_dir = zf.fp.tell()
        zf.filelist.append(info)
        zf.NameToInfo[info.filename] = info

    def add_meta(self, name: str, data: bytes) -> None:
        self.zf.writestr(self._info(name, len(data), True), data)


# ---------------------------------------------------------------------------------------------------------
# Reading and verifying


class _Reader:
    def names(self) -> list[str]:
        raise NotImplementedError

    def read_meta(self, name: str) -> bytes:
        raise NotImplementedError

    def hasher(self) -> Callable[[str], tuple[str, int]]:
        """A function that hashes one member; each worker thread calls this once for its own."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class _DirReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.links: set[str] = set()

    def names(self) -> list[str]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                member = (rel / name).as_posix()
                if (Path(dirpath) / name).is_symlink():
                    self.links.add(member)
                found.append(member)
            for name in dirnames:
                if (Path(dirpath) / name).is_symlink():
                    self.links.add((rel / name).as_posix())
                    found.append((rel / name).as_posix())
        return found

    def read_meta(self, name: str) -> bytes:
        path = self.root / name
        if path.stat().st_size > MAX_META_BYTES:
            raise ValueError(f"larger than {MAX_META_BYTES} bytes")
        return path.read_bytes()

    def hasher(self) -> Callable[[str], tuple[str, int]]:
        def hash_one(name: str) -> tuple[str, int]:
            buf = _buffers()[0]
            if name in self.links:
                raise ValueError("is a symbolic link; packs hold regular files only")
            digest = hashlib.sha256()
            size = 0
            with open(self.root.joinpath(*name.split("/")), "rb", buffering=0) as handle:
                while n := handle.readinto(buf):
                    digest.update(buf[:n])
                    size += n
            return digest.hexdigest(), size

        return hash_one


class _ZipReader(_Reader):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zf = zipfile.ZipFile(path)
        self.duplicates: set[str] = set()
        self._handles: list[zipfile.ZipFile] = []

    def names(self) -> list[str]:
        seen: set[str] = set()
        out = []
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            if info.filename in seen:
                self.duplicates.add(info.filename)
                continue
            seen.add(info.filename)
            out.append(info.filename)
        return out

    def read_meta(self, name: str) -> bytes:
        if self.zf.getinfo(name).file_size > MAX_META_BYTES:
            raise ValueError(f"larger than {MAX_META_BYTES} bytes")
        return self.zf.read(name)

    def hasher(self) -> Callable[[str], tuple[str, int]]:
        zf = zipfile.ZipFile(self.path)  # one handle per thread: no shared file position
        self._handles.append(zf)

        def hash_one(name: str) -> tuple[str, int]:
            if name in self.duplicates:
                raise ValueError("appears more than once in the zip")
            digest = hashlib.sha256()
            size = 0
            with zf.open(name) as member:  # checks the CRC-32 at the end as well
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            return digest.hexdigest(), size

        return hash_one

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self.zf.close()


@contextmanager
def _open_pack(path: Path) -> Iterator[_Reader]:
    if not path.exists():
        raise exceptions.UsageError(f"{path}: no such evidence pack")
    reader: _Reader
    try:
        if path.is_dir():
            reader = _DirReader(path)
        elif zipfile.is_zipfile(path):
            reader = _ZipReader(path)
        else:
            raise exceptions.UsageError(f"{path}: not an evidence pack; give the pack's directory or its .zip file")
    except (OSError, zipfile.BadZipFile) as exc:
        raise exceptions.UsageError(f"{path}: cannot read the evidence pack: {exc}") from exc
    try:
        yield reader
    finally:
        reader.close()


_HASH_ERRORS = (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError)


def verify_pack(path: Path, pubkey: Path | None = None, attestation: Path | None = None) -> VerifyResult:
    """Check every file of a pack against checksums.json, the manifest against checksums.json, and
    the signature against ``pubkey`` when one is given.

    Valid means: nothing missing, nothing changed, nothing extra, and a signature that is not invalid
    (and, when ``pubkey`` is given, one that is present and valid). A path that is not a pack, or a
    public key that cannot be read, raises :class:`golive.exceptions.UsageError`.
    """
    path = Path(path)
    public_key = signing.load_public_key(pubkey) if pubkey is not None else None
    missing: list[str] = []
    mismatches: list[str] = []
    problems: list[str] = []
    manifest: dict[str, Any] = {}
    manifest_bytes: bytes | None = None
    with _open_pack(path) as reader:
        try:
            names = reader.names()
        except (OSError, zipfile.BadZipFile) as exc:
            raise exceptions.UsageError(f"{path}: cannot list the evidence pack: {exc}") from exc
        present = set(names)

        if MANIFEST_NAME in present:
            try:
                manifest_bytes = reader.read_meta(MANIFEST_NAME)
                loaded = json.loads(manifest_bytes)
                if not isinstance(loaded, dict):
                    raise ValueError("not a JSON object")
                manifest = loaded
            except _HASH_ERRORS as exc:
                mismatches.append(MANIFEST_NAME)
                problems.append(f"{MANIFEST_NAME} cannot be read as a JSON object: {exc}")
        else:
            missing.append(MANIFEST_NAME)
            problems.append(f"{MANIFEST_NAME} is missing")

        entries: dict[str, dict[str, Any]] = {}
        checksums_ok = False
        if CHECKSUMS_NAME in present:
            try:
                checksums_bytes = reader.read_meta(CHECKSUMS_NAME)
                entries = _parse_checksums(checksums_bytes)
                checksums_ok = True
            except _HASH_ERRORS as exc:
                mismatches.append(CHECKSUMS_NAME)
                problems.append(f"{CHECKSUMS_NAME} cannot be read: {exc}")
            if checksums_ok and manifest:
                want = manifest.get("checksums_sha256")
                if want != hashlib.sha256(checksums_bytes).hexdigest():
                    mismatches.append(CHECKSUMS_NAME)
                    problems.append(f"{CHECKSUMS_NAME} does not match the checksums_sha256 in {MANIFEST_NAME}")
        else:
            missing.append(CHECKSUMS_NAME)
            problems.append(f"{CHECKSUMS_NAME} is missing: no file in the pack can be verified")

        for name in sorted(entries):
            if name not in present:
                missing.append(name)
                problems.append(f"{name} is listed in {CHECKSUMS_NAME} but missing")
        to_hash = sorted(name for name in entries if name in present)
        with _hashing(reader, to_hash) as hashed:
            # While worker threads hash the members (hashlib releases the GIL): the chain and the signature.
            chain, chain_problems = _check_run_chain(reader, manifest, present)
            signature: SignatureStatus = "absent"
            signature_problems: list[str] = []
            if SIGNATURE_NAME in present:
                signature, note = _check_signature(reader, manifest_bytes, public_key)
                if note:
                    signature_problems.append(note)
            elif public_key is not None:
                signature_problems.append(f"a public key was given but the pack has no {SIGNATURE_NAME}")
            outcomes = hashed()
        for name, outcome in zip(to_hash, outcomes, strict=True):
            if isinstance(outcome, str):
                mismatches.append(name)
                problems.append(f"{name}: {outcome}")
                continue
            digest, size = outcome
            if digest != entries[name]["sha256"] or size != entries[name]["size"]:
                mismatches.append(name)
                problems.append(f"{name}: content differs from its sha256 in {CHECKSUMS_NAME}")
        unexpected = sorted(present - set(entries) - RESERVED_NAMES) if checksums_ok else []
        for name in unexpected:
            problems.append(f"{name} is in the pack but not in {CHECKSUMS_NAME}")
        problems += chain_problems
        problems += signature_problems

    from golive.evidence import attest

    att_status, att_problems, _statement = attest.verify_attestation(path, public_key, attestation)
    problems += att_problems
    valid = not missing and not mismatches and not unexpected and signature != "invalid" and chain != "broken"
    if public_key is not None and signature != "valid":
        valid = False
    if att_status == "invalid" or (public_key is not None and att_status == "unverified"):
        valid = False
    return VerifyResult(
        chain=chain,
        attestation=att_status,
        valid=valid,
        missing_files=tuple(missing),
        mismatches=tuple(dict.fromkeys(mismatches)),
        unexpected_files=tuple(unexpected),
        signature=signature,
        manifest=manifest,
        problems=tuple(problems),
    )


def _parse_checksums(data: bytes) -> dict[str, dict[str, Any]]:
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("algorithm") != "sha256" or not isinstance(doc.get("files"), dict):
        raise ValueError('expected {"algorithm": "sha256", "files": {...}}')
    files: dict[str, dict[str, Any]] = doc["files"]
    for name, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
            and name not in RESERVED_NAMES
        )
        if not ok:
            raise ValueError(f"entry {name!r} is malformed")
    return files


def _check_run_chain(reader: _Reader, manifest: dict[str, Any], present: set[str]) -> tuple[ChainStatus, list[str]]:
    """A run pack's own chain: checksums can be recomputed by whoever edits the pack, the chain cannot."""
    run_pack = manifest.get("run_id") is not None and (
        manifest.get("head_hash") is not None or manifest.get("chain_verified") is not None
    )
    if not run_pack:
        return "absent", []
    if RUN_EVENTS_NAME not in present:
        return "broken", [f"{RUN_EVENTS_NAME} is missing: the run's chain cannot be checked"]
    from golive.evidence import anchor

    runbook_name = str(manifest.get("runbook_file") or "runbook.yaml")
    try:
        events_bytes = reader.read_meta(RUN_EVENTS_NAME)
        runbook_bytes = reader.read_meta(runbook_name) if runbook_name in present else None
        chain_problems = anchor.check_pack_chain(events_bytes, manifest, runbook_bytes)
    except _HASH_ERRORS as exc:
        chain_problems = [f"{RUN_EVENTS_NAME} cannot be read: {exc}"]
    return ("broken" if chain_problems else "valid"), chain_problems


@contextmanager
def _hashing(reader: _Reader, names: list[str]) -> Iterator[Callable[[], list[tuple[str, int] | str]]]:
    """Hash the members on worker threads from entry on; the function yielded waits for them and gives
    (sha256, size) of each member, or the reason it could not be read, in the order given."""
    results: list[tuple[str, int] | str] = [""] * len(names)
    if not names:
        yield lambda: results
        return
    workers = min(WORKERS, len(names))
    # Each worker pulls the next index from one shared iterator (advancing it is atomic under the GIL),
    # so a few large files do not leave one worker idle while the other has a queue.
    order = iter(range(len(names)))

    def work(hash_one: Callable[[str], tuple[str, int]]) -> None:
        for i in order:
            try:
                results[i] = hash_one(names[i])
            except _HASH_ERRORS as exc:
                results[i] = f"cannot be read: {exc}"

    hashers = [reader.hasher() for _ in range(workers)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="golive-verify") as pool:
        futures = [pool.submit(work, h) for h in hashers]

        def wait() -> list[tuple[str, int] | str]:
            for future in futures:
                future.result()
            return results

        yield wait


def _check_signature(reader: _Reader, manifest_bytes: bytes | None, public_key: Any) -> tuple[SignatureStatus, str]:
    try:
        doc = json.loads(reader.read_meta(SIGNATURE_NAME))
        signature = bytes.fromhex(doc["signature"])
        fp = doc["public_key_fingerprint"]
        if doc.get("algorithm") != "ed25519" or not isinstance(fp, str):
            raise ValueError("expected algorithm ed25519")
    except (*_HASH_ERRORS, TypeError) as exc:
        return "invalid", f"{SIGNATURE_NAME} is malformed: {exc}"
    if public_key is None:
        return "unverified", f"signed by {fp}; pass --pubkey to verify the signature"
    if manifest_bytes is None:
        return "invalid", f"{SIGNATURE_NAME} is present but {MANIFEST_NAME} cannot be read"
    if fp != signing.fingerprint(public_key):
        return "invalid", f"signed by {fp}, not by the given public key {signing.fingerprint(public_key)}"
    try:
        public_key.verify(signature, manifest_bytes)
    except Exception:  # cryptography raises InvalidSignature; any failure is a failed check
        return "invalid", f"the signature does not match {MANIFEST_NAME}"
    return "valid", ""
