"""Wall time of every example scenario played by ``golive test`` (headless, fake clock, stubs).

    .venv/bin/python benchmarks/scenarios.py [examples/scenarios/...]

Prints, per scenario: its outcome, the run time it covered, its wall time and the speed-up (run time / wall
time), then the slowest; the target is under 10 s of wall time each. The first scenario also pays for
importing the engine and its plugins (measured separately, as the floor every `golive test` pays once).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 10.0  # seconds of wall time per scenario


def main(paths: list[str]) -> int:
    t0 = time.perf_counter()
    from golive.engine import judging, runner, scenario  # noqa: F401  # the import floor, measured apart

    imported = time.perf_counter() - t0
    files = [Path(p) for p in paths] or sorted((ROOT / "examples" / "scenarios").glob("*/*.yaml"))
    print(f"import floor          {imported:.2f} s (once per golive test)")
    width = max([len(f"{f.parent.name}/{f.stem}") for f in files] + [8])
    print(f"{'scenario':{width}} {'outcome':12} {'run time':>10} {'wall':>7} {'speed-up':>9}")
    slowest = 0.0
    failed = 0
    for f in files:
        runbook = ROOT / "examples" / f"{f.parent.name}.yaml"
        res = scenario.run_one(runbook, scenario.load_scenario(f), None, {})
        run_time = res.actual.run_time if res.actual else 0.0
        outcome = res.actual.outcome if res.actual else "error"
        speed = run_time / res.wall if res.wall else 0.0
        mark = "" if res.passed else "  FAILED"
        failed += not res.passed
        name = f"{f.parent.name}/{f.stem}"
        print(f"{name:{width}} {outcome:12} {run_time / 60:8.1f} m {res.wall:6.2f}s {speed:8.0f}x{mark}")
        slowest = max(slowest, res.wall)
    print(f"slowest               {slowest:.2f} s (target < {TARGET:g} s: {'met' if slowest < TARGET else 'MISSED'})")
    return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="scenario files (default: every example scenario)")
    sys.exit(main(ap.parse_args().paths))
