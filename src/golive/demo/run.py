"""``golive demo``: start the demo service, run the demo runbook end to end, show where everything is.

The incident commander here is an automated stand-in, named ``demo-ic (automated)`` in every event so that
nobody mistakes it for a person: it decides GO when the rules allow it and otherwise tries GO (and is
refused, as anyone would be) and records NO-GO.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from golive import exceptions

__all__ = ["DEMO_IC", "PROMETHEUS_RUNBOOK", "RUNBOOK", "DemoResult", "find_runbook", "run_demo"]

DEMO_IC = "demo-ic (automated)"
DEMO_PEOPLE = {"ic": DEMO_IC, "deployer": "demo-deployer (automated)", "observer": "demo-observer (automated)"}
TRAFFIC_INTERVAL = 0.05  # seconds between the traffic generator's requests
TRAFFIC_MAX_REQUESTS = 20_000  # hard bound on the generator, whatever happens
IC_THINK_TIME = 1.0  # seconds the stand-in IC waits before deciding, so the pending decision is visible
TRAFFIC_SECONDS = 150  # the generator's lifetime; the whole demo takes about 70 s
RUNBOOK = "demo-cutover.yaml"  # triggers scrape the service's /metrics
# The same runbook with its triggers in PromQL (the format has no overlay, so it is a second file that a test
# keeps identical to the first outside the triggers, one var and one pre-flight check).
PROMETHEUS_RUNBOOK = "demo-cutover-prometheus.yaml"


def find_runbook(name: str = RUNBOOK) -> Path:
    """A demo runbook: inside the installed package, or in the repository's examples/."""
    packaged = resources.files("golive.demo").joinpath(name)
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[3] / "examples" / name
    if repo.is_file():
        return repo
    raise exceptions.UsageError(f"the demo runbook {name} is missing; pass --runbook examples/{name}")


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
    prometheus_url: str | None = None  # set when the triggers read a Prometheus the demo started
    notes: list[str] = field(default_factory=list)  # parts this build does not have yet
    problems: list[str] = field(default_factory=list)  # outputs that failed: the demo did not work


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
    prometheus: bool = False,
    echo: Callable[[str], None] | None = None,
) -> DemoResult:
    """Start the service, run the runbook with the stand-in people, then hypercare, report and pack.

    With ``prometheus``, a throwaway Prometheus scrapes the service and the triggers read it
    (:data:`PROMETHEUS_RUNBOOK`); ``echo`` receives the hypercare's progress lines.
    """
    from golive.demo.prometheus import LocalPrometheus
    from golive.demo.service import DemoService
    from golive.engine import acts, runner
    from golive.spec import loader
    from golive.store import open_store
    from golive.views import summary

    workdir, flags = await asyncio.to_thread(_prepare, workdir)
    with contextlib.ExitStack() as stack:
        svc = stack.enter_context(DemoService(flags, fault=fault))
        overrides = {
            "base_url": svc.url,
            "flags_file": str(flags),
            "backup_file": str(workdir / "demo-backup.json"),
        }
        prom_url: str | None = None
        if prometheus:
            target = svc.url.removeprefix("http://")
            prom = LocalPrometheus(target, log_path=workdir / "prometheus.log")
            stack.callback(prom.stop)
            await asyncio.to_thread(prom.start)  # waits for its first scrape; the loop stays free meanwhile
            prom_url = overrides["prometheus_url"] = prom.url
        loaded = loader.load(
            runbook or find_runbook(PROMETHEUS_RUNBOOK if prometheus else RUNBOOK), var_overrides=overrides
        )
        store = open_store(db_url)
        await store.open()
        refused: list[str] = []
        try:
            with _Traffic(svc.url, seconds=TRAFFIC_SECONDS):
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
                # The cutover's handle was fenced by its engine's lease, which ended with the run: what the
                # stand-ins do after it (hypercare, sign-off) are acts on a fresh handle, as from another terminal.
                handle = await acts.open_run(store, handle.run_id)
                hypercare_failed: list[str] = []
                spec = handle.runbook.hypercare
                if handle.state.status.value == "passed":
                    if spec.tiers or spec.reports:
                        await _hypercare(store, handle, workdir, echo or (lambda _line: None))
                        hypercare_failed = [
                            f"hypercare report {rid} is {str(r.get('status')).upper()} (see {workdir / 'hypercare'})"
                            for rid, r in (summary.summarize(handle)["reports"] or {}).items()
                            if r.get("status") != "pass"
                        ]
                    if not hypercare_failed:  # the stand-ins sign off only what they can say is true
                        for area in handle.runbook.signoff.areas:
                            who = DEMO_PEOPLE.get(area.role or "ic")
                            if who is not None:
                                await acts.signoff(handle, area.id, who, "demo: cutover complete, hypercare clean")
            result = DemoResult(
                run_id=handle.run_id,
                status=summary.summarize(handle)["status_label"],
                verdict=summary.verdict(handle),
                reason=handle.state.reason,
                workdir=workdir,
                flags=svc.state.flags(),
                refused=refused,
                prometheus_url=prom_url,
                problems=hypercare_failed,
            )
            await _outputs(store, handle, result)
        finally:
            await store.close()
    return result


def _prepare(workdir: Path) -> tuple[Path, Path]:
    """The demo's directory (made) and its flags file (removed, so the service starts at the safe values)."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    flags = workdir / "demo-flags.json"
    flags.unlink(missing_ok=True)
    return workdir, flags


async def _hypercare(store: Any, handle: Any, workdir: Path, echo: Callable[[str], None]) -> None:
    """A short hypercare on the demo's compressed schedule, through the same code as `golive hypercare`."""
    from golive.engine import hypercare as service

    await service.run_hypercare(store, handle.run_id, workdir / "hypercare", echo)
    await handle.refresh()


def _have(module: str) -> bool:
    """Whether this build has ``module`` (parts of golive land one by one; the demo says which are missing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


async def _outputs(store: Any, handle: Any, result: DemoResult) -> None:
    """Write the Markdown and HTML reports and the evidence pack; a part that fails is a problem, not a pass."""
    from golive.report import formats
    from golive.views import summary

    data = summary.summarize(handle)
    md = result.workdir / "report.md"
    md.write_text(formats.to_markdown(data), encoding="utf-8")
    result.report_md = md
    if _have("golive.report.html"):
        page = result.workdir / "report.html"
        try:
            from golive.report import html

            page.write_text(await html.render_run(handle, data), encoding="utf-8")
            result.report_html = page
        except Exception as exc:  # reported on the terminal and in the exit code, never a traceback
            result.problems.append(f"HTML report not written: {type(exc).__name__}: {exc}")
    else:
        result.notes.append("HTML report: not in this build yet (golive.report.html)")
    if _have("golive.evidence.runpack"):
        out = result.workdir / f"evidence-{handle.run_id}.zip"
        try:
            # Imported by name: the module lands separately, and mypy must pass with and without it.
            runpack = importlib.import_module("golive.evidence.runpack")
            await runpack.pack_run(store, handle.run_id, out)
            result.pack = out
        except Exception as exc:
            result.problems.append(f"evidence pack not written: {type(exc).__name__}: {exc}")
    else:
        result.notes.append("evidence pack: not in this build yet (golive.evidence.runpack)")
