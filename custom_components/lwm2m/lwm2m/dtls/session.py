"""One DTLS association with one peer, on an OpenSSL Connection with memory BIOs.

The session never touches a socket: datagrams go in (receive), and every method returns
what must go out, already split into datagrams.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from OpenSSL import SSL

from .records import split_flight

MTU = 1232  # ciphertext bytes a datagram carries: IPv6's minimum MTU less IPv6 and UDP headers
MAX_RECORD = 16 * 1024 + 2048  # the largest plaintext a DTLS record can carry, with room
_DRAIN = 64 * 1024


class DtlsSession:
    """A DTLS association: its handshake, then records both ways.

    identity is the security identity the handshake proved (set by the context's callbacks,
    or after a resumption by the interface); refusal says why a handshake was refused.
    """

    __slots__ = (
        "address",
        "connection",
        "established",
        "failure",
        "identity",
        "last_seen",
        "pending",
        "refusal",
        "refusal_detail",
        "sockaddr",
        "started",
        "timer",
    )

    def __init__(self, connection: SSL.Connection, sockaddr: Any, now: float) -> None:
        """Wrap connection (no BIOs given: memory BIOs) for the peer at sockaddr."""
        self.connection = connection
        self.sockaddr = sockaddr
        self.identity: str | None = None
        self.refusal: str | None = None  # why the handshake was refused: a fixed phrase (counted)
        self.refusal_detail = ""  # and what the peer offered (for the log only)
        self.failure: str | None = None  # set once the association is dead
        self.established = False
        self.started = self.last_seen = now
        self.address: Any = None  # the aiocoap remote of the session, once established
        self.pending: list[bytes] = []  # plaintexts waiting for the handshake (a client's first requests)
        self.timer: Any = None  # the retransmission timer while handshaking
        connection.set_app_data(self)
        connection.set_ciphertext_mtu(MTU)

    @classmethod
    def accept(
        cls, context: SSL.Context, sockaddr: Any, hello: bytes, now: float
    ) -> tuple[DtlsSession | None, list[bytes]]:
        """Answer a ClientHello.

        Without a valid cookie the answer is a HelloVerifyRequest and nothing is kept (RFC
        6347 section 4.2.1); with one, a session that goes on with the handshake (or has
        failed at once, its failure set).
        """
        session = cls(SSL.Connection(context, None), sockaddr, now)
        connection = session.connection
        connection.set_accept_state()
        connection.bio_write(hello)
        try:
            connection.DTLSv1_listen()
        except SSL.WantReadError:
            return None, session.outgoing()
        except SSL.Error:
            return None, []
        _plain, out = session.receive(b"")
        return session, out  # failed already (no shared cipher suite, say): the caller counts it

    @classmethod
    def connect(cls, context: SSL.Context, sockaddr: Any, now: float) -> tuple[DtlsSession, list[bytes]]:
        """Start a handshake as the client; return the session and its ClientHello."""
        session = cls(SSL.Connection(context, None), sockaddr, now)
        session.connection.set_connect_state()
        _plain, out = session.receive(b"")
        return session, out

    def receive(self, datagram: bytes) -> tuple[list[bytes], list[bytes]]:
        """Take a datagram; return the plaintexts it carried and the datagrams to send back."""
        connection = self.connection
        if datagram:
            connection.bio_write(datagram)
        plaintexts: list[bytes] = []
        if not self.established and not self._handshake():
            return plaintexts, self.outgoing()
        while self.failure is None:
            try:
                plaintexts.append(connection.recv(MAX_RECORD))
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self.failure = "the peer closed the session"
            except Exception as err:  # noqa: BLE001 - SSL.Error, or what a callback raised through pyOpenSSL
                self.failure = _reason(err)
        return plaintexts, self.outgoing()

    def _handshake(self) -> bool:
        """Go on with the handshake; return whether it has finished."""
        try:
            self.connection.do_handshake()
        except SSL.WantReadError:
            return False
        except Exception as err:  # noqa: BLE001 - SSL.Error, or what a callback raised through pyOpenSSL
            self.failure = self.refusal or "handshake failed"
            self.refusal_detail = self.refusal_detail or _reason(err)
            return False
        self.established = True
        return True

    def send(self, plaintext: bytes) -> list[bytes]:
        """Encrypt one datagram's worth of plaintext; return the datagrams to send."""
        try:
            self.connection.send(plaintext)
        except SSL.Error as err:
            self.failure = _reason(err)
            return []
        return self.outgoing()

    def timeout(self) -> float | None:
        """Return in how many seconds the handshake must retransmit, None if it need not."""
        if self.established or self.failure:
            return None
        return self.connection.DTLSv1_get_timeout()

    def retransmit(self) -> list[bytes]:
        """Retransmit the last flight (the timeout passed); return the datagrams to send."""
        try:
            self.connection.DTLSv1_handle_timeout()
        except SSL.Error as err:
            self.failure = _reason(err)
        return self.outgoing()

    def close(self) -> list[bytes]:
        """End the session with a close_notify alert; return the datagram to send."""
        if self.failure is None and self.established:
            with contextlib.suppress(SSL.Error):
                self.connection.shutdown()
        self.failure = self.failure or "closed"
        return self.outgoing()

    def master_key_digest(self) -> bytes | None:
        """Return a digest of the session's master secret (what a resumption shares with it)."""
        key = self.connection.master_key()
        return hashlib.sha256(key).digest() if key else None

    def outgoing(self) -> list[bytes]:
        """Return what OpenSSL wrote, as datagrams."""
        chunks = []
        while True:
            try:
                chunk = self.connection.bio_read(_DRAIN)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return []
        return split_flight(b"".join(chunks), MTU)


def _reason(err: Exception) -> str:
    """Return OpenSSL's reason of an error in a few words."""
    details = err.args[0] if err.args else None
    if isinstance(details, list) and details and isinstance(details[-1], tuple):
        return str(details[-1][-1])[:120]
    return (str(err) or type(err).__name__)[:120]
