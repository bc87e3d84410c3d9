"""Reading logs from the end: the last matching line, and timestamps in it.

Logs are read backwards in blocks, so finding the last success in a multi-gigabyte file costs as much
as the lines after it, not the whole file. ``max_bytes`` bounds how far back a read goes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from golive import patterns
from golive.plugins import _util, base
from golive.spec import codecheck

__all__ = ["ISO_TIMESTAMP", "LogSourceParams", "find_timestamp", "reverse_lines"]

BLOCK = 64 * 1024  # bytes read per step backwards
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # bytes; how far back from the end a log is read at most

# ISO 8601 date-time as logs write it: `2026-01-30T14:05:09Z`, `2026-01-30 14:05:09,123+01:00`.
ISO_TIMESTAMP = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"


def reverse_lines(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[str]:
    """Lines of a text file from the last to the first (at most ``max_bytes`` from the end)."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        floor = max(0, end - max_bytes)
        pos = end
        rest = b""
        while pos > floor:
            size = min(BLOCK, pos - floor)
            pos -= size
            fh.seek(pos)
            block = fh.read(size) + rest
            lines = block.split(b"\n")
            rest = lines[0]  # may be the tail of a line that starts in an earlier block
            for raw in reversed(lines[1:]):
                if raw:
                    yield raw.decode("utf-8", "replace").rstrip("\r")
        if rest:
            yield rest.decode("utf-8", "replace").rstrip("\r")


class LogSourceParams(base.Params):
    """Where log lines come from and how their timestamps read."""

    path: str | None = Field(default=None, description="Log file to read (from the end).")
    command: str | list[str] | None = Field(
        default=None,
        description="Or: a command whose stdout is the log (e.g. `aws logs tail ...`).",
        json_schema_extra=codecheck.code_field("argv"),
    )
    pattern: str = Field(
        description="Regex a line must match, e.g. `token refresh succeeded`.",
        min_length=1,
        json_schema_extra=codecheck.code_field("regex"),
    )
    timestamp_regex: str = Field(
        default=ISO_TIMESTAMP,
        json_schema_extra=codecheck.code_field("regex"),
        description="Regex that finds the timestamp in a line; its group `ts` (or the whole match) is parsed.",
    )
    timestamp_format: str | None = Field(
        default=None, description="strptime format of the timestamp (default: ISO 8601). Naive times are UTC."
    )
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0, description="Read at most this many bytes from the end.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit for `command`.")

    @model_validator(mode="after")
    def _one_source(self) -> LogSourceParams:
        if (self.path is None) == (self.command is None):
            raise ValueError("give exactly one of `path` or `command`")
        return self

    @field_validator("pattern", "timestamp_regex")
    @classmethod
    def _regex(cls, v: str) -> str:
        patterns.check(v)  # a PatternError is a ValueError: reported with file:line
        return v


def find_timestamp(line: str, regex: Any, fmt: str | None) -> datetime | None:
    """The timestamp in ``line``, or None if there is none that parses."""
    m = regex.search(line)
    if m is None:
        return None
    text = m.group("ts") if "ts" in regex.groupindex else m.group(0)
    try:
        return _util.parse_timestamp(text.replace(",", "."), fmt)
    except ValueError:
        return None
