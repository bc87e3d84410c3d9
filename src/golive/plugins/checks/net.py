"""Network checks: a TCP port accepts connections, a name resolves, a TLS certificate is good.

``dns`` asks the system resolver (``getaddrinfo``), or, given ``resolvers``, each named resolver directly
with dnspython (UDP, TCP when the answer is truncated) and compares their answers: a DNS switchover is done
when the public resolvers agree, not when this host's cache does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from golive import results
from golive.plugins import _util, base

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "DnsCheck",
    "DnsParams",
    "TcpCheck",
    "TcpParams",
    "TlsCheck",
    "TlsParams",
    "colon_hex",
    "hostname_matches",
    "parse_server",
]

DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds; a port that takes longer to accept is as good as closed


class TcpParams(base.Params):
    """A TCP port that must accept a connection."""

    host: str = Field(description="Host name or IP address.", min_length=1)
    port: int = Field(ge=1, le=65535, description="TCP port.")
    timeout: _util.Duration = Field(default=DEFAULT_CONNECT_TIMEOUT, description="Connect timeout.")


class TcpCheck(base.CheckPlugin):
    """Open a TCP connection and close it again."""

    name = "tcp"
    params = TcpParams
    description = "TCP connect to host:port within a timeout."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: TcpParams = ctx.params
        where = f"{p.host}:{p.port}"
        started = time.perf_counter()
        try:
            async with asyncio.timeout(p.timeout):
                _reader, writer = await asyncio.open_connection(p.host, p.port)
        except TimeoutError:
            return _util.finish(ctx, results.Outcome.ERROR, f"connect to {where} timed out after {p.timeout:g} s")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return _util.finish(ctx, results.Outcome.ERROR, f"cannot connect to {where}: {reason}")
        elapsed = (time.perf_counter() - started) * 1000.0
        writer.close()
        # the peer may reset a connection that sent nothing; the connect is what was checked
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"{where} accepted a connection in {elapsed:.0f} ms",
            output={"connect_ms": round(elapsed, 1)},
        )


RecordType = Literal["A", "AAAA", "CNAME", "TXT", "MX", "NS"]
Resolver = Callable[..., Awaitable[list[tuple[Any, ...]]]]

_SYSTEM_TYPES = ("A", "AAAA", "CNAME")  # what getaddrinfo can answer
_FAMILY = {"A": socket.AF_INET, "AAAA": socket.AF_INET6, "CNAME": socket.AF_UNSPEC}
# getaddrinfo codes that mean "the name has no such record", as opposed to "the resolver failed".
_NO_RECORD = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY") if hasattr(socket, n)}
DNS_PORT = 53


def parse_server(text: str) -> tuple[str, int]:
    """``"8.8.8.8"``, ``"8.8.8.8:53"``, ``"2001:4860::8888"`` or ``"[::1]:5353"`` -> (address, port)."""
    value = text.strip()
    host, port = value, DNS_PORT
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"resolver {text!r}: write an IPv6 address with a port as [addr]:port")
        port = int(rest[1:]) if rest else DNS_PORT
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"resolver {text!r} is not an IP address (a resolver is asked by address)") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"resolver {text!r}: port {port} is out of range")
    return host, port


def _norm(record_type: str, text: str) -> str:
    """One answer in a form that compares equal across resolvers and with the runbook's expectation."""
    value = text.strip()
    if record_type in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if record_type in ("CNAME", "NS"):
        return value.rstrip(".").lower()
    if record_type == "MX":
        parts = value.split()
        if len(parts) == 2:
            return f"{parts[0]} {parts[1].rstrip('.').lower()}"
    return value


