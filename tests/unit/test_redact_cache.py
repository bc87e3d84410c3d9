"""The compiled pattern database cached on disk: used only when whole, private and made from these rules."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from golive import redact

pytestmark = pytest.mark.skipif(not redact.HYPERSCAN_AVAILABLE, reason="hyperscan is not importable here")
TEXT = "card 4111 1111 1111 1111, mail ann@example.com, pw=SqlOutPassw0rd, +1-713-463-0759"
EXPECTED = "card <card:1>, mail <email:1>, pw=<secret:1>, <phone:1>"


LIBRARIES = ["native", "hyperscan"] if redact.NATIVE_AVAILABLE else ["hyperscan"]


@pytest.fixture(params=LIBRARIES, autouse=True)
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with the C module's database and with python-hyperscan's (each cached under its own name)."""
    if request.param == "hyperscan":
        monkeypatch.setattr(redact, "_native", None)
    return str(request.param)


def _count_compiles(library: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    compiled: list[int] = []
    if library == "native":
        real_native = redact._native_compile

        def counting_native(*args: Any) -> Any:
            compiled.append(1)
            return real_native(*args)

        monkeypatch.setattr(redact, "_native_compile", counting_native)
        return compiled
    real = redact._hs.Database

    def counting(*args: object, **kwargs: object) -> object:
        compiled.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(redact._hs, "Database", counting)
    return compiled


def _key_and_loader(library: str, rules: list[Any]) -> tuple[str | None, Any]:
    if library == "native":
        return redact._db_key(rules, redact._native_library()), redact._native_loader(rules)
    return redact._db_key(rules), redact._hs_loadb


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache directory, and no database compiled earlier in this process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(redact.CACHE_ENV, str(folder))
    monkeypatch.setattr(redact, "_STATIC_CACHE", {})
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("redact-*.hsdb"))


def _forget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_STATIC_CACHE", {})


def test_the_first_build_writes_the_database_and_the_next_process_loads_it(
    cache: Path, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    """One private file, named by its own SHA-256; a new build loads it instead of compiling."""
    assert redact.Redactor().redact(TEXT) == EXPECTED
    (path,) = _files(cache)
    assert path.stat().st_mode & 0o777 == 0o600
    assert cache.stat().st_mode & 0o077 == 0
    _forget(monkeypatch)
    compiled = _count_compiles(library, monkeypatch)
    assert redact.Redactor().redact(TEXT) == EXPECTED
    assert compiled == []  # loaded, not compiled
    assert redact.Redactor(redact_ips=True).redact("from 10.1.2.3") == "from <ip:1>"
    assert compiled == [1]  # other rules, another database
    assert len(_files(cache)) == 2


def test_an_altered_database_is_not_loaded(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose bytes no longer match the digest in its name is ignored: golive compiles again."""
    redact.Redactor()
    (path,) = _files(cache)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _forget(monkeypatch)
    assert redact.Redactor().redact(TEXT) == EXPECTED
    (again,) = _files(cache)  # compiled again, and written over the damaged file
    assert again.name == path.name
    assert again.read_bytes() != bytes(data)
    assert again.name.endswith(hashlib.sha256(again.read_bytes()).hexdigest() + ".hsdb")


def test_a_database_others_may_write_is_not_loaded(cache: Path, library: str) -> None:
    """A cache file (or directory) writable by the group or others is not trusted."""
    redact.Redactor()
    (path,) = _files(cache)
    os.chmod(path, 0o664)
    rules = redact._static_rules(False, ())[0].rules
    key, load = _key_and_loader(library, rules)
    assert key is not None
    assert redact._load_db(key, load) is None
    os.chmod(path, 0o600)
    assert redact._load_db(key, load) is not None
    os.chmod(cache, 0o777)
    assert redact._load_db(key, load) is None


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GOLIVE_REDACT_CACHE=off: nothing is read or written."""
    monkeypatch.setenv(redact.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(redact, "_STATIC_CACHE", {})
    assert redact.Redactor().redact(TEXT) == EXPECTED
    assert not list(tmp_path.rglob("*.hsdb"))
