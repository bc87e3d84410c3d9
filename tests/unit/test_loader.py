"""Loading a valid runbook: variables, digests, every problem in one pass, plugin params with references."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from golive import exceptions
from golive.spec import loader

BASE = """\
golive: 1
name: t
roles:
  ops: {}
vars:
  base-url: https://api.example.com
  region: {default: us-east-2}
  token_ttl: {default: 5s}
  previous_tag: {required: true}
secrets:
  token: {provider: env, id: T_TOKEN}
phases:
  - id: p
    steps:
      - id: health
        kind: check
        type: http
        with:
          url: "${{ vars.base-url }}/health"
          timeout: "${{ vars.token_ttl }}"
          bearer: "${{ secrets.token }}"
"""


def test_vars_precedence_default_then_environment_then_override() -> None:
    """Defaults < GOLIVE_VAR_<NAME> (dashes and dots become underscores) < --var."""
    rb = loader.load_text(BASE, environ={}).runbook
    values = loader.resolve_vars(
        rb,
        overrides={"region": "eu-west-1", "previous_tag": "v1"},
        environ={"GOLIVE_VAR_BASE_URL": "https://staging.example.com", "GOLIVE_VAR_REGION": "us-west-2"},
    )
    assert values["base-url"] == "https://staging.example.com"
    assert values["region"] == "eu-west-1"
    assert values["token_ttl"] == "5s"


def test_override_of_an_undeclared_variable_names_the_declared_ones() -> None:
    """--var for a name the runbook does not declare is a usage error with a suggestion."""
    rb = loader.load_text(BASE, environ={}).runbook
    with pytest.raises(exceptions.UsageError, match=r"no variable 'regoin' \(did you mean 'region'\?\)"):
        loader.resolve_vars(rb, overrides={"regoin": "x"}, environ={})


def test_required_variable_without_value_is_a_usage_error_at_run_time_only() -> None:
    """validate accepts the file; resolving its variables for a run asks for the missing one."""
    rb = loader.load_text(BASE, environ={}).runbook
    with pytest.raises(exceptions.UsageError, match="GOLIVE_VAR_PREVIOUS_TAG"):
        loader.resolve_vars(rb, environ={})


def test_loaded_runbook_keeps_path_text_digest_and_vars(tmp_path: Path) -> None:
    """LoadedRunbook carries the file name, its text, the sha256 of its bytes and the resolved vars."""
    path = tmp_path / "rb.yaml"
    path.write_text(BASE, encoding="utf-8")
    loaded = loader.load(path, var_overrides={"previous_tag": "v1"}, environ={})
    assert loaded.path == str(path)
    assert loaded.text == BASE
    assert loaded.digest == hashlib.sha256(BASE.encode()).hexdigest()
    assert loaded.vars["previous_tag"] == "v1"


def test_byte_order_mark_is_accepted() -> None:
    """A UTF-8 BOM (some Windows editors write one) is not a problem."""
    loaded = loader.load_bytes(b"\xef\xbb\xbf" + BASE.encode(), "bom.yaml", environ={})
    assert loaded.runbook.name == "t"


def test_every_problem_is_reported_in_one_pass() -> None:
    """Three faults in three places give three problems, sorted by line."""
    text = BASE.replace("kind: check", "kind: check\n        timout: 5m").replace(
        "https://api.example.com\n", "https://api.example.com\n  bad var: 1\n"
    )
    text += "      - {id: a, kind: manual, role: deployer}\n"
    with pytest.raises(exceptions.RunbookInvalid) as info:
        loader.load_text(text, "multi.yaml", environ={})
    paths = [p.path for p in info.value.problems]
    assert paths == ["vars.bad var", "phases[0].steps[0].timout", "phases[0].steps[1].role"]
    assert [p.line for p in info.value.problems] == sorted(p.line for p in info.value.problems)


def test_plugin_params_are_checked_with_variables_filled_in() -> None:
    """A variable used in a typed plugin param is validated with its value: a bad one is reported there."""
    text = BASE.replace("token_ttl: {default: 5s}", "token_ttl: {default: 5 minutes}")
    with pytest.raises(exceptions.RunbookInvalid) as info:
        loader.load_text(text, "params.yaml", environ={})
    (problem,) = info.value.problems
    assert problem.path == "phases[0].steps[0].with.timeout"
    assert "5 minutes" in problem.message


def test_run_time_references_in_typed_params_wait_for_the_run() -> None:
    """A param holding a secret or an earlier step's output is only known at run time; loading accepts it."""
    text = BASE + (
        "      - id: port-open\n"
        "        kind: check\n"
        "        type: tcp\n"
        "        needs: [health]\n"
        "        with: {host: db.example.com, port: '${{ steps.health.output.json.port }}'}\n"
    )
    loaded = loader.load_text(text, environ={})
    assert loaded.runbook.step("port-open") is not None


def test_missing_file_and_directory_are_refused_with_a_message(tmp_path: Path) -> None:
    """A path that is not a readable file gives RunbookInvalid naming it, not an OSError."""
    with pytest.raises(exceptions.RunbookInvalid, match="no such file"):
        loader.load(tmp_path / "nope.yaml")
    with pytest.raises(exceptions.RunbookInvalid, match="is a directory"):
        loader.load(tmp_path)


