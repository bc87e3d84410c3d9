"""What evaluation cannot bound by construction runs in a killable subprocess.

Conditions are bounded by construction (operand sizes checked before ``**``, ``*``, ``+``; regexes on RE2),
and so is a JSON path made of fields, indexes, slices, projections and filters (linear in the document). A
JMESPath expression with multi-selects, flattens, pipes or functions is not: ``[@,@][] | [@,@][] | ...``
doubles its result at every step. Such a path is evaluated by a worker process; when it does not answer
within :data:`EVAL_LIMIT` the worker is killed (SIGKILL: a runaway evaluation holds its own GIL, not ours)
and the evaluation is an error, so the step fails closed and the event loop, the step's timeout and
``/health`` keep answering. A thread would not do: a computation inside one bytecode cannot be interrupted.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from golive.exceptions import SandboxError

if TYPE_CHECKING:  # multiprocessing is imported when a worker starts, not by every condition's compile
    import multiprocessing.connection

__all__ = ["EVAL_LIMIT", "SandboxError", "is_linear", "search"]

EVAL_LIMIT = 0.5  # seconds a JSON path may take in the worker before it is killed
_START_LIMIT = 30.0  # seconds a new worker may take to start (imports) before the evaluation fails
# JMESPath node types whose cost is linear in the document: evaluated in process.
_LINEAR = frozenset(
    {
        "field",
        "subexpression",
        "index_expression",
        "index",
        "slice",
        "identity",
        "current",
        "projection",
        "value_projection",
        "filter_projection",
        "literal",
        "comparator",
        "and_expression",
        "or_expression",
        "not_expression",
    }
)


def is_linear(parsed: dict[str, Any]) -> bool:
    """Whether a parsed JMESPath AST only uses node types whose cost is linear in the document."""
    stack = [parsed]
    while stack:
        node = stack.pop()
        if node.get("type") not in _LINEAR:
            return False
        stack.extend(c for c in node.get("children", []) if isinstance(c, dict))
    return True


def _serve(conn: multiprocessing.connection.Connection) -> None:  # pragma: no cover - runs in the worker
    import jmespath

    while True:
        try:
            expression, doc = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", jmespath.search(expression, doc)))
        except Exception as exc:  # every JMESPath failure goes back as a message
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: Any = None
        self.conn: multiprocessing.connection.Connection | None = None

    def _start(self) -> multiprocessing.connection.Connection:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads and an event loop
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), name="golive-sandbox", daemon=True)
        proc.start()
        child.close()
        self.proc, self.conn = proc, parent
        return parent

    def _ready(self) -> multiprocessing.connection.Connection:
        """A new worker, once it answered a first (trivial) search: its start is not an expression's time."""
        conn = self._start()
        conn.send(("@", None))
        if not conn.poll(_START_LIMIT):
            self._kill()
            raise SandboxError(f"the evaluation worker did not start within {_START_LIMIT:g} s")
        conn.recv()
        return conn

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc, self.conn = None, None

    def search(self, expression: str, doc: Any, limit: float) -> Any:
        with self.lock:
            try:
                conn = self.conn or self._ready()
                conn.send((expression, doc))
                if not conn.poll(limit):
                    self._kill()
                    raise SandboxError(f"JSON path {expression!r} took longer than {limit:g} s (stopped)")
                status, value = conn.recv()
            except (OSError, EOFError, BrokenPipeError) as exc:
                self._kill()
                raise SandboxError(f"JSON path {expression!r}: the evaluation worker failed: {exc}") from None
        if status != "ok":
            raise SandboxError(f"JSON path {expression!r}: {value}")
        return value


_WORKER = _Worker()


def search(expression: str, doc: Any, limit: float = EVAL_LIMIT) -> Any:
    """``jmespath.search(expression, doc)`` in the worker process, killed after ``limit`` seconds."""
    return _WORKER.search(expression, doc, limit)
