"""Command check, action and metric source with real processes; the env check."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from golive.plugins.actions.basic import CommandAction
from golive.plugins.checks.command import CommandCheck, CommandParams
from golive.plugins.checks.env import EnvCheck, EnvParams
from golive.plugins.metrics.sources import CommandMetric, CommandMetricParams
from golive.results import Outcome
from golive.testing import make_ctx

SECRET = "hunter2-very-secret"


async def test_command_check_passes_on_exit_0_and_stdout_match(tmp_path: Path) -> None:
    """The seed's preflight: `overall_status PASS` on stdout with exit 0 passes."""
    result = await CommandCheck().run(
        make_ctx(
            CommandParams(
                run="echo 'overall_status PASS'; echo 'bot_agent_id_secret_present=true'",
                expect={"stdout": "^overall_status PASS$"},
            ),
            workdir=tmp_path,
        )
    )
    assert result.outcome is Outcome.PASS, result.summary
    assert "overall_status PASS" in result.output["stdout"]


async def test_command_check_fails_with_exit_code_and_last_stderr_line(tmp_path: Path) -> None:
    """Exit 1 for an expected 0 fails and shows the last stderr line."""
    result = await CommandCheck().run(
        make_ctx(CommandParams(run=[sys.executable, "-c", "import sys; sys.exit('db unreachable') "]), workdir=tmp_path)
    )
    assert result.outcome is Outcome.FAIL
    assert result.summary == "exit_code=1, expected 0 (stderr: 'db unreachable')"


async def test_a_failed_compare_shows_both_sides(tmp_path: Path) -> None:
    """A compare that prints what it saw on stdout and why on stderr shows both; a pass shows what was judged."""
    script = "import sys; print('rows: 1001'); sys.exit('row count differs from 1000')"
    result = await CommandCheck().run(make_ctx(CommandParams(run=[sys.executable, "-c", script]), workdir=tmp_path))
    assert result.outcome is Outcome.FAIL
    assert result.summary == "exit_code=1, expected 0 (stdout: 'rows: 1001'; stderr: 'row count differs from 1000')"
    ok = CommandParams(run=[sys.executable, "-c", "print('{\"rows\": 1000}')"], expect="json.rows == 1000")
    result = await CommandCheck().run(make_ctx(ok, workdir=tmp_path))
    assert result.outcome is Outcome.PASS
    assert result.summary.startswith("exit_code=0, expected 0; `json.rows == 1000` holds (")


async def test_command_check_argv_runs_without_a_shell(tmp_path: Path) -> None:
    """An argv list is not shell-interpreted: `$HOME` stays literal."""
    result = await CommandCheck().run(
        make_ctx(CommandParams(run=["echo", "$HOME"], expect={"stdout": r"^\$HOME$"}), workdir=tmp_path)
    )
    assert result.outcome is Outcome.PASS, result.summary


def still_alive(pid: int, wait: float = 5.0) -> bool:
    """True if ``pid`` is still running after ``wait`` seconds (a zombie counts as dead)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (ProcessLookupError, FileNotFoundError):
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        time.sleep(0.05)
    return True


async def test_command_check_timeout_kills_the_process_group(tmp_path: Path) -> None:
    """On timeout the check is an ERROR and the shell's child (a sleep) is killed too."""
    pidfile = tmp_path / "child.pid"
    p = CommandParams(run=f"sleep 30 & echo $! > {pidfile}; wait", timeout="500ms")
    result = await CommandCheck().run(make_ctx(p, workdir=tmp_path))
    assert result.outcome is Outcome.ERROR
    assert "timed out after 0.5 s" in result.summary
    assert not still_alive(int(pidfile.read_text())), "the background child outlived the timeout"


async def test_command_check_output_is_redacted(tmp_path: Path) -> None:
    """A secret printed by the command never reaches the result or its evidence."""
    result = await CommandCheck().run(
        make_ctx(CommandParams(run=f"echo token={SECRET}"), workdir=tmp_path, secrets={"s": SECRET})
    )
    assert result.outcome is Outcome.PASS
    dumped = result.model_dump_json() + "".join(e.content.decode() for e in result.evidence)
    assert SECRET not in dumped
    assert "token=***" in result.output["stdout"]


async def test_command_check_missing_program_is_an_error(tmp_path: Path) -> None:
    """A program that does not exist is an ERROR naming it."""
    result = await CommandCheck().run(make_ctx(CommandParams(run=["golive-no-such-program"]), workdir=tmp_path))
    assert result.outcome is Outcome.ERROR
    assert "command not found: golive-no-such-program" in result.summary


async def test_command_check_condition_reads_json_stdout(tmp_path: Path) -> None:
    """A condition can read stdout parsed as JSON."""
    p = CommandParams(run="""echo '{"pending": 3}'""", expect="json.pending == 0")
    result = await CommandCheck().run(make_ctx(p, workdir=tmp_path))
    assert result.outcome is Outcome.FAIL
    assert "json.pending == 0" in result.summary


async def test_command_action_runs_and_describes(tmp_path: Path) -> None:
    """The command action runs like the check; its dry-run text names the command."""
    p = CommandParams(run=["touch", "deployed.marker"])
    ctx = make_ctx(p, workdir=tmp_path)
    assert CommandAction().describe(ctx) == "would run `touch deployed.marker`"
    result = await CommandAction().run(ctx)
    assert result.outcome is Outcome.PASS
    assert (tmp_path / "deployed.marker").exists()


async def test_command_metric_parses_stdout(tmp_path: Path) -> None:
    """The command metric source reads the number a command prints."""
    reading = await CommandMetric().read(make_ctx(CommandMetricParams(run="echo 0.031"), workdir=tmp_path))
    assert reading.status == "ok"
    assert reading.value == pytest.approx(0.031)


async def test_command_metric_empty_stdout_is_no_data(tmp_path: Path) -> None:
    """Nothing printed is no data, not 0."""
    reading = await CommandMetric().read(make_ctx(CommandMetricParams(run="true"), workdir=tmp_path))
    assert reading.status == "no_data"


async def test_command_metric_failure_is_an_error(tmp_path: Path) -> None:
    """A failing command is an error reading."""
    reading = await CommandMetric().read(make_ctx(CommandMetricParams(run="echo 5; exit 2"), workdir=tmp_path))
    assert reading.status == "error"


async def test_env_check_equals_shows_non_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a plain name the summary shows what was seen and expected."""
    monkeypatch.setenv("ORDER_STATUS_OUTBOUND_ENABLED", "true")
    p = EnvParams(name="ORDER_STATUS_OUTBOUND_ENABLED", state="equals", value="false")
    result = await EnvCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert result.summary == 'ORDER_STATUS_OUTBOUND_ENABLED is "true", expected "false"'


async def test_env_check_never_shows_secret_looking_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a name like *_API_KEY neither the seen nor the expected value is shown."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abc")
    p = EnvParams(name="OPENAI_API_KEY", state="equals", value="sk-live-xyz")
    result = await EnvCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    dumped = result.model_dump_json()
    assert "sk-live-abc" not in dumped
    assert "sk-live-xyz" not in dumped


async def test_env_check_present_and_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """present fails for a missing variable; absent passes for it."""
    monkeypatch.delenv("GOLIVE_TEST_NOPE", raising=False)
    missing = await EnvCheck().run(make_ctx(EnvParams(name="GOLIVE_TEST_NOPE")))
    absent = await EnvCheck().run(make_ctx(EnvParams(name="GOLIVE_TEST_NOPE", state="absent")))
    assert missing.outcome is Outcome.FAIL
    assert "not set" in missing.summary
    assert absent.outcome is Outcome.PASS
