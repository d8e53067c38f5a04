"""Firmware updates on loopback: seconds per MB pushed and pulled, and the server's memory meanwhile.

    .venv/bin/python -m tests.bench.bench_firmware [--size 10] [--methods push,pull] [--dtls] [--block-size 1024]

For each transport (coap://, and coaps:// with PSK when --dtls) and method, a fresh server
updates one simulated device (tests/sim, object 5) with an image of SIZE MB (10**6 bytes)
made by tests/sim/firmware.py. The device runs in a child process (multiprocessing, spawn),
so that the memory figures are the server's alone. Prints per run: the whole update's
seconds (start to succeeded: the transfer, Execute, the device's restart and new
registration), the transfer's seconds per MB and blocks per second (from the first to the
last "downloading" percent event), and how much the server process grew during the update:
its Python heap (tracemalloc's peak over the baseline taken once the server and the device
are up) and its resident memory (VmRSS sampled, and VmHWM, over VmRSS before the update,
taken after malloc_trim; memory an earlier run freed into Python's own pools is reused
without showing in RSS, so the heap figure is the one to compare between runs).

tracemalloc slows every allocation down: the timings of a run are taken without it, and the
heap figure comes from a second update of the same kind with it on (--no-heap skips that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import math
import multiprocessing
import os
import platform
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path as FilePath

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType, FirmwareInfo, Step
from custom_components.lwm2m.lwm2m.firmware.image import FirmwareImage
from custom_components.lwm2m.lwm2m.firmware.push import size_exponent
from custom_components.lwm2m.lwm2m.firmware.update import FirmwareSettings
from custom_components.lwm2m.lwm2m.security.credentials import PSK, Credential, Credentials
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import KEY, psk_device
from tests.sim import SimClient
from tests.sim.firmware import write_image

MB = 1_000_000
MIB = 1024 * 1024
ENDPOINT = "fw-bench"
PSK_IDENTITY = "fw-bench-id"
VERSION = "2.0.0"
SAMPLE_EVERY = 0.02  # seconds between VmRSS samples during an update


# -- the device, in a child process ---------------------------------------------------------------


def _device(port: int, dtls: bool, pull_block_size: int) -> None:
    """Run a SimClient with object 5 that registers to 127.0.0.1:port, until the process is killed."""
    asyncio.run(_run_device(port, dtls, pull_block_size))


async def _run_device(port: int, dtls: bool, pull_block_size: int) -> None:
    client = SimClient(ENDPOINT, port, dtls=psk_device(PSK_IDENTITY) if dtls else None, firmware=True)
    assert client.firmware is not None
    client.firmware.pull_block_size = pull_block_size
    await client.start()
    await asyncio.Event().wait()


# -- the server's memory ---------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    """Return a field of /proc/self/status in KiB (0 where there is none)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _trim() -> None:
    """Give the memory freed by earlier runs back to the system (glibc), for a fair RSS baseline."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssWatch:
    """The largest VmRSS (KiB) seen while it runs, sampled, and VmHWM when that could be reset."""

    def __init__(self) -> None:
        self.before = _status_kib("VmRSS")
        self._hwm = _reset_hwm()
        self.peak = self.before
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, _status_kib("VmRSS"))
            await asyncio.sleep(SAMPLE_EVERY)

    async def stop(self) -> float:
        """Stop sampling; return the growth in MiB."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        peak = max(self.peak, _status_kib("VmRSS"), _status_kib("VmHWM") if self._hwm else 0)
        return (peak - self.before) / 1024


# -- one update ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    total: float  # seconds, start to succeeded
    transfer: float  # seconds, first to last downloading event
    rss: float  # MiB over the baseline
    heap: float | None = None  # MiB over the baseline (tracemalloc), from a run of its own


