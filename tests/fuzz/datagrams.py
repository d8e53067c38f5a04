"""The datagram campaign: a real LwM2MServer on 127.0.0.1, a legitimate simulated device that
registers once and is read and notifies throughout, and a fuzzer that sends hostile datagrams
from many UDP ports.

The fuzzer is a crowd of devices: each socket registers (valid and mutated Registers), learns
its location from the answers, updates, de-registers, sends, uploads in blocks, and answers
the requests the server sends it (the campaign reads, observes, writes and executes on the
fuzzer's registrations as an integration would), with valid, mutated or no answers and
notifications. About a third of all datagrams are byte-level mutations, some are random.

Findings: a log record at ERROR or above, or with a traceback; an exception the event loop's
handler sees; an operation of the server's API that raises anything but LwM2MError; the
legitimate device failing to register, be read, notify or update; RSS growth beyond a limit.
The server's answers are counted by code (rate limits' 4.29 and 5.03 are normal answers).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import random
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.errors import LwM2MError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer

from .coap import MAX_DATAGRAM, DeviceMessages
from .mutate import mutate, random_bytes

LEGIT = "legit-device"
P = Path.parse


def rss_kib() -> int:
    """This process's resident set size in KiB (VmRSS), 0 where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped on the UDP socket bound to port (its receive buffer was full)."""
    for table in ("/proc/net/udp6", "/proc/net/udp"):
        try:
            with open(table, encoding="ascii") as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return int(fields[-1])
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return None


@dataclass(slots=True)
class Finding:
    """Problems of one kind from one place, with the first one's details."""

    kind: str  # "log", "loop", "api", "legit", "rss"
    key: str
    count: int = 0
    example: str = ""
    reproducer: str = ""  # hex of the datagrams sent just before, for log and loop findings


@dataclass(slots=True)
class LegitStats:
    """What the legitimate device got from the server."""

    registered: bool = False
    reads_ok: int = 0
    reads_failed: int = 0
    notifications_ok: int = 0
    notifications_failed: int = 0
    updates_ok: int = 0
    updates_failed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def served(self) -> bool:
        return (
            self.registered
            and self.reads_ok > 0
            and self.notifications_ok > 0
            and not (self.reads_failed or self.notifications_failed or self.updates_failed)
        )


@dataclass(slots=True)
class DatagramReport:
    """What a datagram campaign did and found."""

    datagrams: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    ports: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # server answers received by the fuzzer, by code
    server_requests: int = 0  # requests the server sent to the fuzzer's devices
    operations: dict[str, int] = field(default_factory=dict)  # outcome of the API calls on fuzzer devices
    legit: LegitStats = field(default_factory=LegitStats)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)  # WARNING records without a traceback, by template
    warning_examples: dict[str, str] = field(default_factory=dict)  # the first of each template
    rss_before: int = 0
    rss_after: int = 0
    rss_peak: int = 0
    kernel_drops: int | None = None
    server_state: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def add(self, kind: str, key: str, example: str, reproducer: str = "") -> None:
        finding = self.findings.get((kind, key))
        if finding is None:
            finding = self.findings[(kind, key)] = Finding(kind, key, example=example[:3000], reproducer=reproducer)
        finding.count += 1


class _Capture(logging.Handler):
    """Log records: ERROR and above or with a traceback are findings; WARNINGs are counted."""

    def __init__(self, report: DatagramReport, recent: collections.deque[bytes]) -> None:
        super().__init__(logging.WARNING)
        self.report = report
        self.recent = recent

    def emit(self, record: logging.LogRecord) -> None:
        template = str(record.msg)[:200]
        if record.levelno >= logging.ERROR or record.exc_info:
            exc = record.exc_info[1] if record.exc_info else None
            key = f"{record.levelname} {record.name}: {template}" + (f" [{type(exc).__name__}]" if exc else "")
            text = record.getMessage()[:1000]
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))[-2500:]
            self.report.add("log", key, text, _hex(self.recent))
        else:
            self.report.warnings[template] = self.report.warnings.get(template, 0) + 1
            self.report.warning_examples.setdefault(template, record.getMessage()[:500])


