"""Server throughput against raw aiocoap, side by side in one run.

    .venv/bin/python -m tests.bench.bench_server [--registrations 20000] [--devices 50] [--notify 400]

A load generator in a separate process (tests/bench/loadgen.py, many UDP source ports)
drives, in turn: a bare aiocoap server answering POST /rd with 2.01 (raw), then our
server registering real endpoints; a bare aiocoap observer counting notifications (raw),
then our server decoding them into notification events. Prints rates and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiocoap
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.resource import Resource, Site

from custom_components.lwm2m.lwm2m.coap_internals import prepare_context
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.server import LwM2MServer


class RawRegister(Resource):
    async def render_post(self, request: Message) -> Message:
        return Message(code=Code.CREATED, location_path=("rd", "0123456789abcdef"))


async def _loadgen(*args: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.loadgen", *map(str, args), stdout=asyncio.subprocess.PIPE
    )


async def _json_line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    return json.loads(await asyncio.wait_for(proc.stdout.readline(), 180))


async def registrations(count: int, sockets: int) -> tuple[float, float]:
    site = Site()
    site.add_resource(["rd"], RawRegister())
    raw = await aiocoap.Context.create_server_context(site, bind=("::", 0), transports=["udp6"])
    _dedup, port = prepare_context(raw)
    proc = await _loadgen("register", port, count, sockets, "raw")
    raw_result = await _json_line(proc)
    await proc.wait()
    await raw.shutdown()

    # the server's capacity, not its limits: every device here shares 127.0.0.1 and registers at once
    server = LwM2MServer(
        ServerConfig(port=0, max_registrations=count + 10, max_registrations_per_host=0, registration_rate=0)
    )
    await server.start()
    proc = await _loadgen("register", server.port, count, sockets, "ours")
    ours_result = await _json_line(proc)
    await proc.wait()
    assert len(server.registrations) == ours_result["done"], "every answered Register is a registration"
    await server.stop()
    return raw_result["rate"], ours_result["rate"]


async def _count_until_quiet(counter: list[float], proc: asyncio.subprocess.Process) -> tuple[int, float]:
    """Wait for the generator to finish; return notifications seen and their arrival span."""
    await _json_line(proc)  # notified
    last = -1.0
    while counter[0] != last:
        last = counter[0]
        await asyncio.sleep(0.5)
    await proc.wait()
    return int(counter[0]), counter[2] - counter[1]


async def notifications(n_devices: int, notify: int) -> tuple[float, float, int, int]:
    # raw: aiocoap observes every device and counts its callbacks
    ctx = await aiocoap.Context.create_server_context(None, bind=("::", 0), transports=["udp6"])
    prepare_context(ctx)
    counter = [0.0, 0.0, 0.0]  # count, first arrival, last arrival

    def raw_seen(_message: Message) -> None:
        now = time.perf_counter()
        if counter[0] == 0:
            counter[1] = now
        counter[0] += 1
        counter[2] = now

    proc = await _loadgen("devices", 0, n_devices, notify)
    ports = (await _json_line(proc))["ports"]
    requests = []
    for port in ports:
        request = ctx.request(Message(code=Code.GET, uri=f"coap://127.0.0.1:{port}/3303/0/5700", observe=0))
        requests.append(request)
    for request in requests:
        await request.response
        request.observation.register_callback(raw_seen, _suppress_deprecation=True)
    await _json_line(proc)  # observed
    raw_count, raw_span = await _count_until_quiet(counter, proc)
    for request in requests:
        request.observation.cancel()
    await ctx.shutdown()

    # ours: the server auto-observes each registering device and decodes every notification
    server = LwM2MServer(
        ServerConfig(
            port=0,
            auto_observe=("/3303/0/5700",),
            max_registrations_per_host=0,  # every device here shares 127.0.0.1
            registration_rate=0,
            notification_rate=0,  # the server's capacity, not a device's budget
        )
    )
    await server.start()
    counter = [0.0, 0.0, 0.0]

    def ours_seen(event: Any) -> None:
        if event.type is EventType.NOTIFICATION:
            raw_seen(event)

    server.events.subscribe(ours_seen)
    proc = await _loadgen("devices", server.port, n_devices, notify, "--register")
    await _json_line(proc)  # ports
    observed = await _json_line(proc)
    assert observed["devices"] == n_devices, observed
    ours_count, ours_span = await _count_until_quiet(counter, proc)
    await server.stop()
    return raw_count / raw_span, ours_count / ours_span, raw_count, ours_count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrations", type=int, default=20_000)
    parser.add_argument("--sockets", type=int, default=64)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--notify", type=int, default=400)
    args = parser.parse_args()
    raw_reg, ours_reg = await registrations(args.registrations, args.sockets)
    raw_note, ours_note, raw_n, ours_n = await notifications(args.devices, args.notify)
    sent = args.devices * args.notify
    print(f"{'measure':<32} {'raw aiocoap':>12} {'this server':>12} {'ratio':>7}")
    print(f"{'registrations / s':<32} {raw_reg:>12,.0f} {ours_reg:>12,.0f} {ours_reg / raw_reg:>7.0%}")
    print(f"{'notifications / s (decoded)':<32} {raw_note:>12,.0f} {ours_note:>12,.0f} {ours_note / raw_note:>7.0%}")
    print(f"notifications received of {sent:,} sent: raw {raw_n:,}, this server {ours_n:,}")


if __name__ == "__main__":
    asyncio.run(main())
