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
    port: int = 0
    _transport: asyncio.DatagramTransport | None = None

    async def start(self) -> ZoneServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(LOOPBACK, 0))
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        query = dns.message.from_wire(data)
        question = query.question[0]
        qname = question.name.to_text().rstrip(".").lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((qname, qtype))
        if self.silent:
            return
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
        assert self._transport is not None
        self._transport.sendto(response.to_wire(), addr)
