"""The summary of a finished run, kept in the store so that ``golive status`` reads it without the runbook.

``golive status`` of a finished run used to spend most of its time importing what it needed to build the
summary (pydantic and the runbook models, the engine): about 0.2 s of a 0.33 s call, at any length. The
summary (:func:`golive.views.summary.summarize`) is a function of the run's events, its runbook and the code,
so it is kept as one more snapshot (docs/store.md, "Snapshots") beside the folded state:

- its kind names a digest of the code that shapes it (golive's version and the sources of ``golive.engine``,
  ``golive.spec``, ``golive.views`` and ``golive.results``), the runbook's digest and the run's parameters,
  so a summary made by other code, or for another runbook text or other variables, is never read back;
- like every snapshot it carries the seq and head hash it was made at, and the store discards it when the
  event at that seq no longer has that hash;
- it is read back only when that seq is still the run's last event: a summary of an earlier head is never
  shown (the run went on, or was reopened);
- it is kept only for a finished run (a running one's head moves at every step), best effort: a store that
  refuses the write (read-only) costs the next call the slow path, nothing else.

Reading a kept summary imports neither the engine nor the models; making one does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

from golive import exceptions
from golive.store import base as store_base

if TYPE_CHECKING:
    from golive.views.model import Summary

__all__ = ["KIND_PREFIX", "cached_summary", "keep_finished", "keep_summary", "summary_kind"]

log = logging.getLogger(__name__)

KIND_PREFIX = "summary/"

# What shapes a summary: the fold and the event payloads (engine), the runbook models and loader (spec), the
# summary itself (views) and the outcomes (results).
_SHAPING = ("engine", "spec", "views")


@functools.cache
def code_digest() -> str:
    """Digest of golive's version and of the sources that shape a summary."""
    from golive import __version__

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(__version__.encode())
    paths = [root / "results.py"] + [p for d in _SHAPING for p in sorted((root / d).glob("*.py"))]
    for path in paths:
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def summary_kind(record: store_base.RunRecord) -> str:
    """The snapshot kind of the summary of the run ``record``, by this code."""
    key = f"{code_digest()}\0{record.runbook_digest}\0{store_base.canonical_json(record.params)}"
    return KIND_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:40]


async def cached_summary(store: store_base.Store, record: store_base.RunRecord) -> Summary | None:
    """The run's kept summary when it was made by this code at the run's current last event; else None."""
    try:
        snap = await store.get_snapshot(record.run_id, summary_kind(record))
        if snap is None or snap.seq != await store.last_seq(record.run_id):
            return None
        data = json.loads(snap.data)
    except (exceptions.StoreError, ValueError, TypeError):
        return None
    return cast("Summary", data) if isinstance(data, dict) else None


async def keep_summary(
    store: store_base.Store, record: store_base.RunRecord, seq: int, head_hash: str, data: Summary
) -> None:
    """Keep ``data``, the summary of the run at event ``seq`` (hash ``head_hash``), best effort."""
    try:
        # As ``golive status --json`` prints it (values JSON has no type for become strings).
        text = json.dumps(data, default=str, ensure_ascii=False)
        await store.put_snapshot(record.run_id, summary_kind(record), store_base.Snapshot(seq, head_hash, text))
    except (exceptions.StoreError, ValueError, TypeError) as exc:
        log.debug("run %s: summary not kept: %s", record.run_id, exc)


async def keep_finished(store: store_base.Store, run_id: str) -> None:
    """Keep the summary of ``run_id`` when it is finished, made as ``golive status`` makes it (from the run
    as the store has it, so from the stored, redacted runbook): called when a run ends, so that even the
    first ``golive status`` after it reads the kept one."""
    from golive.engine import acts
    from golive.views import summary

    try:
        handle = await acts.open_run(store, run_id)
    except exceptions.GoliveError as exc:
        log.debug("run %s: summary not kept: %s", run_id, exc)
        return
    if handle.state.final:
        st = handle.state
        await keep_summary(store, handle.record, st.last_seq, st.head_hash, summary.summarize(handle))
