"""The server at saturation: offered load stepped up, raw aiocoap and this server side by side.

    .venv/bin/python -m tests.bench.bench_server [--devices 1000] [--generators 2]
        [--rates 5000,10000,20000,30000,40000,60000] [--register-rates 1000,2000,4000,8000,12000]
        [--seconds 3] [--skip notify|register]

The server under test runs in a process of its own (tests/bench/saturation_server.py);
several generator processes (tests/bench/notifier.py, each its own share of the devices
and a UDP socket per device) offer the load. Every step lasts SECONDS; for each it prints:

  offered/s     what the step asked for; sent/s what the generators sent
  delivered/s   notifications (or registrations) the server counted during the step
  share         delivered / sent
  server CPU    the server process's CPU time over the step, as a share of one core
  gen CPU       all generators' CPU time over the step, as a share of one core
  kernel drops  datagrams the kernel dropped on the server's socket (/proc/net/udp6)
  coalesced     notifications replaced by a later one of the same observation before they
                were handled (the server could not keep up; counted, the latest value kept)
  lost          sent, neither counted nor coalesced, one second after the step (drops included)
  p50, p99      notifications: from the send time (in the payload) to the server's callback

Raw aiocoap counts notifications in an observation callback (the payload parsed as a float,
as ours decodes it), and answers POST /rd with 2.01. This server counts NOTIFICATION events
(each decoded, sequence-checked and budgeted) and REGISTERED events, with and without an
auto-observation of each new endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


async def _json_line(proc: asyncio.subprocess.Process, timeout: float = 180) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"process {proc.pid} ended without an answer")
    return json.loads(line)


async def _count_until_quiet(counter: list[float], proc: asyncio.subprocess.Process) -> tuple[int, float]:
    """Wait for a generator to finish; return notifications seen and their arrival span (bench_dtls)."""
    await _json_line(proc)  # notified
    last = -1.0
    while counter[0] != last:
        last = counter[0]
        await asyncio.sleep(0.5)
    await proc.wait()
    return int(counter[0]), counter[2] - counter[1]


async def _spawn(module: str, *args: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *map(str, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def _ask(proc: asyncio.subprocess.Process, command: str, timeout: float = 180) -> dict[str, Any]:
    assert proc.stdin is not None
    proc.stdin.write(command.encode() + b"\n")
    await proc.stdin.drain()
    return await _json_line(proc, timeout)


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None and proc.stdin is not None:
        proc.stdin.write(b"quit\n")
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def cpu_seconds(pid: int) -> float:
    """Return a process's user and system CPU time."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def udp_drops(port: int) -> int:
    """Return the kernel's drop counter of the UDP socket bound to port (both tables: udp6 serves IPv4 too)."""
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    drops += int(fields[-1])
    return drops


@dataclass
class Step:
    offered: float
    sent: int
    delivered: int  # counted during the step
    counted: int  # counted by one second after it
    coalesced: int  # stood in for by a later one, by then
    seconds: float
    server_cpu: float
    gen_cpu: float
    drops: int
    p50: float | None = None
    p99: float | None = None

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds

    @property
    def share(self) -> float:
        return self.delivered / self.sent if self.sent else 0.0

    def row(self, name: str) -> str:
        latency = "" if self.p50 is None else f" | {self.p50:8.1f} | {self.p99:8.1f}"
        return (
            f"| {name:<22} | {self.offered:>9,.0f} | {self.sent / self.seconds:>9,.0f} | {self.rate:>11,.0f} |"
            f" {self.share:>5.0%} | {self.server_cpu:>10.0%} | {self.gen_cpu:>7.0%} | {self.drops:>12,} |"
            f" {self.coalesced:>9,} | {self.sent - self.counted - self.coalesced:>8,}{latency} |"
        )


