"""The CoAP transport: one aiocoap context, bound once, shut down leaving nothing behind.

It serves coap:// on UDP and, when a DTLS port is given, coaps:// on a second socket of the
same context: aiocoap picks the transport of each request by its remote.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import socket
from collections.abc import Callable
from typing import Any

import aiocoap
from aiocoap.message import Message
from aiocoap.numbers import TransportTuning

from .coap_internals import (
    BoundedDeduplication,
    MalformedCounter,
    add_message_interface,
    prepare_context,
    request_with_token,
    udp_message_interface,
)
from .dtls.contexts import ServerContext
from .dtls.interface import DtlsAddress, DtlsInterface, DtlsLimits
from .fast_notify import Deliver, NotificationReader
from .security.credentials import Credentials, ServerIdentity

_LOGGER = logging.getLogger(__name__)
# contexts bound to a free port (0) each get a logger of their own name too
_FREE_PORT_CONTEXTS = itertools.count(1)


class FastTuning(TransportTuning):
    """Retransmission for requests to devices: a dead device fails in ~ACK_TIMEOUT * 7."""

    def __init__(self, ack_timeout: float = 2.0, max_retransmit: int = 2) -> None:
        """Use ack_timeout and max_retransmit instead of CoAP's defaults."""
        self.ACK_TIMEOUT = ack_timeout
        self.MAX_RETRANSMIT = max_retransmit


class DtlsSettings:
    """What the coaps:// listener needs: its port, the credentials (read at every handshake), a certificate."""

    def __init__(
        self,
        port: int,
        credentials: Callable[[], Credentials],
        identity: ServerIdentity | None = None,
        limits: DtlsLimits | None = None,
    ) -> None:
        """Listen on port (0: a free one)."""
        self.port = port
        self.credentials = credentials
        self.identity = identity
        self.limits = limits or DtlsLimits()


