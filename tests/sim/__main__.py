"""A virtual LwM2M device to try the integration without hardware.

    python -m tests.sim --endpoint demo-1 --server coap://127.0.0.1:5683 --objects 3,5,3303,3311

It registers (and keeps trying until the server is there), updates its registration,
reports a live temperature and a slowly draining battery, and prints what the server
does to it: writes (the light switch), executes (the reboot button), observations, and
firmware updates (object 5: an image pushed or pulled, checked, installed, then it
registers again with the new version; tests/sim/firmware.py makes images).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
from urllib.parse import urlsplit

from custom_components.lwm2m.lwm2m.path import Path

from .client import DEFAULT_VALUES, EXECUTABLES, SimClient

P = Path.parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="demo-1", help="endpoint name (default demo-1)")
    parser.add_argument("--server", default="coap://127.0.0.1:5683", help="server URI (default coap://127.0.0.1:5683)")
    parser.add_argument(
        "--objects",
        default="3,5,3303,3311",
        help="object ids besides 1 (server): 3 device, 5 firmware update, 3303 temperature, 3311 light",
    )
    parser.add_argument("--lifetime", type=int, default=60, help="registration lifetime in seconds")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between new temperature values")
    parser.add_argument("--version", choices=["1.0", "1.1"], default="1.1", help="LwM2M version")
    return parser.parse_args(argv)


def make_client(args: argparse.Namespace) -> SimClient:
    uri = urlsplit(args.server)
    if uri.scheme != "coap" or not uri.hostname:
        raise SystemExit(f"--server must look like coap://host:5683, not {args.server!r}")
    objects = {1} | {int(x) for x in args.objects.split(",") if x.strip()}
    values = {p: v for p, v in DEFAULT_VALUES.items() if p.ids[0] in objects}
    return SimClient(
        args.endpoint,
        uri.port or 5683,
        server_host=uri.hostname,
        version=args.version,
        lifetime=args.lifetime,
        values=values,
        executables={p for p in EXECUTABLES if p.ids[0] in objects},
        firmware=5 in objects,
    )


async def register(client: SimClient) -> None:
    """Register, retrying until the server answers (Home Assistant may not be set up yet)."""
    waited = False
    while True:
        try:
            response = await client.register()
            if response.code.is_successful():
                print(f"{client.endpoint}: registered with {client.server} ({response.code})", flush=True)
                return
            print(f"{client.endpoint}: the server refused the registration: {response.code}", flush=True)
        except Exception as err:  # timeouts, and aiocoap's own errors on ICMP port unreachable
            if not waited:
                print(f"{client.endpoint}: waiting for an LwM2M server at {client.server} ({err!r})", flush=True)
                waited = True
        await asyncio.sleep(3)


def report(client: SimClient, seen: dict[str, int]) -> None:
    """Print what the server did since the last call."""
    for name, items in (("write", client.written), ("execute", client.executed)):
        for item in items[seen.get(name, 0) :]:
            if name == "execute":
                print(f"{client.endpoint}: execute {item[0]} {item[1]!r}", flush=True)
            else:
                print(f"{client.endpoint}: write {item[1]} -> {dict(item[2])}", flush=True)
        seen[name] = len(items)


async def run(args: argparse.Namespace) -> None:
    client = make_client(args)
    if client.firmware is not None:
        client.firmware.on_event = lambda text: print(f"{client.endpoint}: firmware {text}", flush=True)
    await client.start(register=False)
    await register(client)
    seen: dict[str, int] = {}
    temperature, battery, tick, since_update = 21.5, 95, 0, 0.0
    try:
        while True:
            await asyncio.sleep(args.interval)
            tick += 1
            since_update += args.interval
            if P("/3303/0/5700") in client.values:
                temperature = round(min(30.0, max(15.0, temperature + random.uniform(-0.4, 0.4))), 2)
                client.set_value("/3303/0/5700", temperature)
            if P("/3/0/9") in client.values and tick % 12 == 0:
                battery = max(5, battery - 1)
                client.set_value("/3/0/9", battery)
            report(client, seen)
            if since_update >= client.lifetime / 2:
                since_update = 0.0
                try:
                    response = await client.update()
                    if not response.code.is_successful():
                        await register(client)
                except Exception:  # the server went away: register again when it is back
                    await register(client)
    finally:
        await client.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    loop = asyncio.new_event_loop()
    task = loop.create_task(run(args))
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        loop.run_until_complete(task)
    loop.close()


if __name__ == "__main__":
    main()
