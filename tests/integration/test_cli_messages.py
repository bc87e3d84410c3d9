"""An invalid runbook reads the same from validate, plan and run: located lines, no `golive:` prefix, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.cli import main


@pytest.mark.parametrize("argv", [["validate"], ["plan"], ["run", "--no-prompt"]])
@pytest.mark.parametrize("body", ["phases: 3\n", "phases: 3\nroles: 2\n"], ids=["one-problem", "two-problems"])
def test_an_invalid_runbook_is_reported_alike_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], body: str
) -> None:
    book = tmp_path / "bad.yaml"
    book.write_text("golive: 1\nname: bad\n" + body)
    with pytest.raises(SystemExit) as exc:
        main([argv[0], str(book), *argv[1:], *(["--db", str(tmp_path / "g.db")] if argv[0] == "run" else [])])
    assert exc.value.code == 2
    got = capsys.readouterr()
    lines = (got.out + got.err).splitlines()
    assert f"{book}:3:1: phases: expected a list ('- item' lines or [a, b]), got a number" in lines, lines
    assert not any(line.startswith("golive: ") for line in lines), lines
    assert not (tmp_path / "g.db").exists()