class CoapTransport:
    """One bound aiocoap server context: coap:// and, with dtls, coaps://."""

    def __init__(
        self,
        site: Any,
        host: str,
        port: int | None,
        *,
        dedup_lifetime: float = 247.0,
        dedup_max: int = 20_000,
        dtls: DtlsSettings | None = None,
    ) -> None:
        """Serve site on host and port (None: no coap://, only the coaps:// of dtls) once started."""
        self._site = site
        self._host = host
        self._port = port
        self._dedup_lifetime = dedup_lifetime
        self._dedup_max = dedup_max
        self._dtls_settings = dtls
        self.context: aiocoap.Context | None = None
        self.dedup: BoundedDeduplication | None = None
        self.malformed = MalformedCounter()
        self.port = 0
        self.dtls: DtlsInterface | None = None
        self._server_context: ServerContext | None = None
        self.routes: dict[bytes, Any] = {}  # observations by token, whose notifications the reader takes
        self.deliver: Deliver | None = None  # where the reader hands them
        self.reader: NotificationReader | None = None

    async def start(self) -> None:
        """Bind the CoAP server."""
        # A logger of its own (below aiocoap's "coap-server"): the malformed counter filters
        # this context's lines, not those of another context in the process.
        settings = self._dtls_settings
        if self._port is None and settings is None:
            raise ValueError("a server needs coap://, coaps:// or both")
        port = self._port if self._port is not None else settings.port if settings is not None else 0
        name = str(port) if port else f"free-{next(_FREE_PORT_CONTEXTS)}"
        if self._port is None:  # coaps:// only
            loop = asyncio.get_running_loop()
            self.context = aiocoap.Context(loop=loop, serversite=self._site, loggername=f"coap-server.{name}")
        else:
            self.context = await aiocoap.Context.create_server_context(
                self._site,
                bind=(bind_address(self._host), self._port),
                transports=["udp6"],
                loggername=f"coap-server.{name}",
            )
        if settings is not None:
            try:
                # kept as long as the transport runs: it holds the cffi callbacks OpenSSL calls
                self._server_context = ServerContext(settings.credentials, settings.identity)
                ssl_context = self._server_context.context
                bind = (bind_address(self._host), settings.port)
                self.dtls = await add_message_interface(
                    self.context,
                    lambda mman: DtlsInterface.create(mman, ssl_context, bind, server=True, limits=settings.limits),
                )
            except BaseException:
                await self.context.shutdown()
                self.context = None
                raise
            self.dtls.on_malformed = self.malformed.counted
        self.dedup, self.port = prepare_context(self.context, self._dedup_lifetime, self._dedup_max, self.malformed)
        udp = udp_message_interface(self.context)
        if udp is not None:
            self.reader = NotificationReader(udp.transport, udp, self.routes)
            self.reader.deliver = self.deliver
            self.reader.install()

    def serves_fast(self, remote: Any) -> tuple[str, int] | None:
        """Return the (host, port) under which the reader takes remote's notifications (None: aiocoap does)."""
        reader = self.reader
        if reader is None or self.context is None or isinstance(remote, DtlsAddress):
            return None
        if getattr(remote, "interface", None) is not reader.protocol:
            return None
        sockaddr = getattr(remote, "sockaddr", None)
        return (sockaddr[0], sockaddr[1]) if sockaddr else None

    @property
    def dtls_port(self) -> int:
        """Return the coaps:// port (0 when there is no DTLS listener)."""
        return self.dtls.port if self.dtls is not None else 0

    def identity_of(self, remote: Any) -> str | None:
        """Return the security identity a remote proved (None over plain UDP)."""
        return remote.identity if isinstance(remote, DtlsAddress) else None

    def address_for(self, address: str, identity: str | None) -> Any:
        """Return the coaps:// remote of a saved registration.

        Its session is gone: requests fail until the device comes back with a handshake.
        """
        if self.dtls is None:
            raise RuntimeError("there is no DTLS listener")
        return self.dtls.address_for(address, identity)

    async def stop(self) -> None:
        """Unbind the CoAP server."""
        context, self.context = self.context, None
        self.dtls = None
        self.reader = None
        self.malformed.summarize(final=True)
        if context is not None:
            # a stopped server's counter must not go on taking (and counting) the lines of the
            # next server on the same port
            self.malformed.detach(context.log)
            await context.shutdown()
            # Let transports close before the port is bound again.
            await asyncio.sleep(0)

    def request(self, message: Message, *, blockwise: bool = True) -> Any:
        """Send a request; RuntimeError when the transport is not running.

        blockwise=False sends it as it is (one block of a transfer the caller drives).
        """
        if self.context is None:
            raise RuntimeError("the CoAP transport is not running")
        return self.context.request(message, handle_blockwise=blockwise)

    def request_with_token(self, message: Message, token: bytes) -> Any:
        """Send message with a chosen token (cancelling an observation needs the original one)."""
        if self.context is None:
            raise RuntimeError("the CoAP transport is not running")
        return request_with_token(self.context, message, token)


def bind_address(host: str) -> str:
    """Return the IPv6 address aiocoap's udp6 transport binds for host.

    udp6 on :: serves IPv4 (as ::ffff:a.b.c.d) and IPv6 alike, also where IPv6 is switched
    off by sysctl (Docker's default); an IPv4 address is bound in its IPv4-mapped form.
    """
    if host in ("", "0.0.0.0", "::"):
        return "::"
    return host if ":" in host else "::ffff:" + host


def bind_problem(host: str, port: int) -> str | None:
    """Tell why the server could not bind port on host, checked the way udp6 binds it.

    The answer is None, "in_use", "not_local" (no such address here) or "no_ipv6" (a kernel
    started with ipv6.disable=1 has no IPv6 sockets, which udp6 needs even for IPv4 devices).
    """
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


def address_of(remote: Any) -> str:
    """Printable "host:port" of an aiocoap remote (IPv4 without the ::ffff: prefix)."""
    sockaddr = getattr(remote, "sockaddr", None)
    if sockaddr:
        host, port = sockaddr[0], sockaddr[1]
        if host.startswith("::ffff:"):
            return f"{host[7:]}:{port}"
        return f"[{host}]:{port}"
    return str(getattr(remote, "hostinfo", remote))
