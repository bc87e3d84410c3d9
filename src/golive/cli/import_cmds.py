"""``golive import``: a Markdown runbook becomes a draft golive runbook."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from golive import exceptions
from golive.cli import _common


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the draft here (default: standard output, with the report on standard error).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@_common.json_option
def import_(file: str, output: Path | None, force: bool, as_json: bool) -> None:
    """Import FILE (Markdown) as a draft runbook that validates, and report every non-blank source line.

    What cannot be translated with confidence becomes a manual step with the original text and a
    `# TODO(import): line N: ...` note. Exit 0 with a draft, 2 when FILE cannot be imported.
    """
    from golive.importer import import_markdown

    try:
        raw = Path(file).read_bytes()
    except FileNotFoundError:
        raise exceptions.RunbookInvalid([exceptions.Problem(file, 0, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise exceptions.RunbookInvalid([exceptions.Problem(file, 0, 0, "", "is a directory")]) from None
    except OSError as exc:
        raise exceptions.RunbookInvalid([exceptions.Problem(file, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    if output is not None and output.exists() and not force:
        raise exceptions.UsageError(f"{output} exists; choose another -o or add --force to overwrite it")
    result = import_markdown(raw, file)
    if output is not None:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(result.yaml_text, encoding="utf-8")
        tmp.replace(output)
    else:
        click.echo(result.yaml_text, nl=False)
    report_to_stderr = output is None
    if as_json:
        data = result.report.as_dict()
        data["output"] = str(output) if output is not None else None
        if report_to_stderr:
            import json

            click.echo(json.dumps(data, indent=2), err=True)
        else:
            _common.echo_json(data)
    else:
        text = result.report.text()
        if output is not None:
            text += f"\nwrote {output} (valid); check it with: golive validate {output}"
        click.echo(text, err=report_to_stderr)
    sys.exit(0)
