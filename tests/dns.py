"""A DNS server on 127.0.0.1 for tests (dnslib): answers the names it is given, NXDOMAIN for
every other name — or for every name at all, as a lying resolver would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from .ports import free_port


class _Answers(BaseResolver):  # type: ignore[misc]
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    def resolve(self, request: object, handler: DNSHandler) -> object:
        reply = request.reply()  # type: ignore[attr-defined]
        name = str(request.q.qname).rstrip(".").lower()  # type: ignore[attr-defined]
        self.asked.append(name)
        if name not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.A, QTYPE.ANY):  # type: ignore[attr-defined]
            reply.add_answer(RR(name, QTYPE.A, rdata=A(self.names[name]), ttl=60))
        return reply


@contextmanager
def dns_server(names: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """`127.0.0.1:PORT` of a UDP DNS server answering `names` (name → IPv4), and the list of
    names it was asked."""
    answers = _Answers({name.lower(): address for name, address in names.items()})
    port = free_port()
    server = DNSServer(answers, port=port, address="127.0.0.1",
                       logger=DNSLogger(logf=lambda text: None))
    server.start_thread()
    try:
        yield f"127.0.0.1:{port}", answers.asked
    finally:
        server.stop()
        server.server.server_close()
