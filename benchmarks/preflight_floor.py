"""`golive preflight` against a plain asyncio + aiohttp script, alternated, with the ratio.

The server and runbook are those of ``benchmarks/preflight.py`` (a loopback responder that answers after
100 ms, N ``http`` checks each expecting status 200 and ``$.status == ok``). Rows:

- 100 checks, golive at its default concurrency; the floor at that same concurrency;
- 1,000 checks, both at concurrency 100.

The floor is what a person would write instead: a fresh interpreter that imports aiohttp, opens one
``ClientSession`` and makes the N GETs through an ``asyncio.Semaphore`` of the same size, checking each
status and JSON body. Each round runs golive (a fresh ``golive preflight FILE --quiet --out-json F``
process, bytecode cached) then the floor; the ratio of the medians is printed. Targets: 100 checks
<= 1.25x the floor, 1,000 checks <= 1.5x.

``--before SRC`` adds a third run to each round: golive from another checkout's ``src`` (``PYTHONPATH``), e.g.
``git worktree add /tmp/golive-before COMMIT``, so before and after are measured in the same rounds.

    .venv/bin/python benchmarks/preflight_floor.py [--repeat 5] [--sizes 100,1000] [--before /tmp/golive-before/src]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import preflight as pf

from golive.cli.preflight_cmds import DEFAULT_CONCURRENCY

TARGETS = {100: 1.25, 1000: 1.5}

FLOOR = r"""
import asyncio, sys
import aiohttp
URL, N, C = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    sem = asyncio.Semaphore(C)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=C)) as session:
        async def one():
            async with sem, session.get(URL) as resp:
                body = await resp.json()
                assert resp.status == 200 and body.get("status") == "ok"
        await asyncio.gather(*(one() for _ in range(N)))
asyncio.run(main())
"""


def run_floor(url: str, n: int, concurrency: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, url, str(n), str(concurrency)], check=True, env=env, timeout=120)
    return time.perf_counter() - started


def run_golive(runbook: Path, out: Path, n: int, concurrency: int | None, src: str | None = None) -> float:
    out.unlink(missing_ok=True)
    args = [pf.GOLIVE, "preflight", str(runbook), "--quiet", "--out-json", str(out)]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = src
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, timeout=120, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"golive preflight exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    import json

    pf.check_report(json.loads(out.read_text()), n)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--before", default=None, help="another checkout's src directory, run in the same rounds")
    args = ap.parse_args()
    server, url = pf.start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in (int(x) for x in args.sizes.split(",")):
                runbook = pf.write_runbook(Path(tmp), url, n)
                out = Path(tmp) / "out.json"
                conc = None if n <= 100 else 100  # None: golive's default
                floor_c = DEFAULT_CONCURRENCY if conc is None else conc
                run_golive(runbook, out, n, conc)  # warm the page cache and bytecode
                if args.before:
                    run_golive(runbook, out, n, conc, args.before)
                gl: list[float] = []
                fl: list[float] = []
                bl: list[float] = []
                for _ in range(args.repeat):
                    if args.before:
                        bl.append(run_golive(runbook, out, n, conc, args.before))
                    gl.append(run_golive(runbook, out, n, conc))
                    fl.append(run_floor(url, n, floor_c))
                med_g, med_f = sorted(gl)[len(gl) // 2], sorted(fl)[len(fl) // 2]
                ratio = med_g / med_f
                target = TARGETS.get(n)
                verdict = "" if target is None else f" (target <= {target}x: {'met' if ratio <= target else 'MISSED'})"
                print(
                    f"{n:>5} checks, concurrency {floor_c}: golive best {min(gl):.3f} s median {med_g:.3f} s; "
                    f"aiohttp floor best {min(fl):.3f} s median {med_f:.3f} s; ratio {ratio:.2f}x{verdict} "
                    f"(load average {os.getloadavg()[0]:.1f})"
                )
                if bl:
                    med_b = sorted(bl)[len(bl) // 2]
                    print(
                        f"{n:>5} checks, same rounds, --before {args.before}: best {min(bl):.3f} s median {med_b:.3f} s; "
                        f"ratio {med_b / med_f:.2f}x the floor"
                    )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
