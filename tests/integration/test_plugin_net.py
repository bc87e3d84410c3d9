"""TCP, DNS and TLS checks against loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from golive.plugins.checks.net import DnsCheck, DnsParams, TcpCheck, TcpParams, TlsCheck, TlsParams
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer, LoopbackHTTPSServer, TlsCert, make_cert
from .loopback_dns import ZoneServer


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


# ---------------------------------------------------------------------------------------- named resolvers

ZONE = {
    ("db.example.com", "A"): ["10.0.0.5"],
    ("db.example.com", "TXT"): ['"v=spf1 -all"'],
    ("example.com", "MX"): ["10 mx1.example.com."],
    ("www.example.com", "CNAME"): ["edge.cdn.example.net."],
    ("edge.cdn.example.net", "A"): ["192.0.2.10", "192.0.2.11"],
}


@pytest.fixture
async def resolvers() -> AsyncIterator[list[ZoneServer]]:
    """Three loopback DNS servers on separate ports, answering from the same zone."""
    servers: list[ZoneServer] = []
    try:
        for _ in range(3):
            servers.append(await ZoneServer(dict(ZONE)).start())
        yield servers
    finally:
        for s in servers:
            s.close()


def named(servers: list[ZoneServer]) -> dict[str, str]:
    return dict(zip(("google", "cloudflare", "quad9"), (s.address for s in servers), strict=True))


async def test_dns_named_resolvers_agree_on_the_expected_answer(resolvers: list[ZoneServer]) -> None:
    """Three named resolvers are each asked and give the expected A record; each is listed in the output."""
    p = DnsParams(name="db.example.com", resolvers=named(resolvers), answers=["10.0.0.5"])
    result = await DnsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["agree"] is True
    assert set(result.output["resolvers"]) == {"google", "cloudflare", "quad9"}
    assert result.output["resolvers"]["quad9"]["answers"] == ["10.0.0.5"]
    assert result.output["resolvers"]["quad9"]["ttl"] == 60
    assert all(s.queries == [("db.example.com", "A")] for s in resolvers)


async def test_dns_named_resolvers_disagreeing_fail_naming_each(resolvers: list[ZoneServer]) -> None:
    """A resolver still answering the old address fails the check, naming it and both answers."""
    resolvers[2].zone[("db.example.com", "A")] = ["10.0.0.4"]
    p = DnsParams(name="db.example.com", resolvers=named(resolvers), addresses=["10.0.0.5"])
    result = await DnsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "quad9 answers ['10.0.0.4'], expected to include ['10.0.0.5']" in result.summary
    assert "the resolvers disagree" in result.summary
    assert result.output["agree"] is False


async def test_dns_named_resolver_timeout_or_servfail_is_an_error(resolvers: list[ZoneServer]) -> None:
    """A resolver that does not answer, or answers SERVFAIL, is an ERROR (fail closed), never a pass."""
    resolvers[0].silent = True
    resolvers[1].rcode = "SERVFAIL"
    p = DnsParams(name="db.example.com", resolvers=named(resolvers), answers=["10.0.0.5"], timeout="300ms")
    result = await DnsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.ERROR
    assert "google" in result.summary
    assert "no answer within 0.3 s" in result.summary
    assert "cloudflare" in result.summary
    assert "SERVFAIL" in result.summary


async def test_dns_named_resolvers_other_record_types(resolvers: list[ZoneServer]) -> None:
    """TXT, MX and a CNAME chain are compared in normalised form; NXDOMAIN fails."""
    two = dict(list(named(resolvers).items())[:2])
    cases = [
        DnsParams(name="db.example.com", record_type="TXT", resolvers=two, answers=['"v=spf1 -all"']),
        DnsParams(name="example.com", record_type="MX", resolvers=two, answers=["10 mx1.example.com"]),
        DnsParams(name="www.example.com", resolvers=two, cname="edge.cdn.example.net", addresses=["192.0.2.11"]),
        DnsParams(name="www.example.com", record_type="CNAME", resolvers=two, cname="edge.cdn.example.net."),
    ]
    for p in cases:
        result = await DnsCheck().run(make_ctx(p))
        assert result.outcome is Outcome.PASS, (p.record_type, result.summary)
    missing = await DnsCheck().run(make_ctx(DnsParams(name="gone.example.com", resolvers=two)))
    assert missing.outcome is Outcome.FAIL
    assert "does not exist" in missing.summary


async def test_dns_named_resolver_answer_too_big_for_udp_is_asked_again_over_tcp(resolvers: list[ZoneServer]) -> None:
    """A truncated UDP answer (TC) is asked again over TCP and compared in full."""
    records = [f'"verification-{i:02d}-{"x" * 40}"' for i in range(12)]  # ~650 bytes: over 512
    for server in resolvers:
        server.zone[("big.example.com", "TXT")] = records
    p = DnsParams(name="big.example.com", record_type="TXT", resolvers=named(resolvers), answers=records)
    result = await DnsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert all(s.tcp_queries == [("big.example.com", "TXT")] for s in resolvers)
    assert len(result.output["resolvers"]["google"]["answers"]) == 12


def test_dns_params_refuse_a_resolver_that_is_not_an_address() -> None:
    """A resolver is an IP address (with an optional port); a host name is refused with the reason."""
    with pytest.raises(ValueError, match=r"resolvers.google: resolver 'dns.google' is not an IP address"):
        DnsParams(name="x", resolvers={"google": "dns.google"})
    with pytest.raises(ValueError, match="needs named `resolvers`"):
        DnsParams(name="x", record_type="TXT")
    assert DnsParams(name="x", resolvers={"v6": "[::1]:5353", "v4": "1.1.1.1"}).resolvers["v6"] == "[::1]:5353"


# ----------------------------------------------------------------------------------------- fingerprints


def load_cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


async def test_tls_check_reports_fingerprint_issuer_sans_and_days_left(tls_server: LoopbackHTTPSServer) -> None:
    """The output holds the SHA-256 fingerprint (as openssl prints it), the issuer, the SANs and days left."""
    p = TlsParams(host="127.0.0.1", port=tls_server.port, server_name="localhost", ca_file=tls_server.ca_file)
    result = await TlsCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    cert = load_cert(tls_server.ca_file)
    want = ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
    assert result.output["fingerprint_sha256"] == want
    assert result.output["issuer"] == cert.issuer.rfc4514_string()
    assert "localhost" in result.output["sans"]
    assert "127.0.0.1" in result.output["sans"]
    assert 29 <= result.output["days_left"] <= 30
    assert want in result.summary


async def test_tls_check_pins_a_fingerprint(tls_server: LoopbackHTTPSServer, tmp_path: Path) -> None:
    """The expected fingerprint passes (any case, with or without colons); another certificate's fails."""
    cert = load_cert(tls_server.ca_file)
    raw = cert.fingerprint(hashes.SHA256()).hex()
    other = load_cert(make_cert(tmp_path).cert_file)
    base = {"host": "127.0.0.1", "port": tls_server.port, "server_name": "localhost", "ca_file": tls_server.ca_file}
    ok = await TlsCheck().run(make_ctx(TlsParams(**base, fingerprint=raw.upper())))
    assert ok.outcome is Outcome.PASS, ok.summary
    rotating = await TlsCheck().run(
        make_ctx(
            TlsParams(
                **base,
                fingerprint=[
                    other.fingerprint(hashes.SHA256()).hex(),
                    ":".join(raw[i : i + 2] for i in range(0, 64, 2)),
                ],
            )
        )
    )
    assert rotating.outcome is Outcome.PASS, rotating.summary
    bad = await TlsCheck().run(make_ctx(TlsParams(**base, fingerprint=other.fingerprint(hashes.SHA256()).hex())))
    assert bad.outcome is Outcome.FAIL
    assert "is not the one expected" in bad.summary
    with pytest.raises(ValueError, match="is not a SHA-256 fingerprint"):
        TlsParams(host="x", fingerprint="abc")
