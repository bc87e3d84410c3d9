"""Redaction throughput (MB/s) on ~50 MB of generated mixed log text, with Hyperscan and with plain ``re``.

Run: ``.venv/bin/python benchmarks/redaction.py [--mb 50] [--fallback-mb 5]``

Two inputs: "mixed" (one line in five from the labelled-corpus templates, which are dense with findings;
the rest ordinary log lines with timestamps, ids, versions and numbers) and "dense" (corpus templates
only). The fallback is measured on a smaller slice because it is much slower; MB/s is comparable.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import random
import sys
import time
from pathlib import Path
from typing import Any

from golive.evidence import redact

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000  # bytes; throughput is reported in decimal MB/s


def _corpus_module() -> Any:
    path = ROOT / "tests" / "fixtures" / "redaction" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clean_line(rng: random.Random) -> str:
    svc = rng.choice(["orders-api", "payments", "ticket-router", "supply-api"])
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return rng.choice(
        [
            f"2024-03-15T10:{rng.randint(10, 59)}:{rng.randint(10, 59)}.{rng.randint(100, 999)}Z INFO [{svc}] "
            f"GET /api/v1/orders/{rng.randint(10**5, 10**7)} 200 {rng.randint(1, 999)}ms trace={h}",
            f"2024-03-15T10:{rng.randint(10, 59)}:{rng.randint(10, 59)}.{rng.randint(100, 999)}Z DEBUG [{svc}] "
            f"cache hit ratio {rng.random():.3f} over {rng.randint(1000, 99999)} keys, heap {rng.randint(100, 900)} MiB",
            f"2024-03-15T10:{rng.randint(10, 59)}:{rng.randint(10, 59)}.{rng.randint(100, 999)}Z WARN [{svc}] "
            f"slow query took {rng.randint(100, 9999)} ms rows={rng.randint(1, 10**6)} version=v1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
            f'{{"ts":"2024-03-15T10:{rng.randint(10, 59)}:00Z","svc":"{svc}","msg":"processed batch",'
            f'"batch":{rng.randint(1, 9999)},"items":{rng.randint(1, 500)},"elapsed_ms":{rng.randint(1, 9999)}}}',
        ]
    )


def make_text(target_bytes: int, dense: bool, seed: int = 7) -> str:
    corpus = _corpus_module()
    corpus.rng.seed(seed)
    rng = random.Random(seed)
    funcs = [f for f, _ in corpus.TEMPLATES]
    weights = [w for _, w in corpus.TEMPLATES]
    unique: list[str] = []
    size = 0
    while size < min(target_bytes, 8 * MB):
        if dense or rng.random() < 0.2:
            for record in rng.choices(funcs, weights)[0]():
                line = "".join(seg if isinstance(seg, str) else seg[0] for seg in record)
                unique.append(line)
                size += len(line) + 1
        else:
            line = _clean_line(rng)
            unique.append(line)
            size += len(line) + 1
    out = io.StringIO()
    written = 0
    while written < target_bytes:
        block = "\n".join(unique) + "\n"
        out.write(block)
        written += len(block)
    return out.getvalue()[:target_bytes]


def measure(text: str, use_hyperscan: bool, repeat: int = 2) -> float:
    saved = redact._hs
    if not use_hyperscan:
        redact._hs = None
    try:
        redactor = redact.Redactor()
        redactor.add_secret("Tr0ub4dor&3-prod")
        data = text.encode()
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            redactor.redact(text)
            best = min(best, time.perf_counter() - start)
        return len(data) / MB / best
    finally:
        redact._hs = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=50.0, help="size of the Hyperscan input in MB")
    parser.add_argument("--fallback-mb", type=float, default=5.0, help="size of the fallback input in MB")
    args = parser.parse_args()
    if not redact.HYPERSCAN_AVAILABLE:
        print("hyperscan is not importable here; only the fallback is measured", file=sys.stderr)
    for label, dense in (("mixed", False), ("dense", True)):
        text = make_text(int(args.mb * MB), dense)
        if redact.HYPERSCAN_AVAILABLE:
            print(f"{label}: hyperscan  {measure(text, True):8.1f} MB/s on {len(text.encode()) / MB:.0f} MB")
        small = text[: int(args.fallback_mb * MB)]
        print(f"{label}: re fallback {measure(small, False, repeat=1):8.1f} MB/s on {len(small.encode()) / MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
