"""The one exception root of golive, and what each branch means.

Hierarchy::

    GoliveError                 every error golive raises on purpose (exit 1 unless said otherwise)
    ├── UsageError              bad input from a person: a flag, a file, a value (exit 2)
    │   └── RunbookInvalid      a runbook failed to load; carries every Problem found in one pass
    ├── RuleRefused             an act that the runbook's rules forbid (wrong role, GO after a failed
    │   │                       canary, waiver by a role that may not waive); exit 1
    │   ├── ActConflict         another act landed first and this one no longer applies ("already
    │   │                       decided: NO-GO by alice at ..."); exit 1, HTTP 409
    │   └── RunBusy             another live process owns the run
    ├── NotFound                a run, step or blob that does not exist (exit 2)
    ├── StoreError              the event store failed; driver errors are translated into this
    │   ├── ChainBroken         the hash chain of a run's events does not verify
    │   ├── Fenced              an engine append refused: this process no longer owns the run (its lease
    │   │                       epoch is stale or expired); the engine stops before any further side effect
    │   └── HeadMoved           a compare-and-append found the run's log moved past the head it read
    ├── PluginError             a plugin is malformed or failed outside of its own result
    │   ├── DuplicatePlugin     a second plugin tried to register a name that is taken
    │   └── HttpFailure, ProcFailure, SqlFailure   a plugin transport could not reach its target
    ├── SecretError             a secret reference could not be resolved
    │   └── SecretMissing       the secret (or the key in it) does not exist in its provider
    ├── DeliveryFailed          a comms message could not reach a channel marked ``required``
    ├── EvidenceError           an evidence pack could not be written or read
    ├── RollbackInterrupted     the rollback's own machinery failed; the run stays ROLLING-BACK
    ├── ConditionError          a condition could not be evaluated against its data
    ├── NotAvailable            this build cannot make that file (HTTP 501)
    └── LoginRefused            a single sign-on login was refused

Outside the root (their callers catch them as the standard kinds they derive from): ``NoTimezone``,
``PatternError`` and ``RefError`` (ValueError, from the parsers of times, patterns and references),
``SandboxError`` (the expression sandbox) and ``BaselineError`` (a baseline that cannot be read),
``Rejected`` (a credential the server does not accept: its 401), and ``PeopleGaveUp`` (AssertionError: the
scripted people of a test or rehearsal cannot go on). The server's ``HTTPProblem``
(golive.server.call) is not public: it carries a status code from a handler to the app's answer.

Every message names the bad value and, where there is one, the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ActConflict",
    "BaselineError",
    "ChainBroken",
    "ConditionError",
    "DeliveryFailed",
    "DuplicatePlugin",
    "EvidenceError",
    "Fenced",
    "GoliveError",
    "HeadMoved",
    "HttpFailure",
    "HttpFailureKind",
    "LoginRefused",
    "NoTimezone",
    "NotAvailable",
    "NotFound",
    "PatternError",
    "PeopleGaveUp",
    "PluginError",
    "Problem",
    "ProcFailure",
    "RefError",
    "Rejected",
    "RollbackInterrupted",
    "RuleRefused",
    "RunBusy",
    "RunbookInvalid",
    "SandboxError",
    "SecretError",
    "SecretMissing",
    "SqlFailure",
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


# --- Values a person or a runbook gave that cannot be read (ValueError: the parsers raise them).


class NoTimezone(ValueError):
    """A time without a timezone where one is required."""


class PatternError(ValueError):
    """A pattern RE2 cannot run."""


class RefError(ValueError):
    """A reference that does not resolve."""


# --- Conditions and baselines.


class SandboxError(Exception):
    """The evaluation did not finish within its limit, or its worker failed."""


class ConditionError(GoliveError):
    """A condition could not be evaluated against the data it was given."""


class BaselineError(Exception):
    """A baseline that cannot be read the way it is asked for."""


# --- The plugins' transports: what failed outside a step's own result.


HttpFailureKind = Literal["timeout", "connect", "tls", "protocol", "too_large", "invalid"]


class HttpFailure(PluginError):
    """An HTTP request did not produce a response (timeout, refused, TLS, protocol error)."""

    def __init__(self, kind: HttpFailureKind, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class ProcFailure(PluginError):
    """The command could not be started."""


class SqlFailure(PluginError):
    """The database could not be reached or refused the statement."""


class SecretMissing(SecretError):
    """The secret (or the key inside it) does not exist in its provider."""


# --- Runs, the server and the scripted people of a rehearsal.


class RunBusy(RuleRefused):
    """Another live process owns the run."""


class NotAvailable(GoliveError):
    """This build of golive cannot make that file."""


class LoginRefused(GoliveError):
    """The login was refused."""


class Rejected(Exception):
    """The credential is not accepted (401); the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PeopleGaveUp(AssertionError):
    """The scripted people were refused :attr:`AutoActors.max_tries` times on one step: the run cannot go on."""
