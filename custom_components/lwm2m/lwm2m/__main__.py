r"""Run the LwM2M server alone, without Home Assistant: events out, commands in, as JSON lines.

    python -m custom_components.lwm2m.lwm2m --host :: --port 5683 \
        [--xml-dir DIR] [--auto-observe /3303/0/5700 ...] [--min-lifetime S] [--max-lifetime S]
        [--max-per-address N] [--registration-rate R] [--notification-rate R]
        [--dtls-port 5684 [--no-coap] [--psk ENDPOINT:IDENTITY:HEXKEY ...] [--credentials FILE]]
        [--admission open|known|strict] [--bootstrap-port 5783 --bootstrap-config FILE]

Every event is one JSON object on one line of stdout: {"event": "registered", "endpoint": ...}.

Every line on stdin is a command, answered by exactly one line (commands run side by side,
so a slow device holds up no other command):

    {"id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0/0", "timeout": 5}
    -> {"event": "result", "id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0/0",
        "code": "2.05", "values": {"/3/0/0": "Acme"}}

op is read, discover, observe, cancel_observe or delete (endpoint, path); write (value;
replace, default true: false sends a partial update); execute (arguments, optional);
write_attributes (any of pmin, pmax, gt, lt, st, epmin, epmax; null clears one); create
(path /O, values {"resource id": value}, optional instance_id); read_composite (paths);
write_composite (values {"path": value}); stats (no endpoint: the server's counters; with
one: that endpoint's). id (any JSON value, echoed) and timeout (seconds) go with any op.
A failure has "error", and "code" when the device answered with a CoAP error code; a
line that is no command gets {"event": "error", "id": ... (if known), "error": ...}.

A line that does not start with "{" is the short form, handy in a terminal:

    read dev1 /3/0/0                      write dev1 /3311/0/5850 true
    execute dev1 /3/0/4 [ARGUMENTS]       write_attributes dev1 /3303/0/5700 pmin=5 pmax=60
    observe dev1 /3303/0/5700             create dev1 /3303/1 {"5700": 20.5}
    read_composite dev1 /3/0/0 /3/0/9     write_composite dev1 /3311/0/5850=true /3311/0/5851=40
    stats                                 (blank lines and lines starting with # are skipped)

A write's value is JSON when it parses as JSON, else text. The end of stdin ends no
serving: only SIGINT (Ctrl-C) or SIGTERM stop the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pathlib
import signal
import sys
from typing import Any

from .config import AUTO_OBSERVE_ALL, ServerConfig
from .console import Console, line_writer, read_lines
from .errors import PathError
from .events import Event
from .model import ObjectModel
from .path import Path
from .security.admission import Admission
from .security.bootstrap import BootstrapConfig, BootstrapServer
from .security.credentials import (
    Credential,
    CredentialError,
    Credentials,
    ServerIdentity,
    load_credentials_file,
    parse_psk_argument,
)
from .server import LwM2MServer


def event_to_json(event: Event) -> dict[str, Any]:
    """Return an event as one JSON object of the runner's output."""
    out: dict[str, Any] = {"event": event.type.value, **event.to_json()}
    if event.details is not None:
        out.update({k: v for k, v in event.details.to_json().items() if k not in out})
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the runner's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.lwm2m.lwm2m",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument("--max-lifetime", type=int, default=86400)
    limits = ServerConfig()
    parser.add_argument(
        "--max-per-address",
        type=int,
        default=limits.max_registrations_per_host,
        help=f"registrations from one IP address (default {limits.max_registrations_per_host}; 0: no limit)",
    )
    parser.add_argument(
        "--registration-rate",
        type=float,
        default=limits.registration_rate,
        help=f"Registers a second, all devices together (default {limits.registration_rate:g}; 0: no limit)",
    )
    parser.add_argument(
        "--notification-rate",
        type=float,
        default=limits.notification_rate,
        help=f"notifications a second per device, then values coalesce (default {limits.notification_rate:g}; 0: none)",
    )
    parser.add_argument(
        "--dtls-port", type=int, help="serve coaps:// (DTLS 1.2) on this UDP port too (5684 is usual; 0: a free one)"
    )
    parser.add_argument(
        "--no-coap", action="store_true", help="serve only coaps:// (no plain coap:// listener); needs --dtls-port"
    )
    parser.add_argument(
        "--psk",
        action="append",
        default=[],
        metavar="ENDPOINT:IDENTITY:HEXKEY",
        help="a device's pre-shared key (repeatable); the endpoint then registers only over coaps:// with it",
    )
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help='JSON: {"devices": [{"endpoint", "mode": "psk"|"x509"|"nosec", "identity", "key" (hex), '
        '"certificate" (PEM)}, ...], "server": {"certificate", "private_key"} (PEM, for devices with certificates)}',
    )
    parser.add_argument(
        "--bootstrap-port",
        type=int,
        help="run a bootstrap server on this UDP port (coap://), and on the next one (coaps://) for bootstrap keys",
    )
    parser.add_argument(
        "--bootstrap-config",
        metavar="FILE",
        help='JSON: {"ENDPOINT": {"uri": "coap(s)://host:port", "mode": "nosec"|"psk", "identity", "key" (hex), '
        '"lifetime", "bootstrap_identity", "bootstrap_key" (hex)}, ...}',
    )
    parser.add_argument(
        "--admission",
        choices=[a.value for a in Admission],
        default=Admission.OPEN.value,
        help="who may register: open (anyone; a name with a credential only through it), known (only "
        "endpoints with a credential, NoSec ones included) or strict (only endpoints with a DTLS credential)",
    )
    parser.add_argument(
        "--download-host",
        default="",
        help="the server's address in firmware pull links (default: the address the system routes toward "
        "each device; a device across a NAT needs the public one)",
    )
    parser.add_argument("--verbose", action="store_true", help="log debugging output to stderr")
    args = parser.parse_args(argv)
    try:
        args.credentials, args.server_identity = _credentials(args.credentials, args.psk)
    except CredentialError as err:
        parser.error(str(err))
    try:
        args.bootstrap_configs = _bootstrap_configs(args.bootstrap_config)
    except CredentialError as err:
        parser.error(str(err))
    if (args.bootstrap_port is None) != (args.bootstrap_config is None):
        parser.error("--bootstrap-port and --bootstrap-config go together")
    for config in args.bootstrap_configs.values():  # the server takes what the bootstrap hands out
        credential = config.server_credential() or Credential(config.endpoint)  # NoSec: a known device
        held = args.credentials.for_endpoint(config.endpoint)
        if held is not None and held.identity != credential.identity:
            parser.error(f"{config.endpoint}: --bootstrap-config hands out another credential than the server holds")
        if held is None:
            try:
                args.credentials.add(credential)
            except CredentialError as err:
                parser.error(str(err))
    if args.no_coap and args.dtls_port is None:
        parser.error("--no-coap leaves only coaps://: add --dtls-port (5684 is usual)")
    if any(c.mode != "nosec" for c in args.credentials) and args.dtls_port is None:
        parser.error("credentials need a coaps:// listener: add --dtls-port (5684 is usual)")
    for path in args.auto_observe:
        if path != AUTO_OBSERVE_ALL:
            try:
                Path.parse(path)
            except PathError:
                parser.error(f"invalid path {path!r} for --auto-observe")
    return args


