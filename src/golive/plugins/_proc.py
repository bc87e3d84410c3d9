"""Running a command for a check, an action or a metric: bounded time, bounded output, no orphans.

Each command starts in a new session (its own process group), so on timeout the whole group (the
shell, and anything it started) is sent SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from golive.exceptions import ProcFailure
from golive.spec import vartypes

if TYPE_CHECKING:  # asyncio costs ~35 ms to import: only runs that start a process pay it
    import asyncio

__all__ = [
    "KILL_GRACE",
    "MAX_OUTPUT_BYTES",
    "OWN_CREDENTIALS",
    "ProcFailure",
    "ProcResult",
    "child_environment",
    "describe_command",
    "run_command",
]

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to a timed-out process group
MAX_OUTPUT_BYTES = 1024 * 1024  # bytes kept per stream (the tail); more is read and dropped
_CHUNK = 64 * 1024  # bytes per read


@dataclass(frozen=True, slots=True)
class ProcResult:
    """What a finished (or killed) command left behind."""

    exit_code: int | None  # None when it was killed on timeout
    stdout: str
    stderr: str
    elapsed_ms: float
    timed_out: bool
    truncated: bool


async def _drain(stream: asyncio.StreamReader | None, keep: int) -> tuple[bytes, bool]:
    """Read a stream to EOF, keeping its last ``keep`` bytes."""
    if stream is None:
        return b"", False
    buf = bytearray()
    cut = False
    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            return bytes(buf), cut
        buf += chunk
        if len(buf) > keep:
            del buf[: len(buf) - keep]
            cut = True


def _collected(task: asyncio.Future[tuple[bytes, bool]]) -> tuple[bytes, bool]:
    """What a drain task read; marked cut if it did not finish."""
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return b"", True


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pid, sig)


# golive's own credentials never reach a child: the server's token map, the store's URL (with its password),
# the server's secret, the CLI's API token, and vars given by environment (a withheld var may hold a secret).
# A step that needs one of them passes it explicitly through `env:`.
OWN_CREDENTIALS = frozenset(
    {
        "GOLIVE_API_TOKEN_MAP_JSON",
        "GOLIVE_DATABASE_URL",
        "GOLIVE_SERVER_SECRET",
        "GOLIVE_SERVER_CONFIG",
        "GOLIVE_TOKEN",
    }
)


def child_environment() -> dict[str, str]:
    """golive's environment less its own credentials: what a command step inherits."""
    return {
        k: v for k, v in os.environ.items() if k not in OWN_CREDENTIALS and not k.startswith(vartypes.VAR_ENV_PREFIX)
    }


def argv_of(run: str | list[str]) -> list[str]:
    """A shell string runs through ``/bin/sh -c``; a list runs as is, with no shell."""
    return ["/bin/sh", "-c", run] if isinstance(run, str) else list(run)


def describe_command(run: str | list[str]) -> str:
    return run if isinstance(run, str) else shlex.join(run)


async def run_command(
    run: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    timeout: float,  # noqa: ASYNC109  # the boundary owns its deadline; seconds
    stdin: str | None = None,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
) -> ProcResult:
    """Run a command to completion or until ``timeout``; :class:`ProcFailure` if it cannot start."""
    import asyncio

    argv = argv_of(run)
    if not argv or not argv[0]:
        raise ProcFailure("the command is empty")
    from golive.plugins import _stubbed as stubs

    transport, recorder = stubs.active(), stubs.recording()
    if transport is not None:  # a stubbed rehearsal: the stubs answer in place of the process
        return await transport.command(argv, cwd, timeout)
    if recorder is not None:  # recording: run it for real, keep its answer
        with stubs.activate(None, None):
            res = await run_command(
                argv,
                cwd=cwd,
                env=env,
                inherit_env=inherit_env,
                timeout=timeout,
                stdin=stdin,
                max_output_bytes=max_output_bytes,
            )
        recorder.command(argv, res)
        return res
    full_env = child_environment() if inherit_env else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full_env.update(env or {})
    started = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=full_env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        missing = exc.filename if exc.filename else argv[0]
        if not cwd.is_dir():  # noqa: ASYNC240  # one stat, only on the failure path
            raise ProcFailure(f"working directory {str(cwd)!r} does not exist") from None
        raise ProcFailure(f"command not found: {missing}") from None
    except PermissionError:
        raise ProcFailure(f"command is not executable: {argv[0]}") from None
    except OSError as exc:
        raise ProcFailure(f"cannot start {argv[0]}: {exc.strerror or exc}") from None

    async def feed() -> None:
        if stdin is not None and proc.stdin is not None:
            try:
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the command did not read its input; its exit code tells the rest
            finally:
                proc.stdin.close()

    out_task = asyncio.ensure_future(_drain(proc.stdout, max_output_bytes))
    err_task = asyncio.ensure_future(_drain(proc.stderr, max_output_bytes))
    feed_task = asyncio.ensure_future(feed())
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(out_task, err_task, feed_task)
            await proc.wait()
    except TimeoutError:
        timed_out = True
    except asyncio.CancelledError:
        # The step was cancelled (run aborted): do not leave the process group behind.
        _kill_group(proc.pid, signal.SIGKILL)
        raise
    if timed_out:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(KILL_GRACE):
                await proc.wait()
        except TimeoutError:
            pass
        _kill_group(proc.pid, signal.SIGKILL)
        await proc.wait()
        # With the group dead the pipes reach EOF; bound the wait anyway.
        try:
            async with asyncio.timeout(KILL_GRACE):
                await asyncio.gather(out_task, err_task, feed_task, return_exceptions=True)
        except TimeoutError:
            for t in (out_task, err_task, feed_task):
                t.cancel()
    out, out_cut = _collected(out_task)
    err, err_cut = _collected(err_task)
    return ProcResult(
        exit_code=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
        timed_out=timed_out,
        truncated=out_cut or err_cut,
    )