def _hex(recent: collections.deque[bytes]) -> str:
    return "\n".join(d.hex() for d in list(recent)[-5:])


class _Peer(asyncio.DatagramProtocol):
    """One fuzzer socket: remembers the locations it was given and the server's requests."""

    def __init__(self, fuzzer: _Fuzzer) -> None:
        self.fuzzer = fuzzer
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.regs: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            message = Message.decode(data)
        except Exception:
            self.fuzzer.report.answers["undecodable"] = self.fuzzer.report.answers.get("undecodable", 0) + 1
            return
        fuzzer = self.fuzzer
        if message.code.is_request():
            fuzzer.report.server_requests += 1
            fuzzer.requests.append((self, message))
            if message.opt.observe == 0:
                fuzzer.observed.append((self, message))
            return
        name = str(message.code.dotted) if message.code else ("ACK" if message.mtype == 2 else "RST")
        fuzzer.report.answers[name] = fuzzer.report.answers.get(name, 0) + 1
        location = tuple(message.opt.location_path)
        if message.code == Code.CREATED and len(location) == 2 and location[0] == "rd":
            self.regs.append(location[1])
            del self.regs[:-4]

    def error_received(self, exc: Exception) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def send(self, data: bytes, server: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data[:MAX_DATAGRAM], server)


class _Fuzzer:
    """Chooses, builds, mutates and sends datagrams; answers the server's requests."""

    def __init__(self, rng: random.Random, report: DatagramReport, server: tuple[str, int]) -> None:
        self.rng = rng
        self.report = report
        self.server = server
        self.messages = DeviceMessages(rng)
        self.peers: list[_Peer] = []
        self.requests: collections.deque[tuple[_Peer, Message]] = collections.deque(maxlen=256)
        self.observed: collections.deque[tuple[_Peer, Message]] = collections.deque(maxlen=256)
        self.recent: collections.deque[bytes] = collections.deque(maxlen=64)  # for splicing and reproducers
        self.sequence = 0

    async def open(self, count: int) -> None:
        for _ in range(count):
            await self.new_peer()

    async def new_peer(self) -> _Peer:
        loop = asyncio.get_running_loop()
        _transport, peer = await loop.create_datagram_endpoint(
            lambda: _Peer(self), local_addr=("127.0.0.1", 0), family=socket.AF_INET
        )
        self.peers.append(peer)
        self.report.ports += 1
        return peer

    async def rotate(self) -> None:
        """Close one socket, open another (a new source port)."""
        old = self.peers.pop(self.rng.randrange(len(self.peers)))
        if old.transport is not None:
            old.transport.close()
        await self.new_peer()

    def close(self) -> None:
        for peer in self.peers:
            if peer.transport is not None:
                peer.transport.close()
        self.peers.clear()

    def batch(self) -> tuple[str, _Peer, list[bytes]]:
        """The next datagrams to send, from which socket, and what they are."""
        rng = self.rng
        msgs = self.messages
        peer = rng.choice(self.peers)
        roll = rng.random()
        if roll < 0.16 and self.requests:
            answering, request = self.requests.popleft()
            return "answer", answering, msgs.answer(request)
        if roll < 0.22 and self.observed:
            observing, request = rng.choice(self.observed)
            self.sequence += rng.choice((1, 1, 1, -1, 1 << 23, 5))
            return "notification", observing, [msgs.notification(request, self.sequence)]
        if roll < 0.40:
            return "register", peer, [msgs.register()]
        if roll < 0.52:
            reg = rng.choice(peer.regs) if peer.regs and rng.random() < 0.9 else rng.choice(("x", "0", "", "é" * 10))
            return "update", peer, [msgs.update(reg)]
        if roll < 0.55:
            reg = rng.choice(peer.regs) if peer.regs else "none"
            return "deregister", peer, [msgs.deregister(reg)]
        if roll < 0.67:
            return "send", peer, [msgs.send()]
        if roll < 0.698:
            return "block1", peer, msgs.block1_upload()
        if roll < 0.70:
            return "block1 never finished", peer, msgs.endless_block1(rng.choice((16, 80)))
        if roll < 0.82:
            return "stray", peer, [msgs.stray()]
        if roll < 0.88:
            return "random", peer, [random_bytes(rng, 1200)]
        # a byte-level mutation of anything sent recently (or of a fresh Register)
        base = rng.choice(self.recent) if self.recent else msgs.register()
        return "mutated", peer, [mutate(rng, base, list(self.recent)[-16:], max_len=MAX_DATAGRAM)]


