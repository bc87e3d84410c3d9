"""Built-in secret providers (kind ``secret``): env, file, aws-secretsmanager, vault.

A provider is made with its options (``Provider(Provider.params(**options))``) and resolves
``(secret_id, key)`` to a value. A secret (or key) that does not exist raises
:class:`golive.plugins._util.SecretMissing`; anything else that goes wrong raises
:class:`golive.exceptions.SecretError`. Neither message ever contains a secret value.

Each plugin is listed in :data:`golive.plugins.registry.BUILTINS` and imported from its own module on
first use; this package imports nothing, so a run imports only the plugins its runbook names.
"""
