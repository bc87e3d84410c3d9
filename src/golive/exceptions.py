"""The one exception root of golive, and what each branch means.

Hierarchy::

    GoliveError                 every error golive raises on purpose (exit 1 unless said otherwise)
    ├── UsageError              bad input from a person: a flag, a file, a value (exit 2)
    │   └── RunbookInvalid      a runbook failed to load; carries every Problem found in one pass
    ├── RuleRefused             an act that the runbook's rules forbid (wrong role, GO after a failed
    │                           canary, waiver by a role that may not waive); exit 1
    │   └── ActConflict         another act landed first and this one no longer applies ("already
    │                           decided: NO-GO by alice at ..."); exit 1, HTTP 409
    ├── NotFound                a run, step or blob that does not exist (exit 2)
    ├── StoreError              the event store failed; driver errors are translated into this
    │   ├── ChainBroken         the hash chain of a run's events does not verify
    │   ├── Fenced              an engine append refused: this process no longer owns the run (its lease
    │   │                       epoch is stale or expired); the engine stops before any further side effect
    │   └── HeadMoved           a compare-and-append found the run's log moved past the head it read
    ├── PluginError             a plugin is malformed or failed outside of its own result
    │   └── DuplicatePlugin     a second plugin tried to register a name that is taken
    ├── SecretError             a secret reference could not be resolved
    ├── DeliveryFailed          a comms message could not reach a channel marked ``required``
    ├── EvidenceError           an evidence pack could not be written or read

Every message names the bad value and, where there is one, the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ActConflict",
    "ChainBroken",
    "DeliveryFailed",
    "DuplicatePlugin",
    "EvidenceError",
    "Fenced",
    "GoliveError",
    "HeadMoved",
    "NotFound",
    "PluginError",
    "Problem",
    "RollbackInterrupted",
    "RuleRefused",
    "RunbookInvalid",
    "SecretError",
    "StoreError",
    "UsageError",
]


class GoliveError(Exception):
    """golive failed."""

    exit_code: int = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(GoliveError):
    """The input is not valid; nothing was changed."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a runbook file, located as precisely as the loader could."""

    file: str
    line: int  # 1-based; 0 when the problem is about the whole file
    column: int  # 1-based; 0 when unknown
    path: str  # the field path, e.g. "phases[0].steps[3].type"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class RunbookInvalid(UsageError):
    """The runbook is not valid."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


class RuleRefused(GoliveError):
    """The runbook's rules refuse this act."""


class ActConflict(RuleRefused):
    """Another act on the run landed first; this one no longer applies."""


class NotFound(GoliveError):
    """No such run, step or record."""

    exit_code = 2


class StoreError(GoliveError):
    """The event store failed."""


class ChainBroken(StoreError):
    """The run's event chain does not verify."""

    def __init__(self, run_id: str, seq: int, reason: str) -> None:
        self.run_id = run_id
        self.seq = seq
        self.reason = reason
        super().__init__(f"run {run_id}: event {seq} breaks the chain: {reason}")


class Fenced(StoreError):
    """The store refused an engine's append: this process no longer owns the run."""


class HeadMoved(StoreError):
    """The run's log moved past the head a compare-and-append read; re-read and check again."""

    def __init__(self, run_id: str, expected: int, actual: int) -> None:
        self.run_id = run_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"run {run_id}: the log moved on (expected head {expected}, found {actual}); re-read it")


class PluginError(GoliveError):
    """A plugin is malformed or failed."""


class DuplicatePlugin(PluginError):
    """A plugin with this name is already registered."""


class SecretError(GoliveError):
    """A secret could not be resolved."""


class EvidenceError(GoliveError):
    """An evidence pack could not be written or read."""


class DeliveryFailed(GoliveError):
    """A message could not be delivered to a required comms channel."""

    def __init__(self, channels: list[str], event: str, errors: list[str]) -> None:
        self.channels = channels
        self.event = event
        self.errors = errors
        detail = "; ".join(f"{c}: {e}" for c, e in zip(channels, errors, strict=True))
        super().__init__(
            f"comms {event!r} was not delivered to required channel(s) {', '.join(channels)} ({detail}); "
            "fix the channel or mark it `required: false` in the runbook's comms section"
        )


class RollbackInterrupted(GoliveError):
    """The rollback's own machinery failed; the run stays ROLLING-BACK until it is resumed."""
