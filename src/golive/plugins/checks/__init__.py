"""Built-in checks (kind ``check``): read-only assertions with a small ``expect`` block."""

from __future__ import annotations

from golive.plugins import base
from golive.plugins.checks.change import ChangeRecordCheck
from golive.plugins.checks.command import CommandCheck
from golive.plugins.checks.env import EnvCheck, SecretCheck
from golive.plugins.checks.files import FileCheck, LogCheck
from golive.plugins.checks.flag import FlagCheck
from golive.plugins.checks.git import GitCheck
from golive.plugins.checks.http import GraphqlCheck, HttpCheck
from golive.plugins.checks.net import DnsCheck, TcpCheck, TlsCheck
from golive.plugins.checks.prometheus import PrometheusCheck
from golive.plugins.checks.sql import SqlCheck

__all__ = [
    "PLUGINS",
    "ChangeRecordCheck",
    "CommandCheck",
    "DnsCheck",
    "EnvCheck",
    "FileCheck",
    "FlagCheck",
    "GitCheck",
    "GraphqlCheck",
    "HttpCheck",
    "LogCheck",
    "PrometheusCheck",
    "SecretCheck",
    "SqlCheck",
    "TcpCheck",
    "TlsCheck",
]

PLUGINS: list[type[base.Plugin]] = [
    HttpCheck,
    GraphqlCheck,
    TcpCheck,
    DnsCheck,
    TlsCheck,
    EnvCheck,
    SecretCheck,
    CommandCheck,
    SqlCheck,
    FileCheck,
    LogCheck,
    PrometheusCheck,
    GitCheck,
    FlagCheck,
    ChangeRecordCheck,
]