class Rig:
    """One server process and its generators."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.server: asyncio.subprocess.Process | None = None
        self.port = 0
        self.gens: list[asyncio.subprocess.Process] = []
        self.ports: list[int] = []

    async def start(self, devices: int, generators: int, register: bool) -> None:
        self.server = await _spawn("tests.bench.saturation_server", self.mode)
        self.port = (await _json_line(self.server))["port"]
        share = -(-devices // generators)
        for g in range(generators):
            count = min(share, devices - g * share)
            args = [self.port, g * share, count] + (["--register"] if register else [])
            gen = await _spawn("tests.bench.notifier", *args)
            self.ports += (await _json_line(gen))["ports"]
            self.gens.append(gen)

    async def stop(self) -> None:
        for proc in [*self.gens, self.server]:
            if proc is not None:
                await _end(proc)

    async def step(self, command: str, rate: float, seconds: float) -> Step:
        assert self.server is not None
        before = await _ask(self.server, "mark")
        cpu0, drops0, wall0 = cpu_seconds(self.server.pid), udp_drops(self.port), time.monotonic()
        share = rate / len(self.gens)
        results = await asyncio.gather(*(_ask(gen, f"{command} {share} {seconds}") for gen in self.gens))
        cpu1, wall1 = cpu_seconds(self.server.pid), time.monotonic()
        during = await _ask(self.server, "mark")
        await asyncio.sleep(1.0)
        after = await _ask(self.server, "mark")
        elapsed = max(r["seconds"] for r in results)
        latencies = during if during["p99_ms"] else None
        return Step(
            offered=rate,
            sent=sum(r["sent"] for r in results),
            delivered=during["count"] - before["count"],
            counted=after["count"] - before["count"],
            coalesced=after["coalesced"] - before["coalesced"],
            seconds=elapsed,
            server_cpu=(cpu1 - cpu0) / (wall1 - wall0),
            gen_cpu=sum(r["cpu"] for r in results) / (wall1 - wall0),
            drops=udp_drops(self.port) - drops0,
            p50=latencies["p50_ms"] if latencies else None,
            p99=max(during["p99_ms"], after["p99_ms"]) if latencies else None,
        )


async def stepped(
    name: str, mode: str, command: str, rates: list[float], args: argparse.Namespace, *, register: bool
) -> list[Step]:
    rig = Rig(mode)
    steps: list[Step] = []
    try:
        await rig.start(args.devices, args.generators, register)
        assert rig.server is not None
        if command == "notify":
            asks = [_ask(gen, "observed 120", 180) for gen in rig.gens]
            if not register:  # the generators answer while the raw server observes them
                asks.append(_ask(rig.server, "observe " + ",".join(map(str, rig.ports)), 300))
            observed = (await asyncio.gather(*asks))[: len(rig.gens)]
            assert sum(o["observed"] for o in observed) == args.devices, observed
        for rate in rates:
            step = await rig.step(command, rate, args.seconds)
            steps.append(step)
            print(step.row(name), flush=True)
            if step.share < 0.5:
                break  # well past saturation
    finally:
        await rig.stop()
    return steps


HEADER = "| {:<22} | offered/s |    sent/s | delivered/s | share | server CPU | gen CPU | kernel drops | coalesced |     lost{} |"


def _best(steps: list[Step]) -> float:
    return max((s.rate for s in steps), default=0.0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--rates", default="5000,10000,20000,30000,40000,60000")
    parser.add_argument("--register-rates", default="1000,2000,4000,8000,12000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--skip", choices=["notify", "register"])
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores; {args.devices} devices over {args.generators} generator processes; "
        f"{args.seconds:g} s per step"
    )
    summary = []
    if args.skip != "notify":
        rates = [float(r) for r in args.rates.split(",")]
        print("\nnotifications (NON, text/plain, /3303/0/5700)\n")
        print(HEADER.format("server", " |   p50 ms |   p99 ms"))
        raw = await stepped("raw aiocoap", "raw-notify", "notify", rates, args, register=False)
        ours = await stepped("this server", "ours-notify", "notify", rates, args, register=True)
        summary.append(("notifications", _best(raw), _best(ours)))
    if args.skip != "register":
        rates = [float(r) for r in args.register_rates.split(",")]
        print("\nregistrations (new endpoints, POST /rd)\n")
        print(HEADER.format("server", ""))
        best = {}
        for name, mode in [
            ("raw aiocoap", "raw-register"),
            ("this server", "ours-register"),
            ("this server, observing", "ours-observe"),
        ]:
            best[mode] = _best(await stepped(name, mode, "register", rates, args, register=False))
        summary.append(("registrations", best["raw-register"], best["ours-register"]))
        summary.append(("registrations, observing", best["raw-register"], best["ours-observe"]))
    print("\nat saturation (the best step)\n")
    print(f"| {'measure':<26} | raw aiocoap/s | this server/s | ratio |")
    for what, raw_best, ours_best in summary:
        print(f"| {what:<26} | {raw_best:>13,.0f} | {ours_best:>13,.0f} | {ours_best / raw_best:>5.0%} |")


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(main())
    print(f"\n({time.monotonic() - started:.0f} s)")
