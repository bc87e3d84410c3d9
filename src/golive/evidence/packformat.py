"""What an evidence pack is made of: its format name, the names of its metadata members, and the one byte form
its JSON metadata is written in. Shared by the pack writer and verifier, attestations and run packs.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "CHECKSUMS_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "RESERVED_NAMES",
    "RUN_EVENTS_NAME",
    "SIGNATURE_NAME",
    "canonical_json",
]

FORMAT = "golive-evidence"
FORMAT_VERSION = 1
CHECKSUMS_NAME = "checksums.json"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
RESERVED_NAMES = frozenset({CHECKSUMS_NAME, MANIFEST_NAME, SIGNATURE_NAME})
RUN_EVENTS_NAME = "events.jsonl"  # a run pack's events, whose chain verify_pack re-checks


def canonical_json(obj: Any) -> bytes:
    """The one byte form golive writes JSON metadata in: UTF-8, sorted keys, two-space indent, newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()
