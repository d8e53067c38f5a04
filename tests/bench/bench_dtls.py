"""coaps:// against plain coap://, in one run: handshakes/s and notifications/s through the server.

    .venv/bin/python -m tests.bench.bench_dtls [--devices 200] [--notify 200]

A load generator in a separate process (tests/bench/dtls_loadgen.py) starts DEVICES PSK
handshakes at once (DTLS 1.2, PSK-AES128-CCM8, with cookie exchange), registers each device
and sends NOTIFY notifications per device as fast as it can; the server (auto-observing,
no notification budget) turns them into events. Then the same over plain UDP. Prints rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.security.credentials import PSK, Credential, Credentials
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.bench.bench_server import _count_until_quiet, _json_line
from tests.bench.dtls_loadgen import KEY


async def run(n_devices: int, notify: int, *, plain: bool) -> dict[str, float]:
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
    args = [str(port), str(n_devices), str(notify)] + (["--plain"] if plain else [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.dtls_loadgen", *args, stdout=asyncio.subprocess.PIPE
    )
    result: dict[str, float] = {}
    if not plain:
        line = await _json_line(proc)
        result["handshakes"] = line["done"]
        result["handshakes_per_s"] = line["done"] / line["seconds"]
    observed = await _json_line(proc)
    assert observed["devices"] == n_devices, observed
    count, span = await _count_until_quiet(counter, proc)
    result.update(notifications=count, sent=n_devices * notify, per_s=count / span if span else 0.0)
    await server.stop()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--notify", type=int, default=200)
    args = parser.parse_args()
    print(f"DTLS benchmark: {args.devices} devices, {args.notify} notifications each, {os.cpu_count()} cores")
    dtls = await run(args.devices, args.notify, plain=False)
    plain = await run(args.devices, args.notify, plain=True)
    print(f"handshakes (PSK, cookie exchange): {dtls['handshakes']:.0f} in all, {dtls['handshakes_per_s']:,.0f}/s")
    for name, result in (("coaps:// (DTLS)", dtls), ("coap:// (plain UDP)", plain)):
        share = result["notifications"] / result["sent"] * 100
        print(f"{name:>20}: {result['per_s']:,.0f} notifications/s as events ({share:.1f} % of those sent)")
    print(f"DTLS/plain notifications: {dtls['per_s'] / plain['per_s']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
