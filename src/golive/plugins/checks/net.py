"""Network checks: a TCP port accepts connections, a name resolves, a TLS certificate is good."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from golive import results
from golive.plugins import _util, base

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["DnsCheck", "DnsParams", "TcpCheck", "TcpParams", "TlsCheck", "TlsParams", "hostname_matches"]

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


RecordType = Literal["A", "AAAA", "CNAME"]
Resolver = Callable[..., Awaitable[list[tuple[Any, ...]]]]

_FAMILY = {"A": socket.AF_INET, "AAAA": socket.AF_INET6, "CNAME": socket.AF_UNSPEC}
# getaddrinfo codes that mean "the name has no such record", as opposed to "the resolver failed".
_NO_RECORD = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY") if hasattr(socket, n)}


class DnsParams(base.Params):
    """A name that must resolve through the system resolver."""

    name: str = Field(description="The DNS name to resolve.", min_length=1)
    record_type: RecordType = Field(default="A", description="A, AAAA or CNAME.")
    addresses: list[str] = Field(
        default_factory=list, description="Addresses that must all be among the answers (A/AAAA)."
    )
    cname: str | None = Field(default=None, description="The canonical name expected (CNAME).")
    timeout: _util.Duration = Field(default=DEFAULT_CONNECT_TIMEOUT, description="Resolver timeout.")


class DnsCheck(base.CheckPlugin):
    """Resolve a name with the system resolver (``getaddrinfo``) and compare the answers."""

    name = "dns"
    params = DnsParams
    description = "Resolve a name (A, AAAA, CNAME) via the system resolver; expected addresses optional."

    # The resolver is a class attribute so unit tests can answer without a DNS server.
    resolver: Resolver | None = None

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: DnsParams = ctx.params
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
        failures = []
        missing = [a for a in p.addresses if str(ipaddress.ip_address(a)) not in addresses]
        if missing:
            failures.append(f"answers {addresses}, expected to include {missing}")
        if p.cname is not None and canon.rstrip(".").lower() != p.cname.rstrip(".").lower():
            failures.append(f"canonical name {canon!r}, expected {p.cname!r}")
        output = {"addresses": addresses, "canonical_name": canon}
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        shown = canon if p.record_type == "CNAME" else ", ".join(addresses)
        return _util.finish(ctx, results.Outcome.PASS, f"{p.name} {p.record_type} -> {shown}", output=output)


class TlsParams(base.Params):
    """A TLS endpoint whose certificate must verify, match the host and stay valid long enough."""

    host: str = Field(description="Host to connect to.", min_length=1)
    port: int = Field(default=443, ge=1, le=65535, description="TLS port.")
    server_name: str | None = Field(default=None, description="Name to verify and send as SNI (default: host).")
    min_days_valid: float = Field(default=14, ge=0, description="Days the certificate must still be valid.")
    check_hostname: bool = Field(default=True, description="The certificate must name the host.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust (e.g. a private CA).")
    timeout: _util.Duration = Field(default=DEFAULT_CONNECT_TIMEOUT, description="Connect + handshake timeout.")


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
    description = "TLS certificate: verifies, names the host, valid for at least min_days_valid days."

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
        output = {
            "days_remaining": round(days_left, 2),
            "not_after": not_after.isoformat(),
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "names": dns_names + ips,
            "tls_version": version,
        }
        failures = []
        if p.check_hostname and not hostname_matches(sni, dns_names or subject_cn, ips):
            failures.append(f"certificate names {dns_names + ips or subject_cn}, expected {sni}")
        if days_left < p.min_days_valid:
            failures.append(f"certificate valid {days_left:.1f} more days, expected at least {p.min_days_valid:g}")
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"certificate for {sni} valid {days_left:.0f} more days (until {not_after:%Y-%m-%d})",
            output=output,
        )
