"""How long `golive --help` takes from a cold interpreter (target: under 0.3 s).

Run: ``.venv/bin/python benchmarks/cli_startup.py [--repeat 10]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET = 0.3  # seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    golive = str(Path(sys.executable).with_name("golive"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    times: list[float] = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        proc = subprocess.run([golive, "--help"], env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            print(proc.stderr.decode())
            return 1
    # Python itself, for scale: the floor any CLI written in Python pays.
    bare: list[float] = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, check=True)
        bare.append(time.perf_counter() - t)
    verdict = "meets" if min(times) < TARGET else "MISSES"
    print(
        f"golive --help (subprocess, cold): best {min(times) * 1000:.0f} ms, median {sorted(times)[len(times) // 2] * 1000:.0f} ms  [{verdict} the {TARGET * 1000:.0f} ms target]"
    )
    print(f"python -c pass (floor):           best {min(bare) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
