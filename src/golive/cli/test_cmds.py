"""``golive test``: play a runbook's scenarios headless under a fake clock, and judge what came out."""

from __future__ import annotations

from pathlib import Path

import click

from golive.cli import _common


def default_stubs(runbook: Path) -> Path | None:
    """``stubs/<runbook file name>`` beside the runbook, when it exists."""
    candidate = runbook.parent / "stubs" / runbook.name
    return candidate if candidate.is_file() else None


@click.command(name="test")
@click.argument("runbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("more", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--scenario",
    "scenario_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A scenario file, or a directory of them (repeat for several; more may follow RUNBOOK). "
    "Without one: the happy path with automatic people.",
)
@click.option(
    "--stubs",
    "stubs_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The stubs file (default: the scenario's stubs:, else stubs/<runbook> beside the runbook).",
)
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="A value for a variable.")
@click.option("--role", "role_pairs", multiple=True, metavar="ROLE=PERSON", help="Who holds a role.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
def test(
    runbook: Path,
    more: tuple[Path, ...],
    scenario_paths: tuple[Path, ...],
    stubs_path: Path | None,
    var_pairs: tuple[str, ...],
    role_pairs: tuple[str, ...],
    junit_path: Path | None,
) -> None:
    """Play RUNBOOK's scenarios (``--scenario FILE``, or files and directories after RUNBOOK) against stubs under a fake clock (no real waiting) and compare the outcome,
    step outcomes, flags, comms and evidence with what each scenario expects. Exit 0 when every scenario
    passed, 1 when one did not (a diff names the first differing step), 2 for a bad scenario or stubs file."""
    from golive.engine import scenario as scenario_mod
    from golive.plugins import stubs as stubs_mod

    given = _common.parse_pairs(var_pairs, "var")
    roles = _common.parse_pairs(role_pairs, "role")
    # Every file is read and checked before anything plays: a bad one is exit 2, whatever came first.
    files = [f for p in (*scenario_paths, *more) for f in (sorted(p.glob("*.y*ml")) if p.is_dir() else [p])]
    loaded = [scenario_mod.load_scenario(p) for p in files]
    stubs_file = stubs_path or default_stubs(runbook)
    base = stubs_mod.load_stubs(stubs_file) if stubs_file is not None else None
    results: list[scenario_mod.ScenarioResult] = []
    for sc in loaded or [None]:  # type: ignore[list-item]  # None: the happy path
        res = scenario_mod.run_one(runbook, sc, base, given, roles=roles)
        click.echo(res.report())
        results.append(res)
    if junit_path is not None:
        junit_path.write_text(scenario_mod.junit_xml(runbook.stem, results), encoding="utf-8")
    failed = sum(1 for r in results if not r.passed)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise click.exceptions.Exit(1)
