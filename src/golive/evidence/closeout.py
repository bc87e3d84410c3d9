"""Close a finished run's change record with what the run recorded: its outcome, its decision and the digest
of its evidence pack (``golive close-change RUN --pack PACK``).

The change system, the record and the credentials come from the run's own ``change-record`` step (rendered
as the run rendered it: vars, secrets); the pack is verified and must be the pack of this run. The close is
the ``change-close`` action (:mod:`golive.plugins.actions.change`), so it reads the record back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from golive import clock as clock_mod
from golive import exceptions, results
from golive.engine import acts, runner
from golive.engine import state as state_mod
from golive.evidence import pack as pack_mod
from golive.spec import models
from golive.store import base as store_base

__all__ = ["close_change", "decision_text", "pack_digest"]

CONNECTION = ("system", "url", "record", "username", "password", "bearer", "timeout", "verify_tls", "ca_file")


def pack_digest(path: Path) -> str:
    """SHA-256 of a zip pack, or of a directory pack's checksums.json (which names every file's digest)."""
    target = path / "checksums.json" if path.is_dir() else path
    h = hashlib.sha256()
    with target.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decision_text(state: state_mod.RunState) -> str:
    """``GO by Ana Ruiz at 2026-...`` from the run's last decision, or what decided the run without one."""
    d = state.decision
    if not d:
        return "no GO/NO-GO decision step: the outcome follows from the steps"
    what = str(d.get("decision") or "").upper()
    by = "the deadline's default" if d.get("by") == "deadline" else d.get("by")
    reason = f" ({d['reason']})" if d.get("reason") else ""
    return f"{what} by {by} at {d.get('at')}{reason}"


def _change_step(runbook: models.Runbook, step_id: str | None) -> models.Step:
    found = [s for _, s in runbook.all_steps() if s.kind is models.StepKind.CHECK and s.type == "change-record"]
    if step_id is not None:
        for s in found:
            if s.id == step_id:
                return s
        raise exceptions.UsageError(f"--step {step_id}: not a change-record check of this runbook")
    if len(found) != 1:
        names = ", ".join(s.id for s in found) or "none"
        raise exceptions.UsageError(
            f"the runbook has {len(found)} change-record checks ({names}); name the record's with --step"
        )
    return found[0]


async def close_change(
    store: store_base.Store,
    run_id: str,
    pack: Path,
    *,
    step_id: str | None = None,
    transition: str | None = None,
    clock: clock_mod.Clock | None = None,
) -> results.Result:
    """Close the change record of finished run ``run_id`` with its outcome, decision and ``pack``'s digest."""
    from golive.plugins.actions.change import ChangeCloseAction, ChangeCloseParams

    h = await acts.open_run(store, run_id, snapshot=False)  # evidence: the fold of the log itself
    if not h.state.final:
        raise exceptions.UsageError(f"run {h.run_id} has not finished; close its change once it has")
    step = _change_step(h.runbook, step_id)
    verdict = pack_mod.verify_pack(pack)
    if not verdict.valid:
        raise exceptions.UsageError(f"{pack}: the evidence pack does not verify ({'; '.join(verdict.problems)})")
    if verdict.manifest.get("run_id") != h.run_id:
        raise exceptions.UsageError(f"{pack} is the pack of run {verdict.manifest.get('run_id')}, not of {h.run_id}")
    engine = runner.Engine(h, clock=clock)
    try:
        rendered: dict[str, Any] = await engine.ctx.render(dict(step.with_))
        params = {k: v for k, v in rendered.items() if k in CONNECTION}
        status = h.state.status
        params.update(
            outcome=status.value.upper(),
            successful=status is state_mod.RunStatus.PASSED,
            decision=decision_text(h.state),
            evidence_digest=pack_digest(pack),
            notes=f"golive run {h.run_id} of {h.runbook.name}; evidence pack {pack.name}",
        )
        if transition:
            params["close_transition"] = transition
        model = ChangeCloseParams.model_validate(params)
        return await ChangeCloseAction().run(engine.ctx.step_context(step, model))
    finally:
        await engine.aclose()
