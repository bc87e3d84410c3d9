"""Every broken runbook in tests/fixtures/invalid/ is refused with one problem at the right place.

Each fixture has exactly one fault and a header line::

    # expect: <line>:<col> <field path or -> <message fragment>

The loader must report exactly one problem, at that line and column, on that field path, whose message
contains the fragment. Files that cannot hold a comment (zero bytes) are listed in NO_HEADER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from golive import exceptions
from golive.spec import loader

INVALID = Path(__file__).resolve().parent.parent / "fixtures" / "invalid"
MIN_FIXTURES = 25
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\S+) (.+)$", re.MULTILINE)
NO_HEADER = {"zero-bytes.yaml": "1:1 - the file is empty"}


@dataclass(frozen=True)
class Expect:
    line: int
    column: int
    path: str  # "" for a problem about the whole file
    fragment: str


def _expect(path: Path) -> Expect:
    # latin-1 reads any byte, so the header of the not-UTF-8 fixture is readable too.
    text = NO_HEADER.get(path.name)
    header = f"# expect: {text}" if text else path.read_bytes().decode("latin-1")
    m = _EXPECT.search(header)
    assert m, f"{path.name}: no '# expect: <line>:<col> <path> <message>' header"
    return Expect(int(m[1]), int(m[2]), "" if m[3] == "-" else m[3], m[4].strip())


FIXTURES = sorted(INVALID.glob("*.yaml"))


def test_there_are_enough_fixtures() -> None:
    """The suite covers at least 25 distinct faults."""
    assert len(FIXTURES) >= MIN_FIXTURES


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_is_refused_with_one_located_problem(path: Path) -> None:
    """The loader raises RunbookInvalid with exactly one problem, located at file:line:col and field path."""
    want = _expect(path)
    with pytest.raises(exceptions.RunbookInvalid) as info:
        loader.load(path)
    problems = info.value.problems
    shown = "\n".join(str(p) for p in problems)
    assert len(problems) == 1, f"expected one problem, got:\n{shown}"
    (problem,) = problems
    assert (problem.line, problem.column) == (want.line, want.column), shown
    assert problem.path == want.path, shown
    assert want.fragment in problem.message, shown
    # What a person sees names the file, the position and the field.
    prefix = f"{path}:{want.line}:{want.column}: " + (f"{want.path}: " if want.path else "")
    assert str(problem).startswith(prefix), shown


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_invalid_exit_code_is_two(path: Path) -> None:
    """RunbookInvalid is a usage error: exit code 2."""
    with pytest.raises(exceptions.RunbookInvalid) as info:
        loader.load(path)
    assert info.value.exit_code == 2
