"""Whatever bytes it is given, the loader returns a runbook or raises RunbookInvalid / UsageError.

Hypothesis feeds random text, random bytes and mutations of real runbooks (the examples): lines deleted,
duplicated and swapped, scalars changed, indentation shifted. An internal error wrapped by the loader's
last line of defence ("cannot be read as a runbook: TypeError ...") counts as a failure too: it means a
case the loader does not handle on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golive import exceptions
from golive.spec import loader

ROOT = Path(__file__).resolve().parent.parent.parent
MAX_EXAMPLES = int(
    os.environ.get("GOLIVE_FUZZ_EXAMPLES", "200")
)  # per test; keeps the file at a few seconds on the 2-core machine
INTERNAL = "cannot be read as a runbook:"

# A small runbook that uses most constructs, so mutations reach deep into the loader even before the
# examples exist.
SEED = """\
golive: 1
name: fuzz-seed
t0: 2026-03-01T10:00:00Z
roles:
  ic: {title: Incident Commander, may: [decide, rollback, waive]}
  ops: {}
vars:
  base_url: https://api.example.com
  region: {default: us-east-2, description: AWS region}
secrets:
  token: {provider: env, id: ADMIN_TOKEN}
settings: {concurrency: 4, default_timeout: 2m}
triggers:
  - id: errors
    title: 5xx spike
    when: value > 0.15
    for: 2m
    then: rollback
  - {id: latency, title: Latency spike, then: notify}
comms:
  channels: [{id: war-room, url: "log://"}]
  templates: {status_update: "Status {{ run.status }}"}
  cadence: [{every: 15m, until: 2h}]
phases:
  - id: preflight
    at: T-60m
    steps:
      - id: health
        kind: check
        type: http
        with:
          url: ${{ vars.base_url }}/health
          bearer: ${{ secrets.token }}
          expect: {status: 200, json: {"$.status": ok}}
        retries: {attempts: 3, backoff: 5s}
      - id: snapshot
        kind: manual
        role: ops
        needs: [health]
        inputs: [{id: snapshot_id, title: Snapshot ID}]
        evidence: [{name: Snapshot record, required: true}]
  - id: decide
    at: T+15m
    steps:
      - {id: go, kind: decision, role: ic, requires: [preflight], deadline: 5m, default: rollback}
      - {id: watch, kind: observe, duration: 60m, triggers: [errors], needs: [go]}
      - {id: announce, kind: notify, channels: [war-room], message: "GO. Snapshot ${{ steps.snapshot.inputs.snapshot_id }}", needs: [watch]}
rollback:
  steps: [{id: revert, kind: manual, role: ops, instructions: Revert.}]
hypercare:
  tiers: [{from: 0s, until: 6h, every: 30m}, {from: 24h, until: 72h, times_per_day: 3}]
evidence: [{id: snap, title: Snapshot, steps: [snapshot]}]
completion: [{id: done, title: Done, steps: [go], no_triggers: true}]
"""


def _corpus() -> list[str]:
    texts = [SEED]
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        texts.append(path.read_text(encoding="utf-8"))
    return texts


CORPUS = _corpus()


def _load(raw: bytes) -> None:
    """Load and accept only the documented outcomes."""
    try:
        loader.load_bytes(raw, "fuzz.yaml", environ={})
    except exceptions.RunbookInvalid as exc:
        problems = exc.problems
    except exceptions.UsageError:
        return
    else:
        return
    assert problems, "RunbookInvalid without a problem"
    for problem in problems:
        assert INTERNAL not in problem.message, str(problem)
        assert problem.file == "fuzz.yaml"


SCALARS = st.sampled_from(
    [
        "",
        "~",
        "null",
        "true",
        "0",
        "-1",
        "1e309",
        ".inf",
        "[]",
        "{}",
        "[a, b]",
        "{a: 1}",
        "'x'",
        "&a x",
        "*a",
        "!!binary aGk=",
        "!!python/object:os.system x",
        "${{ vars.x }}",
        "${{ steps.go.output }}",
        "T-60",
        "5 minutes",
        "2026-03-01",
        "- x",
        ": :",
        "'unterminated",
        "\\t",
        "|",
        ">-",
        "%YAML 1.2",
        "---",
        "...",
        "@",
        "`",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(CORPUS)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not lines:
            break
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "scalar", "indent", "dedent", "key"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "scalar":
            head, sep, _ = lines[i].partition(": ")
            lines[i] = f"{head}{sep or ': '}{draw(SCALARS)}"
        elif op == "indent":
            lines[i] = " " * draw(st.integers(min_value=1, max_value=4)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        else:
            _, sep, rest = lines[i].lstrip().partition(":")
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = f"{indent}{draw(st.from_regex(r'[a-z_]{1,8}', fullmatch=True))}{sep or ':'}{rest}"
    return ("\n".join(lines) + "\n").encode("utf-8")


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=400))
def test_random_text_is_refused_or_loaded(text: str) -> None:
    """Random text never escapes as another exception type."""
    _load(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_or_loaded(raw: bytes) -> None:
    """Random bytes (often not UTF-8) never escape as another exception type."""
    _load(raw)


@FUZZ
@given(st.sampled_from(CORPUS), st.data())
def test_yaml_shaped_text_is_refused_or_loaded(text: str, data: st.DataObject) -> None:
    """Random YAML-ish fragments appended to a runbook never escape as another exception type."""
    extra = data.draw(
        st.lists(
            st.sampled_from(["  ", "- ", ": ", "{", "}", "[", "]", ",", "&a ", "*a", "? ", "#", "\n", "x", "id"]),
            max_size=30,
        )
    )
    _load((text + "".join(extra)).encode("utf-8"))


@FUZZ
@given(mutated())
def test_mutated_runbooks_are_refused_or_loaded(raw: bytes) -> None:
    """Deleted, duplicated, swapped, re-valued and re-indented lines of real runbooks are handled."""
    _load(raw)


def test_seed_is_a_valid_runbook() -> None:
    """The seed loads, so the mutations start from a valid runbook and reach the cross-field checks."""
    loaded = loader.load_text(SEED, "seed.yaml", environ={})
    assert loaded.runbook.name == "fuzz-seed"
