"""How long `golive validate` takes on a 2,000-step runbook (target: under 0.5 s).

Generates a runbook of 2,000 steps in 20 phases (HTTP checks with references, manual steps with inputs,
command actions, needs chains), then times:

- ``golive validate FILE`` in a subprocess (cold interpreter, what a person waits for), best of 5;
- :func:`golive.spec.loader.load` in this process (the loader alone, warm), best of 5;
- where the time goes: CPU seconds of each loader stage, and of importing what ``validate`` imports.

Wall times on the shared 2-core machine swing with the other jobs' load; the CPU seconds of the child
(user + sys) are steadier and are printed next to them.

``--before SRC`` adds a third run to each round: ``golive validate`` from another checkout's ``src``
(``PYTHONPATH``, e.g. ``git worktree add --detach /tmp/validate-before COMMIT``), so before and after are
measured in the same rounds; its stage figures are printed too.

Run: ``.venv/bin/python benchmarks/validate.py [--steps 2000] [--repeat 5] [--before /tmp/validate-before/src]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.5  # seconds, subprocess validate of 2,000 steps
FLOOR_RATIO = 1.2  # at most this times PyYAML's CSafeLoader alone on the same file, cold
PHASES = 20


def make_runbook(steps: int) -> str:
    """A valid runbook of ``steps`` steps that exercises references, plugin params and needs."""
    per_phase = max(1, steps // PHASES)
    out = [
        "golive: 1",
        "name: bench",
        "roles:",
        "  ic: {may: [decide, rollback]}",
        "  ops: {}",
        "vars:",
        "  base_url: https://api.example.com",
        "secrets:",
        "  token: {provider: env, id: BENCH_TOKEN}",
        "triggers:",
        "  - {id: errors, title: errors, then: rollback}",
        "phases:",
    ]
    n = 0
    for p in range(PHASES):
        out += [f"  - id: phase-{p}", f"    at: T-{PHASES - p}m", "    steps:"]
        for i in range(per_phase):
            if n >= steps:
                break
            sid = f"s{p}-{i}"
            needs = f", needs: [s{p}-{i - 1}]" if i % 4 else ""
            kind = i % 3
            if kind == 0:
                out.append(
                    f"      - {{id: {sid}, kind: check, type: http, expected: 2s{needs}, with: "
                    f'{{url: "${{{{ vars.base_url }}}}/health/{n}", bearer: "${{{{ secrets.token }}}}", '
                    f'expect: {{status: 200, json: {{"$.status": ok}}}}}}}}'
                )
            elif kind == 1:
                out.append(
                    f"      - {{id: {sid}, kind: manual, role: ops, expected: 1m{needs}, "
                    f"inputs: [{{id: ref, title: Ref}}], instructions: Confirm item {n}.}}"
                )
            else:
                out.append(
                    f"      - {{id: {sid}, kind: action, type: command, expected: 5s{needs}, "
                    f"with: {{run: [echo, step-{n}], expect: {{exit_code: 0}}}}}}"
                )
            n += 1
    return "\n".join(out) + "\n"


def timed(
    argv: list[str], env: dict[str, str], walls: list[float], cpus: list[float]
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` once, appending its wall seconds to ``walls`` and its CPU (user + sys) to ``cpus``."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, check=False)
    walls.append(time.perf_counter() - t)
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append(ru2.ru_utime - ru.ru_utime + ru2.ru_stime - ru.ru_stime)
    return proc


def best(times: list[float]) -> str:
    return f"best {min(times) * 1000:.0f} ms, median {sorted(times)[len(times) // 2] * 1000:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", default=None, help="another checkout's src directory, run in the same rounds")
    args = ap.parse_args()
    golive = str(Path(sys.executable).with_name("golive"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(make_runbook(args.steps), encoding="utf-8")
        size = path.stat().st_size

        from golive.spec import loader

        loaded = loader.load(path, environ={})
        count = len(loaded.runbook.all_steps())
        print(f"runbook: {count} steps in {len(loaded.runbook.phases)} phases, {size / 1024:.0f} KiB")

        env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_") and k != "PYTHONDONTWRITEBYTECODE"}
        sub: list[float] = []
        cpu: list[float] = []
        floor: list[float] = []
        floor_cpu: list[float] = []
        before_sub: list[float] = []
        before_cpu: list[float] = []
        before_env = {**env, "PYTHONPATH": str(Path(args.before).resolve())} if args.before else None
        floor_code = f"import yaml; yaml.load(open({str(path)!r}, 'rb'), Loader=yaml.CSafeLoader)"
        for _ in range(args.repeat):
            # The floor, alternated with golive: a fresh interpreter that only parses the file with PyYAML's
            # libyaml loader (no positions, no validation).
            proc = timed([sys.executable, "-c", floor_code], env, floor, floor_cpu)
            if proc.returncode != 0:
                print(proc.stdout.decode(), proc.stderr.decode())
                return 1
            for run_env, walls, cpus in ((env, sub, cpu), (before_env, before_sub, before_cpu)):
                if run_env is None:
                    continue
                proc = timed([golive, "validate", str(path)], run_env, walls, cpus)
                if proc.returncode != 0:
                    print(proc.stdout.decode(), proc.stderr.decode())
                    return 1
        stages = stage_cpu(path.read_text(encoding="utf-8"))
        before_stages = stage_cpu_of(args.before, path) if args.before else None
        imports = import_cpu(env)
        inproc: list[float] = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            loader.load(path, environ={})
            inproc.append(time.perf_counter() - t)
    verdict = "meets" if min(sub) < TARGET else "MISSES"
    print(f"golive validate (subprocess, cold): {best(sub)}  [{verdict} the {TARGET * 1000:.0f} ms target]")
    med = sorted(sub)[len(sub) // 2] / sorted(floor)[len(floor) // 2]
    print(
        f"PyYAML CSafeLoader alone (subprocess, cold): {best(floor)}; golive / floor: best {min(sub) / min(floor):.2f}x, "
        f"median {med:.2f}x (target <= {FLOOR_RATIO}x)"
    )
    print(
        f"  child CPU (user+sys):             {best(cpu)}; floor's {best(floor_cpu)}; "
        f"CPU ratio best {min(cpu) / min(floor_cpu):.2f}x, median "
        f"{sorted(cpu)[len(cpu) // 2] / sorted(floor_cpu)[len(floor_cpu) // 2]:.2f}x"
    )
    if before_sub:
        med_b = sorted(before_sub)[len(before_sub) // 2] / sorted(floor)[len(floor) // 2]
        print(
            f"--before {args.before} (same rounds): {best(before_sub)}; / floor: best "
            f"{min(before_sub) / min(floor):.2f}x, median {med_b:.2f}x; child CPU {best(before_cpu)}, CPU ratio best "
            f"{min(before_cpu) / min(floor_cpu):.2f}x"
        )
    print(f"loader.load (in process, warm):     {best(inproc)}")
    print("CPU by stage (best of 5): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stages.items()))
    if before_stages is not None:
        print("  --before, CPU by stage:  " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in before_stages.items()))
    print("CPU to import (fresh interpreter): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in imports.items()))
    if args.before:
        before_imports = import_cpu({**env, "PYTHONPATH": str(Path(args.before).resolve())})
        print("  --before, CPU to import: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in before_imports.items()))
    return 0


def stage_cpu_of(src: str, path: Path) -> dict[str, float]:
    """:func:`stage_cpu` of the golive in another checkout's ``src`` (a child process with that PYTHONPATH)."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import validate\n"
        f"print(json.dumps(validate.stage_cpu(open({str(path)!r}, encoding='utf-8').read())))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return {str(k): float(v) for k, v in json.loads(out).items()}


