"""The DTLS benchmark's load generator: devices on plain sockets with this project's DTLS session.

    python -m tests.bench.dtls_loadgen PORT DEVICES NOTIFY RATE [--plain]

Each device does a PSK handshake (identity bench-N, key KEY), all at once, then registers,
answers the server's Observe GET and sends NOTIFY non-confirmable notifications, RATE a
second in all (0: as fast as it can); with --plain the same over plain UDP. After the
handshakes it waits for a line on stdin (the benchmark measures the server's memory).
One JSON line per phase.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time
from typing import Any

from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.dtls.session import DtlsSession
from tests.bench.loadgen import ACK, CON, NON, _sockets, message, parse

KEY = bytes(range(16))


class Channel:
    """One device's socket, with a DTLS session unless plain."""

    def __init__(self, sock: socket.socket, server: tuple[str, int], session: DtlsSession | None) -> None:
        self.sock, self.server, self.session = sock, server, session

    def send(self, plaintext: bytes) -> None:
        datagrams = self.session.send(plaintext) if self.session is not None else [plaintext]
        for datagram in datagrams:
            self.sock.sendto(datagram, self.server)

    def receive(self) -> list[bytes]:
        data = self.sock.recv(4096)
        if self.session is None:
            return [data]
        plaintexts, out = self.session.receive(data)
        for datagram in out:
            self.sock.sendto(datagram, self.server)
        return plaintexts


def _print(**line: Any) -> None:
    print(json.dumps(line), flush=True)


def handshakes(socks: list[socket.socket], server: tuple[str, int]) -> dict[socket.socket, Channel]:
    sel = selectors.DefaultSelector()
    channels: dict[socket.socket, Channel] = {}
    start = time.perf_counter()
    for i, sock in enumerate(socks):
        context = ClientContext(psk=(f"bench-{i}".encode(), KEY)).context
        session, out = DtlsSession.connect(context, server, time.monotonic())
        for datagram in out:
            sock.sendto(datagram, server)
        channels[sock] = Channel(sock, server, session)
        sel.register(sock, selectors.EVENT_READ)
    pending = set(socks)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        events = sel.select(timeout=0.5)
        for key, _ in events:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            channels[sock].receive()
            session = channels[sock].session
            assert session is not None
            if session.established:
                pending.discard(sock)
        if not events:  # a lost flight: retransmit
            for sock in pending:
                session = channels[sock].session
                assert session is not None
                for datagram in session.retransmit():
                    sock.sendto(datagram, server)
    elapsed = time.perf_counter() - start
    _print(phase="handshakes", done=len(socks) - len(pending), seconds=elapsed)
    return channels


def main() -> None:
    port, n_devices, notify, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    plain = "--plain" in sys.argv
    server = ("127.0.0.1", port)
    socks = _sockets(n_devices)
    channels = {s: Channel(s, server, None) for s in socks} if plain else handshakes(socks, server)
    sys.stdin.readline()
    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    for i, channel in enumerate(channels.values()):
        opts = [(11, b"rd"), (12, b"\x28"), (15, f"ep=bench-{i}".encode()), (15, b"lt=3600"), (15, b"lwm2m=1.0")]
        channel.send(message(CON, 0x02, 1, b"\x01", opts, b"</3303/0>"))
    tokens: dict[Channel, bytes] = {}
    deadline = time.monotonic() + 30
    while len(tokens) < n_devices and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            channel = channels[key.fileobj]  # type: ignore[index]
            for data in channel.receive():
                _mtype, code, mid, token = parse(data)
                if code == 0x01 and channel not in tokens:  # the Observe GET
                    channel.send(message(ACK, 0x45, mid, token, [(6, b"\x00"), (12, b"")], b"21.5"))
                    tokens[channel] = token
    _print(phase="observed", devices=len(tokens))
    start = time.perf_counter()
    sent = 0
    for n in range(1, notify + 1):
        for channel, token in tokens.items():
            opts = [(6, n.to_bytes(3, "big")), (12, b"")]
            try:
                channel.send(message(NON, 0x45, n & 0xFFFF, token, opts, f"{20 + n % 10}.5".encode()))
                sent += 1
            except BlockingIOError:
                time.sleep(0.001)
            if rate and sent % 50 == 0:  # paced: never ahead of the offered rate
                ahead = start + sent / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
    _print(phase="notified", sent=sent, seconds=time.perf_counter() - start)
    time.sleep(1.0)


if __name__ == "__main__":
    main()
