"""golive: turn a production go-live runbook into code that runs."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