class DnsParams(base.Params):
    """A name that must resolve, through the system resolver or through named resolvers."""

    name: str = Field(description="The DNS name to resolve.", min_length=1)
    record_type: RecordType = Field(
        default="A", description="A, AAAA or CNAME; with `resolvers` also TXT, MX (`10 mx.example.com`) and NS."
    )
    resolvers: dict[str, str] = Field(
        default_factory=dict,
        description="Named resolvers to ask instead of the system resolver: name -> IP address with an optional "
        "port, e.g. {google: 8.8.8.8, cloudflare: 1.1.1.1, quad9: '9.9.9.9:53'}. Every one is asked; each must "
        "answer.",
    )
    addresses: list[str] = Field(
        default_factory=list, description="Addresses that must all be among the answers (A/AAAA), on every resolver."
    )
    answers: list[str] | None = Field(
        default=None,
        description="The exact set of answers every resolver must give, e.g. ['10.0.0.5'] or ['\"v=spf1 -all\"'].",
    )
    cname: str | None = Field(default=None, description="The canonical name expected (CNAME).")
    agree: bool = Field(default=True, description="With several resolvers, all must give the same answers.")
    timeout: _util.Duration = Field(default=DEFAULT_CONNECT_TIMEOUT, description="Resolver timeout (per resolver).")

    @model_validator(mode="after")
    def _shape(self) -> DnsParams:
        for label, server in self.resolvers.items():
            try:
                parse_server(server)
            except ValueError as exc:
                raise ValueError(f"resolvers.{label}: {exc}") from None
        if not self.resolvers and self.record_type not in _SYSTEM_TYPES:
            raise ValueError(
                f"record_type {self.record_type} needs named `resolvers` (the system resolver answers A, AAAA, CNAME)"
            )
        for address in self.addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"addresses: {address!r} is not an IP address") from None
        return self


@dataclass
class _Answer:
    server: str
    outcome: results.Outcome
    answers: list[str]
    rcode: str
    note: str = ""
    canonical_name: str | None = None
    ttl: int | None = None


