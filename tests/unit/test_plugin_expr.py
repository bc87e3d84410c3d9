"""The expression helper: conditions (simpleeval) and JSON paths (JMESPath)."""

from __future__ import annotations

import pytest

from golive import exceptions, expr


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("value < 0.15", {"value": 0.05}, True),
        ("value < 0.15", {"value": 0.2}, False),
        ("len(body.items) > 0", {"body": {"items": [1]}}, True),
        ("status in [200, 204] and latency_ms < 500", {"status": 204, "latency_ms": 12.0}, True),
        ("$.status == 'ok'", {"json": {"status": "ok"}}, True),
        ("$.items[0].id == 7", {"body": {"items": [{"id": 7}]}}, True),
        ("$['content-type'] == 'x'", {"json": {"content-type": "x"}}, True),
        ("body.ok == true and body.err == null", {"body": {"ok": True, "err": None}}, True),
        ("errors / total < 0.01", {"errors": 1, "total": 1000}, True),
        ("matches(text, '^v1\\\\.4')", {"text": "v1.4.2"}, True),
        ("not contains(headers, 'x-debug')", {"headers": {"a": "1"}}, True),
    ],
)
def test_condition_evaluates(text: str, names: dict[str, object], expected: bool) -> None:
    """Each documented form evaluates to the expected boolean."""
    assert expr.compile_condition(text).evaluate(names) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("value <", "is not valid"),
        ("", "empty"),
        ("foo > 1", "unknown name 'foo'"),
        ("__import__('os')", "calls __import__()"),
        ("value.system('x')", "is not available"),
        ("value.__class__", "'__class__' is not allowed"),
        ("[x for x in value]", "ListComp"),
        ("(lambda: 1)", "Lambda"),
        ("open('f')", "calls open()"),
    ],
)
def test_compile_refuses_bad_conditions_with_a_message(text: str, message: str) -> None:
    """Syntax errors, unknown names and unsafe constructs raise UsageError at load time."""
    with pytest.raises(exceptions.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expr.compile_condition(text, {"value"})


def test_unknown_name_message_lists_the_names_there_are() -> None:
    """The message names what may be used."""
    with pytest.raises(exceptions.UsageError, match="available: latency_ms, status"):
        expr.compile_condition("code == 200", {"status", "latency_ms"})


def test_dict_keys_win_over_dict_methods() -> None:
    """`body.items` is the key `items`, never the dict method."""
    assert expr.compile_condition("body.items == 3").evaluate({"body": {"items": 3}}) is True


def test_missing_key_is_a_condition_error() -> None:
    """A key that is not there raises ConditionError naming it and the keys there are."""
    with pytest.raises(expr.ConditionError, match="key 'items' is missing \\(keys: other\\)"):
        expr.compile_condition("len(body.items) > 0").evaluate({"body": {"other": 1}})


def test_non_boolean_result_is_refused() -> None:
    """A condition that gives 3 instead of true/false is an error, so a typo cannot pass."""
    with pytest.raises(expr.ConditionError, match="not true or false"):
        expr.compile_condition("value").evaluate({"value": 3})


def test_type_error_is_a_condition_error() -> None:
    """Comparing null with a number is an error, not False or True."""
    with pytest.raises(expr.ConditionError):
        expr.compile_condition("value < 0.15").evaluate({"value": None})


def test_dollar_inside_a_string_literal_is_left_alone() -> None:
    """`'$.x'` in quotes is text, not a path."""
    assert expr.compile_condition("body == '$.x'").evaluate({"body": "$.x"}) is True


@pytest.mark.parametrize(
    ("path", "jmes"),
    [
        ("$.a.b[0]", "a.b[0]"),
        ("$", "@"),
        ("$.items[*].id", "items[*].id"),
        ("$['odd key'].x", '"odd key".x'),
        ("$.content-type", '"content-type"'),
        ("a.b", "a.b"),
    ],
)
def test_dollar_paths_translate_to_jmespath(path: str, jmes: str) -> None:
    """JSONPath-style `$.a.b[0]` becomes JMESPath `a.b[0]`; JMESPath passes unchanged."""
    assert expr.to_jmespath(path) == jmes


def test_json_path_reads_and_misses() -> None:
    """json_path returns the value, or None when it is not there."""
    doc = {"a": {"b": [{"c": 1}]}}
    assert expr.json_path(doc, "$.a.b[0].c") == 1
    assert expr.json_path(doc, "$.a.x") is None


def test_invalid_json_path_is_a_usage_error() -> None:
    """A path that does not parse is refused at load time."""
    with pytest.raises(exceptions.UsageError, match="JSON path"):
        expr.compile_path("$.a[")


def test_a_cut_summary_never_keeps_half_a_token() -> None:
    """fmt() and excerpt() drop the partial token at a cut, so half a key id never survives redaction."""
    from golive.plugins import _util

    key = "AKIA" + "Q" * 16
    shown = _util.fmt("x" * 190 + " " + key)
    assert "AKIA" not in shown
    assert shown.endswith('..."')
    tail = _util.excerpt(key + " then the end of the output", limit=20)
    assert "QQQ" not in tail
