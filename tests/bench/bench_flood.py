"""Memory under a flood of distinct requests from many ports: aiocoap's default
duplicate detection (every request kept ~247 s) against this server's bounded window.

    .venv/bin/python -m tests.bench.bench_flood [--requests 30000] [--ports 300]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tracemalloc
import warnings

import aiocoap
from aiocoap.resource import Site

from custom_components.lwm2m.lwm2m.coap_internals import enlarge_receive_buffer
from custom_components.lwm2m.lwm2m.server import LwM2MServer, ServerConfig
from tests.bench.loadgen import NON, message


async def flood(port: int, requests: int, ports: int) -> None:
    socks = []
    for _ in range(ports):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        socks.append(sock)
    per_port = requests // ports
    for mid in range(per_port):
        for sock in socks:
            sock.sendto(message(NON, 0x01, mid, b"\x01", [(11, b"nothing")]), ("127.0.0.1", port))
        await asyncio.sleep(0.03)  # pace, so the kernel drops (almost) nothing
    for sock in socks:
        sock.close()


async def measure(label: str, start, requests: int, ports: int) -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    port, stop, count = await start()
    await flood(port, requests, ports)
    seen = -1
    while count() != seen:  # until the server has drained its socket
        seen = count()
        await asyncio.sleep(1.0)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"{label:<34} {count():>8,} requests kept  {(after - before) / 1e6:>8.1f} MB held")
    await stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--ports", type=int, default=300)
    parser.add_argument("--bound", type=int, default=5_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # aiocoap's shutdown with requests in flight

    async def raw():
        ctx = await aiocoap.Context.create_server_context(Site(), bind=("::", 0), transports=["udp6"])
        manager = ctx.request_interfaces[0].token_interface
        sock = manager.message_interface.transport.get_extra_info("socket")
        enlarge_receive_buffer(sock)
        port = sock.getsockname()[1]

        async def stop() -> None:
            await ctx.shutdown()  # (its 247 s timers stay behind; this process ends anyway)

        return port, stop, lambda: len(manager._recent_messages)

    async def ours():
        server = LwM2MServer(ServerConfig(port=0, dedup_max=args.bound))
        await server.start()
        assert server.transport.dedup is not None
        return server.port, server.stop, lambda: len(server.transport.dedup)

    await measure("aiocoap default (247 s window)", raw, args.requests, args.ports)
    await measure(f"this server (bounded to {args.bound:,})", ours, args.requests, args.ports)


if __name__ == "__main__":
    asyncio.run(main())
