"""Redaction throughput (MB/s) on ~50 MB of generated mixed log text, with Hyperscan and with plain ``re``;
with ``--corpus``, recall, precision and MB/s on a labelled corpus.

Run: ``.venv/bin/python benchmarks/redaction.py [--mb 50] [--fallback-mb 5]``
or:  ``.venv/bin/python benchmarks/redaction.py --corpus FILE [--redact-ips] [--secret VALUE ...]``
or:  ``.venv/bin/python benchmarks/redaction.py --calls [--checks 1000]`` (per-check cost, memo on and off)
or:  ``.venv/bin/python benchmarks/redaction.py --corpus FILE --profile`` (where the time goes, per rule)

``--corpus FILE`` reads a labelled JSONL corpus, one record a line: ``{"text": ..., "spans": [{"start": 0,
"end": 16, "label": "CREDIT_CARD"}]}`` (character offsets; an optional ``negatives`` list in the same shape
names hard negatives that must survive). A span counts as found when one masked region covers it whole;
precision is the share of masked regions that overlap a labelled span. Spans labelled ``IP_ADDRESS`` count
only with ``--redact-ips``. MB/s is ``Redactor.redact`` over the corpus texts repeated to ``--mb`` MB.
``--corpus project`` scores the project's own corpus (tests/fixtures/redaction/corpus.txt, labels.jsonl and
its registered secrets).

Two inputs: "mixed" (one line in five from the labelled-corpus templates, which are dense with findings;
the rest ordinary log lines with timestamps, ids, versions and numbers) and "dense" (corpus templates
only). The fallback is measured on a smaller slice because it is much slower; MB/s is comparable.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import io
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from golive import redact

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


def measure(text: str, use_hyperscan: bool, repeat: int = 2, use_native: bool = True) -> float:
    saved, saved_native = redact._hs, redact._native
    if not use_hyperscan:
        redact._hs = None
    if not use_hyperscan or not use_native:
        redact._native = None
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
        redact._hs, redact._native = saved, saved_native


IP_LABELS = {"IP_ADDRESS", "IP"}


def load_corpus(spec: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Records ``{"text", "spans", "negatives"}`` and the secrets to register, from a JSONL file or "project"."""
    if spec != "project":
        records = []
        for number, line in enumerate(Path(spec).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["text"]
                spans = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in record.get("spans", [])]
                negatives = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in record.get("negatives", [])]
            except (ValueError, KeyError, TypeError) as exc:
                raise SystemExit(  # noqa: B904 - the message says all there is
                    f"{spec}, line {number}: not a corpus record ({exc}); expected "
                    '{"text": "...", "spans": [{"start": 0, "end": 16, "label": "CREDIT_CARD"}]}'
                )
            for start, end, label in spans + negatives:
                if not 0 <= start < end <= len(text):
                    raise SystemExit(f"{spec}, line {number}: span {start}-{end} ({label}) is outside the text")
            records.append({"text": text, "spans": spans, "negatives": negatives})
        return records, []
    folder = ROOT / "tests" / "fixtures" / "redaction"
    # One record for the whole file: a private key block spans lines.
    lines = (folder / "corpus.txt").read_text(encoding="utf-8").split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    spans = []
    for raw in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(raw)
        base = offsets[entry["line"] - 1]
        for s in entry["spans"]:
            label = "IP_ADDRESS" if s["kind"] == "ip" else s["kind"].upper()
            spans.append((base + s["start"], base + s["end"], label))
    records = [{"text": "\n".join(lines), "spans": spans, "negatives": []}]
    secrets = json.loads((folder / "secrets.json").read_text(encoding="utf-8"))
    return records, secrets


def score_corpus(records: list[dict[str, Any]], redactor: redact.Redactor, redact_ips: bool) -> dict[str, Any]:
    found: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    neg_hit: collections.Counter[str] = collections.Counter()
    neg_total: collections.Counter[str] = collections.Counter()
    missed: list[tuple[str, str]] = []
    false_pos: list[tuple[str, str]] = []
    regions_n = 0
    for record in records:
        text = record["text"]
        regions = redactor.findings(text)
        regions_n += len(regions)
        for start, end, label in record["spans"]:
            if label in IP_LABELS and not redact_ips:
                continue
            total[label] += 1
            if any(rs <= start and end <= re_ for rs, re_, _ in regions):
                found[label] += 1
            else:
                missed.append((label, text[start:end]))
        for rs, re_, kind in regions:
            if not any(s < re_ and rs < e for s, e, _ in record["spans"]):
                false_pos.append((kind, text[rs:re_]))
        for start, end, label in record["negatives"]:
            neg_total[label] += 1
            if any(s < end and start < e for s, e, _ in regions):
                neg_hit[label] += 1
    return {
        "found": found, "total": total, "missed": missed, "false_pos": false_pos, "regions": regions_n,
        "neg_hit": neg_hit, "neg_total": neg_total,
    }  # fmt: skip


