"""coaps:// against plain coap://, in one run: handshakes/s and notifications/s through the server.

    .venv/bin/python -m tests.bench.bench_dtls [--devices 200] [--notify 100] [--rate 5000]

A load generator in a separate process (tests/bench/dtls_loadgen.py) starts DEVICES PSK
handshakes at once (DTLS 1.2, PSK-AES128-CCM8, with cookie exchange), registers each device
and sends NOTIFY notifications per device, RATE a second in all and then as fast as it can;
the server (auto-observing, no notification budget) turns them into events. The same over
plain UDP. Prints handshakes/s, the server's memory per session, and for each transport and
offered rate the notifications delivered as events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.dtls.interface import DtlsLimits
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.security.credentials import PSK, Credential, Credentials
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.bench.bench_server import _count_until_quiet, _json_line
from tests.bench.dtls_loadgen import KEY


def _rss() -> int:
    """Return this process's resident memory in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def run(n_devices: int, notify: int, rate: float, *, plain: bool) -> dict[str, float]:
    credentials = Credentials(
        Credential(f"bench-{i}", PSK, psk_identity=f"bench-{i}", psk_key=KEY) for i in range(n_devices)
    )
    config = ServerConfig(
        port=0,
        dtls_port=0,
        credentials=credentials if not plain else Credentials(),
        auto_observe=("/3303/0/5700",),
        max_registrations_per_host=0,
        registration_rate=0,
        notification_rate=0,
        dtls_limits=DtlsLimits(max_handshakes_per_host=0),  # every device here shares 127.0.0.1
    )
    server = LwM2MServer(config)
    await server.start()
    counter = [0.0, 0.0, 0.0]

    def seen(event: Any) -> None:
        if event.type is EventType.NOTIFICATION:
            now = asyncio.get_running_loop().time()
            if counter[0] == 0:
                counter[1] = now
            counter[0] += 1
            counter[2] = now

    server.events.subscribe(seen)
    port = server.port if plain else server.dtls_port
    args = [str(port), str(n_devices), str(notify), str(rate)] + (["--plain"] if plain else [])
    before = _rss()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.dtls_loadgen",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    result: dict[str, float] = {}
    if not plain:
        line = await _json_line(proc)
        result["handshakes"] = line["done"]
        result["handshakes_per_s"] = line["done"] / line["seconds"]
        await asyncio.sleep(0.5)
        result["bytes_per_session"] = (_rss() - before) / max(1, server.transport.dtls.session_count())
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    observed = await _json_line(proc)
    assert observed["devices"] == n_devices, observed
    count, span = await _count_until_quiet(counter, proc)
    result.update(notifications=count, sent=n_devices * notify, per_s=count / span if span else 0.0, rate=rate)
    await server.stop()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--notify", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5000, help="notifications/s offered in the paced run")
    args = parser.parse_args()
    print(f"DTLS benchmark: {args.devices} devices, {args.notify} notifications each, {os.cpu_count()} cores")
    runs = {
        (name, rate): await run(args.devices, args.notify, rate, plain=plain)
        for rate in (args.rate, 0.0)
        for name, plain in (("coaps:// (DTLS)", False), ("coap:// (plain UDP)", True))
    }
    first = runs["coaps:// (DTLS)", args.rate]
    print(f"handshakes (PSK, cookie exchange): {first['handshakes']:.0f} in all, {first['handshakes_per_s']:,.0f}/s")
    print(f"server memory per DTLS session: {first['bytes_per_session'] / 1024:,.1f} KiB")
    print(f"{'transport':>20} | {'offered/s':>10} | {'events/s':>9} | delivered")
    for (name, rate), result in runs.items():
        offered = f"{rate:,.0f}" if rate else "unpaced"
        share = result["notifications"] / result["sent"] * 100
        print(f"{name:>20} | {offered:>10} | {result['per_s']:>9,.0f} | {share:.1f} % of {result['sent']:,.0f}")
    saturated = runs["coaps:// (DTLS)", 0.0]["per_s"] / runs["coap:// (plain UDP)", 0.0]["per_s"]
    print(f"DTLS/plain notifications at saturation: {saturated:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
