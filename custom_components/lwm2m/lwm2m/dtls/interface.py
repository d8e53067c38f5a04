"""coaps:// as an aiocoap message interface: one UDP socket, one DTLS session per peer.

aiocoap's message manager (CON/ACK, retransmission, deduplication) sits on top exactly as on
plain UDP; this layer only turns datagrams into CoAP messages and back. A remote is a
DtlsAddress: the peer's socket address and the security identity its handshake proved. Two
remotes are equal only with the same identity, so an observation made through one identity
never takes a notification from another, and a request goes out only through a session of
its remote's identity.

As a server it answers ClientHellos with stateless cookies (HelloVerifyRequest), bounds the
handshakes in progress and the sessions (the least recently used session makes room), ends
handshakes that take too long and sessions idle too long, and resumes sessions (the identity
of a resumed session is the one its master secret was first proved with). As a client (the
simulated device, the benchmark) it starts a handshake to a server when a request first
goes there.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiocoap import error, interfaces
from aiocoap.message import Message
from aiocoap.numbers import COAPS_PORT, constants
from aiocoap.util import hostportjoin, hostportsplit
from OpenSSL import SSL

from ..coap_internals import enlarge_receive_buffer, fail_request
from ..limits import OnceLog
from .records import is_client_hello, is_handshake, is_hello_verify_request
from .session import DtlsSession
from .table import SessionTable

_LOGGER = logging.getLogger(__name__)
MAX_PENDING = 32  # a client's requests waiting for its handshake


@dataclass(slots=True, kw_only=True)
class DtlsLimits:
    """Bounds of a DTLS server: nothing grows without limit."""

    max_sessions: int = 10_000
    max_per_identity: int = 2  # sessions of one identity (a device whose NAT rebinds has two a while)
    max_handshakes: int = 1_000  # handshakes in progress (each proved its address with a cookie), ~60 KiB each
    # of those, from one IP address (0: no limit): one host cannot hold them all, and devices
    # behind one NAT (as many as max_registrations_per_host) can still all shake hands at once
    max_handshakes_per_host: int = 100
    handshake_timeout: float = 30.0  # seconds from a verified ClientHello to the end of the handshake
    idle_timeout: float = 24 * 3600.0  # seconds without a record before a session is dropped
    # master secrets remembered for resumption: more than OpenSSL's own session cache holds
    # (20,480), so that every session OpenSSL resumes has its identity here
    max_resumable: int = 40_960
    sweep_interval: float = 10.0


@dataclass(slots=True)
class DtlsStats:
    """Counters of a DTLS interface (diagnostics, benchmark)."""

    cookies_sent: int = 0  # HelloVerifyRequests: ClientHellos without a valid cookie
    handshakes: int = 0  # completed, resumptions included
    resumptions: int = 0
    failed_handshakes: int = 0  # refused (unknown identity, wrong key) or timed out
    refused_handshakes: int = 0  # over max_handshakes
    evicted_sessions: int = 0  # made room for a new one
    expired_sessions: int = 0  # idle too long
    stray_datagrams: int = 0  # neither a ClientHello nor for a session
    undecodable: int = 0  # decrypted, but no CoAP message
    refusals: dict[str, int] = field(default_factory=dict)  # why handshakes failed, counted

    def to_dict(self) -> dict[str, Any]:
        """Return the counters as a dict."""
        return {name: getattr(self, name) for name in self.__slots__}


class DtlsAddress(interfaces.EndpointAddress):
    """A peer on coaps://: its socket address and the identity its session proved."""

    __slots__ = ("_interface", "identity", "sockaddr")
    scheme = "coaps"
    is_multicast = False
    is_multicast_locally = False
    maximum_block_size_exp = constants.MAX_REGULAR_BLOCK_SIZE_EXP

    def __init__(self, interface: DtlsInterface, sockaddr: Any, identity: str | None) -> None:
        """Name the peer at sockaddr with identity (None: a client's server, or not proved yet)."""
        self._interface = interface
        self.sockaddr = sockaddr
        self.identity = identity

    def __hash__(self) -> int:
        """Hash by socket address and identity."""
        return hash((self.sockaddr[:2], self.identity))

    def __eq__(self, other: object) -> bool:
        """Equal with the same socket address and identity on the same interface."""
        return (
            isinstance(other, DtlsAddress)
            and other._interface is self._interface
            and other.sockaddr[:2] == self.sockaddr[:2]
            and other.identity == self.identity
        )

    def __repr__(self) -> str:
        """Show the peer and its identity."""
        return f"<DtlsAddress {self.hostinfo} {self.identity or ''}>"

    @property
    def interface(self) -> DtlsInterface:
        """Return the interface the peer talks through."""
        return self._interface

    @property
    def hostinfo(self) -> str:
        """Return host:port (IPv4 without its ::ffff: prefix)."""
        host = self.sockaddr[0]
        return str(hostportjoin(host[7:] if host.startswith("::ffff:") else host, self.sockaddr[1]))

    @property
    def hostinfo_local(self) -> str:
        """Return the local side's host:port."""
        return str(hostportjoin("::", self._interface.port))

    @property
    def uri_base(self) -> str:
        """Return coaps://host:port."""
        return "coaps://" + self.hostinfo

    @property
    def uri_base_local(self) -> str:
        """Return the local side's coaps://host:port."""
        return "coaps://" + self.hostinfo_local

    @property
    def blockwise_key(self) -> Any:
        """Key block-wise transfers by peer and identity."""
        return (self.sockaddr[:2], self.identity)

    @property
    def authenticated_claims(self) -> list[str]:
        """Return the identity as aiocoap's claims."""
        return [self.identity] if self.identity else []

    def as_response_address(self) -> DtlsAddress:
        """Answer through the same session."""
        return self

    def send(self, data: bytes) -> None:
        """Send a CoAP message's bytes through the session."""
        self._interface.send_plaintext(self, data)


