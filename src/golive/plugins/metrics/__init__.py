"""Built-in metric sources (kind ``metric``) that triggers read: one number, ``no_data``, or an error.

An empty answer is ``no_data`` and never 0; NaN is ``no_data``; an unreachable source is ``error``.

Each plugin is listed in :data:`golive.plugins.registry.BUILTINS` and imported from its own module on
first use; this package imports nothing, so a run imports only the plugins its runbook names.
"""
