"""TCP, DNS and TLS checks against loopback servers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from golive.plugins.checks.net import DnsCheck, DnsParams, TcpCheck, TcpParams, TlsCheck, TlsParams
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer, LoopbackHTTPSServer, TlsCert, make_cert


async def test_tcp_check_passes_when_the_port_accepts(http_server: LoopbackHTTPServer) -> None:
    """A listening port passes and reports the connect time."""
    result = await TcpCheck().run(make_ctx(TcpParams(host="127.0.0.1", port=http_server.port)))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["connect_ms"] >= 0


async def test_tcp_check_refused_is_an_error(closed_port: int) -> None:
    """Nothing listening is an ERROR naming host:port."""
    result = await TcpCheck().run(make_ctx(TcpParams(host="127.0.0.1", port=closed_port)))
    assert result.outcome is Outcome.ERROR
    assert f"127.0.0.1:{closed_port}" in result.summary


async def test_dns_check_resolves_localhost() -> None:
    """`localhost` resolves to 127.0.0.1 through the system resolver (hosts file, no network)."""
    result = await DnsCheck().run(make_ctx(DnsParams(name="localhost", addresses=["127.0.0.1"])))
    assert result.outcome is Outcome.PASS, result.summary
    assert "127.0.0.1" in result.output["addresses"]


async def test_dns_check_fails_when_an_expected_address_is_missing() -> None:
    """An expected address that is not among the answers fails with both lists."""
    result = await DnsCheck().run(make_ctx(DnsParams(name="localhost", addresses=["127.0.0.2"])))
    assert result.outcome is Outcome.FAIL
    assert "expected to include ['127.0.0.2']" in result.summary


async def test_tls_check_passes_with_the_ca_file(tls_server: LoopbackHTTPSServer) -> None:
    """A certificate trusted via ca_file, naming the host, valid 30 days, passes min_days_valid 14."""
    p = TlsParams(host="127.0.0.1", port=tls_server.port, server_name="localhost", ca_file=tls_server.ca_file)
    result = await TlsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert 29 <= result.output["days_remaining"] <= 30


async def test_tls_check_self_signed_without_ca_file_is_an_error(tls_server: LoopbackHTTPSServer) -> None:
    """Without ca_file the self-signed certificate does not verify: ERROR, never a pass."""
    result = await TlsCheck().run(make_ctx(TlsParams(host="127.0.0.1", port=tls_server.port)))
    assert result.outcome is Outcome.ERROR
    assert "self-signed" in result.summary or "verif" in result.summary


async def test_tls_check_fails_on_a_hostname_mismatch(tls_server: LoopbackHTTPSServer) -> None:
    """A certificate that does not name the host fails and lists the names it has."""
    p = TlsParams(host="127.0.0.1", port=tls_server.port, server_name="api.example.com", ca_file=tls_server.ca_file)
    result = await TlsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "expected api.example.com" in result.summary


async def test_tls_check_fails_when_expiring_sooner_than_min_days(
    tmp_path: Path, start_tls_server: Callable[[TlsCert], LoopbackHTTPSServer]
) -> None:
    """A certificate valid 5 more days fails `min_days_valid: 14` with both numbers."""
    server = start_tls_server(make_cert(tmp_path, days=5))
    p = TlsParams(host="127.0.0.1", port=server.port, ca_file=server.ca_file, min_days_valid=14)
    result = await TlsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "expected at least 14" in result.summary


async def test_tls_check_refused_is_an_error(closed_port: int) -> None:
    """No TLS server listening is an ERROR."""
    result = await TlsCheck().run(make_ctx(TlsParams(host="127.0.0.1", port=closed_port)))
    assert result.outcome is Outcome.ERROR
