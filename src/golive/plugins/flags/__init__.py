"""Built-in flag providers (kind ``flag``): dotenv, json, yaml, flagd files; generic HTTP; Unleash;
LaunchDarkly; OFREP (read-only).

A provider is made with its options (``Provider(Provider.params(**options))``) and offers
``async get(name)`` and ``async set(name, value)``. File writes are atomic (temp file + rename).

Each plugin is listed in :data:`golive.plugins.registry.BUILTINS` and imported from its own module on
first use; this package imports nothing, so a run imports only the plugins its runbook names.
"""
