"""Load generator for bench_server: one of several processes, each driving a share of the devices.

    python -m tests.bench.notifier PORT FIRST COUNT [--register]

COUNT devices (FIRST, FIRST+1, ...), each its own UDP socket. With --register each sends a
Register (ep=sat-N, /3303/0) to PORT; either way every device answers each Observe GET it
gets (2.05, "21.5"). The first line printed is {"ports": [...]}; then, for every command on
stdin, one JSON line:

  observed SECONDS         wait until every device was asked to observe (at most SECONDS)
  notify RATE SECONDS      NON notifications at RATE per second, round robin over the
                           devices; each payload is the wall-clock time it was sent
  register RATE SECONDS    Registers of new endpoints (ep=reg-FIRST-N) at RATE per second,
                           each from the next socket in turn; answers Observe GETs meanwhile
                           and counts the 2.01 answers
  quit

Pacing sends what is due every millisecond; the line reports what was sent and the process's
own CPU time, so that the benchmark shows the generators were never the limit.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import sys
import time

from tests.bench.loadgen import ACK, CON, NON, _sockets, message, options_of, parse

OBSERVE_ANSWER = [(6, b""), (12, b"")]


class Devices:
    """COUNT sockets answering Observe GETs, remembering each one's observation token."""

    def __init__(self, port: int, first: int, count: int) -> None:
        self.server = ("127.0.0.1", port)
        self.first = first
        self.socks = _sockets(count)
        self.sel = selectors.DefaultSelector()
        for sock in self.socks:
            self.sel.register(sock, selectors.EVENT_READ)
        self.observed: dict[socket.socket, bytes] = {}  # socket -> its observation's token
        self.created = 0  # 2.01 answers seen
        self.mid = 0
        self.numbers: dict[socket.socket, int] = {}  # each device's last notification number (and message ID)

    def register_all(self) -> None:
        for i, sock in enumerate(self.socks):
            self._register(sock, f"sat-{self.first + i}")

    def _register(self, sock: socket.socket, endpoint: str) -> None:
        self.mid = (self.mid + 1) & 0xFFFF
        opts = [(11, b"rd"), (12, b"\x28"), (15, f"ep={endpoint}".encode()), (15, b"lt=86400"), (15, b"lwm2m=1.1")]
        sock.sendto(message(CON, 0x02, self.mid, struct.pack(">I", self.mid), opts, b"</3303/0>"), self.server)

    def poll(self, timeout: float) -> None:
        """Answer what came in: Observe GETs get 2.05, 2.01 answers are counted."""
        for key, _ in self.sel.select(timeout):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            for _ in range(64):
                try:
                    data, addr = sock.recvfrom(2048)
                except BlockingIOError:
                    break
                mtype, code, mid, token = parse(data)
                if code == 0x41:
                    self.created += 1
                elif code == 0x01 and mtype == CON:
                    _path, observe, _ = options_of(data)
                    sock.sendto(message(ACK, 0x45, mid, token, OBSERVE_ANSWER, b"21.5"), addr)
                    if observe == 0:
                        self.observed[sock] = token

    def wait_observed(self, seconds: float) -> dict[str, int]:
        deadline = time.monotonic() + seconds
        while len(self.observed) < len(self.socks) and time.monotonic() < deadline:
            self.poll(0.05)
        return {"observed": len(self.observed)}

    def notify(self, rate: float, seconds: float) -> dict[str, float]:
        targets = [(sock, token) for sock, token in self.observed.items()]
        numbers = self.numbers
        sent, n, start = 0, 0, time.perf_counter()
        cpu = time.process_time()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(rate * elapsed) - sent
            for _ in range(due):
                sock, token = targets[sent % len(targets)]
                n = numbers[sock] = numbers.get(sock, 1) + 1
                head = bytes((0x40 | (NON << 4) | len(token), 0x45)) + struct.pack(">H", n & 0xFFFF) + token
                # Observe (6), 3 bytes; Content-Format (12) text/plain, empty; then the payload
                datagram = head + b"\x63" + (n & 0xFFFFFF).to_bytes(3, "big") + b"\x60\xff" + repr(time.time()).encode()
                try:
                    sock.sendto(datagram, self.server)
                except BlockingIOError:
                    pass  # the generator's own buffer is full: counted as not sent
                else:
                    sent += 1
            self.poll(0)  # a Cancel or a re-observation is answered meanwhile
            time.sleep(0.001)
        return {"sent": sent, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}

    def register(self, rate: float, seconds: float) -> dict[str, float]:
        before, sent, start = self.created, 0, time.perf_counter()
        cpu = time.process_time()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(int(rate * elapsed) - sent):
                self._register(self.socks[sent % len(self.socks)], f"reg-{self.first}-{self.mid}-{sent}")
                sent += 1
            self.poll(0.001)
        elapsed = time.perf_counter() - start
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            self.poll(0.01)
        return {
            "sent": sent,
            "created": self.created - before,
            "seconds": elapsed,
            "cpu": time.process_time() - cpu,
        }


def main() -> None:
    port, first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    devices = Devices(port, first, count)
    print(json.dumps({"ports": [s.getsockname()[1] for s in devices.socks], "pid": os.getpid()}), flush=True)
    if "--register" in sys.argv:
        devices.register_all()
    for line in sys.stdin:
        command, *args = line.split()
        if command == "observed":
            result: dict[str, float] = dict(devices.wait_observed(float(args[0])))
        elif command == "notify":
            result = devices.notify(float(args[0]), float(args[1]))
        elif command == "register":
            result = devices.register(float(args[0]), float(args[1]))
        else:
            break
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
