"""``golive demo``: start the demo service, run the demo runbook end to end, show where everything is.

The incident commander here is an automated stand-in, named ``demo-ic (automated)`` in every event so that
nobody mistakes it for a person: it decides GO when the rules allow it and otherwise tries GO (and is
refused, as anyone would be) and records NO-GO.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from golive import exceptions

__all__ = ["DEMO_IC", "DemoResult", "find_runbook", "run_demo"]

DEMO_IC = "demo-ic (automated)"
DEMO_PEOPLE = {"ic": DEMO_IC, "deployer": "demo-deployer (automated)", "observer": "demo-observer (automated)"}
TRAFFIC_INTERVAL = 0.05  # seconds between the traffic generator's requests
TRAFFIC_MAX_REQUESTS = 20_000  # hard bound on the generator, whatever happens
IC_THINK_TIME = 1.0  # seconds the stand-in IC waits before deciding, so the pending decision is visible


def find_runbook() -> Path:
    """The demo runbook: inside the installed package, or in the repository's examples/."""
    packaged = resources.files("golive.demo").joinpath("demo-cutover.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[3] / "examples" / "demo-cutover.yaml"
    if repo.is_file():
        return repo
    raise exceptions.UsageError("the demo runbook is missing; pass --runbook examples/demo-cutover.yaml")


@dataclass
class DemoResult:
    run_id: str
    status: str
    verdict: str
    reason: str
    workdir: Path
    flags: dict[str, Any] = field(default_factory=dict)
    report_md: Path | None = None
    report_html: Path | None = None
    pack: Path | None = None
    refused: list[str] = field(default_factory=list)


class _Traffic:
    """Customer traffic against the demo service, so its metrics move. Bounded in count and time."""

    def __init__(self, base_url: str, seconds: float) -> None:
        self.url = base_url + "/api/orders"
        self.deadline = time.monotonic() + seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="golive-demo-traffic", daemon=True)

    def _loop(self) -> None:
        for _ in range(TRAFFIC_MAX_REQUESTS):
            if self._stop.is_set() or time.monotonic() > self.deadline:
                return
            with contextlib.suppress(Exception):
                urllib.request.urlopen(self.url, timeout=2).read()
            self._stop.wait(TRAFFIC_INTERVAL)

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def _auto_ic(handle: Any, refused: list[str]) -> None:
    """The stand-in IC: decide each pending decision as the rules allow."""
    from golive.engine import acts

    decided: set[str] = set()
    while True:
        await asyncio.sleep(0.2)
        await handle.refresh()
        for s in list(handle.state.waiting):
            if s.waiting_for not in ("decision", "pause") or s.id in decided:
                continue
            await asyncio.sleep(IC_THINK_TIME)
            step = handle.runbook.step(s.id)
            try:
                await acts.decide(handle, "go", DEMO_IC, "demo: every requirement passed", step_id=s.id)
            except exceptions.RuleRefused as exc:
                refused.append(exc.message)
                await acts.decide(handle, "no-go", DEMO_IC, f"demo: {exc.message}", step_id=step.id if step else None)
            decided.add(s.id)


async def run_demo(
    *,
    fault: str = "none",
    workdir: Path,
    db_url: str | None = None,
    runbook: Path | None = None,
    quiet: bool = False,
    drive: Any = None,
) -> DemoResult:
    """Start the service, run the runbook with the stand-in people, then hypercare, report and pack."""
    from golive.demo.service import DemoService
    from golive.engine import acts, runner, summary
    from golive.spec import loader
    from golive.store import open_store

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    flags = workdir / "demo-flags.json"
    flags.unlink(missing_ok=True)
    with DemoService(flags, fault=fault) as svc:
        loaded = loader.load(
            runbook or find_runbook(),
            var_overrides={
                "base_url": svc.url,
                "flags_file": str(flags),
                "backup_file": str(workdir / "demo-backup.json"),
            },
        )
        store = open_store(db_url)
        await store.open()
        refused: list[str] = []
        try:
            with _Traffic(svc.url, seconds=150):
                handle = await runner.create_run(store, loaded, mode="live", roles=dict(DEMO_PEOPLE))
                ic = asyncio.create_task(_auto_ic(handle, refused))
                try:
                    if drive is not None:
                        await drive(store, handle)
                    else:
                        await runner.Engine(handle).run()
                finally:
                    ic.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ic
                await handle.refresh()
                if handle.state.status.value == "passed":
                    await _hypercare(store, handle, workdir)
                    await acts.signoff(handle, "engineering", DEMO_IC, "demo: cutover complete, hypercare clean")
            result = DemoResult(
                run_id=handle.run_id,
                status=summary.summarize(handle)["status_label"],
                verdict=summary.verdict(handle),
                reason=handle.state.reason,
                workdir=workdir,
                flags=svc.state.flags(),
                refused=refused,
            )
            await _outputs(store, handle, result)
        finally:
            await store.close()
    return result


async def _hypercare(store: Any, handle: Any, workdir: Path) -> None:
    """A short hypercare on the demo's compressed schedule, through the same code as `golive hypercare`."""
    from golive.watch import service

    await service.run_hypercare(store, handle.run_id, workdir / "hypercare")
    await handle.refresh()


async def _outputs(store: Any, handle: Any, result: DemoResult) -> None:
    """Write the Markdown and HTML reports and the evidence pack, where those exist in this build."""
    from golive.engine import summary
    from golive.report import formats

    data = summary.summarize(handle)
    md = result.workdir / "report.md"
    md.write_text(formats.to_markdown(data), encoding="utf-8")
    result.report_md = md
    with contextlib.suppress(ImportError):
        from golive.report import html

        page = result.workdir / "report.html"
        page.write_text(await html.render_run(handle, data), encoding="utf-8")
        result.report_html = page
    with contextlib.suppress(ImportError):
        from golive.evidence import runpack

        out = result.workdir / f"evidence-{handle.run_id}.zip"
        await runpack.pack_run(store, handle.run_id, out)
        result.pack = out
