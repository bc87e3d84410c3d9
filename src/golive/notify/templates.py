"""Comms message templates: the defaults for every event, the runbook's overrides, sandboxed rendering.

A template is Jinja2 text rendered in a :class:`jinja2.sandbox.SandboxedEnvironment` from plain data
(the context, see :mod:`golive.notify.context`). A runbook overrides any of them in ``comms.templates``
and a phase's ``announce`` overrides its start/pass/fail message. ``${{ path }}`` references (the
runbook's reference syntax) are accepted in comms templates too and read the same context.

An unknown variable is an error, never an empty string: a message that silently lost its reason is
worse than no message. The error names the template, the variable and the variables that exist.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from golive import exceptions
from golive.spec import comms as comms_vocabulary
from golive.spec import refs

__all__ = [
    "DEFAULT_TEMPLATES",
    "EVENTS",
    "TITLE",
    "Renderer",
    "render",
    "template_source",
]

# `title` is not an event: it is the subject line (e-mail subject, the bold title in Slack/Teams) of every message.
# The events with a template: every comms event (one list, golive.spec.comms, which the loader checks channels'
# `events:` against) except `notify`, whose text is the notify step's own message.
EVENTS = tuple(e for e in comms_vocabulary.EVENTS if e != "notify")
TITLE = "title"

# The defaults say what the payments seed's communication plan says wherever the plan has words for it,
# so a runbook whose phases are titled "Pre-flight", "Backup", ... needs no templates at all.
DEFAULT_TEMPLATES: Mapping[str, str] = {
    TITLE: "{{ runbook_title }}{% if environment %} ({{ environment }}){% endif %}",
    "run_started": "Cutover initiated.{% if update_every %} Updates every {{ update_every }}.{% endif %}",
    "phase_started": "{{ phase_title }} started.",
    "phase_passed": "{{ phase_title }} PASS",
    "phase_failed": "{{ phase_title }} FAIL{% if reason %} ({{ reason }}){% endif %}",
    "canary_passed": "Canary PASS",
    # A waived step is never reported as passed: the message names each waiver, its ticket and who gave it.
    "phase_waived": "{{ phase_title }} WAIVED{% if waivers %} ({{ waivers }}){% endif %}",
    "canary_waived": "Canary WAIVED{% if waivers %} ({{ waivers }}){% endif %}",
    "canary_failed": "Canary FAIL{% if reason %} ({{ reason }}){% endif %}",
    "step_failed": "{{ step_title }} {{ verdict or 'FAIL' }}{% if reason %}: {{ reason }}{% endif %}",
    "decision_go": (
        "GO decision made{% if approved %} (approved by {{ approved | join(', ') }}){% endif %}."
        " System live. Hypercare started."
    ),
    "decision_no_go": "NO-GO decision made.{% if reason %} Reason: {{ reason }}.{% endif %}",
    "decision_pending": (
        "GO/NO-GO pending: {{ step_title }}{% if deadline %}, deadline {{ deadline }}{% endif %}."
        "{% if blockers %} GO is blocked by: {{ blockers | join(', ') }}.{% endif %}"
        "{% if quorum %} GO needs {{ quorum }}.{% endif %}"
        "{% for l in links or [] %} {{ l.person }}: {{ l.url }}{% endfor %}"
    ),
    "decision_approved": "GO approved by {{ actor }} for {{ step_title }}: {{ quorum }}.",
    "manual_waiting": (
        "Waiting for {{ role or 'a person' }} to confirm: {{ step_title }}."
        "{% for l in links or [] %} {{ l.person }}: {{ l.url }}{% endfor %}"
    ),
    "action_unknown": (
        "{{ step_title }}: the action's result is unknown after a restart; a person must check it and resolve it."
    ),
    "pause": (
        "Trigger {{ trigger.get('title') or trigger.get('id') or 'unknown' }} breached"
        "{% if trigger.get('reason') %}: {{ trigger.get('reason') }}{% endif %}."
        " IC decision needed{% if deadline %} by {{ deadline }}{% endif %}"
        "{% if default %} (default: {{ default }}){% endif %}."
    ),
    "trigger_fired": (
        "Trigger {{ trigger.get('title') or trigger.get('id') or 'unknown' }} fired"
        "{% if trigger.get('reason') %}: {{ trigger.get('reason') }}{% endif %}."
    ),
    "rollback_triggered": (
        "{% if after_go %}After GO, during hypercare: rollback triggered{% else %}Rollback triggered{% endif %}."
        " Reason: {{ reason or 'not given' }}. Restoration in progress."
    ),
    "rollback_complete": (
        "{% if outcome in ('fail', 'error') %}Rollback FAILED{% if reason %}: {{ reason }}{% endif %}."
        " Restoration is not confirmed; escalate now."
        "{% else %}Rollback complete. Previous release restored.{% endif %}"
        "{% if after_go %} The run is ROLLED BACK AFTER GO.{% endif %}"
    ),
    "rollback_interrupted": (
        "Rollback INTERRUPTED{% if reason %}: {{ reason }}{% endif %}. Restoration is not finished;"
        " continue it with golive resume {{ run_id }}."
    ),
    "run_stopped": (
        "Cutover STOPPED here{% if reason %} ({{ reason }}){% endif %}. What passed stays live."
        "{% if next_phase %} Continue later with: golive resume {{ run_id }} --from {{ next_phase }}.{% endif %}"
    ),
    "window_overrun": (
        "The cutover is past {{ scope }} (closed {{ not_after }}). {{ role or 'IC' }} decision needed"
        "{% if deadline %} by {{ deadline }}{% endif %}: continue or rollback"
        "{% if default %} (default: {{ default }}){% endif %}."
    ),
    "freeze_started": (
        "Change freeze {{ freeze.get('title') or freeze.get('id') }} began{% if until %} (until {{ until }}){% endif %}."
        " The cutover in progress goes on; no new cutover starts."
    ),
    "status_update": (
        "Status update {{ t_minus or elapsed }}"
        "{% if current_phase %}: {{ current_phase }}{% endif %}. "
        "Steps: {{ steps_passed }} passed, {{ steps_failed }} failed"
        "{% if steps_pending %}, {{ steps_pending }} to go{% endif %}."
        "{% if next_checkpoint %} Next: {{ next_checkpoint }}.{% endif %}"
    ),
    "hypercare_report": (
        "Hypercare report{% if report_title %}: {{ report_title }}{% endif %}"
        "{% if elapsed %} ({{ elapsed }}){% endif %}."
        "{% if summary %} {{ summary }}{% endif %}"
    ),
    "hypercare_alert": "Hypercare alert{% if reason %}: {{ reason }}{% endif %}.",
}

MAX_TEMPLATE_CACHE = 512  # compiled templates kept; a runbook has a few dozen


def template_source(
    name: str, overrides: Mapping[str, str], inline: str | None = None, announce: str | None = None
) -> tuple[str, str]:
    """The text of the template to use and where it came from (``inline``, ``announce``, ``runbook:x``,
    ``default:x``). A name that is neither overridden nor a default is a usage error with a suggestion."""
    if inline is not None:
        return inline, "inline"
    if announce is not None:
        return announce, "announce"
    if name in overrides:
        return overrides[name], f"runbook:{name}"
    if name in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[name], f"default:{name}"
    known = sorted(set(overrides) | set(DEFAULT_TEMPLATES))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; known templates: {', '.join(known)}"
    raise exceptions.UsageError(f"comms template {name!r} does not exist{hint}")


_REF = refs.PATTERN


def _refs_to_jinja(text: str) -> str:
    """Turn ``${{ steps.db-backup.outcome }}`` into ``{{ steps["db-backup"]["outcome"] }}``.

    Subscripts rather than dots, so ids with dashes (legal in runbooks) stay one name for Jinja.
    """
    if "${{" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        try:
            ref = next(refs.find_refs(m.group(0)))
        except refs.RefError as exc:
            raise exceptions.UsageError(str(exc)) from None
        head, *rest = ref.parts
        return "{{ " + head + "".join(f"[{p}]" if p.isdigit() else f"[{p!r}]" for p in rest) + " }}"

    return _REF.sub(one, text)


class Renderer:
    """Renders templates in one sandbox, keeping compiled templates."""

    def __init__(self) -> None:
        # autoescape off: messages are plain text for chat and e-mail, not HTML. trim_blocks keeps
        # multi-line templates from leaving blank lines where a {% if %} stood.
        self._env = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
        )
        self._cache: dict[str, jinja2.Template] = {}

    def compile(self, text: str, name: str) -> jinja2.Template:
        tpl = self._cache.get(text)
        if tpl is not None:
            return tpl
        try:
            tpl = self._env.from_string(_refs_to_jinja(text))
        except jinja2.TemplateSyntaxError as exc:
            raise exceptions.UsageError(
                f"comms template {name!r}: syntax error on line {exc.lineno}: {exc.message}"
            ) from None
        if len(self._cache) >= MAX_TEMPLATE_CACHE:
            self._cache.clear()
        self._cache[text] = tpl
        return tpl

    def render(self, text: str, context: Mapping[str, Any], name: str = "inline") -> str:
        """Render ``text`` with ``context``; every failure is a UsageError naming the template."""
        tpl = self.compile(text, name)
        try:
            out = tpl.render(dict(context))
        except jinja2.UndefinedError as exc:
            known = ", ".join(sorted(k for k in context if not k.startswith("_")))
            raise exceptions.UsageError(f"comms template {name!r}: {exc.message}; the variables are: {known}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise exceptions.UsageError(
                f"comms template {name!r}: not allowed in a sandboxed template: {exc}"
            ) from None
        except Exception as exc:  # a template is user input: any failure in it is the template's fault
            raise exceptions.UsageError(f"comms template {name!r}: {type(exc).__name__}: {exc}") from None
        return out.strip()


_DEFAULT_RENDERER = Renderer()


def render(event: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> str:
    """Render the message for ``event``: the runbook's template if it overrides one, else the default."""
    text, source = template_source(event, overrides or {})
    return _DEFAULT_RENDERER.render(text, context, source)