class _Legit:
    """The legitimate device: registered once, read, observed and updated throughout."""

    def __init__(self, server: LwM2MServer, report: DatagramReport, interval: float) -> None:
        self.server = server
        self.stats = report.legit
        self.interval = interval
        self.client: Any = None
        self.notified: asyncio.Queue[object] = asyncio.Queue()
        self.stopping = asyncio.Event()

    def on_event(self, event: Event) -> None:
        if event.type is EventType.NOTIFICATION and event.endpoint == LEGIT:
            self.notified.put_nowait(event.values.get(P("/3303/0/5700")))

    async def start(self) -> None:
        from tests.sim import SimClient

        self.client = SimClient(LEGIT, self.server.port, lifetime=3600)
        self.server.events.subscribe(self.on_event)
        response = await self.client.start()
        self.stats.registered = response is not None and response.code == Code.CREATED
        if not self.stats.registered:
            self.fail("register", f"answered {response}")
            return
        await self.server.endpoint(LEGIT).observe("/3303/0/5700", timeout=10)
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self.notified.get_nowait()

    def fail(self, what: str, why: str) -> None:
        self.stats.failures.append(f"{time.strftime('%H:%M:%S')} {what}: {why}"[:300])
        del self.stats.failures[:-20]

    async def one_round(self, n: int) -> None:
        client, endpoint = self.client, self.server.endpoint(LEGIT)
        client.set_value("/3/0/9", n % 101)
        try:
            response = await endpoint.read("/3/0/9", timeout=10)
            if response.value("/3/0/9") == n % 101:
                self.stats.reads_ok += 1
            else:
                self.stats.reads_failed += 1
                self.fail("read", f"got {response.value('/3/0/9')!r}, not {n % 101}")
        except Exception as err:
            self.stats.reads_failed += 1
            self.fail("read", repr(err))
        value = 20.0 + n / 8
        client.set_value("/3303/0/5700", value)
        got: object = None
        try:
            async with asyncio.timeout(10):
                while (got := await self.notified.get()) != value:
                    pass
            self.stats.notifications_ok += 1
        except TimeoutError:
            self.stats.notifications_failed += 1
            self.fail("notification", f"{value} did not arrive in 10 s (the last one: {got!r})")
        if n % 20 == 19:
            try:
                answer = await client.update()
                if answer.code == Code.CHANGED:
                    self.stats.updates_ok += 1
                else:
                    self.stats.updates_failed += 1
                    self.fail("update", str(answer.code))
            except Exception as err:
                self.stats.updates_failed += 1
                self.fail("update", repr(err))

    async def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            await self.one_round(n)
            n += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self.stopping.wait()

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.stop()


