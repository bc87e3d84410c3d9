"""End-to-end `golive preflight`: N http checks against a loopback server that answers after 100 ms.

A raw asyncio server in its own process (HTTP/1.1 keep-alive, no framework, so it costs next to nothing on
the 2 cores) answers every request after SERVER_DELAY with {"status":"ok"}. The benchmark writes a runbook
with N `http` checks (`expect: {status: 200, json: {$.status: ok}}`) and times, for N = 100 and 1,000:

- subprocess: `golive preflight FILE --concurrency N --quiet --out-json F` end to end, interpreter start,
  imports, runbook load, the checks, the report and exit included (peak RSS of the child);
- in-process: `golive.cli.preflight_cmds.run_preflight` on an already-loaded runbook, which is the engine's
  share (peak RSS of this process);
- floor: the same requests from a plain asyncio script (streams, no framework) in its own interpreter.

Every run must end with overall_status PASS and N passed checks, or the benchmark stops. Prints best and
median of --repeat runs.

    .venv/bin/python benchmarks/preflight.py
    .venv/bin/python benchmarks/preflight.py --sizes 100 --repeat 5 --profile   # cProfile of one in-process run

Targets: 100 checks <= 0.40 s, 1,000 checks <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SERVER_DELAY = 0.1  # seconds the server waits before answering, like a real health endpoint
SIZES = (100, 1000)
TARGETS = {100: 0.40, 1000: 1.5}  # seconds, wall time of the whole pre-flight
SERVER_START_TIMEOUT = 20.0  # seconds
RUN_TIMEOUT = 120.0  # seconds one subprocess run may take before the benchmark gives up
GOLIVE = str(Path(sys.executable).with_name("golive"))

# A keep-alive HTTP/1.1 responder: parses only the request line and the blank line, answers after DELAY.
SERVER = r"""
import asyncio, sys
DELAY = float(sys.argv[2])
BODY = b'{"status":"ok"}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
         + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

class Proto(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""
    def data_received(self, data):
        self.buf += data
        loop = asyncio.get_running_loop()
        while b"\r\n\r\n" in self.buf:
            _, self.buf = self.buf.split(b"\r\n\r\n", 1)
            loop.call_later(DELAY, self.reply)
    def reply(self):
        if not self.t.is_closing():
            self.t.write(REPLY)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Proto, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


# The floor: the same N requests with nothing but asyncio streams (one connection each, status and body
# checked), as a script in its own interpreter. No framework, no engine, no report.
FLOOR = r"""
import asyncio, json, sys
HOST, PORT, N = "127.0.0.1", int(sys.argv[1]), int(sys.argv[2])
REQ = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
async def one():
    r, w = await asyncio.open_connection(HOST, PORT)
    w.write(REQ)
    head = await r.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    body = await r.readexactly(length)
    w.close()
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"status": "ok"}
async def main():
    await asyncio.gather(*(one() for _ in range(N)))
asyncio.run(main())
"""


def run_floor(url: str, n: int) -> float:
    """Wall time (s) of the plain-asyncio script for n requests, interpreter start included."""
    port = url.split(":")[2].split("/")[0]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, port, str(n)], check=True, timeout=RUN_TIMEOUT)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(SERVER_DELAY)])
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}:
                    return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("benchmark server did not start")


def write_runbook(directory: Path, url: str, n: int) -> Path:
    lines = ["golive: 1", f"name: preflight-bench-{n}", "phases:", "  - id: preflight", "    steps:"]
    lines += [
        f"      - {{id: c{i:04d}, kind: check, type: http, with: {{url: '{url}', "
        "expect: {status: 200, json: {$.status: ok}}}}"
        for i in range(n)
    ]
    path = directory / f"preflight-{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_report(doc: dict[str, Any], n: int) -> None:
    passed = sum(1 for c in doc["checks"] if c["outcome"] == "PASS")
    if doc["overall_status"] != "PASS" or passed != n:
        bad = next((c for c in doc["checks"] if c["outcome"] != "PASS"), {})
        raise SystemExit(f"{n} checks: overall_status {doc['overall_status']}, {passed} passed; first bad: {bad}")


def run_subprocess(runbook: Path, out: Path, n: int) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one `golive preflight` child process."""
    out.unlink(missing_ok=True)
    args = [GOLIVE, "preflight", str(runbook), "--concurrency", str(n), "--quiet", "--out-json", str(out)]
    # As installed: bytecode cached (a development shell may set PYTHONDONTWRITEBYTECODE, which would make every
    # run compile golive's modules from source again).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _, rusage = _wait4(proc, RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"golive preflight exited {proc.returncode}: {stderr[-2000:]}")
    check_report(json.loads(out.read_text()), n)
    return wall, rusage.ru_maxrss / 1024


def _wait4(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, rusage
        if time.monotonic() > deadline:
            raise SystemExit(f"golive preflight took over {timeout:g} s")
        time.sleep(0.002)


async def run_in_process(runbook: Path, n: int) -> float:
    from golive.cli import preflight_cmds
    from golive.report import formats
    from golive.spec import loader

    loaded = loader.load(str(runbook))
    started = time.perf_counter()
    data, steps, _ = await preflight_cmds.run_preflight(loaded, None, n, 30.0)
    json_text = formats.to_json(data, steps)
    elapsed = time.perf_counter() - started
    check_report(json.loads(json_text), n)
    return elapsed


def show(label: str, n: int, times: list[float], extra: str = "") -> None:
    target = TARGETS.get(n) if label != "floor" else None
    verdict = "" if target is None else (" (target met)" if min(times) <= target else f" (target {target:g} s MISSED)")
    print(
        f"{label:12s} {n:5d} checks: best {min(times):.3f} s, median {statistics.median(times):.3f} s "
        f"over {len(times)} runs{extra}{verdict}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per size and mode (best and median shown)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--mode", choices=["both", "subprocess", "in-process"], default="both")
    ap.add_argument("--no-floor", action="store_true", help="skip the plain-asyncio floor rows")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one in-process run per size")
    args = ap.parse_args()
    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="golive-bench-preflight-") as tmp:
            work = Path(tmp)
            for n in args.sizes:
                runbook = write_runbook(work, url, n)
                if not args.no_floor:
                    show("floor", n, [run_floor(url, n) for _ in range(args.repeat)], " (plain asyncio script)")
                if args.mode in ("both", "subprocess"):
                    runs = [run_subprocess(runbook, work / "out.json", n) for _ in range(args.repeat)]
                    rss = max(r for _, r in runs)
                    show("subprocess", n, [w for w, _ in runs], f", peak RSS {rss:.0f} MiB")
                if args.mode in ("both", "in-process"):
                    times = [asyncio.run(run_in_process(runbook, n)) for _ in range(args.repeat)]
                    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    show("in-process", n, times, f", peak RSS {rss:.0f} MiB")
                if args.profile:
                    import cProfile
                    import pstats

                    prof = cProfile.Profile()
                    prof.enable()
                    asyncio.run(run_in_process(runbook, n))
                    prof.disable()
                    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