def _credentials(path: str | None, psks: list[str]) -> tuple[Credentials, ServerIdentity | None]:
    """Read --credentials and --psk into one set of credentials."""
    credentials, identity = load_credentials_file(path) if path else (Credentials(), None)
    for text in psks:
        credentials.add(parse_psk_argument(text))
    return credentials, identity


def _bootstrap_configs(path: str | None) -> dict[str, BootstrapConfig]:
    """Read --bootstrap-config: an object of endpoint names to bootstrap entries."""
    if path is None:
        return {}
    try:
        data = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as err:
        raise CredentialError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise CredentialError(f"{path}: an object of endpoint names to bootstrap entries")
    return {str(endpoint): BootstrapConfig.from_dict(str(endpoint), entry) for endpoint, entry in data.items()}


def stdin_fd() -> int | None:
    """Return the fd of stdin when it is open.

    Ask before any file or socket is opened: when fd 0 is closed, the event loop or a socket
    takes that number, and it is no stdin.
    """
    if sys.stdin is None:
        return None
    try:
        fd = sys.stdin.fileno()
        os.fstat(fd)
    except (OSError, ValueError):
        return None
    return fd


async def run(args: argparse.Namespace, fd: int | None = None) -> None:
    """Serve until SIGINT or SIGTERM, reading commands from fd (stdin) when one is given."""
    write = line_writer()
    model, problems = ObjectModel.with_folder(args.xml_dir)
    for problem in problems:
        write({"event": "warning", "message": problem})
    auto: tuple[str, ...] | str = (
        AUTO_OBSERVE_ALL if args.auto_observe == [AUTO_OBSERVE_ALL] else tuple(args.auto_observe)
    )
    server = LwM2MServer(
        ServerConfig(
            host=args.host,
            port=None if args.no_coap else args.port,
            auto_observe=auto,
            min_lifetime=args.min_lifetime,
            max_lifetime=args.max_lifetime,
            max_registrations_per_host=args.max_per_address,
            registration_rate=args.registration_rate,
            notification_rate=args.notification_rate,
            notification_burst=2 * args.notification_rate,
            dtls_port=args.dtls_port,
            credentials=args.credentials,
            server_identity=args.server_identity,
            admission=Admission(args.admission),
            download_host=args.download_host,
        ),
        model,
    )
    server.events.subscribe(lambda event: write(event_to_json(event)))
    await server.start()
    bootstrap = None
    if args.bootstrap_port is not None:
        keyed = any(c.bootstrap is not None for c in args.bootstrap_configs.values())
        bootstrap = BootstrapServer(
            lambda: args.bootstrap_configs,
            model,
            host=args.host,
            port=args.bootstrap_port,
            dtls_port=(args.bootstrap_port + 1 if args.bootstrap_port else 0) if keyed else None,
            events=server.events,
        )
        await bootstrap.start()
    listening: dict[str, Any] = {"event": "listening", "host": args.host, "port": server.port or None}
    if args.dtls_port is not None:
        listening["dtls_port"] = server.dtls_port
    if bootstrap is not None:
        listening["bootstrap_port"] = bootstrap.port
        if bootstrap.dtls_port:
            listening["bootstrap_dtls_port"] = bootstrap.dtls_port
    write(listening)
    console = Console(server, write)
    loop = asyncio.get_running_loop()
    if fd is not None:
        if os.isatty(fd):
            print("Commands such as: read ENDPOINT /3/0/0, stats; Ctrl-C stops.", file=sys.stderr, flush=True)
        read_lines(fd, loop, console.submit)
    stop = asyncio.Event()
    if sys.platform != "win32":  # elsewhere Ctrl-C ends asyncio.run with KeyboardInterrupt
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await console.close()
        if bootstrap is not None:
            await bootstrap.stop()
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the server until stdin closes or a signal stops it."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args, stdin_fd()))


if __name__ == "__main__":
    main()