async def _operate(
    server: LwM2MServer, rng: random.Random, report: DatagramReport, recent: collections.deque[bytes]
) -> None:
    """One API call on a fuzzer device, as an integration would make it."""
    names = [reg.endpoint for reg in server.registrations if reg.endpoint != LEGIT]
    if not names:
        return
    endpoint = server.endpoint(rng.choice(names))
    op = rng.choice(("read", "read", "observe", "observe", "discover", "write", "execute", "cancel", "composite"))
    path = rng.choice(("/3/0/9", "/3/0", "/3303/0/5700", "/3", "/40000/0/3", "/1/0/1"))
    try:
        if op == "read":
            await endpoint.read(path, timeout=3)
        elif op == "observe":
            await endpoint.observe(path, timeout=3)
        elif op == "discover":
            await endpoint.discover("/3/0", timeout=3)
        elif op == "write":
            await endpoint.write("/1/0/1", rng.randint(1, 1000), timeout=3)
        elif op == "execute":
            await endpoint.execute("/3/0/4", timeout=3)
        elif op == "cancel":
            await endpoint.cancel_observe(path, timeout=3)
        else:
            await endpoint.read_composite(["/3/0/9", "/3303/0"], timeout=3)
        outcome = f"{op} ok"
    except LwM2MError as err:
        outcome = f"{op} {type(err).__name__}"
    except Exception as err:
        outcome = f"{op} {type(err).__name__}"
        where = traceback.extract_tb(err.__traceback__)[-1]
        report.add(
            "api",
            f"{op} raised {type(err).__name__} at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}",
            "".join(traceback.format_exception(err))[-2500:],
            _hex(recent),
        )
    report.operations[outcome] = report.operations.get(outcome, 0) + 1


def server_state(server: LwM2MServer) -> dict[str, int]:
    """Sizes of what the server holds: registrations, observations, dedup window, Block1 uploads."""
    state = {
        "registrations": len(server.registrations),
        "observations": len(server.observations),
        "malformed datagrams counted": server.transport.malformed.count,
        "requests rendered": server.stats.requests_in,
    }
    if server.transport.dedup is not None:
        state["dedup window"] = len(server.transport.dedup)
    site = getattr(server.transport, "_site", None)
    spool: Any = getattr(site, "block1", None) if hasattr(site, "block1") else getattr(site, "_block1", None)
    with contextlib.suppress(Exception):
        if hasattr(spool, "_uploads"):  # the project's own spool
            uploads = dict(spool._uploads)
            state["block1 uploads held"] = len(uploads)
            state["block1 bytes held"] = sum(len(u.body) for u in uploads.values())
        elif hasattr(spool, "_assemblies"):  # aiocoap's
            held = dict(spool._assemblies._items)
            state["block1 uploads held"] = len(held)
            state["block1 bytes held"] = sum(len(m.payload) for m in held.values())
    return state