class DnsCheck(base.CheckPlugin):
    """Resolve a name with the system resolver or with named resolvers (dnspython), and compare the answers."""

    name = "dns"
    params = DnsParams
    description = "Resolve a name via the system resolver or named resolvers; expected answers; resolvers agree."

    # The resolver is a class attribute so unit tests can answer without a DNS server.
    resolver: Resolver | None = None

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: DnsParams = ctx.params
        if p.resolvers:
            return await self._named(ctx, p)
        from golive.plugins import _stubbed as stubs

        transport = stubs.active()
        if transport is not None:  # a stubbed rehearsal: the stubs answer for the system resolver
            return self._judge_system(ctx, p, await self._ask_stub(transport, p, "system"))
        resolve = self.resolver or asyncio.get_running_loop().getaddrinfo
        flags = socket.AI_CANONNAME if p.record_type == "CNAME" else 0
        try:
            async with asyncio.timeout(p.timeout):
                infos = await resolve(p.name, None, family=_FAMILY[p.record_type], type=socket.SOCK_STREAM, flags=flags)
        except TimeoutError:
            return _util.finish(ctx, results.Outcome.ERROR, f"resolving {p.name} timed out after {p.timeout:g} s")
        except socket.gaierror as exc:
            if exc.errno in _NO_RECORD:
                return _util.finish(
                    ctx, results.Outcome.FAIL, f"{p.name} has no {p.record_type} record ({exc.strerror})"
                )
            return _util.finish(ctx, results.Outcome.ERROR, f"resolving {p.name} failed: {exc.strerror or exc}")
        addresses = sorted({str(info[4][0]) for info in infos})
        canon = next((str(info[3]) for info in infos if info[3]), p.name)
        return self._judge_addresses(ctx, p, addresses, canon)

    @staticmethod
    def _judge_addresses(ctx: base.StepContext, p: DnsParams, addresses: list[str], canon: str) -> results.Result:
        """The system resolver's answer against what the step expects."""
        failures = []
        missing = [a for a in p.addresses if str(ipaddress.ip_address(a)) not in addresses]
        if missing:
            failures.append(f"answers {addresses}, expected to include {missing}")
        if p.answers is not None and p.record_type != "CNAME":
            want = sorted({_norm(p.record_type, a) for a in p.answers})
            if want != addresses:
                failures.append(f"answers {addresses}, expected exactly {want}")
        if p.cname is not None and canon.rstrip(".").lower() != p.cname.rstrip(".").lower():
            failures.append(f"canonical name {canon!r}, expected {p.cname!r}")
        output = {"addresses": addresses, "canonical_name": canon}
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        shown = canon if p.record_type == "CNAME" else ", ".join(addresses)
        return _util.finish(ctx, results.Outcome.PASS, f"{p.name} {p.record_type} -> {shown}", output=output)

    @staticmethod
    async def _ask_stub(transport: Any, p: DnsParams, server: str) -> _Answer:
        """The stubs' answer, judged as a resolver's would be (NXDOMAIN fails, a failure is an ERROR)."""
        from golive.exceptions import PluginError

        try:
            got = transport.dns(p.name, p.record_type, server)
        except PluginError as exc:
            return _Answer(server, results.Outcome.ERROR, [], "ERROR", exc.message)
        if got.rcode == "TIMEOUT":
            return _Answer(server, results.Outcome.ERROR, [], "TIMEOUT", f"no answer within {p.timeout:g} s")
        if got.rcode == "NXDOMAIN":
            return _Answer(server, results.Outcome.FAIL, [], got.rcode, f"{p.name} does not exist")
        if got.rcode != "NOERROR":
            return _Answer(server, results.Outcome.ERROR, [], got.rcode, f"the resolver answered {got.rcode}")
        answers = sorted({_norm(p.record_type, a) for a in got.answers})
        canonical = got.canonical_name.rstrip(".").lower() if got.canonical_name else None
        if not answers:
            return _Answer(server, results.Outcome.FAIL, [], got.rcode, f"no {p.record_type} record", canonical)
        return _Answer(server, results.Outcome.PASS, answers, got.rcode, "", canonical, got.ttl)

    @classmethod
    def _judge_system(cls, ctx: base.StepContext, p: DnsParams, a: _Answer) -> results.Result:
        """A stubbed system-resolver answer, judged as the live path judges getaddrinfo's."""
        if a.outcome is not results.Outcome.PASS:
            return _util.finish(ctx, a.outcome, f"resolving {p.name} ({p.record_type}): {a.note}")
        return cls._judge_addresses(ctx, p, a.answers, a.canonical_name or p.name)

    async def _ask(self, p: DnsParams, server: str) -> _Answer:
        """One resolver's answer; a timeout, a refusal or a server failure is an ERROR, never an empty answer."""
        from golive.plugins import _stubbed as stubs

        transport = stubs.active()
        if transport is not None:  # a stubbed rehearsal: the stubs answer in place of the resolver
            return await self._ask_stub(transport, p, server)
        import dns.asyncquery
        import dns.exception
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype

        host, port = parse_server(server)
        where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        rdtype = dns.rdatatype.from_text(p.record_type)
        query = dns.message.make_query(p.name, rdtype)
        try:
            response, _used_tcp = await dns.asyncquery.udp_with_fallback(query, host, timeout=p.timeout, port=port)
        except dns.exception.Timeout:
            return _Answer(where, results.Outcome.ERROR, [], "TIMEOUT", f"no answer within {p.timeout:g} s")
        except (OSError, dns.exception.DNSException) as exc:
            return _Answer(where, results.Outcome.ERROR, [], "ERROR", f"{type(exc).__name__}: {exc}")
        rcode = dns.rcode.to_text(response.rcode())
        if response.rcode() == dns.rcode.NXDOMAIN:
            return _Answer(where, results.Outcome.FAIL, [], rcode, f"{p.name} does not exist")
        if response.rcode() != dns.rcode.NOERROR:
            return _Answer(where, results.Outcome.ERROR, [], rcode, f"the resolver answered {rcode}")
        answers: set[str] = set()
        ttl: int | None = None
        canonical: str | None = None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and rdtype != dns.rdatatype.CNAME:
                canonical = str(next(iter(rrset)).target).rstrip(".").lower()
            if rrset.rdtype == rdtype:
                answers.update(_norm(p.record_type, rd.to_text()) for rd in rrset)
                ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        if not answers:
            return _Answer(where, results.Outcome.FAIL, [], rcode, f"no {p.record_type} record", canonical)
        return _Answer(where, results.Outcome.PASS, sorted(answers), rcode, "", canonical, ttl)

    async def _named(self, ctx: base.StepContext, p: DnsParams) -> results.Result:
        names = list(p.resolvers)
        try:
            # each query has its own timeout; this bounds the whole check should a socket misbehave
            async with asyncio.timeout(p.timeout * 2 + 1):
                got = await asyncio.gather(*(self._ask(p, p.resolvers[n]) for n in names))
        except TimeoutError:
            return _util.finish(ctx, results.Outcome.ERROR, f"resolving {p.name} timed out after {p.timeout:g} s")
        by_name = dict(zip(names, got, strict=True))
        output: dict[str, Any] = {
            "resolvers": {
                n: {
                    "server": a.server,
                    "rcode": a.rcode,
                    "answers": a.answers,
                    "ttl": a.ttl,
                    "canonical_name": a.canonical_name,
                }
                for n, a in by_name.items()
            }
        }
        errors = [f"{n} ({a.server}): {a.note}" for n, a in by_name.items() if a.outcome is results.Outcome.ERROR]
        failures = [f"{n}: {a.note}" for n, a in by_name.items() if a.outcome is results.Outcome.FAIL]
        want_exact = sorted({_norm(p.record_type, a) for a in p.answers}) if p.answers is not None else None
        want_some = [str(ipaddress.ip_address(a)) for a in p.addresses]
        for n, a in by_name.items():
            if a.outcome is not results.Outcome.PASS:
                continue
            if want_exact is not None and a.answers != want_exact:
                failures.append(f"{n} answers {a.answers}, expected exactly {want_exact}")
            missing = [x for x in want_some if x not in a.answers]
            if missing:
                failures.append(f"{n} answers {a.answers}, expected to include {missing}")
            if p.cname is not None:
                canon = a.answers[0] if p.record_type == "CNAME" and a.answers else a.canonical_name
                if (canon or "") != p.cname.rstrip(".").lower():
                    failures.append(f"{n}: canonical name {canon!r}, expected {p.cname!r}")
        distinct = {tuple(a.answers) for a in by_name.values() if a.outcome is results.Outcome.PASS}
        output["agree"] = len(distinct) <= 1 and not errors and not failures
        if p.agree and len(distinct) > 1:
            shown = "; ".join(f"{n}: {a.answers}" for n, a in by_name.items() if a.outcome is results.Outcome.PASS)
            failures.append(f"the resolvers disagree ({shown})")
        if errors:
            return _util.finish(
                ctx,
                results.Outcome.ERROR,
                f"resolving {p.name} {p.record_type} failed on " + "; ".join(errors),
                output=output,
            )
        if failures:
            return _util.finish(
                ctx, results.Outcome.FAIL, f"{p.name} {p.record_type}: " + "; ".join(failures), output=output
            )
        answers = next(iter(distinct)) if len(distinct) == 1 else ("(answers differ)",)
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"{p.name} {p.record_type} -> {', '.join(answers)} on {len(names)} resolver{'s' if len(names) != 1 else ''} "
            f"({', '.join(names)})",
            output=output,
        )


