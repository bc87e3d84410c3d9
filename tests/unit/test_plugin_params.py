"""Plugin params validation and the small pure helpers behind the built-in plugins (no I/O)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from golive.plugins import _prom, _util
from golive.plugins.actions.basic import HttpActionParams, WaitAction, WaitParams
from golive.plugins.actions.flag import flag_equal
from golive.plugins.checks.env import EnvParams
from golive.plugins.checks.files import LogParams
from golive.plugins.checks.http import HttpParams
from golive.plugins.checks.net import DnsCheck, DnsParams, hostname_matches
from golive.plugins.metrics.sources import to_number
from golive.results import Outcome
from golive.testing import FakeClock, make_ctx


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("8h", 28800.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2d", 172800.0),
        ("1.5h", 5400.0),
    ],
)
def test_durations_parse(text: Any, seconds: float) -> None:
    """Durations read as seconds from a number and its unit."""
    assert _util.parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["8 hours", "h", "", "-5m", True, "5m junk", 90, "90", "5M"])
def test_bad_durations_are_refused(bad: Any) -> None:
    """Anything that is not a duration is refused with an example of one; a bare number too, as in the rest
    of the runbook (seconds or minutes?)."""
    with pytest.raises(ValueError, match="duration"):
        _util.parse_duration(bad)


def test_expect_string_is_a_condition_shorthand() -> None:
    """`expect: "status == 200"` is `expect: {condition: "status == 200"}`."""
    p = HttpParams(url="http://x", expect="status == 200")
    assert p.expect.condition == "status == 200"
    assert p.expect.status == 200


def test_expect_condition_with_an_unknown_name_fails_validation() -> None:
    """An unknown name in an expect condition is refused at load time, naming the ones there are."""
    with pytest.raises(ValidationError, match=r"unknown name 'code'.*available: body, headers, json"):
        HttpParams(url="http://x", expect="code == 200")


def test_expect_json_path_and_regex_are_checked_at_load() -> None:
    """A broken JSON path or body regex is refused when the params load."""
    with pytest.raises(ValidationError, match="JSON path"):
        HttpParams(url="http://x", expect={"json": {"$.a[": 1}})
    with pytest.raises(ValidationError, match=r"regex .* is not valid"):
        HttpParams(url="http://x", expect={"body": "("})


def test_unknown_keys_are_refused() -> None:
    """A typo in a params key is refused (extra=forbid)."""
    with pytest.raises(ValidationError, match="verify_ssl"):
        HttpParams.model_validate({"url": "http://x", "verify_ssl": False})


def test_body_and_json_together_are_refused() -> None:
    """An HTTP request takes `body` or `json`, not both."""
    with pytest.raises(ValidationError, match="either `body` or `json`"):
        HttpParams(url="http://x", body="a", json={"a": 1})


def test_bearer_never_shows_in_a_dump() -> None:
    """A bearer token is a SecretStr: dumps and the default describe() never show it."""
    p = HttpActionParams(url="http://x", bearer="tok-123")
    assert "tok-123" not in p.model_dump_json()
    assert "tok-123" not in repr(p)


def test_log_params_need_exactly_one_source() -> None:
    """A log check reads a path or a command, not both or neither."""
    with pytest.raises(ValidationError, match="exactly one of `path` or `command`"):
        LogParams(pattern="x", within="8h")
    with pytest.raises(ValidationError, match="exactly one of `path` or `command`"):
        LogParams(pattern="x", within="8h", path="a.log", command="cat a.log")


def test_env_equals_needs_a_value() -> None:
    """`state: equals` without `value` is refused."""
    with pytest.raises(ValidationError, match="needs `value`"):
        EnvParams(name="X", state="equals")


def test_wait_for_uses_the_run_clock() -> None:
    """`wait for: 10m` advances a fake clock by 600 s without sleeping."""
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
    ctx = make_ctx(WaitParams.model_validate({"for": "10m"}), clock=clock)

    import asyncio

    result = asyncio.run(WaitAction().run(ctx))
    assert result.outcome is Outcome.PASS
    assert clock.now() == datetime(2026, 3, 1, 0, 10, tzinfo=UTC)
    assert WaitAction().describe(ctx) == "would wait 10m"


def test_wait_until_a_past_time_does_not_wait() -> None:
    """`until` in the past waits 0 s."""
    clock = FakeClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    ctx = make_ctx(WaitParams(until=datetime(2026, 3, 1, 11, tzinfo=UTC)), clock=clock)
    assert WaitAction()._seconds(ctx) == 0.0


def test_wait_needs_for_or_until() -> None:
    """Neither `for` nor `until` is refused."""
    with pytest.raises(ValidationError, match="exactly one of `for` or `until`"):
        WaitParams()


class _FakeResolver:
    def __init__(self, error: int | None = None, answers: list[tuple[Any, ...]] | None = None) -> None:
        self.error = error
        self.answers = answers or []

    async def __call__(self, *args: Any, **kw: Any) -> list[tuple[Any, ...]]:
        if self.error is not None:
            raise socket.gaierror(self.error, "resolver says no")
        return self.answers


def _dns(resolver: _FakeResolver, **params: Any) -> Any:
    import asyncio

    check = DnsCheck()
    check.resolver = resolver
    return asyncio.run(check.run(make_ctx(DnsParams(**params))))


def test_dns_name_without_records_fails() -> None:
    """NXDOMAIN (EAI_NONAME) is a FAIL: the name does not resolve."""
    result = _dns(_FakeResolver(error=socket.EAI_NONAME), name="api.example.com")
    assert result.outcome is Outcome.FAIL
    assert "has no A record" in result.summary


def test_dns_resolver_failure_is_an_error() -> None:
    """A resolver failure (EAI_AGAIN) is an ERROR, not a verdict about the name."""
    result = _dns(_FakeResolver(error=socket.EAI_AGAIN), name="api.example.com")
    assert result.outcome is Outcome.ERROR


def test_dns_cname_compares_the_canonical_name() -> None:
    """A CNAME check compares the canonical name, ignoring case and a trailing dot."""
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "lb.example.net", ("203.0.113.7", 0))]
    ok = _dns(_FakeResolver(answers=answers), name="api.example.com", record_type="CNAME", cname="LB.example.net.")
    bad = _dns(_FakeResolver(answers=answers), name="api.example.com", record_type="CNAME", cname="old.example.net")
    assert ok.outcome is Outcome.PASS
    assert bad.outcome is Outcome.FAIL
    assert "expected 'old.example.net'" in bad.summary


@pytest.mark.parametrize(
    ("host", "names", "ok"),
    [
        ("api.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], False),
        ("example.com", ["*.example.com"], False),
        ("API.Example.com", ["api.example.com"], True),
    ],
)
def test_hostname_matching(host: str, names: list[str], ok: bool) -> None:
    """Wildcards cover exactly one left-most label; names compare without case."""
    assert hostname_matches(host, names, []) is ok


def test_hostname_matching_ip() -> None:
    """An IP address matches IP SANs only."""
    assert hostname_matches("127.0.0.1", ["localhost"], ["127.0.0.1"]) is True
    assert hostname_matches("127.0.0.1", ["127.0.0.1"], []) is False


@pytest.mark.parametrize(
    ("want", "got", "equal"),
    [
        (False, False, True),
        (False, "false", True),
        (True, "TRUE", True),
        (5, "5", True),
        (False, 0, False),
        ("on", "on", True),
        (True, None, False),
    ],
)
def test_flag_read_back_equality(want: Any, got: Any, equal: bool) -> None:
    """Read-back equality: text backends may give "false" for false; 0 is not false."""
    assert flag_equal(want, got) is equal


@pytest.mark.parametrize(
    ("value", "status", "number"),
    [
        (3, "ok", 3.0),
        ("0.5", "ok", 0.5),
        (None, "no_data", None),
        ("", "no_data", None),
        (float("nan"), "no_data", None),
        ("abc", "error", None),
        ([1], "error", None),
    ],
)
def test_to_number(value: Any, status: str, number: float | None) -> None:
    """Null and empty are no data, NaN is no data, text that is not a number is an error."""
    reading = to_number(value, "v")
    assert reading.status == status
    assert reading.value == number


@pytest.mark.parametrize(
    ("how", "value"), [("last", 3.0), ("avg", 2.0), ("min", 1.0), ("max", 3.0), ("sum", 6.0), ("count", 3.0)]
)
def test_prometheus_range_aggregations(how: Any, value: float) -> None:
    """Range readings fold with the named aggregation."""
    assert _prom._aggregate([1.0, 2.0, 3.0], how) == value


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("RICHPANEL_WEBHOOK_TOKEN", True),
        ("DATABASE_URL", True),
        ("DB_PASSWORD", True),
        ("ORDER_STATUS_OUTBOUND_ENABLED", False),
        ("AWS_REGION", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    """Names that look like credentials are treated as secret."""
    assert _util.looks_secret(name) is secret


def test_finish_redacts_every_string() -> None:
    """A Result built by finish() has the secret masked in summary, details, output and evidence."""
    from golive.results import Evidence

    ctx = make_ctx(None, secrets={"k": "topsecret"})
    result = _util.finish(
        ctx,
        Outcome.FAIL,
        "saw topsecret",
        details={"a": ["x topsecret"]},
        output={"topsecret": "topsecret"},
        evidence=(Evidence(name="log", content=b"topsecret"),),
    )
    assert "topsecret" not in result.model_dump_json()
    assert result.evidence[0].content == b"***"
