"""DTLS record layer framing (RFC 6347 section 4.1): just enough to split and classify datagrams."""

from __future__ import annotations

RECORD_HEADER = 13  # type, version (2), epoch (2), sequence number (6), length (2)
CHANGE_CIPHER_SPEC, HANDSHAKE = 20, 22
CLIENT_HELLO, HELLO_VERIFY_REQUEST = 1, 3


def split_flight(flight: bytes, mtu: int) -> list[bytes]:
    """Split what OpenSSL wrote (whole records, one after another) into datagrams of at most mtu.

    Records stay whole; a record longer than mtu travels alone. Trailing bytes that are not
    a whole record go with the last datagram, as OpenSSL wrote them.
    """
    datagrams: list[bytes] = []
    current = bytearray()
    position, size = 0, len(flight)
    while position + RECORD_HEADER <= size:
        end = position + RECORD_HEADER + int.from_bytes(flight[position + 11 : position + 13], "big")
        record = flight[position:end]
        if current and len(current) + len(record) > mtu:
            datagrams.append(bytes(current))
            current.clear()
        current += record
        position = end
    current += flight[position:]
    if current:
        datagrams.append(bytes(current))
    return datagrams


def is_client_hello(datagram: bytes) -> bool:
    """Return whether a datagram starts with a ClientHello of epoch 0 (a new handshake)."""
    return (
        len(datagram) > RECORD_HEADER
        and datagram[0] == HANDSHAKE
        and datagram[3:5] == b"\x00\x00"
        and datagram[RECORD_HEADER] == CLIENT_HELLO
    )


def is_handshake(datagram: bytes) -> bool:
    """Return whether a datagram starts with a handshake or ChangeCipherSpec record (a handshake's flight)."""
    return len(datagram) > RECORD_HEADER and datagram[0] in (CHANGE_CIPHER_SPEC, HANDSHAKE)


def is_hello_verify_request(datagram: bytes) -> bool:
    """Return whether a datagram starts with a HelloVerifyRequest (a server's cookie)."""
    size = len(datagram)
    return size > RECORD_HEADER and datagram[0] == HANDSHAKE and datagram[RECORD_HEADER] == HELLO_VERIFY_REQUEST
