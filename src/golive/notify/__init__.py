"""Comms: checkpoint broadcasts, channels (Apprise URLs and the built-in log), templates and cadence.

The engine builds one :class:`Notifier` per run and calls it at each moment of the run; see docs/comms.md.
"""

from __future__ import annotations

from golive.notify.cadence import DEFAULT_CADENCE, Anchors, Due
from golive.notify.channels import AppriseChannel, Channel, Delivery, LogChannel, MemoryChannel
from golive.notify.notifier import DEFAULT_RETRY, Notifier
from golive.notify.templates import DEFAULT_TEMPLATES, EVENTS, render

__all__ = [
    "DEFAULT_CADENCE",
    "DEFAULT_RETRY",
    "DEFAULT_TEMPLATES",
    "EVENTS",
    "Anchors",
    "AppriseChannel",
    "Channel",
    "Delivery",
    "Due",
    "LogChannel",
    "MemoryChannel",
    "Notifier",
    "render",
]
