"""Built-in checks (kind ``check``): read-only assertions with a small ``expect`` block.

Each plugin is listed in :data:`golive.plugins.registry.BUILTINS` and imported from its own module on
first use; this package imports nothing, so a run imports only the plugins its runbook names.
"""
