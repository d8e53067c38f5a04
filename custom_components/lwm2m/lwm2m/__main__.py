"""Run the LwM2M server alone, without Home Assistant, and print every event as JSON.

    python -m custom_components.lwm2m.lwm2m --host :: --port 5683 \\
        [--xml-dir DIR] [--auto-observe /3303/0/5700 ...] [--min-lifetime S] [--max-lifetime S]

One JSON object per line: {"event": "registered", "endpoint": "...", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from .errors import PathError
from .events import Event
from .model import ObjectModel
from .path import Path
from .server import AUTO_OBSERVE_ALL, LwM2MServer, ServerConfig


def event_to_json(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"event": event.type.value, **event.to_json()}
    out.update({k: v for k, v in event.details.items() if k not in out})
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.lwm2m.lwm2m", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="::", help="address to bind (default :: = every IPv4 and IPv6 address)")
    parser.add_argument("--port", type=int, default=5683, help="UDP port (default 5683; 0 picks a free one)")
    parser.add_argument("--xml-dir", help="folder of extra object definition XML files")
    parser.add_argument(
        "--auto-observe",
        nargs="*",
        default=[],
        metavar="PATH",
        help="paths to observe after each registration, or 'all'",
    )
    parser.add_argument("--min-lifetime", type=int, default=10)
    parser.add_argument("--max-lifetime", type=int, default=7 * 86400)
    parser.add_argument("--verbose", action="store_true", help="log debugging output to stderr")
    args = parser.parse_args(argv)
    for path in args.auto_observe:
        if path != AUTO_OBSERVE_ALL:
            try:
                Path.parse(path)
            except PathError:
                parser.error(f"invalid path {path!r} for --auto-observe")
    return args


async def run(args: argparse.Namespace) -> None:
    model, problems = ObjectModel.with_folder(args.xml_dir)
    for problem in problems:
        print(json.dumps({"event": "warning", "message": problem}), flush=True)
    auto: tuple[str, ...] | str = (
        AUTO_OBSERVE_ALL if args.auto_observe == [AUTO_OBSERVE_ALL] else tuple(args.auto_observe)
    )
    server = LwM2MServer(
        ServerConfig(
            host=args.host,
            port=args.port,
            auto_observe=auto,
            min_lifetime=args.min_lifetime,
            max_lifetime=args.max_lifetime,
        ),
        model,
    )
    server.events.subscribe(lambda event: print(json.dumps(event_to_json(event), default=str), flush=True))
    await server.start()
    print(json.dumps({"event": "listening", "host": args.host, "port": server.port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":  # elsewhere Ctrl-C ends asyncio.run with KeyboardInterrupt
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