class DtlsInterface(asyncio.DatagramProtocol, interfaces.MessageInterface):
    """The DTLS message interface, as a server (context given) or a client."""

    def __init__(
        self,
        mman: interfaces.MessageManager,
        context: SSL.Context,
        *,
        server: bool,
        limits: DtlsLimits | None = None,
    ) -> None:
        """Serve mman with DTLS sessions made from context; bind with create()."""
        self._mman: interfaces.MessageManager | None = mman
        self._context = context
        self._server = server
        self.limits = limits or DtlsLimits()
        self.stats = DtlsStats()
        self._table = SessionTable()
        self._resumable: OrderedDict[bytes, str | None] = OrderedDict()
        self._transport: asyncio.DatagramTransport | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._log = OnceLog(_LOGGER)
        self.on_malformed: Callable[[str, str], None] | None = None  # (reason, source): the malformed counter
        self.port = 0

    @classmethod
    async def create(
        cls,
        mman: interfaces.MessageManager,
        context: SSL.Context,
        bind: tuple[str, int],
        *,
        server: bool,
        limits: DtlsLimits | None = None,
    ) -> DtlsInterface:
        """Bind a UDP socket (dual-stack, like aiocoap's udp6) and serve it."""
        interface = cls(mman, context, server=server, limits=limits)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(bind)  # no SO_REUSEADDR: it would let another socket share (and take) the port
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        enlarge_receive_buffer(sock)  # as on plain UDP: room for bursts and storms
        await interface._loop.create_datagram_endpoint(lambda: interface, sock=sock)
        interface.port = sock.getsockname()[1]
        interface._sweeper = interface._loop.call_later(interface.limits.sweep_interval, interface._sweep)
        return interface

    # -- asyncio --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the datagram transport."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self._transport = transport

    def error_received(self, exc: Exception) -> None:
        """Ignore an ICMP error for some peer: its handshake or request retransmits and times out."""
        _LOGGER.debug("DTLS socket error: %s", exc)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Feed a datagram to its peer's session (or its replacement), or answer a ClientHello."""
        table = self._table
        session = table.get(addr)
        replacement = table.replacement(addr)
        if is_client_hello(data) and (session is None or session.established):
            # a ClientHello beside an established session starts a replacement, and a newer one
            # (the device restarted again, or its ServerHello was lost) replaces that in turn
            if self._server:
                self._hello(data, addr)
            else:
                self.stats.stray_datagrams += 1
            return
        if replacement is not None and is_handshake(data):
            self._step(replacement, data)
            return
        if session is None:
            self.stats.stray_datagrams += 1
            return
        self._step(session, data)

    def _step(self, session: DtlsSession, data: bytes) -> None:
        """Take one datagram of a session: a handshake step, or records to deliver."""
        was_established = session.established
        plaintexts, out = session.receive(data)
        self._sendto(out, session.sockaddr)
        if not was_established:
            self._progress(session)
        elif session.failure is not None:
            self._end(session, session.failure)
        if session.address is None or not self._table.holds(session):
            return  # not established, or it failed (a refused resumption, a bad record): nothing counts
        self._table.touch(session, time.monotonic())
        for plaintext in plaintexts:
            self._deliver(session, plaintext)

    def _hello(self, data: bytes, addr: Any) -> None:
        """Answer a ClientHello: a cookie first; with a valid one, a handshake.

        A peer with an established session keeps it until the new handshake is done: a replayed
        ClientHello ends nothing.
        """
        table, limits = self._table, self.limits
        per_host = limits.max_handshakes_per_host
        if table.handshaking >= limits.max_handshakes or (per_host and table.handshakes_from(addr) >= per_host):
            self.stats.refused_handshakes += 1
            self._log.warn(
                ("handshakes",),
                "Refusing DTLS handshakes: %d in progress (at most %d, %d from one address)",
                table.handshaking,
                limits.max_handshakes,
                limits.max_handshakes_per_host,
            )
            return
        session, out = DtlsSession.accept(self._context, addr, data, time.monotonic())
        if session is None:
            if out and is_hello_verify_request(out[0]):
                self.stats.cookies_sent += 1
            self._sendto(out, addr)
            return
        table.start(session)
        self._sendto(out, addr)
        self._progress(session)

    def _progress(self, session: DtlsSession) -> None:
        """After a handshake step: done, failed, or wait (with the retransmission timer)."""
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        if session.failure is not None:
            self._failed(session, session.failure, session.refusal_detail)
            return
        if session.established:
            self._established(session)
            return
        wait = session.timeout()
        deadline = session.started + self.limits.handshake_timeout - time.monotonic()
        if deadline <= 0:
            self._failed(session, "timed out")
            return
        session.timer = self._loop.call_later(
            min(wait if wait is not None else deadline, deadline), self._tick, session
        )

    def _tick(self, session: DtlsSession) -> None:
        session.timer = None
        if not self._table.holds(session):
            return
        if session.started + self.limits.handshake_timeout <= time.monotonic():
            self._failed(session, "timed out")
            return
        self._sendto(session.retransmit(), session.sockaddr)
        self._progress(session)

    def _established(self, session: DtlsSession) -> None:
        self._table.establish(session)
        self.stats.handshakes += 1
        digest = session.master_key_digest()
        if session.identity is None and self._server:
            # A resumption: no PSK lookup and no certificate this time; the identity is the one
            # the session's master secret was first proved with.
            session.identity = self._resumable.get(digest) if digest else None
            if session.identity is None:
                self.stats.handshakes -= 1
                self._count_failure("resumed a session this server does not know", "")
                self._end(session, "resumed a session this server does not know")
                self._fail_pending(session, "refused")
                return
            self.stats.resumptions += 1
        if digest is not None:
            self._resumable[digest] = session.identity
            self._resumable.move_to_end(digest)
            while len(self._resumable) > self.limits.max_resumable:
                self._resumable.popitem(last=False)
        session.address = DtlsAddress(self, session.sockaddr, session.identity if self._server else None)
        if self._server:
            self._bound(session)
        _LOGGER.debug("DTLS session with %s established (%s)", session.address.hostinfo, session.identity)
        pending, session.pending = session.pending, []
        for plaintext in pending:
            self._sendto(session.send(plaintext), session.sockaddr)

    def _bound(self, session: DtlsSession) -> None:
        """Keep the sessions within their bounds now that session is established.

        An identity holds at most max_per_identity sessions (a device needs one, two while its
        NAT rebinds; without the bound, whoever holds one credential could fill the table from
        many ports); all together at most max_sessions: the least recently used make way.
        """
        table, limits = self._table, self.limits
        for other in table.surplus_of(session, limits.max_per_identity):
            self.stats.evicted_sessions += 1
            self._end(other, "another session of the same identity took its place")
        over = table.established - limits.max_sessions
        if over > 0:
            self._log.warn(
                ("evict",),
                "DTLS sessions at their maximum of %d: dropping the least recently used",
                limits.max_sessions,
            )
            for other in table.least_recently_used(over, keep=session):
                self.stats.evicted_sessions += 1
                self._end(other, "dropped to make room for another session")

    def _failed(self, session: DtlsSession, reason: str, detail: str = "") -> None:
        """Count a failed handshake, log it once per reason, forget the session."""
        self._count_failure(reason, detail)
        self._table.forget(session)
        self._fail_pending(session, reason)

    def _count_failure(self, reason: str, detail: str) -> None:
        """Count a failed handshake by its reason (a fixed phrase); the detail goes only to the log."""
        self.stats.failed_handshakes += 1
        self.stats.refusals[reason] = self.stats.refusals.get(reason, 0) + 1
        self._log.warn(("failed", reason), "A DTLS handshake failed: %s%s", reason, f" ({detail})" if detail else "")

    def _deliver(self, session: DtlsSession, plaintext: bytes) -> None:
        if self._mman is None:
            return
        try:
            message = Message.decode(plaintext, remote=session.address)
        except error.UnparsableMessage:
            self.stats.undecodable += 1
            if self.on_malformed is not None:
                self.on_malformed("unparsable, over DTLS", session.address.hostinfo)
            return
        try:
            self._mman.dispatch_message(message)
        except Exception as err:  # noqa: BLE001 - a bad option aiocoap raises for counts as malformed, as on UDP
            self.stats.undecodable += 1
            if self.on_malformed is not None:
                self.on_malformed("undecodable options, over DTLS", session.address.hostinfo)
            _LOGGER.debug("Ignoring an undecodable message from %s: %s", session.address, err)

    def _sendto(self, datagrams: list[bytes], addr: Any) -> None:
        if self._transport is None:
            return
        for datagram in datagrams:
            self._transport.sendto(datagram, addr)

    # -- sessions -------------------------------------------------------------------------

    def _sweep(self) -> None:
        """End idle sessions; runs every sweep_interval."""
        for session in self._table.idle(time.monotonic(), self.limits.idle_timeout):
            self.stats.expired_sessions += 1
            self._end(session, "idle")
        self._sweeper = self._loop.call_later(self.limits.sweep_interval, self._sweep)

    def _end(self, session: DtlsSession, reason: str) -> None:
        """End a session with a close_notify.

        Requests in flight fail at their next retransmission (send); observations stay, for
        the device's next session of the same identity.
        """
        self._sendto(session.close(), session.sockaddr)
        self._table.forget(session)
        _LOGGER.debug("DTLS session with %s ended: %s", session.sockaddr, reason)

    def _fail_pending(self, session: DtlsSession, reason: str) -> None:
        """Fail a client's requests that waited for a handshake that failed."""
        if session.pending and self._mman is not None:
            session.pending = []
            self._mman.dispatch_error(
                error.NetworkError(f"DTLS handshake failed: {reason}"), DtlsAddress(self, session.sockaddr, None)
            )

    def session_count(self) -> int:
        """Return how many sessions are established."""
        return self._table.established

    def handshakes_in_progress(self) -> int:
        """Return how many handshakes are in progress."""
        return self._table.handshaking

    def address_for(self, hostport: str, identity: str | None) -> DtlsAddress:
        """Return the remote for a "host:port" (a registration's saved address) and identity."""
        host, port = hostportsplit(hostport)
        if ":" not in host:
            host = "::ffff:" + host
        return DtlsAddress(self, (host, port or COAPS_PORT, 0, 0), identity)

    # -- aiocoap's MessageInterface ---------------------------------------------------------

    def send(self, message: Message) -> None:
        """Send a CoAP message (the message manager's call).

        A server's request to a device without a session of its identity (the device slept and
        closed it, or the server restarted) fails at once, rather than after its
        retransmissions; anything else for such a device is dropped, as a datagram to a device
        that sleeps would be. The device's observations live on for its next session.
        """
        if self._mman is None:
            return
        if self.send_plaintext(message.remote, message.encode()) or not message.code.is_request():
            return
        reason = "no DTLS session with the device (it must connect first)"
        self._loop.call_soon(fail_request, self._mman, message, error.NetworkError(reason))

    def send_plaintext(self, remote: DtlsAddress, data: bytes) -> bool:
        """Encrypt data for remote's session (as a client, start one first); return False if there is none."""
        session = self._table.get(remote.sockaddr)
        if session is not None and session.established and (not self._server or session.identity == remote.identity):
            self._sendto(session.send(data), remote.sockaddr)
            return True
        if self._server:
            return False
        if session is None:
            session, out = DtlsSession.connect(self._context, remote.sockaddr, time.monotonic())
            self._table.start(session)
            session.pending.append(data)
            self._sendto(out, remote.sockaddr)
            self._progress(session)  # a handshake that fails at once fails this request with it
        elif len(session.pending) < MAX_PENDING:
            session.pending.append(data)
        return True

    def serves(self, remote: Any) -> bool:
        """Return whether remote belongs to this interface."""
        return isinstance(remote, DtlsAddress) and remote.interface is self

    async def recognize_remote(self, remote: Any) -> bool:
        """Return whether remote belongs to this interface (aiocoap's question)."""
        return self.serves(remote)

    async def determine_remote(self, request: Message) -> DtlsAddress | None:
        """Return the remote of a coaps:// request (a client's); None for other schemes."""
        if request.requested_scheme != "coaps" or self._server:
            return None
        if request.unresolved_remote is not None:
            host, port = hostportsplit(request.unresolved_remote)
        else:
            host, port = request.opt.uri_host, request.opt.uri_port
        if not host:
            raise ValueError("no host to send a coaps request to")
        infos = await self._loop.getaddrinfo(
            host, port or COAPS_PORT, family=socket.AF_INET6, type=socket.SOCK_DGRAM, flags=socket.AI_V4MAPPED
        )
        return DtlsAddress(self, infos[0][4], None)

    async def shutdown(self) -> None:
        """Close every session (close_notify) and the socket."""
        for session in list(self._table):
            if session.established:
                self._sendto(session.close(), session.sockaddr)
            self._table.forget(session)
        self._mman = None
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
