"""A DNS server on 127.0.0.1 answering from a zone dict, for the `dns` check's named resolvers.

Answers are built with dnspython's own message code (the query's id, question and flags echoed, the
records made from their presentation text), so what the check parses is real DNS wire format.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from .conftest import LOOPBACK

ZONE_TTL = 60  # seconds
UDP_LIMIT = 512  # bytes of a UDP answer without EDNS (RFC 1035)
BIND_ATTEMPTS = 20


@dataclass
class ZoneServer(asyncio.DatagramProtocol):
    """`zone` maps (name, type) -> record texts, e.g. ("db.example.com", "A") -> ["10.0.0.5"].

    A name with no record of any type is NXDOMAIN; `silent` drops every query (a timeout test);
    `rcode` answers every query with that code (e.g. "SERVFAIL").
    """

    zone: dict[tuple[str, str], list[str]]
    silent: bool = False
    rcode: str | None = None
    queries: list[tuple[str, str]] = field(default_factory=list)
    tcp_queries: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    _transport: asyncio.DatagramTransport | None = None
    _tcp: asyncio.Server | None = None

    async def start(self) -> ZoneServer:
        """UDP on a free port, and TCP on the same port number (for answers too big for UDP)."""
        loop = asyncio.get_running_loop()
        for _ in range(BIND_ATTEMPTS):
            transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(LOOPBACK, 0))
            port = int(transport.get_extra_info("sockname")[1])
            try:
                # the UDP port's number may be taken for TCP (e.g. by an outgoing connection): try another
                self._tcp = await asyncio.start_server(self._serve_tcp, LOOPBACK, port)
            except OSError:
                transport.close()
                continue
            self._transport = transport
            self.port = port
            return self
        raise OSError(f"no loopback port was free for both UDP and TCP in {BIND_ATTEMPTS} attempts")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._tcp is not None:
            self._tcp.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            query = dns.message.from_wire(await reader.readexactly(size))
            q = query.question[0]
            self.tcp_queries.append((q.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(q.rdtype)))
            wire = self._answer(query).to_wire()
            writer.write(len(wire).to_bytes(2, "big") + wire)
            await writer.drain()
        finally:
            writer.close()

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        query = dns.message.from_wire(data)
        question = query.question[0]
        self.queries.append((question.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(question.rdtype)))
        if self.silent:
            return
        response = self._answer(query)
        wire = response.to_wire()
        if len(wire) > UDP_LIMIT:  # as a server does: too big for UDP, so truncated (TC) and asked again over TCP
            response.answer = []
            response.flags |= dns.flags.TC
            wire = response.to_wire()
        assert self._transport is not None
        self._transport.sendto(wire, addr)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        question = query.question[0]
        qname = question.name.to_text().rstrip(".").lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if self.rcode is not None:
            response.set_rcode(dns.rcode.from_text(self.rcode))
        elif not any(name == qname for name, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            name = qname
            cname = self.zone.get((name, "CNAME"))
            if cname and qtype != "CNAME":  # follow one alias, as a recursive resolver does
                response.answer.append(dns.rrset.from_text(question.name, ZONE_TTL, "IN", "CNAME", *cname))
                name = cname[0].rstrip(".").lower()
            texts = self.zone.get((name, qtype))
            if texts:
                owner = dns.name.from_text(name)
                response.answer.append(dns.rrset.from_text(owner, ZONE_TTL, "IN", qtype, *texts))
        return response
