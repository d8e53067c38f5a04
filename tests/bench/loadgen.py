"""A CoAP load generator for the benchmarks: plain sockets, many source ports, no aiocoap.

Runs in its own process (python -m tests.bench.loadgen MODE ...) so that it never shares
a core's time with the server it measures. It prints one JSON line per phase.

  register PORT COUNT SOCKETS      POST /rd with a link-format payload, SOCKETS in flight
  hass PORT DEVICES SECONDS RATES SETTLE
                                   devices with objects 3, 3303 and 3304 answering reads and
                                   observes (a Register refused with 5.03 is sent again after
                                   its Max-Age, as a device does), then, SETTLE seconds later,
                                   notifying at each of RATES (a comma list) per second for
                                   SECONDS, SETTLE seconds apart; notification i carries the
                                   value 1000 + i (counted on across the phases), and each
                                   phase's line lists when each was sent
  devices PORT DEVICES NOTIFY [--register]
                                   DEVICES sockets answer the first Observe GET each gets,
                                   then send NOTIFY non-confirmable notifications each
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import sys
import time
from collections.abc import Iterator

CON, NON, ACK = 0, 1, 2
FIRST_VALUE = 1000  # hass mode: notification i carries the value FIRST_VALUE + i
PAYLOAD = b"</1/0>,</3/0>,</3303/0>"


def option(number: int, last: int, value: bytes) -> tuple[bytes, int]:
    delta, length = number - last, len(value)
    head = bytearray()
    ext = bytearray()
    for part in (delta, length):
        if part < 13:
            head.append(part)
        elif part < 269:
            head.append(13)
            ext.append(part - 13)
        else:
            head.append(14)
            ext += struct.pack(">H", part - 269)
    return bytes([(head[0] << 4) | head[1]]) + bytes(ext), number


def message(
    mtype: int, code: int, mid: int, token: bytes, options: list[tuple[int, bytes]], payload: bytes = b""
) -> bytes:
    out = bytearray([0x40 | (mtype << 4) | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        head, last = option(number, last, value)
        out += head + value
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def parse(data: bytes) -> tuple[int, int, int, bytes]:
    """(type, code, message id, token) of a datagram."""
    tkl = data[0] & 0x0F
    return (data[0] >> 4) & 0x03, data[1], struct.unpack(">H", data[2:4])[0], data[4 : 4 + tkl]


def _sockets(n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        out.append(sock)
    return out


def register(port: int, count: int, n_sockets: int, prefix: str = "bench") -> dict[str, float]:
    socks = _sockets(n_sockets)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    sent = done = 0
    mids = {s: 0 for s in socks}

    def send(sock: socket.socket) -> None:
        nonlocal sent
        mids[sock] = (mids[sock] + 1) & 0xFFFF
        opts = [
            (11, b"rd"),
            (12, b"\x28"),
            (15, f"ep={prefix}-{sent}".encode()),
            (15, b"lt=3600"),
            (15, b"lwm2m=1.1"),
            (15, b"b=U"),
        ]
        sock.sendto(message(CON, 0x02, mids[sock], struct.pack(">I", sent), opts, PAYLOAD), ("127.0.0.1", port))
        sent += 1

    start = time.perf_counter()
    for s in socks:
        if sent < count:
            send(s)
    last = start
    while done < count:
        events = sel.select(timeout=2.0)
        if not events:
            # lost datagrams: resend on every socket still owed an answer
            if time.perf_counter() - last > 2.0:
                for s in socks:
                    if sent < count:
                        send(s)
                last = time.perf_counter()
            if time.perf_counter() - start > 120:
                break
            continue
        for key, _ in events:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                continue
            if data[1] == 0x41:  # 2.01 Created
                done += 1
                last = time.perf_counter()
                if sent < count:
                    send(sock)
    elapsed = time.perf_counter() - start
    for s in socks:
        s.close()
    return {"phase": "register", "done": done, "seconds": elapsed, "rate": done / elapsed}


def devices(port: int, n_devices: int, notify: int, do_register: bool) -> None:
    socks = _sockets(n_devices)
    print(json.dumps({"phase": "ports", "ports": [s.getsockname()[1] for s in socks]}), flush=True)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    if do_register:
        for i, s in enumerate(socks):
            opts = [(11, b"rd"), (12, b"\x28"), (15, f"ep=notifier-{i}".encode()), (15, b"lt=3600"), (15, b"lwm2m=1.0")]
            s.sendto(message(CON, 0x02, 1, b"\x01", opts, b"</3303/0>"), ("127.0.0.1", port))
    tokens: dict[socket.socket, tuple[bytes, tuple[str, int]]] = {}
    deadline = time.monotonic() + 30
    while len(tokens) < n_devices and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data, addr = sock.recvfrom(2048)
            _mtype, code, mid, token = parse(data)
            if code == 0x01 and sock not in tokens:  # the Observe GET
                opts = [(6, b"\x00"), (12, b"")]
                sock.sendto(message(ACK, 0x45, mid, token, opts, b"21.5"), addr)
                tokens[sock] = (token, addr)
    print(json.dumps({"phase": "observed", "devices": len(tokens)}), flush=True)
    start = time.perf_counter()
    sent = 0
    for n in range(1, notify + 1):
        for sock, (token, addr) in tokens.items():
            opts = [(6, n.to_bytes(3, "big")), (12, b"")]
            try:
                sock.sendto(message(NON, 0x45, n & 0xFFFF, token, opts, f"{20 + n % 10}.5".encode()), addr)
                sent += 1
            except BlockingIOError:
                time.sleep(0.001)
        if n % 50 == 0:
            time.sleep(0.002)  # stay below what one receiving core can take in
    print(json.dumps({"phase": "notified", "sent": sent, "seconds": time.perf_counter() - start}), flush=True)
    time.sleep(1.0)


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "register":
        result = register(port, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "bench")
        print(json.dumps(result), flush=True)
    elif mode == "devices":
        devices(port, int(sys.argv[3]), int(sys.argv[4]), "--register" in sys.argv)
    elif mode == "hass":
        rates = [float(r) for r in sys.argv[5].split(",")]
        hass_devices(
            port, int(sys.argv[3]), float(sys.argv[4]), rates, None if sys.argv[6] == "stdin" else float(sys.argv[6])
        )


def _options(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(number, value) of each CoAP option of a datagram."""
    tkl = data[0] & 0x0F
    pos, number = 4 + tkl, 0
    while pos < len(data) and data[pos] != 0xFF:
        head = data[pos]
        pos += 1
        delta, length = head >> 4, head & 0x0F
        if delta == 13:
            delta, pos = data[pos] + 13, pos + 1
        elif delta == 14:
            delta, pos = struct.unpack(">H", data[pos : pos + 2])[0] + 269, pos + 2
        if length == 13:
            length, pos = data[pos] + 13, pos + 1
        elif length == 14:
            length, pos = struct.unpack(">H", data[pos : pos + 2])[0] + 269, pos + 2
        number += delta
        yield number, data[pos : pos + length]
        pos += length


