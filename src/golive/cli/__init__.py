"""The ``golive`` command line.

Sub-commands live in sibling modules and are imported only when invoked, so ``golive --help`` stays
fast on a cold start. Every :class:`golive.exceptions.GoliveError` becomes a one-line message on stderr
and its exit code (2 for bad input, 1 for a failure or a refusal); no input gives a traceback.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

import click

__all__ = ["COMMANDS", "main"]

# name -> (module, attribute, one-line help). The help is repeated here so that listing commands
# imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("golive.cli.spec_cmds", "validate", "Check runbook files and report every problem."),
    "plan": ("golive.cli.spec_cmds", "plan", "Show phases, steps, T-times, parallelism and the critical path."),
    "import": ("golive.cli.import_cmds", "import_", "Import a Markdown runbook as a draft runbook that validates."),
    "schema": ("golive.cli.spec_cmds", "schema", "Print the runbook JSON Schema (with every plugin's params)."),
    "run": ("golive.cli.run_cmds", "run", "Start a run of a runbook."),
    "resume": ("golive.cli.run_cmds", "resume", "Continue a run from its event log after a crash."),
    "status": ("golive.cli.run_cmds", "status", "Show a run's phases, steps, outcomes and T-minus."),
    "runs": ("golive.cli.run_cmds", "runs", "List runs."),
    "timeline": ("golive.cli.run_cmds", "timeline", "Print a run's timeline in the scribe's format."),
    "assign": ("golive.cli.run_cmds", "assign", "Assign a person to a role in a run."),
    "confirm": ("golive.cli.run_cmds", "confirm", "Confirm (or fail) a manual step."),
    "decide": ("golive.cli.run_cmds", "decide", "Record a GO or NO-GO decision."),
    "waive": ("golive.cli.run_cmds", "waive", "Waive a step, with a ticket and a reason."),
    "resolve": ("golive.cli.run_cmds", "resolve", "Resolve an action left unknown by a crash."),
    "rollback": ("golive.cli.run_cmds", "rollback", "Start the rollback plan of a run."),
    "signoff": ("golive.cli.run_cmds", "signoff", "Sign off an area of a run."),
    "verify": ("golive.cli.run_cmds", "verify", "Verify a run's event hash chain."),
    "checkpoint": ("golive.cli.run_cmds", "checkpoint", "Write a run's head to a file (signed) to anchor it."),
    "preflight": ("golive.cli.preflight_cmds", "preflight", "Run a phase's checks concurrently and write reports."),
    "report": ("golive.cli.preflight_cmds", "report", "Write a run's report as JSON, Markdown, JUnit or HTML."),
    "evidence": ("golive.cli.evidence_cmds", "evidence", "Pack and verify evidence."),
    "export": ("golive.cli.export_cmds", "export", "Send a run's events as CloudEvents and its trace over OTLP."),
    "keygen": ("golive.cli.evidence_cmds", "keygen", "Make an ed25519 key pair for signing evidence packs."),
    "close-change": (
        "golive.cli.evidence_cmds",
        "close_change",
        "Close a run's change record with its outcome, decision and evidence digest.",
    ),
    "watch": ("golive.cli.watch_cmds", "watch", "Show each trigger live: value, threshold, sparkline."),
    "hypercare": ("golive.cli.watch_cmds", "hypercare", "Run hypercare checks on their schedule."),
    "flags": ("golive.cli.watch_cmds", "flags", "Show the kill-switch flags as read from their provider."),
    "comms": ("golive.cli.comms_cmds", "comms", "List messages sent and the next ones due."),
    "serve": ("golive.cli.server_cmds", "serve", "Serve the war-room API and dashboard."),
    "token": ("golive.cli.server_cmds", "token", "Manage API tokens."),
    "login": ("golive.cli.server_cmds", "login", "Log in to a golive server (single sign-on) for the CLI's acts."),
    "worker": ("golive.cli.worker_cmds", "worker", "Adopt and drive runs whose owner stopped (shared store)."),
    "db": ("golive.cli.db_cmds", "db", "Manage the store (upgrade)."),
    "demo": ("golive.cli.demo_cmds", "demo", "Run a complete cutover of a bundled demo service."),
    "test": ("golive.cli.test_cmds", "test", "Play a runbook's scenarios against stubs and check what comes out."),
    "replay": ("golive.cli.replay_cmds", "replay", "Replay a finished run through edited triggers and judges."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        # Imports are done (main() paused the collector for them): move what they made out of the
        # collector's sight, then turn it back on for the command itself.
        gc.freeze()
        gc.enable()
        cmd = getattr(module, spec[1])
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{spec[0]}.{spec[1]} is not a click command")
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="golive")
def cli() -> None:
    """golive: run a production go-live runbook as code.

    Exit codes: 0 passed, 1 failed / NO-GO / rolled back / refused, 2 invalid input.
    """


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (commands that end early call sys.exit themselves)."""
    from golive import exceptions

    # Start-up imports create many long-lived objects; collecting while they load only costs time.
    gc.disable()
    try:
        rv = cli.main(args=argv, prog_name="golive", standalone_mode=False)
        # Non-standalone click returns the callback's value, or the code of a ctx.exit(); only ints are codes.
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except exceptions.GoliveError as exc:
        # A runbook's problems are located (file:line:col: field: ...) and read the same from every command
        # (validate, plan, run), one or many; any other error is golive's one line.
        located = isinstance(exc, exceptions.RunbookInvalid) or "\n" in exc.message
        click.echo(exc.message if located else f"golive: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("golive: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("golive: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # last line of defence: no traceback for a user
        if os.environ.get("GOLIVE_DEBUG"):
            raise
        click.echo(
            f"golive: internal error: {type(exc).__name__}: {exc} (set GOLIVE_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)
