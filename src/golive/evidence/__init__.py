"""Evidence: packs and their verification (:mod:`.pack`), signatures (:mod:`.signing`), attestations
(:mod:`.attest`), anchors (:mod:`.anchor`) and the pack of a whole run (:mod:`.runpack`). Redaction is
:mod:`golive.redact`."""

from __future__ import annotations

__all__: list[str] = []
