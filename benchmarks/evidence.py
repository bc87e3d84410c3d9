"""Evidence pack and verify throughput against ``sha256sum`` on the same ~1 GB of files.

Run: ``.venv/bin/python benchmarks/evidence.py [--mb 1024] [--dir DIR] [--repeat 3] [--keep]``

Generates the evidence in a temporary directory (two large dumps, forty 10 MB logs, two thousand
100 KB step outputs; text where text is realistic), reads it once so every measurement starts from the
page cache, then times ``sha256sum`` over all files, ``write_pack`` and ``verify_pack`` for a directory
pack and a zip pack (signed). Prints MB/s and the ratio to ``sha256sum``. Deletes everything afterwards
unless ``--keep``. The files live under ``--dir`` (default: the current directory, where golive keeps
``.golive/``): creating thousands of files costs very different amounts on different filesystems.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from golive.evidence import pack, signing

MB = 1_000_000  # bytes; throughput is reported in decimal MB/s
MiB = 1024 * 1024


def _text_block(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = (
            f"2024-03-15T10:{rng.randint(10, 59)}:{rng.randint(10, 59)}.{rng.randint(100, 999)}Z INFO "
            f"[orders-api] GET /api/v1/orders/{rng.randint(10**5, 10**7)} 200 {rng.randint(1, 999)}ms "
            f"trace={rng.getrandbits(128):032x}\n"
        ).encode()
        lines.append(line)
        total += len(line)
    return b"".join(lines)[:size]


def generate(root: Path, total_mb: float) -> list[Path]:
    """Write the evidence files; sizes scale with ``total_mb`` (1024 gives ~1 GiB)."""
    rng = random.Random(11)
    scale = total_mb / 1024
    paths: list[Path] = []
    block = _text_block(rng, 4 * MiB)
    specs = [("dumps", 2, int(200 * MiB * scale), "bin"), ("logs", 40, int(10 * MiB * scale), "log")]
    specs.append(("steps", 2000, int(100 * 1024 * scale), "txt"))
    for folder, count, size, ext in specs:
        (root / folder).mkdir(parents=True)
        for i in range(count):
            path = root / folder / f"{folder}-{i:04d}.{ext}"
            with open(path, "wb") as handle:
                left = size
                while left > 0:
                    piece = os.urandom(min(left, 4 * MiB)) if ext == "bin" else block[: min(left, len(block))]
                    handle.write(piece)
                    left -= len(piece)
            paths.append(path)
    return paths


def time_sha256sum(root: Path, repeat: int) -> tuple[float, float]:
    """Best wall-clock seconds and the CPU seconds (user + system) of that run."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            "find . -type f -print0 | xargs -0 sha256sum > /dev/null",
            shell=True,
            cwd=root,
            check=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best = min(best, (wall, cpu))
    return best


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=1024.0, help="approximate evidence size in MiB")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where to make the temporary files")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=".golive-bench-evidence-", dir=args.dir)).resolve()
    try:
        src = work / "src"
        paths = generate(src, args.mb)
        total = sum(p.stat().st_size for p in paths)
        os.sync()  # let writeback of the generated files finish before anything is timed
        for p in paths:  # warm the page cache so every run reads from memory
            p.read_bytes()
        files = [pack.PackFile(p.relative_to(src).as_posix(), p) for p in paths]
        private_key, _public_key = signing.generate_keypair(work / "keys")
        manifest = {"run_id": "bench", "event_chain_head": "0" * 64}

        t_sum, cpu_sum = time_sha256sum(src, args.repeat)
        v_sum = total / MB / t_sum
        print(f"evidence: {len(paths)} files, {total / MB:.0f} MB, under {work.parent}")
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print(f"sha256sum:            {v_sum:7.0f} MB/s ({t_sum:.2f} s, {cpu_sum:.2f} s CPU)")
        for form in ("dir", "zip"):
            out = work / ("pack.zip" if form == "zip" else "pack")
            t_pack = t_verify = float("inf")
            cpu_pack = cpu_verify = 0.0
            for _ in range(args.repeat):
                if out.exists():
                    _remove(out)
                start, cpu0 = time.perf_counter(), _cpu()
                pack.write_pack(out, files, manifest, sign_key=private_key)
                wall, cpu1 = time.perf_counter() - start, _cpu()
                if wall < t_pack:
                    t_pack, cpu_pack = wall, cpu1 - cpu0
                start = time.perf_counter()
                result = pack.verify_pack(out, _public_key)
                wall, cpu2 = time.perf_counter() - start, _cpu()
                if wall < t_verify:
                    t_verify, cpu_verify = wall, cpu2 - cpu1
                assert result.valid, result.problems
            v_pack, v_verify = total / MB / t_pack, total / MB / t_verify
            v_both = total / MB / (t_pack + t_verify)
            print(f"{form} pack:        {v_pack:7.0f} MB/s ({t_pack:.2f} s, {cpu_pack:.2f} s CPU)")
            print(f"{form} verify:      {v_verify:7.0f} MB/s ({t_verify:.2f} s, {cpu_verify:.2f} s CPU)")
            print(
                f"{form} pack+verify: {v_both:7.0f} MB/s ({t_pack + t_verify:.2f} s, "
                f"{cpu_pack + cpu_verify:.2f} s CPU)  {v_both / v_sum:5.2f}x sha256sum"
            )
            _remove(out)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


if __name__ == "__main__":
    sys.exit(main())
