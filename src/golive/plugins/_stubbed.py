"""Whether the running task's outside world is stubbed (or recorded): two context variables, nothing else.

The plugins that reach the network, a database or a process ask :func:`active` and :func:`recording` on
every call. They live here, apart from :mod:`golive.plugins.stubs` (the stubs' models, matching and
recording), so that a run without stubs never imports that module: nothing can be active or recording
without :mod:`golive.plugins.stubs` having set it through :func:`activate`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from golive.plugins.stubs import Recorder, StubTransport

__all__ = ["activate", "active", "recording"]

_ACTIVE: contextvars.ContextVar[StubTransport | None] = contextvars.ContextVar("golive_stubs", default=None)
_RECORDING: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("golive_recorder", default=None)


def active() -> StubTransport | None:
    """The stub transport of the run this task belongs to, if it is a stubbed rehearsal."""
    return _ACTIVE.get()


def recording() -> Recorder | None:
    """The recorder of the run this task belongs to, if it records."""
    return _RECORDING.get()


@contextlib.contextmanager
def activate(transport: StubTransport | None = None, recorder: Recorder | None = None) -> Iterator[None]:
    """Make ``transport`` (and/or ``recorder``) the outside world of everything started inside."""
    t1 = _ACTIVE.set(transport)
    t2 = _RECORDING.set(recorder)
    try:
        yield
    finally:
        _RECORDING.reset(t2)
        _ACTIVE.reset(t1)