def corpus_main(args: argparse.Namespace) -> int:
    records, secrets = load_corpus(args.corpus)
    secrets += args.secret

    def fresh() -> redact.Redactor:
        redactor = redact.Redactor(redact_ips=args.redact_ips)
        for value in secrets:
            redactor.add_secret(value)
        return redactor

    if args.no_score:
        return _throughput(args, records, fresh)
    result = score_corpus(records, fresh(), args.redact_ips)
    n_total = sum(result["total"].values())
    n_found = sum(result["found"].values())
    recall = n_found / max(1, n_total)
    precision = 1 - len(result["false_pos"]) / max(1, result["regions"])
    print(f"corpus {args.corpus}: {len(records)} records, {n_total} labelled spans"
          f"{'' if args.redact_ips else ' (IP addresses not counted: --redact-ips to count them)'}, "
          f"{sum(result['neg_total'].values())} hard negatives")  # fmt: skip
    for label in sorted(result["total"]):
        print(f"  {label:<24} {result['found'][label]:>5} / {result['total'][label]:<5} "
              f"recall {result['found'][label] / result['total'][label]:.3f}")  # fmt: skip
    hit = sum(result["neg_hit"].values())
    if result["neg_total"]:
        print(f"  hard negatives masked: {hit} / {sum(result['neg_total'].values())}"
              + "".join(f", {k} {v}" for k, v in sorted(result["neg_hit"].items())))  # fmt: skip
    print(f"recall    {recall:.4f}  ({n_found} / {n_total})")
    print(
        f"precision {precision:.4f}  ({result['regions'] - len(result['false_pos'])} / {result['regions']} masked regions)"
    )
    for label, value in result["missed"][: args.show]:
        print(f"  missed {label}: {value!r}")
    for kind, value in result["false_pos"][: args.show]:
        print(f"  false positive <{kind}>: {value!r}")
    return _throughput(args, records, fresh)


