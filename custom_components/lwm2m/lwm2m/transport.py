"""The CoAP transport: one aiocoap context, bound once, shut down leaving nothing behind.

aiocoap keeps every received request about 247 s for duplicate detection, each with its
own event-loop timer that shutdown() never cancels. That is unbounded memory under a flood
and a timer that outlives the server; the bounded, timer-free window here replaces it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections import OrderedDict
from typing import Any

import aiocoap
from aiocoap.message import Message
from aiocoap.numbers import TransportTuning
from aiocoap.numbers.types import CON
from aiocoap.pipe import Pipe
from aiocoap.protocol import Request

_LOGGER = logging.getLogger(__name__)
RECEIVE_BUFFER = 4 * 1024 * 1024  # room for a registration storm; the kernel may cap it


class FastTuning(TransportTuning):
    """Retransmission for requests to devices: a dead device fails in ~ACK_TIMEOUT * 7."""

    def __init__(self, ack_timeout: float = 2.0, max_retransmit: int = 2) -> None:
        self.ACK_TIMEOUT = ack_timeout
        self.MAX_RETRANSMIT = max_retransmit


class BoundedDeduplication:
    """Duplicate detection of incoming requests, bounded in count and age, without timers."""

    def __init__(self, manager: Any, lifetime: float, max_entries: int) -> None:
        self._manager = manager
        self._lifetime = lifetime
        self._max = max_entries
        self._expiry: OrderedDict[Any, float] = OrderedDict()
        manager._recent_messages = {}

    def __len__(self) -> int:
        return len(self._expiry)

    def __call__(self, message: Message) -> bool:
        recent = self._manager._recent_messages
        now = time.monotonic()
        expiry = self._expiry
        while expiry:
            key, until = next(iter(expiry.items()))
            if until > now and len(expiry) < self._max:
                break
            expiry.popitem(last=False)
            recent.pop(key, None)
        key = (message.remote, message.mid)
        if key in recent:
            stored = recent[key]
            if message.mtype is CON and stored is not None:
                self._manager._send_initially(stored)
            return True
        recent[key] = None
        expiry[key] = now + self._lifetime
        return False


class MalformedCounter(logging.Filter):
    """Counts the datagrams aiocoap could not parse, instead of one warning for each.

    aiocoap logs every unparsable datagram at warning level, and lets a few kinds of bad
    option (invalid UTF-8 in a Uri-Path) escape as exceptions from its receive callback;
    under a flood of garbage either would fill the log. Both end up counted here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Ignoring unparsable message from %s":
            self.count += 1
            return False
        return True

    def guard(self, receive: Any) -> Any:
        def guarded(data: bytes, ancdata: Any, flags: int, address: Any) -> None:
            try:
                receive(data, ancdata, flags, address)
            except Exception as err:
                self.count += 1
                _LOGGER.debug("Ignoring an undecodable datagram from %s: %s", address, err)

        return guarded


class CoapTransport:
    """One bound aiocoap server context."""

    def __init__(
        self, site: Any, host: str, port: int, *, dedup_lifetime: float = 247.0, dedup_max: int = 20_000
    ) -> None:
        self._site = site
        self._host = host
        self._port = port
        self._dedup_lifetime = dedup_lifetime
        self._dedup_max = dedup_max
        self.context: aiocoap.Context | None = None
        self.dedup: BoundedDeduplication | None = None
        self.malformed = MalformedCounter()
        self.port = 0

    async def start(self) -> None:
        self.context = await aiocoap.Context.create_server_context(
            self._site, bind=(bind_address(self._host), self._port), transports=["udp6"]
        )
        self.dedup, self.port = prepare_context(self.context, self._dedup_lifetime, self._dedup_max, self.malformed)

    async def stop(self) -> None:
        context, self.context = self.context, None
        if context is not None:
            await context.shutdown()
            # Let transports close before the port is bound again.
            await asyncio.sleep(0)

    def request(self, message: Message) -> Any:
        if self.context is None:
            raise RuntimeError("the CoAP transport is not running")
        return self.context.request(message)

    def request_with_token(self, message: Message, token: bytes) -> Any:
        """Send message with a chosen token (cancelling an observation needs the original one).

        aiocoap always picks a fresh token, so this feeds the request straight into the
        token layer with a one-off token source.
        """
        if self.context is None:
            raise RuntimeError("the CoAP transport is not running")
        interface = self.context.request_interfaces[0]
        pipe = Pipe(message, self.context.log)
        result = Request(pipe, self.context.loop, self.context.log)
        interface.next_token = lambda: token
        try:
            interface.request(pipe)
        finally:
            del interface.next_token
        return result