def test_file_level_problem_prints_without_line() -> None:
    """A problem about the whole file (line 0) prints as 'file: message'."""
    problem = exceptions.Problem("rb.yaml", 0, 0, "", "no such file")
    assert str(problem) == "rb.yaml: no such file"
    assert str(exceptions.Problem("rb.yaml", 3, 5, "name", "x")) == "rb.yaml:3:5: name: x"


def test_alias_bomb_is_refused_quickly() -> None:
    """Aliases that would expand into millions of values are refused once the bound is passed."""
    lines = ["golive: 1", "name: x", 'a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefgh":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = name
    with pytest.raises(exceptions.RunbookInvalid, match=f"more than {loader.MAX_YAML_VALUES:,} values"):
        loader.load_text("\n".join(lines) + "\n", "bomb.yaml", environ={})


SCALARS = [
    "plain", "s0-1", "2s", "1m", "200", "-3", "+4", "0o17", "0x1f", "1_000", "1.5", ".5", "-.inf", ".NaN", "1e3",
    "yes", "No", "on", "OFF", "true", "False", "y", "n", "~", "null", "Null", "", "2026-03-01", "2026-03-01T10:00:00Z",
    "=x", "<<x", "'200'", '"yes"', "'~'", '""', "!!str 200", "!!int '12'", "!!float 1", "! 12", "!!bool yes", "'${{ vars.a }}'",
    "é", "|\n    block\n", ">-\n    folded\n", "'it''s'", '"tab\\t"',
]  # fmt: skip


@pytest.mark.parametrize("scalar", SCALARS)
def test_a_scalar_reads_as_pyyaml_safe_loader_reads_it(scalar: str) -> None:
    """The builder decides most strings without PyYAML's resolver and constructor; each spelling still reads
    as the safe loader reads it, in a block mapping, a flow mapping and a list, with its position kept."""
    text = f"a: {scalar}\nb: [{scalar}]\n" if "\n" not in scalar else f"a: {scalar}"
    if "\n" not in scalar:
        text += f"c: {{k: {scalar}}}\n"
    expected = yaml.load(text, Loader=yaml.CSafeLoader)
    builder = loader._Builder(text, "f.yaml", [])
    try:
        found, data = builder.document()
    finally:
        builder.close()
    assert found
    assert repr(data) == repr(expected)  # types too, and a NaN equal to itself
    assert builder.pos[("a",)] == (1, 1)
    if "\n" not in scalar and data["b"]:
        assert builder.pos[("b", 0)] == (2, 5)
        assert builder.pos[("c", "k")] == (3, 5)


def python_on(code: str, path: Path) -> str:
    """Run ``code`` in a fresh interpreter with ``path`` as its argument; what it printed (it must exit 0)."""
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_validating_imports_no_event_loop_tls_or_process_pool(tmp_path: Path) -> None:
    """`golive validate` of a runbook with HTTP, command and SQL steps, a local secret and conditions reads no
    asyncio, ssl or multiprocessing (~40 ms of imports): those are imported when a step runs."""
    path = tmp_path / "rb.yaml"
    path.write_text(
        BASE.replace("previous_tag: {required: true}", "previous_tag: v1")
        + "      - {id: cmd, kind: action, type: command, if: vars.region == 'x', with: {run: [echo, hi]}}\n"
        + "      - {id: db, kind: check, type: sql, with: {url: 'sqlite:///x.db', query: 'select 1', expect: {rows: [[1]]}}}\n"
        + "      - {id: f, kind: check, type: http, with: {url: 'https://x', expect: {json: {'$.a[?b > `1`]': 2}}}}\n"
        + "  - id: q\n    steps:\n      - {id: m, kind: manual, role: ops, instructions: ok}\n",
        encoding="utf-8",
    )
    secret = 'secrets:\n  token: {provider: file, id: "' + str(tmp_path / "t") + '"}\n'
    path.write_text(
        path.read_text(encoding="utf-8").replace("secrets:\n  token: {provider: env, id: T_TOKEN}\n", secret)
    )
    code = (
        "import sys\n"
        "from golive.cli import main\n"
        "sys.argv = ['golive', 'validate', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('asyncio', 'ssl', 'multiprocessing', 'aiohttp') if m in sys.modules))\n"
    )
    out = python_on(code, path)
    assert "valid" in out
    assert out.strip().splitlines()[-1] == "[]"


def test_a_validate_process_leaves_its_objects_out_of_the_last_collection(tmp_path: Path) -> None:
    """`golive validate` freezes what is alive at exit, so the interpreter's last collection does not traverse
    it: a handler registered before validate ran (atexit runs the last registered first) finds almost nothing
    left in the collector's generations (before: the ~20,000 objects made while validating)."""
    path = tmp_path / "rb.yaml"
    path.write_text(BASE.replace("previous_tag: {required: true}", "previous_tag: v1"), encoding="utf-8")
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('left', len(gc.get_objects())))\n"
        "from golive.cli import main\n"
        "main(['validate', sys.argv[1]])\n"
    )
    valid, left = python_on(code, path).splitlines()
    assert valid == f"{path}: valid (t: 1 phases, 1 steps)"
    assert int(left.removeprefix("left ")) < 100, left