class TlsParams(base.Params):
    """A TLS endpoint whose certificate must verify, match the host and stay valid long enough."""

    host: str = Field(description="Host to connect to.", min_length=1)
    port: int = Field(default=443, ge=1, le=65535, description="TLS port.")
    server_name: str | None = Field(default=None, description="Name to verify and send as SNI (default: host).")
    min_days_valid: float = Field(default=14, ge=0, description="Days the certificate must still be valid.")
    check_hostname: bool = Field(default=True, description="The certificate must name the host.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust (e.g. a private CA).")
    fingerprint: str | list[str] | None = Field(
        default=None,
        description="SHA-256 fingerprint(s) the certificate must have (hex, colons optional; a list during a "
        "rotation: any one), e.g. 'AB:CD:...'.",
    )
    timeout: _util.Duration = Field(default=DEFAULT_CONNECT_TIMEOUT, description="Connect + handshake timeout.")

    @field_validator("fingerprint", mode="before")
    @classmethod
    def _fingerprints(cls, value: Any) -> Any:
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValueError("give a SHA-256 fingerprint or a list of them")
        out = []
        for item in items:
            hexed = re.sub(r"[\s:]", "", str(item)).lower()
            if not re.fullmatch(r"[0-9a-f]{64}", hexed):
                raise ValueError(
                    f"{item!r} is not a SHA-256 fingerprint (64 hex digits, colons optional; "
                    "`openssl x509 -noout -fingerprint -sha256` prints one)"
                )
            out.append(hexed)
        return out


def colon_hex(digest: bytes) -> str:
    """``AB:CD:...``: how openssl and browsers print a fingerprint."""
    return ":".join(f"{b:02X}" for b in digest)


