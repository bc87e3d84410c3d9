"""Built-in actions (kind ``action``): they change something, and say what they would do in a dry run."""

from __future__ import annotations

from golive.plugins import base
from golive.plugins.actions.basic import CommandAction, HttpAction, SqlAction, WaitAction
from golive.plugins.actions.change import ChangeCloseAction
from golive.plugins.actions.flag import FlagAction
from golive.plugins.actions.pagerduty import PagerDutyAction
from golive.plugins.actions.statuspage import StatuspageAction
from golive.plugins.actions.vault import VaultWriteAction

__all__ = [
    "PLUGINS",
    "ChangeCloseAction",
    "CommandAction",
    "FlagAction",
    "HttpAction",
    "PagerDutyAction",
    "SqlAction",
    "StatuspageAction",
    "VaultWriteAction",
    "WaitAction",
]

PLUGINS: list[type[base.Plugin]] = [
    HttpAction,
    CommandAction,
    SqlAction,
    FlagAction,
    WaitAction,
    VaultWriteAction,
    ChangeCloseAction,
    StatuspageAction,
    PagerDutyAction,
]