async def run(
    count: int,
    seed: int,
    *,
    sockets: int = 64,
    rotate_every: int = 50,
    legit_interval: float = 0.3,
    operate_every: int = 40,
    max_operations: int = 24,
    rss_limit_kib: int = 200 * 1024,
    config: ServerConfig | None = None,
    progress: Callable[[DatagramReport], None] | None = None,
) -> DatagramReport:
    """Send count datagrams to a fresh server while a legitimate device is served; return the report."""
    rng = random.Random(seed)
    report = DatagramReport()
    loop = asyncio.get_running_loop()
    recent_sent: collections.deque[bytes] = collections.deque(maxlen=8)
    capture = _Capture(report, recent_sent)
    root = logging.getLogger()
    root.addHandler(capture)
    previous_level = root.level
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    previous_handler = loop.get_exception_handler()

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        key = f"{context.get('message', '')[:120]} [{type(exc).__name__ if exc else '-'}]"
        text = repr(context)[:1500]
        if exc is not None:
            text += "\n" + "".join(traceback.format_exception(exc))[-2500:]
        report.add("loop", key, text, _hex(recent_sent))

    loop.set_exception_handler(on_loop_error)
    server = LwM2MServer(config or ServerConfig(host="::", port=0, request_timeout=5, expiry_check_interval=0.2))
    legit = _Legit(server, report, legit_interval)
    fuzzer: _Fuzzer | None = None
    legit_task: asyncio.Task[None] | None = None
    operations: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    try:
        await server.start()
        target = ("127.0.0.1", server.port)
        drops_before = udp_drops(server.port)
        await legit.start()
        gc.collect()
        report.rss_before = report.rss_peak = rss_kib()
        legit_task = loop.create_task(legit.run(), name="legit device")
        fuzzer = _Fuzzer(rng, report, target)
        await fuzzer.open(sockets)
        sent = 0
        next_rotation = rotate_every
        next_operation = operate_every
        while sent < count:
            kind, peer, datagrams = fuzzer.batch()
            report.by_kind[kind] = report.by_kind.get(kind, 0) + len(datagrams)
            for built in datagrams:
                if sent >= count:
                    break
                data = built
                if kind != "mutated" and rng.random() < 0.12:  # mutate a valid one now and then
                    data = mutate(rng, built, list(fuzzer.recent)[-16:], max_len=MAX_DATAGRAM)
                    report.by_kind["mutated"] = report.by_kind.get("mutated", 0) + 1
                peer.send(data, target)
                fuzzer.recent.append(data)
                recent_sent.append(data)
                sent += 1
                # let the server (and everyone else in the loop) take it
                await asyncio.sleep(0)
            if sent >= next_rotation:
                next_rotation += rotate_every
                await fuzzer.rotate()
            if sent >= next_operation:
                next_operation += operate_every
                if len(operations) < max_operations:
                    task = loop.create_task(_operate(server, rng, report, recent_sent))
                    operations.add(task)
                    task.add_done_callback(operations.discard)
            if sent % 256 < len(datagrams):
                await asyncio.sleep(0.002)
                report.rss_peak = max(report.rss_peak, rss_kib())
            if progress is not None and sent % 10_000 < len(datagrams):
                report.datagrams = sent
                report.elapsed = time.perf_counter() - started
                progress(report)
        report.datagrams = sent
        # the last answers and operations
        async with asyncio.timeout(15):
            while operations:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        legit.stopping.set()
        await legit_task
        # one more round: the device is still served after the flood
        await legit.one_round(10**6)
        report.server_state = server_state(server)
        drops_after = udp_drops(server.port)
        if drops_before is not None and drops_after is not None:
            report.kernel_drops = drops_after - drops_before
        gc.collect()
        report.rss_after = rss_kib()
        report.rss_peak = max(report.rss_peak, report.rss_after)
    except TimeoutError:
        report.add("legit", "the campaign's last operations did not end in 15 s", repr(operations)[:1000])
    finally:
        report.elapsed = time.perf_counter() - started
        legit.stopping.set()
        for task in list(operations):
            task.cancel()
        if legit_task is not None and not legit_task.done():
            legit_task.cancel()
            with contextlib.suppress(BaseException):
                await legit_task
        if fuzzer is not None:
            fuzzer.close()
        await legit.stop()
        await server.stop()
        await asyncio.sleep(0.05)
        loop.set_exception_handler(previous_handler)
        root.removeHandler(capture)
        root.setLevel(previous_level)
    stats = report.legit
    if not stats.registered:
        report.add("legit", "the legitimate device could not register", "\n".join(stats.failures))
    for what, failed in (
        ("read", stats.reads_failed),
        ("notification", stats.notifications_failed),
        ("update", stats.updates_failed),
    ):
        if failed:
            report.add("legit", f"the legitimate device's {what}s failed {failed} times", "\n".join(stats.failures))
    if stats.registered and not (stats.reads_ok and stats.notifications_ok):
        report.add("legit", "the legitimate device was never read or never notified", "\n".join(stats.failures))
    if report.rss_after - report.rss_before > rss_limit_kib:
        report.add(
            "rss",
            f"RSS grew by more than {rss_limit_kib // 1024} MiB",
            f"{report.rss_before} KiB -> {report.rss_after} KiB (peak {report.rss_peak} KiB)",
        )
    return report
