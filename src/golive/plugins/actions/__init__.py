"""Built-in actions (kind ``action``): they change something, and say what they would do in a dry run.

Each plugin is listed in :data:`golive.plugins.registry.BUILTINS` and imported from its own module on
first use; this package imports nothing, so a run imports only the plugins its runbook names.
"""
