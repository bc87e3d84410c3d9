"""``golive replay``: re-judge a finished run's recorded readings and samples with an edited runbook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from golive.cli import _common


@click.command()
@click.argument("run_id")
@click.option(
    "--runbook",
    "runbook_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The edited runbook (triggers matched by id, judges by step id).",
)
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="A value for a required variable.")
@_common.json_option
@_common.db_option
def replay(run_id: str, runbook_path: Path, var_pairs: tuple[str, ...], as_json: bool, db_url: str | None) -> None:
    """Replay RUN's recorded trigger readings and judge samples through an edited runbook, and print what
    would have happened and when ("rollback at T+7m12s instead of PASSED"). Nothing is read again from the
    metric sources. Exit 0 when it replayed (whatever the outcome)."""
    from golive.spec import loader
    from golive.watch import replay as replay_mod

    given = _common.parse_pairs(var_pairs, "--var")

    async def go(store: Any) -> replay_mod.Replay:
        rec = await store.get_run(await _common.latest_run_id(store, run_id))
        events = [e.as_dict() for e in await store.events(rec.run_id)]
        # Required variables default to what the run recorded (nothing is read again, so a redacted
        # placeholder does no harm); --var wins.
        created: dict[str, Any] = next((e["data"] for e in events if e["type"] == "run_created"), {})
        recorded = {k: v for k, v in (created.get("vars") or {}).items() if isinstance(v, str | int | float | bool)}
        declared = _declared_vars(runbook_path)
        overrides = {k: str(v) for k, v in recorded.items() if k in declared} | given
        loaded = loader.load(runbook_path, var_overrides=overrides)
        return replay_mod.replay(events, loaded.runbook)

    res = _common.run_async(lambda: _common.with_store(db_url, go))
    if as_json:
        _common.echo_json(res.as_json())
        return
    click.echo(f"run {res.run_id}: {res.verdict()}")
    click.echo(
        f"  as it ran: {res.actual_status.upper().replace('_', ' ')} at {res.t(res.actual_at)}: {res.actual_reason}"
    )
    for w in res.windows:
        fired = "; ".join(f"{f['trigger_id']} {f['then']} at {res.t(replay_mod.parse_ts(f['ts']))}" for f in w.fired)
        click.echo(
            f"  window {w.step} from {res.t(w.started_at)}: {w.readings} readings replayed; {fired or 'nothing fires'}"
        )
    for j in res.judges:
        click.echo(f"  judge {j.step}: {j.was} -> {j.now} ({j.reason})")
    if res.unknown_triggers:
        click.echo(f"  not replayed (no recorded readings): {', '.join(res.unknown_triggers)}")


def _declared_vars(path: Path) -> set[str]:
    """The variable names the edited runbook declares (the loader reports anything wrong with it after)."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    found = doc.get("vars") if isinstance(doc, dict) else None
    return {str(k) for k in found} if isinstance(found, dict) else set()
