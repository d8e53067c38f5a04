"""Malformed datagrams and floods: 4.xx answers or silence, never a crash, bounded memory."""

import asyncio
import random
import socket
import struct

from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim import SimClient


def coap(
    mid: int,
    code: int = 0x02,
    path: tuple[str, ...] = ("rd",),
    query: tuple[str, ...] = (),
    token: bytes = b"\x01",
    payload: bytes = b"",
    mtype: int = 0,
) -> bytes:
    """A CoAP request by hand (so it can also be made wrong on purpose)."""
    out = bytes([0x40 | (mtype << 4) | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for number, value in [(11, p.encode()) for p in path] + [(15, q.encode()) for q in query]:
        delta = number - last
        last = number
        length = len(value)
        head_len, ext_len = (length, b"") if length < 13 else (13, bytes([length - 13]))
        out += bytes([(delta << 4) | head_len]) + ext_len + value
    if payload:
        out += b"\xff" + payload
    return out


async def _exchange(sock: socket.socket, port: int, datagram: bytes, wait: float = 2.0) -> bytes | None:
    """Send a request and return the response with its message id (skipping stray ones)."""
    loop = asyncio.get_running_loop()
    sock.sendto(datagram, ("127.0.0.1", port))
    try:
        async with asyncio.timeout(wait):
            while True:
                raw = await loop.sock_recv(sock, 2048)
                if raw[2:4] == datagram[2:4]:
                    return raw
    except TimeoutError:
        return None


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def test_malformed_datagrams_and_requests(server: LwM2MServer, make_client, caplog) -> None:
    healthy = await make_client("healthy")
    rng = random.Random(1234)
    sock = _socket()
    try:
        for _ in range(300):
            sock.sendto(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80))), ("127.0.0.1", server.port))
        for datagram in (
            b"\x40",  # truncated header
            b"\x4f\x02\x00\x01",  # token length 15 (reserved)
            b"\x41\x02\x00\x02",  # token promised, missing
            b"\x40\x02\x00\x03\xff",  # payload marker without payload
            b"\x40\x02\x00\x04\xf0",  # option delta 15 (reserved)
            b"\x40\x02\x00\x05\xbd",  # option length extension missing
            b"\x40\x02\x00\x06\xb2\xff\xfe",  # Uri-Path that is not UTF-8
        ):
            sock.sendto(datagram, ("127.0.0.1", server.port))
        answers = {}
        for mid, request in enumerate(
            [
                coap(100, path=("rd",), query=("ep=\x01\x02",)),
                coap(101, path=("rd",), query=("lt=9" * 20, "ep=x")),
                coap(102, path=("rd",), query=("ep=x",), payload=b"<<<"),
                coap(103, path=("rd",), query=("ep=x", "lwm2m=9.9")),
                coap(104, path=("rd", "x" * 40)),
                coap(105, code=0x01, path=("rd",)),
            ]
        ):
            answers[mid] = await _exchange(sock, server.port, request)
        codes = {mid: Code(raw[1]) for mid, raw in answers.items() if raw}
        assert server.transport.malformed.count >= 7
        assert "Exception in callback" not in caplog.text and "unparsable" not in caplog.text
        assert codes == {
            0: Code.BAD_REQUEST,
            1: Code.BAD_REQUEST,
            2: Code.BAD_REQUEST,
            3: Code.PRECONDITION_FAILED,
            4: Code.NOT_FOUND,
            5: Code.METHOD_NOT_ALLOWED,
        }
    finally:
        sock.close()
    # Nothing was lost and the server still works for everyone.
    assert next(iter(server.registrations)).endpoint == "healthy" and len(server.registrations) == 1
    assert (await server.endpoint("healthy").read("/3/0/9")).value("/3/0/9") == 95
    late = await make_client("late")
    assert late.location and len(server.registrations) == 2
    assert healthy.location


async def test_duplicates_get_the_same_answer(server: LwM2MServer) -> None:
    sock = _socket()
    try:
        request = coap(4242, path=("rd",), query=("ep=dup", "lt=60"), token=b"\x07")
        first = await _exchange(sock, server.port, request)
        second = await _exchange(sock, server.port, request)
        assert first is not None and first == second  # the stored response, not a second registration
        assert len(server.registrations) == 1 and server.stats.registrations == 1
    finally:
        sock.close()


async def test_flood_from_many_ports_stays_bounded(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, dedup_max=500))
    await server.start()
    sockets = [_socket() for _ in range(40)]
    try:
        for n, sock in enumerate(sockets):
            for mid in range(100):
                sock.sendto(coap(mid, code=0x01, path=("nothing",), mtype=1), ("127.0.0.1", server.port))
            if n % 4 == 3:
                await asyncio.sleep(0.02)  # let the server drain its socket
        async with asyncio.timeout(10):
            while server.stats.requests_in < 1000:
                await asyncio.sleep(0.05)
        assert server.transport.dedup is not None
        assert len(server.transport.dedup) <= 500
        client = SimClient("after-flood", server.port)
        await client.start()
        assert "after-flood" in server.registrations
        await client.stop()
    finally:
        for sock in sockets:
            sock.close()
        await server.stop()
