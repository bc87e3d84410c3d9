"""Built-in secret providers (kind ``secret``): env, file, aws-secretsmanager, vault.

A provider is made with its options (``Provider(Provider.params(**options))``) and resolves
``(secret_id, key)`` to a value. A secret (or key) that does not exist raises
:class:`golive.plugins._util.SecretMissing`; anything else that goes wrong raises
:class:`golive.exceptions.SecretError`. Neither message ever contains a secret value.
"""

from __future__ import annotations

from golive.plugins import base
from golive.plugins.secrets.aws import AwsSecretsManager
from golive.plugins.secrets.local import EnvSecrets, FileSecrets
from golive.plugins.secrets.vault import VaultSecrets

__all__ = ["PLUGINS", "AwsSecretsManager", "EnvSecrets", "FileSecrets", "VaultSecrets"]

PLUGINS: list[type[base.Plugin]] = [EnvSecrets, FileSecrets, AwsSecretsManager, VaultSecrets]
