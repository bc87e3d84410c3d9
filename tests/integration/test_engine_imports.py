"""What a run imports: the canary judge (numpy, scipy) only when the runbook needs it.

The armed-trigger watch starts in every run; a runbook with no trigger must not pay for the judge's libraries
(about 0.55 s of CPU and 77 MB), which the watch reaches only through golive.engine.observing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUNBOOK = """
golive: 1
name: no-triggers
roles:
  ic: {description: incident commander}
phases:
  - id: checks
    steps:
      - {id: path-set, kind: check, type: env, with: {name: PATH}}
"""


def run_on_runbook(code: str, tmp_path: Path) -> str:
    """Run ``code`` in a fresh interpreter with RUNBOOK's path as its argument; what it printed."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", code, str(runbook)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


RUN = """
import asyncio, sys
from golive.engine import runner
from golive.spec import loader
from golive.store.memory import InMemoryStore

async def main():
    store = InMemoryStore()
    await store.open()
    handle = await runner.create_run(store, loader.load(sys.argv[1]), mode="live")
    status = await runner.Engine(handle).run()
    print(status.value, sorted(m for m in ("scipy", "numpy", "golive.engine.observing") if m in sys.modules))

asyncio.run(main())
"""


def test_a_run_without_triggers_imports_no_judge(tmp_path: Path) -> None:
    """A passing run of one env check ends without numpy, scipy or the observe machinery imported."""
    assert run_on_runbook(RUN, tmp_path) == "passed []"


PREFLIGHT = """
import asyncio, sys
from golive.cli import preflight_cmds
from golive.spec import loader

async def main():
    data, _, _ = await preflight_cmds.run_preflight(loader.load(sys.argv[1]), None, 10, 30.0)
    watchers = ("golive.watch.triggers", "golive.watch.observe", "golive.watch.hypercare")
    print(data["verdict"], sorted(m for m in watchers if m in sys.modules))

asyncio.run(main())
"""


def test_a_preflight_imports_no_watcher(tmp_path: Path) -> None:
    """A pre-flight runs checks only: the trigger, observe and hypercare watchers stay unimported (start-up
    is most of a small pre-flight's time)."""
    assert run_on_runbook(PREFLIGHT, tmp_path) == "PASS []"


def test_the_watch_package_still_gives_its_names() -> None:
    """``golive.watch`` imports its watchers on first use, and still gives every name it exports."""
    code = (
        "import sys, golive.watch as w; before = 'golive.watch.triggers' in sys.modules; "
        "names = [getattr(w, n) for n in w.__all__]; "
        "print(before, 'golive.watch.triggers' in sys.modules, w.TriggerEvaluator is w.triggers.TriggerEvaluator)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True"]