def stage_cpu(text: str, repeat: int = 5) -> dict[str, float]:
    """CPU seconds of each loader stage on ``text``: YAML compose, position map, models, cross-field checks."""
    import yaml

    from golive.plugins import registry
    from golive.spec import loader, models

    reg = registry.default_registry()

    def cpu(fn: object) -> tuple[float, object]:
        best_s, out = float("inf"), None
        for _ in range(repeat):
            t = time.process_time()
            out = fn()  # type: ignore[operator]
            best_s = min(best_s, time.process_time() - t)
        return best_s, out

    # The loader builds data straight from libyaml's parse events (no node tree): "yaml parse" is the event
    # stream alone, "positions" the whole build (parse included) into data and its position map.
    compose_s, _ = cpu(lambda: sum(1 for _ in yaml.parse(text, Loader=loader._Loader)))

    def build() -> tuple[object, object]:
        b = loader._Builder(text, "bench.yaml", [])
        try:
            return b, b.document()[1]
        finally:
            b.close()

    build_s, (builder, data) = cpu(build)  # type: ignore[misc]
    models_s, rb = cpu(lambda: models.Runbook.model_validate(data))

    def cross() -> None:
        ctx = loader._Ctx("bench.yaml", builder.pos, [])  # type: ignore[attr-defined]
        loader._cross_checks(ctx, data, reg, rb.var_defaults())  # type: ignore[attr-defined, arg-type]

    cross_s, _ = cpu(cross)
    return {"yaml parse": compose_s, "positions": build_s, "models": models_s, "refs/plugins/rules": cross_s}


def import_cpu(env: dict[str, str]) -> dict[str, float]:
    """CPU seconds a fresh interpreter spends importing the CLI, the loader, and the plugin registry."""
    code = (
        "import time, resource\n"
        "def c():\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime\n"
        "t0 = c(); import golive.cli; t1 = c(); import golive.spec.loader; t2 = c()\n"
        "from golive.plugins import registry; registry.default_registry(); t3 = c()\n"
        "print(t0, t1 - t0, t2 - t1, t3 - t2)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    start, cli, spec, plugins = (float(x) for x in out.split())
    return {"interpreter": start, "cli": cli, "loader+models (pydantic)": spec, "plugins": plugins}


if __name__ == "__main__":
    sys.exit(main())
