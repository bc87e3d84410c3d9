"""Wall time of a time-scaled, stubbed rehearsal of the payments example: the cutover with its 2-hour window,
then 72 hours of hypercare, at --time-scale (default 3600), with scripted people (golive.testing.rehearse, the
people and roles of the example's GO scenario).

    .venv/bin/python benchmarks/rehearsal.py [--time-scale 3600]

Prints the wall time of the run and of hypercare, the scaled time they covered, and the hypercare slots run
or missed (a factor beyond what the machine keeps up with shows as missed slots). There is no peer to compare
with, so the figures are absolute.

It also samples the process's RSS every quarter of a real second and prints it against run time (every 6 h
of the 72), with the growth after the first hour (target: under 20 MB, memory flat over the 72 hours).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
from pathlib import Path

from golive.engine import rehearsal, scenario
from golive.engine.state import RunStatus, parse_ts
from golive.spec import loader
from golive.store import open_store
from golive.testing import rehearse, write_log_lines

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ROOT / "examples" / "payments-go-live.yaml"
STUBS = ROOT / "examples" / "stubs" / "payments-go-live.yaml"
GO = ROOT / "examples" / "scenarios" / "payments-go-live" / "go.yaml"  # its people: roles and inputs


def rss_mb() -> float:
    import resource

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


async def sample_rss(clock: object, into: list[tuple[float, float]]) -> None:
    """(run-time epoch seconds, RSS MB) every quarter of a real second."""
    while True:
        into.append((clock.now().timestamp(), rss_mb()))  # type: ignore[attr-defined]
        await asyncio.sleep(0.25)


def print_rss(samples: list[tuple[float, float]], hypercare_start: float) -> None:
    if not samples:
        return
    start = samples[0][0]
    shown = -1
    for ts, mb in samples:
        hour = int((ts - start) // 3600)
        if hour // 6 > shown:
            shown = hour // 6
            print(f"  RSS at run hour {hour:>3}: {mb:6.1f} MB")
    after_first = [mb for ts, mb in samples if ts - start >= 3600]
    if after_first:
        growth = max(after_first) - after_first[0]
        verdict = "met" if growth < 20 else "MISSED"
        print(
            f"RSS after the first hour: {after_first[0]:.1f} MB, peak {max(after_first):.1f} MB, last "
            f"{after_first[-1]:.1f} MB: growth {growth:.1f} MB over {(samples[-1][0] - start) / 3600:.0f} h of run "
            f"time (target < 20 MB: {verdict})"
        )
    in_hc = [mb for ts, mb in samples if ts - hypercare_start >= 3600]
    if in_hc:
        growth = max(in_hc) - in_hc[0]
        print(
            f"RSS after hypercare's first hour: {in_hc[0]:.1f} MB, peak {max(in_hc):.1f} MB, last {in_hc[-1]:.1f} MB: "
            f"growth {growth:.1f} MB over the rest of the 72 h (target < 20 MB: {'met' if growth < 20 else 'MISSED'})"
        )


async def main(scale: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="golive-bench-rehearsal-"))
    settings = rehearsal.new_settings(time_scale=scale, stubs_path=STUBS)
    clock = settings.clock()
    assert clock is not None
    people = scenario.load_scenario(GO).scenario
    log = tmp / "api.log"
    loaded = loader.load(str(RUNBOOK), var_overrides={**people.vars, "api_log": str(log)})
    store = open_store(str(tmp / "golive.db"))
    await store.open()
    try:
        samples: list[tuple[float, float]] = []
        sampler = asyncio.create_task(sample_rss(clock, samples))
        res = await rehearse(
            store,
            loaded,
            settings,
            clock,
            roles=dict(people.roles),
            inputs=people.confirm_inputs,
            helpers=[
                functools.partial(write_log_lines, log, line="{ts} webhook Signature Verified for evt_{n}", every=600)
            ],
            reports=tmp / "reports",
        )
        sampler.cancel()
        events = await store.events(res.run_id)
        first, last = parse_ts(events[0].ts), parse_ts(events[-1].ts)
        assert first is not None
        assert last is not None
        ran = sum(1 for e in events if e.type == "hypercare_check")
        missed = sum(len(e.data.get("check_ids") or ()) for e in events if e.type == "hypercare_missed")
        print(f"time scale            x{scale:g}")
        print(f"run                   {res.status.value} in {res.run_wall:.1f} s wall")
        print(f"hypercare             {res.hypercare_wall:.1f} s wall ({ran} checks run, {missed} slots missed)")
        print(
            f"total                 {res.run_wall + res.hypercare_wall:.1f} s wall for "
            f"{(last - first).total_seconds() / 3600:.1f} h of run time"
        )
        print(f"triggers in the runbook: {len(loaded.runbook.triggers)}")
        print_rss(samples, res.hypercare_from)
        assert res.status is RunStatus.PASSED, (res.reason, res.refused)
    finally:
        await store.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-scale", type=float, default=3600.0)
    asyncio.run(main(ap.parse_args().time_scale))
