"""Secrets from the environment and from files (mounted secrets, .env files, JSON/YAML)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from golive import exceptions
from golive.plugins import _util, base

__all__ = ["EnvSecretOptions", "EnvSecrets", "FileSecretOptions", "FileSecrets", "parse_dotenv", "pick_key"]


def pick_key(doc: Any, key: str, label: str) -> str:
    """``doc[key]`` (dotted keys go deeper) as text; :class:`SecretMissing` names the keys there are."""
    cur = doc
    for part in key.split("."):
        if not isinstance(cur, dict):
            raise _util.SecretMissing(f"{label} is not a JSON/YAML object, so it has no key {key!r}")
        if part not in cur:
            keys = ", ".join(sorted(str(k) for k in cur)) or "none"
            raise _util.SecretMissing(f"{label} has no key {key!r} (keys: {keys})")
        cur = cur[part]
    if isinstance(cur, dict | list):
        return json.dumps(cur)
    return "" if cur is None else str(cur)


class EnvSecretOptions(base.SecretRefParams):
    """Options of the env provider."""

    prefix: str = Field(default="", description="Prepended to the secret id to make the variable name.")
    upper_snake: bool = Field(
        default=False, description="Turn ids like `rp-mw/prod/api_key` into `RP_MW_PROD_API_KEY`."
    )


class EnvSecrets(base.SecretProvider):
    """Secrets from environment variables; with ``key``, the variable holds a JSON object."""

    name = "env"
    params = EnvSecretOptions
    description = "Environment variables (optionally JSON objects with keys)."

    def variable(self, secret_id: str) -> str:
        opts: EnvSecretOptions = self.options  # type: ignore[assignment]
        name = opts.prefix + secret_id
        if opts.upper_snake:
            name = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
        return name

    async def resolve(self, secret_id: str, key: str | None = None) -> str:
        var = self.variable(secret_id)
        value = os.environ.get(var)
        if value is None:
            raise _util.SecretMissing(f"environment variable {var} is not set")
        if key is None:
            return value
        try:
            doc = json.loads(value)
        except ValueError:
            raise _util.SecretMissing(f"{var} is not a JSON object, so it has no key {key!r}") from None
        return pick_key(doc, key, var)


FileFormat = Literal["auto", "raw", "json", "yaml", "dotenv"]


class FileSecretOptions(base.SecretRefParams):
    """Options of the file provider."""

    dir: str | None = Field(default=None, description="Directory the secret ids are relative to.")
    format: FileFormat = Field(
        default="auto", description="raw, json, yaml or dotenv; auto picks by suffix (.json, .yaml/.yml, .env)."
    )
    strip: bool = Field(default=True, description="Strip surrounding whitespace (the trailing newline) of raw files.")


_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=value`` lines; quotes removed, ``#`` comments and blank lines skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _DOTENV_LINE.match(line)
        if m is None:
            continue
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[m.group(1)] = value
    return out


class FileSecrets(base.SecretProvider):
    """Secrets from files: the whole file, or a key in a JSON, YAML or dotenv file."""

    name = "file"
    params = FileSecretOptions
    description = "Files: raw content, or a key in a JSON/YAML/dotenv file."

    def _path(self, secret_id: str) -> Path:
        opts: FileSecretOptions = self.options  # type: ignore[assignment]
        p = Path(secret_id).expanduser()
        if opts.dir and not p.is_absolute():
            p = Path(opts.dir).expanduser() / p
        return p

    def _format(self, path: Path) -> FileFormat:
        opts: FileSecretOptions = self.options  # type: ignore[assignment]
        if opts.format != "auto":
            return opts.format
        suffix = path.suffix.lower()
        if suffix == ".json":
            return "json"
        if suffix in (".yaml", ".yml"):
            return "yaml"
        if suffix == ".env" or path.name == ".env":
            return "dotenv"
        return "raw"

    async def resolve(self, secret_id: str, key: str | None = None) -> str:
        import asyncio  # imported when a secret is read, not when a runbook naming one is validated

        path = self._path(secret_id)
        try:
            text = await asyncio.to_thread(path.read_text, "utf-8")
        except FileNotFoundError:
            raise _util.SecretMissing(f"file {str(path)!r} does not exist") from None
        except OSError as exc:
            raise exceptions.SecretError(f"cannot read {str(path)!r}: {exc.strerror}") from None
        fmt = self._format(path)
        if fmt == "raw":
            if key is not None:
                raise exceptions.SecretError(f"{str(path)!r} is a raw secret file; it has no key {key!r}")
            opts: FileSecretOptions = self.options  # type: ignore[assignment]
            return text.strip() if opts.strip else text
        try:
            if fmt == "json":
                doc: Any = json.loads(text)
            elif fmt == "yaml":
                doc = yaml.safe_load(text)
            else:
                doc = parse_dotenv(text)
        except (ValueError, yaml.YAMLError):
            raise exceptions.SecretError(f"{str(path)!r} is not valid {fmt}") from None
        if key is None:
            if isinstance(doc, dict) and len(doc) == 1:
                return pick_key(doc, next(iter(doc)), str(path))
            raise exceptions.SecretError(f"{str(path)!r} holds several values; name one with `key`")
        return pick_key(doc, key, repr(str(path)))