def options_of(data: bytes) -> tuple[list[str], int | None, bytes]:
    """(Uri-Path segments, Observe value or None, token) of a request."""
    path, observe = [], None
    for number, value in _options(data):
        if number == 11:
            path.append(value.decode())
        elif number == 6:
            observe = int.from_bytes(value, "big")
    return path, observe, data[4 : 4 + (data[0] & 0x0F)]


def hass_devices(port: int, n_devices: int, seconds: float, rates: list[float], settle: float | None = 2.0) -> None:
    """Devices with a device object, a temperature and a humidity sensor, for bench_hass and bench_real_hass.

    Each phase of notifications begins settle seconds after the last (or the storm); with
    settle None, when a line comes on stdin.
    """
    from custom_components.lwm2m.lwm2m.codecs import tlv
    from custom_components.lwm2m.lwm2m.nodes import ObjectInstance, Resource

    contents = {
        ("3", "0"): tlv.encode(ObjectInstance(0, {0: Resource(0, "Bench"), 9: Resource(9, 90)}), _path("/3/0")),
        ("3303", "0"): tlv.encode(ObjectInstance(0, {5700: Resource(5700, 21.5)}), _path("/3303/0")),
        ("3304", "0"): tlv.encode(ObjectInstance(0, {5700: Resource(5700, 40.0)}), _path("/3304/0")),
    }
    socks = _sockets(n_devices)
    index = {s: i for i, s in enumerate(socks)}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    began, began_at = time.perf_counter(), time.time()

    attempts = [0] * n_devices

    def send_register(i: int) -> None:
        # A Register sent again after a 5.03 is a new request, with a message ID of its own: the
        # same ID again is a duplicate to the server, answered from its cache (that same 5.03)
        # for EXCHANGE_LIFETIME (247 s).
        attempts[i] += 1
        opts = [(11, b"rd"), (12, b"\x28"), (15, f"ep=bench-{i:04d}".encode()), (15, b"lt=3600"), (15, b"lwm2m=1.0")]
        request = message(CON, 0x02, attempts[i], bytes([attempts[i] % 256]), opts, b"</3/0>,</3303/0>,</3304/0>")
        socks[i].sendto(request, ("127.0.0.1", port))

    for i in range(n_devices):
        send_register(i)
    registered: set[int] = set()
    retry_at: dict[int, float] = {}  # device -> when to send its refused Register again
    refusals = 0
    registered_seconds = 0.0
    observations: dict[tuple[int, str], tuple[socket.socket, bytes, tuple[str, int]]] = {}
    wanted = n_devices * 3
    deadline = time.monotonic() + 300
    seen: set[tuple[int, int]] = set()  # (device, message ID) of each request from the server
    again = 0  # requests the server sent again (its answer, or the device's, was lost or late)
    while len(observations) < wanted and time.monotonic() < deadline:
        now = time.perf_counter()
        for i in [i for i, at in retry_at.items() if at <= now]:
            del retry_at[i]
            send_register(i)
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data, addr = sock.recvfrom(2048)
            except BlockingIOError:
                continue
            _mtype, code, mid, token = parse(data)
            if code == 0x41:  # 2.01 Created
                registered.add(index[sock])
                if len(registered) == n_devices:
                    registered_seconds = time.perf_counter() - began
                continue
            if code == 0xA3:  # 5.03: a limit; come back after Max-Age
                refusals += 1
                retry_at[index[sock]] = time.perf_counter() + max_age_of(data)
                continue
            if code != 0x01:
                continue
            if (index[sock], mid) in seen:
                again += 1
            seen.add((index[sock], mid))
            path, observe, _ = options_of(data)
            if observe == 0 and len(path) == 3:
                value = {"9": b"90"}.get(path[2], b"21.5" if path[0] == "3303" else b"40.0")
                sock.sendto(message(ACK, 0x45, mid, token, [(6, b""), (12, b"")], value), addr)
                observations[(index[sock], "/".join(path))] = (sock, token, addr)
            elif tuple(path) in contents:
                sock.sendto(
                    message(ACK, 0x45, mid, token, [(12, (11542).to_bytes(2, "big"))], contents[tuple(path)]), addr
                )
            else:
                sock.sendto(message(ACK, 0x84, mid, token, []), addr)
    observed = {
        "phase": "observed",
        "observations": len(observations),
        "registered_seconds": registered_seconds,
        "observed_seconds": time.perf_counter() - began,
        "refused_registers": refusals,
        "requests_sent_again": again,
        "began_at": began_at,
    }
    print(json.dumps(observed), flush=True)
    targets = [v for k, v in observations.items() if not k[1].endswith("/9")]
    sent, n = 0, 0
    for rate in rates:
        if settle is None:
            sys.stdin.readline()  # the benchmark says go
        else:
            time.sleep(settle)  # the server settles after the storm (or the last phase) first
        start = time.perf_counter()
        first = FIRST_VALUE + sent
        sent_at: list[float] = []  # wall-clock send time of value first + i
        while time.perf_counter() - start < seconds:
            n += 1
            for sock, token, addr in targets:
                # Every notification carries its own number: unique (each one changes a state),
                # never below FIRST_VALUE (unlike the initial values), whatever the time of day.
                payload = str(FIRST_VALUE + sent).encode()
                opts = [(6, (n % 2**24).to_bytes(3, "big")), (12, b"")]
                sent_at.append(time.time())
                sock.sendto(message(NON, 0x45, (1000 + n) & 0xFFFF, token, opts, payload), addr)
                sent += 1
                ahead = (len(sent_at)) / rate - (time.perf_counter() - start)
                if ahead > 0.01:
                    time.sleep(ahead)
        report = {
            "phase": "notified",
            "rate": rate,
            "sent": len(sent_at),
            "seconds": time.perf_counter() - start,
            "first_value": first,
            "targets": len(targets),
        }
        print(json.dumps(report | {"sent_at": sent_at}), flush=True)


def max_age_of(data: bytes) -> float:
    """The Max-Age option (14) of an answer, in seconds (CoAP's default 60 when absent)."""
    for number, value in _options(data):
        if number == 14:
            return float(int.from_bytes(value, "big"))
    return 60.0


def _path(text: str):
    from custom_components.lwm2m.lwm2m.path import Path

    return Path.parse(text)


if __name__ == "__main__":
    main()