def hostname_matches(name: str, dns_names: list[str], ips: list[str]) -> bool:
    """RFC 6125 matching: exact, or a wildcard in the left-most label only; IPs against IP SANs."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        return str(ip) in ips
    host = name.rstrip(".").lower()
    for pattern in dns_names:
        pat = pattern.rstrip(".").lower()
        if pat == host:
            return True
        if pat.startswith("*.") and "." in host and host.split(".", 1)[1] == pat[2:] and host.split(".", 1)[0]:
            return True
    return False


class TlsCheck(base.CheckPlugin):
    """Handshake, verify the chain, match the host name, and check the days left."""

    name = "tls"
    params = TlsParams
    description = (
        "TLS certificate: verifies, names the host, valid min_days_valid days; reports SHA-256 fingerprint, "
        "issuer, SANs; can pin a fingerprint."
    )

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: TlsParams = ctx.params
        where = f"{p.host}:{p.port}"
        sni = p.server_name or p.host
        try:
            context = ssl.create_default_context(cafile=str(_util.resolve_path(ctx, p.ca_file)) if p.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"cannot load ca_file {p.ca_file!r}: {exc}")
        # The chain is verified by OpenSSL; the name is matched below so a mismatch reads as a clear FAIL.
        context.check_hostname = False
        try:
            async with asyncio.timeout(p.timeout):
                _reader, writer = await asyncio.open_connection(
                    p.host, p.port, ssl=context, server_hostname=sni, ssl_handshake_timeout=p.timeout
                )
        except TimeoutError:
            return _util.finish(
                ctx, results.Outcome.ERROR, f"TLS handshake with {where} timed out after {p.timeout:g} s"
            )
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            return _util.finish(ctx, results.Outcome.ERROR, f"TLS verification of {where} failed: {reason}")
        except ssl.SSLError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"TLS handshake with {where} failed: {exc.reason or exc}")
        except OSError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"cannot connect to {where}: {exc.strerror or exc}")
        try:
            ssl_obj = writer.get_extra_info("ssl_object")
            der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
            version = ssl_obj.version() if ssl_obj is not None else None
        finally:
            writer.close()
            # closing after a completed handshake; nothing left to check
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        if not der:
            return _util.finish(ctx, results.Outcome.ERROR, f"{where} sent no certificate")
        from cryptography import x509  # here, not at import: only TLS checks need it (~40 ms)

        cert = x509.load_der_x509_certificate(der)
        return self._judge(ctx, p, cert, sni, version)

    def _judge(
        self, ctx: base.StepContext, p: TlsParams, cert: x509.Certificate, sni: str, version: str | None
    ) -> results.Result:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        now: datetime = ctx.clock.now()
        not_after = cert.not_valid_after_utc
        days_left = (not_after - now).total_seconds() / 86400.0
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
            ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            dns_names, ips = [], []
        subject_cn = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        fingerprint = cert.fingerprint(hashes.SHA256())
        output = {
            "days_left": round(days_left, 2),
            "days_remaining": round(days_left, 2),
            "not_after": not_after.isoformat(),
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "sans": dns_names + ips,
            "names": dns_names + ips,
            "fingerprint_sha256": colon_hex(fingerprint),
            "serial_number": f"{cert.serial_number:X}",
            "tls_version": version,
        }
        failures = []
        pins = [p.fingerprint] if isinstance(p.fingerprint, str) else p.fingerprint  # normalised to a list
        if pins is not None and fingerprint.hex() not in pins:
            failures.append(f"certificate fingerprint (SHA-256) {colon_hex(fingerprint)} is not the one expected")
        if p.check_hostname and not hostname_matches(sni, dns_names or subject_cn, ips):
            failures.append(f"certificate names {dns_names + ips or subject_cn}, expected {sni}")
        if days_left < p.min_days_valid:
            failures.append(f"certificate valid {days_left:.1f} more days, expected at least {p.min_days_valid:g}")
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"certificate for {sni} valid {days_left:.0f} more days (until {not_after:%Y-%m-%d}), "
            f"issued by {cert.issuer.rfc4514_string()}, SHA-256 {colon_hex(fingerprint)}"
            + (" (pinned)" if p.fingerprint is not None else ""),
            output=output,
        )
