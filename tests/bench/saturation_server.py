"""The server side of bench_server, in a process of its own (its CPU time and its socket are measured).

    python -m tests.bench.saturation_server raw-notify|ours-notify|raw-register|ours-register|ours-observe

raw-notify    a bare aiocoap context observes /3303/0/5700 on every port named on stdin
              ("observe PORT,PORT,..."), counting each notification in its callback
ours-notify   LwM2MServer auto-observing /3303/0/5700 of each registering device, counting
              NOTIFICATION events
raw-register  a bare aiocoap site answering POST /rd with 2.01
ours-register LwM2MServer registering every endpoint (no auto-observe)
ours-observe  the same, auto-observing /3303/0/5700 of each

The first line printed is {"port": ..., "pid": ...}. Then every "mark" on stdin prints the
count so far and the latencies (send time in the payload to the callback) since the last mark.
With LWM2M_PROFILE=FILE set, the process profiles itself (cProfile) and writes FILE at exit.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
import time
from typing import Any

import aiocoap
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.resource import Resource, Site

from custom_components.lwm2m.lwm2m.coap_internals import on_notifications, prepare_context
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.server import LwM2MServer


class Counter:
    """Notifications (or registrations) counted, with their latencies since the last mark."""

    def __init__(self) -> None:
        self.count = 0
        self.coalesced = 0  # notifications an event stood in for (overload)
        self.latencies: list[float] = []

    def seen(self, sent: float) -> None:
        self.count += 1
        self.latencies.append(time.time() - sent)

    def mark(self) -> dict[str, Any]:
        latencies, self.latencies = sorted(self.latencies), []

        def quantile(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

        return {
            "count": self.count,
            "coalesced": self.coalesced,
            "p50_ms": quantile(0.5),
            "p99_ms": quantile(0.99),
            "max_ms": quantile(1.0),
        }


class RawRegister(Resource):
    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self.counter = counter

    async def render_post(self, request: Message) -> Message:
        self.counter.count += 1
        return Message(code=Code.CREATED, location_path=("rd", "0123456789abcdef"))


async def raw_observe(ctx: aiocoap.Context, counter: Counter, ports: list[int]) -> list[Any]:
    """Observe every port; return the requests (an observation lives as long as its request is kept)."""

    def seen(message: Message) -> None:
        counter.seen(float(message.payload))

    def ended(_err: BaseException) -> None:
        pass

    requests = [
        ctx.request(Message(code=Code.GET, uri=f"coap://127.0.0.1:{port}/3303/0/5700", observe=0)) for port in ports
    ]
    for request in requests:
        await request.response
        on_notifications(request, seen, ended)
    return requests


async def main() -> None:
    mode = sys.argv[1]
    counter = Counter()
    ctx: aiocoap.Context | None = None
    server: LwM2MServer | None = None
    if mode.startswith("raw"):
        site = Site()
        site.add_resource(["rd"], RawRegister(counter))
        ctx = await aiocoap.Context.create_server_context(site, bind=("::", 0), transports=["udp6"])
        _dedup, port = prepare_context(ctx)
    else:
        server = LwM2MServer(
            ServerConfig(
                port=0,
                auto_observe=("/3303/0/5700",) if mode in ("ours-notify", "ours-observe") else (),
                max_registrations=1_000_000,
                max_registrations_per_host=0,  # every device here shares 127.0.0.1
                registration_rate=0,
                notification_rate=0,  # the server's capacity, not a device's budget
            )
        )
        await server.start()
        port = server.port

        def ours_seen(event: Event) -> None:
            if event.type is EventType.NOTIFICATION:
                counter.seen(next(iter(event.values.values())))
                counter.coalesced += event.coalesced
            elif event.type is EventType.REGISTERED:
                counter.count += 1

        server.events.subscribe(ours_seen)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    kept: list[Any] = []  # the raw observations' requests
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "observe" and ctx is not None:
            kept += await raw_observe(ctx, counter, [int(p) for p in line[1].split(",")])
            print(json.dumps({"observed": True}), flush=True)
        elif line[0] == "mark":
            print(json.dumps(counter.mark()), flush=True)
        else:
            break
    if server is not None:
        await server.stop()
    if ctx is not None:
        await ctx.shutdown()


if __name__ == "__main__":
    if profile := os.environ.get("LWM2M_PROFILE"):
        cProfile.run("asyncio.run(main())", profile)
    else:
        asyncio.run(main())
