"""Evidence: redaction (:mod:`.redact`), packs and their verification (:mod:`.pack`), signatures
(:mod:`.signing`) and the pack of a whole run (:mod:`.runpack`)."""

from __future__ import annotations

__all__: list[str] = []