def _throughput(args: argparse.Namespace, records: list[dict[str, Any]], fresh: Any) -> int:
    """MB/s of ``Redactor.redact`` over the corpus repeated to ``--mb`` MB, and the same bytes scanned by
    the same Hyperscan database: with every match handed to a no-op Python callback (the floor: what any
    redaction on this database pays) and with no callback at all. The three are alternated, so load on the
    machine moves them alike; wall and CPU time (``time.process_time``, steadier on a shared machine) are
    both shown, best of ``--repeat``."""
    block = "\n".join(r["text"] for r in records) + "\n"
    target = int(args.mb * MB)
    text = block * max(1, -(-target // len(block.encode())))
    data = text.encode()
    size = len(data) / MB
    redactor = fresh()
    runs: dict[str, Any] = {"redaction": lambda: redactor.redact(text)}
    if redact.NATIVE_AVAILABLE:
        python_path = _without_native(fresh)
        runs["python"] = lambda: python_path.redact(text)
    if redact.HYPERSCAN_AVAILABLE:
        # The floor and the bare scan run python-hyperscan's database of the same rules.
        static = _without_native(lambda: redact._Compiled(redactor._engine.static.rules, cached=True))
        scratch = redactor._scratch(static, "static")
        runs["floor"] = lambda: static.db.scan(data, match_event_handler=lambda *_a: None, scratch=scratch)
        runs["scan"] = lambda: static.db.scan(data, match_event_handler=None, scratch=scratch)
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeat):
        for name, run in runs.items():
            w0, c0 = time.perf_counter(), time.process_time()
            run()
            wall[name] = min(wall[name], time.perf_counter() - w0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    engine = "C module" if redact.NATIVE_AVAILABLE else "hyperscan" if redact.HYPERSCAN_AVAILABLE else "re fallback"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"throughput ({engine}): {size / wall['redaction']:.1f} MB/s wall, {size / cpu['redaction']:.1f} MB/s CPU "
          f"on {size:.0f} MB (best of {args.repeat}; load average {load})")  # fmt: skip
    if "python" in runs:
        print(f"python path (same rules, {redact.NATIVE_ENV}=off): {size / wall['python']:.1f} MB/s wall, "
              f"{size / cpu['python']:.1f} MB/s CPU; C module at {cpu['python'] / cpu['redaction']:.2f}x (CPU)")  # fmt: skip
    if redact.HYPERSCAN_AVAILABLE:
        for name, what in (("floor", "every match to a no-op Python callback"), ("scan", "no callback")):
            print(f"{name} (same database, same bytes, {what}): {size / wall[name]:.1f} MB/s wall, "
                  f"{size / cpu[name]:.1f} MB/s CPU; redaction at {cpu[name] / cpu['redaction']:.2f}x "
                  f"(CPU), {wall[name] / wall['redaction']:.2f}x (wall)")  # fmt: skip
    return 0


def _without_native(make: Any) -> Any:
    """``make()`` with the C module switched off (the Python path and python-hyperscan's database)."""
    saved = redact._native
    redact._native = None
    try:
        return make()
    finally:
        redact._native = saved


def profile_main(args: argparse.Namespace) -> int:
    """Where redaction time goes on a corpus (CPU time, ``--profile-mb`` MB): the Hyperscan scan with the
    redactor's own match callback, then each rule's exact expressions and checks (its recorded anchor hits
    replayed through the redactor's code), then placing the placeholders; and cProfile's top functions."""
    import cProfile
    import pstats

    records, secrets = load_corpus(args.corpus)
    block = "\n".join(r["text"] for r in records) + "\n"
    data = (block * max(1, int(args.profile_mb * MB) // len(block.encode()))).encode()
    size = len(data) / MB
    redactor = _without_native(lambda: redact.Redactor(redact_ips=args.redact_ips))  # profiles the Python path
    for value in secrets + args.secret:
        redactor.add_secret(value)
    static = redactor._engine.static
    if static.db is None:
        raise SystemExit("--profile needs hyperscan")
    hits: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)

    class Replay:  # one rule and its recorded anchor hits, in the shape _find_hyperscan scans
        def __init__(self, rule_id: int) -> None:
            self.rules = [static.rules[rule_id]]
            self.db = self
            self.spans = hits[rule_id]

        def scan(self, _data: bytes, match_event_handler: Any, scratch: Any) -> None:
            for start, end in self.spans:
                match_event_handler(0, start, end, 0, None)

    start = time.process_time()
    static.db.scan(data, match_event_handler=lambda i, s, e, _f, _c: hits[i].append((s, e)),
                   scratch=redactor._scratch(static, "static"))  # fmt: skip
    scan = time.process_time() - start
    redactor._scratch = lambda *_a: None  # type: ignore[method-assign]  # replays need no scratch
    found: list[Any] = []
    per_rule = {}
    for rule_id in hits:
        start = time.process_time()
        redactor._find_hyperscan(data, Replay(rule_id), "replay", found)  # type: ignore[arg-type]
        per_rule[rule_id] = time.process_time() - start
    start = time.process_time()
    redactor._apply(data, found, len(data))
    apply = time.process_time() - start
    total = scan + sum(per_rule.values()) + apply
    print(f"{size:.1f} MB, {len(found) / size:,.0f} findings per MB, "
          f"{sum(map(len, hits.values())) / size:,.0f} anchor hits per MB; CPU ms per MB (share):")  # fmt: skip
    print(f"  {scan * 1000 / size:6.2f} ({scan / total:4.0%})  Hyperscan scan with the match callback")
    for rule_id, spent in sorted(per_rule.items(), key=lambda kv: -kv[1]):
        rule = static.rules[rule_id]
        print(f"  {spent * 1000 / size:6.2f} ({spent / total:4.0%})  {rule.kind}: {len(hits[rule_id]) / size:,.0f} "
              f"hits/MB, anchor {rule.hs_pattern[:48].decode('ascii', 'replace')}")  # fmt: skip
    print(f"  {apply * 1000 / size:6.2f} ({apply / total:4.0%})  placeholders (sort, merge, number, join)")
    print(f"  {total * 1000 / size:6.2f} total: {size / total:.1f} MB/s")
    text = data.decode()
    fresh = redact.Redactor(redact_ips=args.redact_ips)
    for value in secrets + args.secret:
        fresh.add_secret(value)
    profiler = cProfile.Profile()
    profiler.runcall(fresh.redact, text)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    return 0


def calls_main(args: argparse.Namespace) -> int:
    """Per-check redaction cost as the engine pays it: many calls on a few strings per check."""
    checks = []
    for i in range(args.checks):
        url = f"https://orders-{i}.internal.example/healthz?region=eu-west-1"
        body = f'{{"status":"ok","version":"3.16.{i % 40}","latency_ms":{100 + i % 50},"trace":"{i:032x}"}}'
        strings = [
            f"GET {url} -> 200 in {100 + i % 50} ms",
            url,
            body,
            "200",
            "status 200 == 200",
            "$.status == ok",
            f"http check {i}: PASS",
            "application/json; charset=utf-8",
        ]
        checks.append(strings)
    per_check = 47  # redact calls one http check cost the engine (profile of `golive preflight`)

    def run(memo: int) -> float:
        saved = redact.MEMO_SIZE
        redact.MEMO_SIZE = memo
        try:
            redactor = redact.Redactor()
            start = time.perf_counter()
            for strings in checks:
                for k in range(per_check):
                    redactor.redact(strings[k % len(strings)])
            return time.perf_counter() - start
        finally:
            redact.MEMO_SIZE = saved

    without, with_memo = float("inf"), float("inf")
    for _ in range(args.repeat):
        without = min(without, run(0))
        with_memo = min(with_memo, run(redact.MEMO_SIZE))
    n = len(checks)
    print(f"{n} checks x {per_check} redact calls on 8 strings each (best of {args.repeat}, alternating):")
    print(f"  every call scanned (no memo):  {without / n * 1e6:8.1f} us per check")
    print(f"  memo (MEMO_SIZE={redact.MEMO_SIZE}):       {with_memo / n * 1e6:8.1f} us per check "
          f"({without / with_memo:.1f}x faster)")  # fmt: skip
    return 0


_COMPILE_PROBE = """
import time
t0 = time.perf_counter()
from golive import redact
t1 = time.perf_counter()
redact.Redactor()
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f}")
"""


def compile_main(args: argparse.Namespace) -> int:
    """Start-up cost: importing the redactor and building the first Redactor (the pattern database), each
    in a fresh interpreter, as ``golive preflight`` pays it."""
    import statistics
    import subprocess

    imports, builds = [], []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, "-c", _COMPILE_PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        imports.append(float(out[0]))
        builds.append(float(out[1]))
    print(f"fresh interpreter x{args.repeat}: import {statistics.median(imports):.0f} ms, first Redactor "
          f"(compile) {statistics.median(builds):.0f} ms median, {min(builds):.0f} ms best")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0, help="size of the Hyperscan input in MB")
    parser.add_argument("--fallback-mb", type=float, default=5.0, help="size of the fallback input in MB")
    parser.add_argument("--corpus", help='labelled JSONL corpus to score, or "project" for the project\'s own')
    parser.add_argument("--redact-ips", action="store_true", help="redact IP addresses (and count IP spans)")
    parser.add_argument("--secret", action="append", default=[], help="a registered secret (repeatable)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs over the corpus; the best is shown")
    parser.add_argument("--show", type=int, default=20, help="misses and false positives to print")
    parser.add_argument("--no-score", action="store_true", help="throughput only (e.g. for an older golive)")
    parser.add_argument("--calls", action="store_true", help="per-check cost of many redact calls, memo on/off")
    parser.add_argument("--checks", type=int, default=1000, help="checks for --calls")
    parser.add_argument("--compile", action="store_true", help="start-up: import and first Redactor, fresh")
    parser.add_argument("--profile", action="store_true", help="with --corpus: where the time goes, per rule")
    parser.add_argument("--profile-mb", type=float, default=6.0, help="size of the --profile input in MB")
    args = parser.parse_args()
    if args.calls:
        return calls_main(args)
    if args.compile:
        return compile_main(args)
    if args.corpus and args.profile:
        return profile_main(args)
    if args.corpus:
        return corpus_main(args)
    if not redact.HYPERSCAN_AVAILABLE:
        print("hyperscan is not importable here; only the fallback is measured", file=sys.stderr)
    for label, dense in (("mixed", False), ("dense", True)):
        text = make_text(int(args.mb * MB), dense)
        if redact.NATIVE_AVAILABLE:
            print(f"{label}: C module   {measure(text, True):8.1f} MB/s on {len(text.encode()) / MB:.0f} MB")
        if redact.HYPERSCAN_AVAILABLE:
            mbs = measure(text, True, use_native=False)
            print(f"{label}: hyperscan  {mbs:8.1f} MB/s on {len(text.encode()) / MB:.0f} MB (Python path)")
        small = text[: int(args.fallback_mb * MB)]
        print(f"{label}: re fallback {measure(small, False, repeat=1):8.1f} MB/s on {len(small.encode()) / MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
