"""Flags kept in files: dotenv, JSON or YAML (dotted key paths), and flagd flag definitions.

Every write is read-modify-write under a per-file lock and lands atomically (temp file + rename), so a
service reading the file sees the old or the new flags, never half a file.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field

from golive import exceptions
from golive.plugins import _util, base
from golive.plugins.secrets.local import parse_dotenv

__all__ = ["DotenvFlags", "FileFlagOptions", "FlagdFlags", "JsonFlags", "YamlFlags"]

# One lock per event loop and resolved path, shared by every provider instance: an asyncio.Lock is
# bound to the loop that first waits on it, and tests run many loops in one process.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(path: Path) -> asyncio.Lock:
    per_loop = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    key = path.resolve()
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


class FileFlagOptions(base.Params):
    """Options of a file-backed flag provider."""

    path: str = Field(description="The flag file.", min_length=1)
    create: bool = Field(default=False, description="Create the file when it does not exist yet.")


class _FileFlags(base.FlagProvider):
    """Shared read/modify/write of a file-backed provider."""

    kind_label: ClassVar[str] = "file"

    @property
    def path(self) -> Path:
        opts: FileFlagOptions = self.options  # type: ignore[assignment]
        return Path(opts.path).expanduser()

    def _read_text(self) -> str:
        opts: FileFlagOptions = self.options  # type: ignore[assignment]
        try:
            return self.path.read_text("utf-8")
        except FileNotFoundError:
            if opts.create:
                return ""
            raise exceptions.PluginError(f"flag file {str(self.path)!r} does not exist") from None
        except OSError as exc:
            raise exceptions.PluginError(f"cannot read flag file {str(self.path)!r}: {exc.strerror}") from None

    async def _modify(self, change: Any) -> None:
        async with _lock(self.path):
            text = await asyncio.to_thread(self._read_text)
            new_text = change(text)
            await asyncio.to_thread(_util.atomic_write, self.path, new_text)


def render_scalar(value: Any) -> str:
    """A flag value as a dotenv file writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    text = str(value)
    if re.search(r"[\s#'\"]", text):
        return json.dumps(text)
    return text


class DotenvFlags(_FileFlags):
    """Flags as ``NAME=value`` lines of a dotenv file (other lines and comments are kept)."""

    name = "dotenv"
    params = FileFlagOptions
    description = "A dotenv file (NAME=value lines); values read back as text."

    async def get(self, name: str) -> Any:
        text = await asyncio.to_thread(self._read_text)
        return parse_dotenv(text).get(name)

    async def set(self, name: str, value: Any) -> None:
        line = f"{name}={render_scalar(value)}"
        pattern = re.compile(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=")

        def change(text: str) -> str:
            lines = text.splitlines()
            for i, existing in enumerate(lines):
                if pattern.match(existing):
                    lines[i] = line
                    break
            else:
                lines.append(line)
            return "\n".join(lines) + "\n"

        await self._modify(change)


def _dig(doc: Any, dotted: str) -> Any:
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if nxt is None:
            nxt = cur[part] = {}
        if not isinstance(nxt, dict):
            raise exceptions.PluginError(f"cannot set {dotted}: {part} is a {type(nxt).__name__}, not an object")
        cur = nxt
    cur[parts[-1]] = value


class JsonFlags(_FileFlags):
    """Flags at dotted key paths of a JSON file (``features.outbound.enabled``)."""

    name = "json"
    params = FileFlagOptions
    description = "A JSON file; flag names are dotted key paths."

    def load(self, text: str) -> dict[str, Any]:
        if not text.strip():
            return {}
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise exceptions.PluginError(f"flag file {str(self.path)!r} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise exceptions.PluginError(f"flag file {str(self.path)!r} must hold an object")
        return doc

    def dump(self, doc: dict[str, Any]) -> str:
        return json.dumps(doc, indent=2) + "\n"

    async def get(self, name: str) -> Any:
        text = await asyncio.to_thread(self._read_text)
        return _dig(self.load(text), name)

    async def set(self, name: str, value: Any) -> None:
        def change(text: str) -> str:
            doc = self.load(text)
            _put(doc, name, value)
            return self.dump(doc)

        await self._modify(change)


class YamlFlags(JsonFlags):
    """Flags at dotted key paths of a YAML file (comments are not kept on write)."""

    name = "yaml"
    params = FileFlagOptions
    description = "A YAML file; flag names are dotted key paths."

    def load(self, text: str) -> dict[str, Any]:
        try:
            doc = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            raise exceptions.PluginError(f"flag file {str(self.path)!r} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise exceptions.PluginError(f"flag file {str(self.path)!r} must hold a mapping")
        return doc

    def dump(self, doc: dict[str, Any]) -> str:
        return str(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))


class FlagdFlags(JsonFlags):
    """A flagd flag definition file: ``flags.<name>.defaultVariant`` chooses among ``variants``.

    ``get`` answers the default variant's value (``None`` when the flag is DISABLED); ``set`` makes the
    variant whose value equals the new value the default (or the variant of that name), and ENABLED.
    """

    name = "flagd"
    params = FileFlagOptions
    description = "A flagd flag file (flags.<name>.state / variants / defaultVariant)."

    def _flag(self, doc: dict[str, Any], name: str) -> dict[str, Any]:
        flags = doc.get("flags")
        if not isinstance(flags, dict) or not isinstance(flags.get(name), dict):
            raise exceptions.PluginError(f"flag {name!r} is not defined in {str(self.path)!r}")
        flag: dict[str, Any] = flags[name]
        if not isinstance(flag.get("variants"), dict):
            raise exceptions.PluginError(f"flag {name!r} in {str(self.path)!r} has no variants")
        return flag

    async def get(self, name: str) -> Any:
        text = await asyncio.to_thread(self._read_text)
        flag = self._flag(self.load(text), name)
        if flag.get("state", "ENABLED") != "ENABLED":
            return None
        return flag["variants"].get(flag.get("defaultVariant"))

    async def set(self, name: str, value: Any) -> None:
        def change(text: str) -> str:
            doc = self.load(text)
            flag = self._flag(doc, name)
            variants: dict[str, Any] = flag["variants"]
            chosen = next((k for k, v in variants.items() if _util.same(v, value)), None)
            if chosen is None and isinstance(value, str) and value in variants:
                chosen = value
            if chosen is None:
                shown = ", ".join(f"{k}={_util.fmt(v)}" for k, v in variants.items())
                raise exceptions.PluginError(
                    f"flag {name!r} has no variant with value {_util.fmt(value)} (variants: {shown})"
                )
            flag["defaultVariant"] = chosen
            flag["state"] = "ENABLED"
            return self.dump(doc)

        await self._modify(change)
