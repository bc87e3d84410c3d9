"""The read model of a run and the one set of formatters every view uses.

``summary.summarize`` turns a run's handle (its runbook and the fold of its events) into plain data: what
``golive status --json``, the API, the dashboard, the reports and the evidence pack show. ``format`` holds the
display forms (durations, T-times, timestamps) the CLI, the dashboard and the reports share, so a duration or
a time reads the same wherever a person sees it. Views read the engine's state and never write events.
"""
