"""Runbook size limits: memory of validating a 20,000-step runbook, and how fast an oversized one is refused.

Prints, each measured in a fresh `golive validate` subprocess (peak RSS from getrusage of the child):

- validate of a 20,000-step runbook (the generator of benchmarks/validate.py): exit code, wall time, peak
  RSS (target: under 300 MB);
- validate of a 1,000,000-step runbook (≈150 MB file): exit code 2 and the wall time of the refusal (target:
  under 1 s), which happens before the file is read;
- validate of a file under the byte limit whose nodes are over the node limit (a 15 MiB flow list of tiny
  scalars): exit code 2 and the wall time of the refusal, found by streaming parse events without composing;
- as a floor, `golive validate` of the 2,000-step runbook in the same conditions.

Run: ``.venv/bin/python benchmarks/runbook_limits.py``
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import make_runbook  # the generator shared with benchmarks/validate.py

GOLIVE = str(Path(sys.executable).with_name("golive"))
MEMORY_TARGET = 300  # MB, validate of 20,000 steps
REFUSAL_TARGET = 1.0  # seconds, validate of 1e6 steps


def measure(path: Path) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, child peak RSS in MB, first line of output) of `golive validate PATH`."""
    env = {**os.environ, "BENCH_TOKEN": "x"}
    # Each measure runs in its own intermediate process so RUSAGE_CHILDREN's max covers exactly one child.
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        f"r = subprocess.run([{GOLIVE!r}, 'validate', sys.argv[1]], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "out = (r.stdout + r.stderr).strip().splitlines()\n"
        "print(json.dumps([r.returncode, wall, rss, out[0][:160] if out else '']))\n"
    )
    import json

    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, check=True)
    rc, wall, rss, first = json.loads(res.stdout)
    return int(rc), float(wall), float(rss), str(first)


def node_bomb(path: Path, target_bytes: int) -> None:
    head = "golive: 1\nname: bomb\nphases:\n  - id: p\n    steps:\n      - {id: s, kind: manual, role: r}\nx: ["
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head)
        chunk = "1," * 65536
        written = len(head)
        while written < target_bytes:
            fh.write(chunk)
            written += len(chunk)
        fh.write("1]\n")


def main() -> None:
    _ = resource  # the child measures itself
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cases: list[tuple[str, Path]] = []
        small = d / "steps-2000.yaml"
        small.write_text(make_runbook(2_000), encoding="utf-8")
        cases.append(("2,000 steps (floor)", small))
        big = d / "steps-20000.yaml"
        big.write_text(make_runbook(20_000), encoding="utf-8")
        cases.append(("20,000 steps", big))
        huge = d / "steps-1000000.yaml"
        huge.write_text(make_runbook(1_000_000), encoding="utf-8")
        cases.append(("1,000,000 steps", huge))
        bomb = d / "nodes.yaml"
        node_bomb(bomb, 15 * 1024 * 1024)
        cases.append(("15 MiB of tiny nodes", bomb))
        print(f"{'case':<24} {'size':>10} {'exit':>4} {'wall':>9} {'peak RSS':>9}  output")
        results = {}
        for label, path in cases:
            rc, wall, rss, first = measure(path)
            results[label] = (rc, wall, rss)
            size = path.stat().st_size / (1024 * 1024)
            print(f"{label:<24} {size:>8.1f}MB {rc:>4} {wall * 1000:>7.0f}ms {rss:>7.0f}MB  {first}")
        rc, _, rss = results["20,000 steps"]
        print(
            f"20,000 steps: exit {rc}, peak RSS {rss:.0f} MB (target < {MEMORY_TARGET} MB): "
            f"{'met' if rc == 0 and rss < MEMORY_TARGET else 'MISSED'}"
        )
        rc, wall, _ = results["1,000,000 steps"]
        print(
            f"1,000,000 steps: exit {rc}, refused in {wall * 1000:.0f} ms (target < {REFUSAL_TARGET:g} s): "
            f"{'met' if rc == 2 and wall < REFUSAL_TARGET else 'MISSED'}"
        )
        floor = results["2,000 steps (floor)"][1]
        print(
            f"ratios to the 2,000-step validate: 1e6 refusal {wall / floor:.2f}x, "
            f"node-limit refusal {results['15 MiB of tiny nodes'][1] / floor:.2f}x"
        )


if __name__ == "__main__":
    main()