def bind_address(host: str) -> str:
    """The IPv6 address aiocoap's udp6 transport binds for host.

    udp6 on :: serves IPv4 (as ::ffff:a.b.c.d) and IPv6 alike, also where IPv6 is switched
    off by sysctl (Docker's default); an IPv4 address is bound in its IPv4-mapped form.
    """
    if host in ("", "0.0.0.0", "::"):
        return "::"
    return host if ":" in host else "::ffff:" + host


def bind_problem(host: str, port: int) -> str | None:
    """Why the server could not bind port on host, checked the way udp6 binds it: None,
    "in_use", "not_local" (no such address here) or "no_ipv6" (a kernel started with
    ipv6.disable=1 has no IPv6 sockets, which udp6 needs even for IPv4 devices)."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return "no_ipv6"
    with sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            sock.bind((bind_address(host), port))
        except OSError as err:
            return "not_local" if err.errno == errno.EADDRNOTAVAIL else "in_use"
    return None


def prepare_context(
    context: aiocoap.Context,
    dedup_lifetime: float = 247.0,
    dedup_max: int = 20_000,
    malformed: MalformedCounter | None = None,
) -> tuple[BoundedDeduplication | None, int]:
    """Bound duplicate detection, count malformed datagrams, enlarge the receive buffer.

    Returns the deduplication window and the bound UDP port.
    """
    dedup, port = None, 0
    malformed = malformed or MalformedCounter()
    context.log.addFilter(malformed)
    for interface in context.request_interfaces:
        manager = getattr(interface, "token_interface", None)
        message_interface = getattr(manager, "message_interface", None)
        transport = getattr(message_interface, "transport", None)
        if manager is None or message_interface is None or transport is None:
            continue
        message_interface.datagram_msg_received = malformed.guard(message_interface.datagram_msg_received)
        message_interface.datagram_errqueue_received = _quiet_errors(message_interface.datagram_errqueue_received)
        dedup = BoundedDeduplication(manager, dedup_lifetime, dedup_max)
        manager._deduplicate_message = dedup
        sock: socket.socket = transport.get_extra_info("socket")
        enlarge_receive_buffer(sock)
        port = sock.getsockname()[1]
    return dedup, port


def _quiet_errors(receive: Any) -> Any:
    """aiocoap fails requests on ICMP errors (a device's port closed) and can raise
    InvalidStateError for one that already finished; that must not escape its callback."""

    def guarded(data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        try:
            receive(data, ancdata, flags, address)
        except asyncio.InvalidStateError:
            _LOGGER.debug("ICMP error from %s for a request that already ended", address)

    return guarded


def enlarge_receive_buffer(sock: socket.socket) -> int:
    """Room for bursts: SO_RCVBUFFORCE where allowed (root), else up to the kernel's rmem_max."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            break
        except OSError:
            continue
    size: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    _LOGGER.debug("UDP receive buffer: %d bytes", size)
    return size


def address_of(remote: Any) -> str:
    """Printable "host:port" of an aiocoap remote (IPv4 without the ::ffff: prefix)."""
    sockaddr = getattr(remote, "sockaddr", None)
    if sockaddr:
        host, port = sockaddr[0], sockaddr[1]
        if host.startswith("::ffff:"):
            return f"{host[7:]}:{port}"
        return f"[{host}]:{port}"
    return str(getattr(remote, "hostinfo", remote))