async def update(image: FirmwareImage, method: str, *, dtls: bool, block_size: int, heap: bool) -> Result:
    """Start a server and a device, update the device once, stop both; return the figures."""
    credentials = Credentials([Credential(ENDPOINT, PSK, psk_identity=PSK_IDENTITY, psk_key=KEY)])
    config = ServerConfig(
        port=0,
        dtls_port=0 if dtls else None,
        credentials=credentials if dtls else Credentials(),
        firmware=FirmwareSettings(poll_interval=1.0, block_size=block_size),
    )
    server = LwM2MServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    registered = asyncio.Event()
    downloading: list[float] = []

    def listen(event: Event) -> None:
        if event.endpoint != ENDPOINT:
            return
        if event.type is EventType.REGISTERED:
            registered.set()
        elif event.type is EventType.FIRMWARE:
            assert isinstance(event.details, FirmwareInfo)
            if event.details.step is Step.DOWNLOADING and event.details.percent is not None:
                downloading.append(time.perf_counter())

    server.events.subscribe(listen)
    port = server.dtls_port if dtls else server.port
    assert port is not None
    child = multiprocessing.get_context("spawn").Process(
        target=_device, args=(port, dtls, block_size), name="bench firmware device", daemon=True
    )
    await loop.run_in_executor(None, child.start)
    try:
        async with asyncio.timeout(60):
            await registered.wait()
        _trim()
        if heap:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
        rss = RssWatch()
        started = time.perf_counter()
        job = server.firmware.start(ENDPOINT, image, method)
        info = await job.wait()
        total = time.perf_counter() - started
        rss_growth = await rss.stop()
        heap_growth = None
        if heap:
            heap_growth = (tracemalloc.get_traced_memory()[1] - baseline) / MIB
            tracemalloc.stop()
        if info.step is not Step.SUCCEEDED:
            raise SystemExit(f"the {method} update did not succeed: {info}")
        transfer = downloading[-1] - downloading[0] if len(downloading) > 1 else 0.0
        return Result(total, transfer, rss_growth, heap_growth)
    finally:
        child.terminate()
        await loop.run_in_executor(None, child.join, 10)
        await server.stop()


# -- the runs --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_firmware", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=float, default=10.0, help="image size in MB (10**6 bytes; default 10)")
    parser.add_argument("--methods", default="push,pull", help="comma-separated: push, pull (default both)")
    parser.add_argument("--dtls", action="store_true", help="over coaps:// (PSK) as well as coap://")
    parser.add_argument(
        "--block-size", type=int, default=1024, help="bytes a block: the server's push, the device's pull"
    )
    parser.add_argument("--no-heap", action="store_true", help="skip the tracemalloc run of each update")
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not args.methods or set(args.methods) - {"push", "pull"}:
        parser.error("--methods takes push, pull or both")
    try:
        size_exponent(args.block_size)
    except ValueError as err:
        parser.error(str(err))
    return args


async def run(args: argparse.Namespace) -> None:
    size = int(args.size * MB)
    cpus = os.cpu_count()
    print(
        f"firmware benchmark: Python {platform.python_version()}, aiocoap {package_version('aiocoap')}, "
        f"{cpus} CPUs; {size:,} bytes, blocks of {args.block_size} bytes, 1 MB = 10^6 bytes",
        flush=True,
    )
    transports = [("coap", False)] + ([("coaps", True)] if args.dtls else [])
    with tempfile.TemporaryDirectory(prefix="bench-firmware-") as tmp:
        file = FilePath(tmp) / "image.bin"
        await asyncio.to_thread(write_image, file, VERSION, size)
        image = await asyncio.to_thread(FirmwareImage.from_file, file, VERSION)
        blocks = math.ceil(size / args.block_size)
        for name, dtls in transports:
            for method in args.methods:
                result = await update(image, method, dtls=dtls, block_size=args.block_size, heap=False)
                if not args.no_heap:
                    traced = await update(image, method, dtls=dtls, block_size=args.block_size, heap=True)
                    result.heap = traced.heap
                per_mb = result.transfer / (size / MB)
                per_s = blocks / result.transfer if result.transfer else 0.0
                heap = "heap n/a" if result.heap is None else f"heap {result.heap:+.1f} MiB"
                print(
                    f"{method} {name:<5} {size / MB:6g} MB  {result.total:6.2f} s  {per_mb:6.3f} s/MB  "
                    f"{per_s:7,.0f} blocks/s  {heap}  RSS {result.rss:+.1f} MiB",
                    flush=True,
                )


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
