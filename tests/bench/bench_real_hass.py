"""What users get: a real Home Assistant process, every value, on time (issue #14).

    python -m tests.bench.bench_real_hass --devices 1000 --rates 2000,5000 --seconds 10
    python -m tests.bench.bench_real_hass --devices 1000,5000        (one Home Assistant each)

For each number of devices it starts `python -m homeassistant` on a fresh config folder with
what a default installation runs that matters here (the recorder on SQLite, history,
logbook), onboards it, adds the integration through its config flow (REST, as the UI does;
the per-address cap is set to 0 in its options: every simulated device talks from
127.0.0.1), and subscribes over the WebSocket API to state_changed, as an open dashboard
does. The devices are tests/bench/loadgen.py's (objects 3, 3303, 3304; two observed values
each) in a process of their own. It prints:

- the storm: every Register answered, every device observed, its entities;
- for each rate: notifications sent, values that reached a state (and the entities whose
  final state is the last value sent to them), the values coalesced under overload (counted
  in the integration's diagnostics: each stood in for by a later value of its entity),
  latency from the notification to the state (its last_changed, written by Home Assistant)
  and to the subscriber's receipt (p50, p99, max), the longest stall of Home Assistant's
  event loop (a 20 ms timer inside it, and WebSocket ping round trips every 20 ms on a
  connection of their own: the subscriber shares the machine's cores), how long the
  recorder took after the phase to write what it had queued, Home Assistant's RSS per device;
- the ceiling: the same number of state writes a second from a trivial integration
  (bench_ceiling, hass.states.async_set on as many entities), measured the same way, so that
  our share of what Home Assistant itself does is a ratio.

Each phase begins once the recorder has written everything queued before it (its backlog,
WebSocket recorder/info, is 0), so that no phase pays for the one before.

For finding what stalls the loop: each full collection is printed with its CPU time, its
thread and how many objects it walked (counting them holds that thread about 10 ms more), and
each stall over 100 ms with the collections during it; --census lists by type what the collector walks (after the storm, after each phase, and at
the first full collection of each phase); --py-spy records which thread held the GIL, in what.
What-ifs on Home Assistant's own runtime, not what the integration does: --commit-interval
(the recorder's), --refreeze, --switch-interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.bench_server import udp_drops
from tests.bench.loadgen import FIRST_VALUE
from tests.live.broker import free_tcp_port, free_udp_port
from tests.live.hass import HassProcess, prepare

EXTRA = "recorder:\nhistory:\nlogbook:\napi:\nconfig:\nbench_ceiling:\n"
PASSWORD = "a-long-bench-password"  # a throwaway instance
CEILING = '''"""A trivial integration: N sensor states written at a rate, for the benchmark's ceiling.

It also times Python's garbage collections (in any thread: each one holds every thread).
"""
import asyncio, gc, sys, threading, time
from homeassistant.core import SupportsResponse

DOMAIN = "bench_ceiling"
# (generation, seconds, the collecting thread's CPU seconds, its name, objects it walked, when it
# began) of each collection since the last gc_pauses call; objects are counted for full ones only
PAUSES = []
LAGS = []  # how late each 20 ms timer of the event loop fired, since the last gc_pauses call
STALLS = []  # (when, how late) of each timer over 100 ms late
CENSUS = []  # the first full collection's census since the last gc_pauses call, if census: true
_STARTED = [0.0, 0.0, 0]


def _timed(phase, info):
    if phase == "start":
        walked = len(gc.get_objects()) if info["generation"] == 2 else 0
        _STARTED[:] = [time.perf_counter(), time.thread_time(), walked]
    else:
        wall, cpu, walked = _STARTED
        thread = threading.current_thread().name
        PAUSES.append((info["generation"], time.perf_counter() - wall, time.thread_time() - cpu, thread, walked, wall))


async def _lag(loop):
    while True:
        due = loop.time() + 0.02
        await asyncio.sleep(0.02)
        LAGS.append(loop.time() - due)
        if LAGS[-1] > 0.1:
            STALLS.append((loop.time(), LAGS[-1]))


def _kinds(top):
    """(how many objects the collector tracks and does not keep frozen, the most common types)."""
    counts = {}
    for obj in gc.get_objects():
        kind = type(obj)
        key = f"{kind.__module__}.{kind.__qualname__}"
        counts[key] = counts.get(key, 0) + 1
    return sum(counts.values()), sorted(counts.items(), key=lambda item: -item[1])[:top]


def _census_at_full(phase, info):
    # what the first full collection since the last gc_pauses call walks (census: true)
    if phase == "start" and info["generation"] == 2 and not CENSUS:
        CENSUS.append(_kinds(12))


def _refreeze(phase, info):
    # what-if (refreeze: true): every full collection's survivors frozen, so that the next one
    # walks only what came since. Frozen objects that later become cyclic garbage stay for good.
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


async def async_setup(hass, config):
    options = config.get(DOMAIN) or {}
    if options.get("switch_interval"):  # what-if: the GIL handed between threads this often (s)
        sys.setswitchinterval(options["switch_interval"])
    if options.get("refreeze"):
        gc.callbacks.append(_refreeze)
    if options.get("census"):
        gc.callbacks.append(_census_at_full)
    gc.callbacks.append(_timed)
    hass.async_create_background_task(_lag(hass.loop), "bench_ceiling loop lag")

    async def gc_pauses(call):
        taken, lags, stalls, census = PAUSES[:], sorted(LAGS), STALLS[:], CENSUS[:]
        PAUSES.clear()
        LAGS.clear()
        STALLS.clear()
        CENSUS.clear()
        # each stall, with the collections that ran during it: (lag, [(generation, seconds, thread)])
        during = [
            (lag, [(g, t, n) for g, t, _, n, _, began in taken if when - lag - 0.02 <= began <= when])
            for when, lag in stalls
        ]
        return {
            "pauses": [pause[:5] for pause in taken],
            "stalls": during,
            "census_at_full": census[0] if census else None,
            "tracked": len(gc.get_objects()),
            "frozen": gc.get_freeze_count(),
            "lag_max": lags[-1] if lags else 0.0,
            "lag_p99": lags[int(len(lags) * 0.99)] if lags else 0.0,
            "lag_count": len(lags),
        }

    hass.services.async_register(DOMAIN, "gc_pauses", gc_pauses, supports_response=SupportsResponse.ONLY)

    async def recorder_caches(call):
        # What the recorder does by itself every 5 minutes: size its caches (entity ids, state
        # attributes) for the entities there are now. A benchmark run is younger than that.
        from homeassistant.components.recorder import get_instance
        from homeassistant.components.recorder.tasks import AdjustLRUSizeTask

        get_instance(hass).queue_task(AdjustLRUSizeTask())

    hass.services.async_register(DOMAIN, "recorder_caches", recorder_caches)

    async def census(call):
        # what the collector walks: tracked objects by type (its module and name), the most first
        total, top = _kinds(call.data.get("top", 25))
        return {"total": total, "top": top}

    hass.services.async_register(DOMAIN, "census", census, supports_response=SupportsResponse.ONLY)

    async def run(call):
        entities, rate, seconds, first = (call.data[k] for k in ("entities", "rate", "seconds", "first"))
        # Each value is due at its moment on the clock (start + n / rate), and its latency counts
        # from then: a value the stalled loop writes late is late, as a notification would be.
        sent_at, start, wall = [], time.perf_counter(), time.time()
        while time.perf_counter() - start < seconds:
            for i in range(entities):
                value = first + len(sent_at)
                sent_at.append(wall + len(sent_at) / rate)
                hass.states.async_set(f"sensor.ceiling_{i}", value, {"unit_of_measurement": "°C"})
                ahead = len(sent_at) / rate - (time.perf_counter() - start)
                if ahead > 0.005:
                    await asyncio.sleep(ahead)
        return {"sent_at": sent_at}

    hass.services.async_register(DOMAIN, "run", run, supports_response=SupportsResponse.ONLY)
    return True
'''
MANIFEST = {
    "domain": "bench_ceiling",
    "name": "Bench ceiling",
    "version": "1.0",
    "codeowners": [],
    "documentation": "https://example.invalid",
    "requirements": [],
    "iot_class": "local_push",
}


class Client:
    """Home Assistant's REST and WebSocket APIs, as the frontend uses them."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base, self.token = session, base, ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = iter(range(1, 10**9))
        # (entity_id, state, when it came, its last_changed) of each state_changed
        self.arrived: list[tuple[str, str, float, float]] = []
        self.created: dict[str, float] = {}  # entity_id -> when its first state came (the entity was added)
        self.answers: dict[int, asyncio.Future[tuple[float, Any]]] = {}  # pongs and results, on the pinger
        self.pinger: aiohttp.ClientWebSocketResponse | None = None  # a WebSocket of its own, subscribed to nothing
        self.closed_at: float | None = None  # when Home Assistant closed the WebSocket, if it did
        self.tracked = (0, 0)  # objects the garbage collector tracks, and of those frozen, at the last gc_pauses
        self.lag = (0.0, 0.0, 0)  # the event loop's longest and p99 lag (s), and how many timers, at the last gc_pauses
        self.stalls: list[Any] = []  # (lag, [(generation, seconds, thread) of the collections during it]) over 100 ms
        self.census_at_full: Any = None  # (total, [(type, count)]) the first full collection walked (--census)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()

    async def onboard(self) -> None:
        client_id = self.base + "/"
        user = {"client_id": client_id, "name": "Bench", "username": "bench", "password": PASSWORD, "language": "en"}
        code = (await self.call("POST", "/api/onboarding/users", json=user))["auth_code"]
        grant = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        self.token = (await self.call("POST", "/auth/token", data=grant))["access_token"]
        for step in ("core_config", "analytics"):
            await self.call("POST", f"/api/onboarding/{step}", json={})

    async def add_integration(self, lwm2m_port: int) -> str:
        """The config flow, as the UI runs it; then the options with the per-address cap off."""
        flow = await self.call("POST", "/api/config/config_entries/flow", json={"handler": "lwm2m"})
        flow = await self.call(
            "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", json={"next_step_id": "server"}
        )
        form = {
            "host": "127.0.0.1",
            "port": lwm2m_port,
            "dtls_port": 0,
            "admission": "open",  # the benchmark's thousands of devices: no one to click Add
            "min_lifetime": 10,
            "max_lifetime": 86400,
        }
        done = await self.call("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", json=form)
        assert done["type"] == "create_entry", done
        entry_id: str = done["result"]["entry_id"]
        options = await self.call("POST", "/api/config/config_entries/options/flow", json={"handler": entry_id})
        values = {
            "min_lifetime": 10,
            "max_lifetime": 86400,
            "auto_observe": "entities",
            "max_registrations_per_host": 0,
        }
        done = await self.call("POST", f"/api/config/config_entries/options/flow/{options['flow_id']}", json=values)
        assert done["type"] == "create_entry", done
        return entry_id

    async def coalesced(self, entry_id: str) -> int:
        """Return how many notifications the integration coalesced so far (its diagnostics say)."""
        diagnostics = await self.call("GET", f"/api/diagnostics/config_entry/{entry_id}")
        return int(diagnostics["data"]["server"]["stats"]["coalesced"])

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(self.base + "/api/websocket", max_msg_size=0)
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": self.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        return ws

    async def subscribe(self) -> None:
        """Connect (again, if Home Assistant closed the last connection) and subscribe to state_changed.

        Pings and commands go over a second connection: on this one they would wait behind the
        state_changed messages queued for the subscriber.
        """
        self.closed_at = None
        self.ws = await self._connect()
        await self.ws.send_json({"id": next(self.ids), "type": "subscribe_events", "event_type": "state_changed"})
        asyncio.get_running_loop().create_task(self._read())
        if self.pinger is None:
            self.pinger = await self._connect()
            asyncio.get_running_loop().create_task(self._answers(self.pinger))

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            now = time.time()
            data = json.loads(message.data)
            for item in data if isinstance(data, list) else [data]:
                if item.get("type") == "event":
                    data = item["event"]["data"]
                    new = data.get("new_state")
                    if new is not None:
                        changed = datetime.fromisoformat(new["last_changed"]).timestamp()
                        self.arrived.append((new["entity_id"], new["state"], now, changed))
                        if data.get("old_state") is None:
                            self.created.setdefault(new["entity_id"], now)
        # Home Assistant closed the connection (it drops a subscriber that falls 4,096 messages behind)
        self.closed_at = time.time()

    async def _answers(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                item = json.loads(message.data)
                if (future := self.answers.pop(item.get("id"), None)) is not None:
                    future.set_result((time.time(), item))
        for future in self.answers.values():
            future.cancel()

    async def command(self, body: dict[str, Any]) -> tuple[float, Any]:
        """Send a WebSocket command on the pinger's connection: (when the answer came, the answer)."""
        assert self.pinger is not None
        ident = next(self.ids)
        future: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        self.answers[ident] = future
        await self.pinger.send_json({"id": ident, **body})
        return await future

    async def ping(self) -> float:
        """One WebSocket ping's round trip (s): how long Home Assistant's loop took to answer."""
        sent = time.time()
        answered, _ = await self.command({"type": "ping"})
        return answered - sent

    async def gc_pauses(self) -> list[tuple[int, float, float, str, int]]:
        """Each garbage collection in Home Assistant since the last call.

        (generation, seconds, CPU seconds of the thread that collected, its name, objects walked:
        counted for full collections only).
        """
        answer = (await self.call("POST", "/api/services/bench_ceiling/gc_pauses?return_response", json={}))[
            "service_response"
        ]
        self.tracked = (answer["tracked"], answer["frozen"])
        self.lag = (answer["lag_max"], answer["lag_p99"], answer["lag_count"])
        self.stalls = answer["stalls"]
        self.census_at_full = answer["census_at_full"]
        return [(int(g), float(t), float(c), str(n), int(w)) for g, t, c, n, w in answer["pauses"]]

    async def recorder_caught_up(self, limit: float = 600.0) -> float:
        """Wait until the recorder has written everything queued (its backlog is 0); return the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < limit:
            _, answer = await self.command({"type": "recorder/info"})
            if answer["result"]["backlog"] == 0:
                break
            await asyncio.sleep(0.1)
        return time.monotonic() - began


async def every_entity(client: Client, began_at: float, quiet: float = 3.0) -> float:
    """Wait until no entity of the devices was added for quiet seconds; return when the last one
    was, in seconds from the storm's start."""
    count = -1
    while len(client.created) != count:
        count = len(client.created)
        await asyncio.sleep(quiet)
    ours = [when for entity_id, when in client.created.items() if entity_id.split(".", 1)[1].startswith("bench_")]
    return max(ours, default=began_at) - began_at


async def settled(client: Client, seconds: float) -> None:
    """Before a phase: seconds of quiet, the recorder done with what came before (its caches sized
    for the entities there are, as its 5-minute task would have), the subscriber connected."""
    await asyncio.sleep(seconds)
    await client.call("POST", "/api/services/bench_ceiling/recorder_caches", json={})
    await client.recorder_caught_up()
    if client.closed_at is not None:
        await client.subscribe()


async def stalls(client: Client, stop: asyncio.Event) -> list[float]:
    """Ping round trips every 20 ms until stop (or until the WebSocket is closed)."""
    out: list[float] = []
    while not stop.is_set():
        try:
            out.append(await client.ping())
        except (asyncio.CancelledError, ConnectionError):
            break
        await asyncio.sleep(0.02)
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def figures(
    sent_at: list[float], first: int, arrived: list[tuple[str, str, float, float]], prefix: str
) -> dict[str, Any]:
    """Values reaching a state, latencies (to the state, to the subscriber), each entity's last value."""
    reached: dict[int, tuple[float, float]] = {}
    last: dict[str, int] = {}
    for entity_id, state, when, changed in arrived:
        if not entity_id.startswith(prefix):
            continue
        try:
            number = int(float(state))
        except ValueError:
            continue
        if first <= number < first + len(sent_at):
            reached.setdefault(number, (when, changed))
            last[entity_id] = number
    return {
        "sent": len(sent_at),
        "reached": len(reached),
        "latencies": sorted(when - sent_at[number - first] for number, (when, _) in reached.items()),
        "to_state": sorted(changed - sent_at[number - first] for number, (_, changed) in reached.items()),
        "last": last,
    }


def percentile(values: list[float], share: float) -> float:
    return values[max(0, int(len(values) * share) - 1)] * 1000 if values else float("nan")


async def run(
    devices: int,
    rates: list[float],
    seconds: float,
    settle: float,
    slow: bool = False,
    http_port: int = 8123,
    profile: bool = False,
    census: bool = False,
    spy: str = "",
    commit_interval: int | None = None,
    refreeze: bool = False,
    switch_interval: float = 0.0,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="lwm2m-bench-hass-"))
    http_port = http_port or free_tcp_port()
    # Home Assistant's own http defaults (every address, port 8123): an http section in YAML
    # waits for a confirmation in the UI, and without one Home Assistant restarts after 5 min
    stats = folder / "hass.prof"
    process = HassProcess(
        folder / "config",
        port=http_port,
        args=("--debug",) if slow else (),
        python=("-m", "cProfile", "-o", str(stats)) if profile else (),
    )
    extra = EXTRA
    if commit_interval is not None:
        extra = extra.replace("recorder:\n", f"recorder:\n  commit_interval: {commit_interval}\n")
    helper = {"census": census, "refreeze": refreeze, "switch_interval": switch_interval}
    extra += "".join(f"  {key}: {json.dumps(value)}\n" for key, value in helper.items() if value)
    prepare(process.folder, port=http_port, host=None, name="Bench", extra=extra, log_level="warning")
    ceiling = process.folder / "custom_components" / "bench_ceiling"
    ceiling.mkdir(parents=True)
    (ceiling / "__init__.py").write_text(CEILING)
    (ceiling / "manifest.json").write_text(json.dumps(MANIFEST))
    lwm2m_port = free_udp_port()
    await process.start()
    assert process.proc is not None
    pid = process.proc.pid
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, process.url)
            await client.onboard()
            await client.subscribe()
            entry_id = await client.add_integration(lwm2m_port)
            rss_before = rss_kib(pid)
            gen = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.bench.loadgen", "hass", str(lwm2m_port), str(devices), str(seconds),
                ",".join(str(r) for r in rates), "stdin", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=1 << 28,
            )  # fmt: skip
            assert gen.stdout is not None and gen.stdin is not None
            observed = json.loads(await asyncio.wait_for(gen.stdout.readline(), 600))
            created = await every_entity(client, observed["began_at"])
            states = await client.call("GET", "/api/states")
            entities = sum(1 for s in states if s["entity_id"].split(".", 1)[1].startswith("bench_"))
            print(f"\n== {devices:,} devices (Home Assistant pid {pid}, recorder on SQLite, history, logbook)")
            print(f"storm: every Register answered       {observed['registered_seconds']:.1f} s"
                  f" ({observed['refused_registers']} refused with 5.03 and sent again)")  # fmt: skip
            print(f"storm: every device fully observed   {observed['observed_seconds']:.1f} s"
                  f" ({observed['observations']:,} observations; {observed['requests_sent_again']:,} requests"
                  " the server sent again)")  # fmt: skip
            print(f"storm: every entity created          {created:.1f} s")
            print(f"entities                             {entities:,} ({entities / devices:.0f} per device)")
            if census:
                await _print_census(client)
            coalesced = await client.coalesced(entry_id)
            for _rate in rates:
                await settled(client, settle)
                drops = udp_drops(lwm2m_port)
                stop = asyncio.Event()
                pinger = asyncio.create_task(stalls(client, stop))
                await client.gc_pauses()  # from now on
                spying = _spy(spy, pid, seconds + 2.0, folder / f"py-spy-ours-{_rate:.0f}.txt")
                gen.stdin.write(b"go\n")  # the phase begins
                line = await asyncio.wait_for(gen.stdout.readline(), 600)
                notified = json.loads(line)
                await asyncio.sleep(2.0)  # the last states arrive
                stop.set()
                await _spied(spying)
                pings = sorted(await pinger)
                result = figures(notified["sent_at"], notified["first_value"], client.arrived, "sensor.bench_")
                ends = _ends_on_last(result["last"], notified)
                pauses = await client.gc_pauses()
                drained = await client.recorder_caught_up()
                title = f"at {notified['rate']:,.0f} notifications/s"
                before, coalesced = coalesced, await client.coalesced(entry_id)
                _print(title, client, result, pings, ends, drained, pauses)
                total = result["reached"] + coalesced - before
                print(f"   coalesced (counted, the latest kept) {coalesced - before:,}: with the states,"
                      f" {total:,} of {result['sent']:,} ({100 * total / max(result['sent'], 1):.1f} %)")  # fmt: skip
                print(f"   kernel drops on the LwM2M socket   {udp_drops(lwm2m_port) - drops:,}")
                if census:
                    await _print_census(client, "once the recorder has written the phase")
            await gen.wait()
            rss = rss_kib(pid)
            print(f"Home Assistant RSS                   {rss / 1024:.0f} MiB "
                  f"({(rss - rss_before) / devices:.0f} KiB per device)")  # fmt: skip
            for phase, rate in enumerate(rates, 1):
                await settled(client, 2.0)
                stop = asyncio.Event()
                pinger = asyncio.create_task(stalls(client, stop))
                await client.gc_pauses()
                first = phase * 10**7  # numbers of their own: never a state of an earlier phase
                body = {"entities": 2 * devices, "rate": rate, "seconds": seconds, "first": first}
                spying = _spy(spy, pid, seconds + 2.0, folder / f"py-spy-ceiling-{rate:.0f}.txt")
                answer = await client.call("POST", "/api/services/bench_ceiling/run?return_response", json=body)
                await asyncio.sleep(2.0)
                stop.set()
                await _spied(spying)
                pings = sorted(await pinger)
                sent_at = answer["service_response"]["sent_at"]
                result = figures(sent_at, first, client.arrived, "sensor.ceiling_")
                pauses = await client.gc_pauses()
                drained = await client.recorder_caught_up()
                title = f"ceiling: a trivial integration, {rate:,.0f} writes/s"
                _print(title, client, result, pings, None, drained, pauses)
    finally:
        await process.stop()
    if slow:
        _print_slow_callbacks(process.log())
    if profile and stats.exists():
        _print_profile(stats)


def _spy(spy: str, pid: int, seconds: float, output: Path) -> asyncio.Task[None] | None:
    """Sample Home Assistant's threads while they hold the GIL during a phase (--py-spy): what each was doing."""
    if not spy:
        return None
    args = ("record", "--pid", str(pid), "--duration", str(round(seconds)), "--rate", "200", "--gil", "--threads",
            "--nonblocking", "--format", "raw", "--output", str(output))  # fmt: skip

    async def record() -> None:
        process = await asyncio.create_subprocess_exec(spy, *args, stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        await process.wait()
        print(f"   py-spy: what held the GIL (collapsed stacks, one line a stack and its samples): {output}")

    return asyncio.get_running_loop().create_task(record())


async def _spied(spying: asyncio.Task[None] | None) -> None:
    if spying is not None:
        await spying


async def _print_census(client: Client, when: str = "after the storm") -> None:
    """The objects Python's collector tracks (and does not keep frozen) in Home Assistant, by type (--census)."""
    answer = (await client.call("POST", "/api/services/bench_ceiling/census?return_response", json={"top": 30}))[
        "service_response"
    ]
    print(f"-- objects the collector tracks {when}, not frozen: {answer['total']:,}")
    for kind, count in answer["top"]:
        print(f"   {count:>9,}  {kind}")


def _print_profile(stats_file: Path) -> None:
    """Where Home Assistant spent its time (--profile; cProfile sees every thread since Python 3.12)."""
    import pstats

    print(f"-- profile of Home Assistant (every thread, the whole run): {stats_file}")
    stats = pstats.Stats(str(stats_file))
    stats.sort_stats("tottime").print_stats(20)
    print("-- of that, this integration and aiocoap, by own time")
    stats.sort_stats("tottime").print_stats(r"custom_components/lwm2m|aiocoap", 20)


def _print_slow_callbacks(log: str) -> None:
    """What asyncio's debug mode named as taking the loop for long (--slow-callbacks)."""
    slow = re.findall(r"Executing (.+?) took ([\d.]+) seconds", log)
    print(f"-- slow callbacks (asyncio debug mode): {len(slow)}")
    for what, took in sorted(slow, key=lambda item: -float(item[1]))[:15]:
        print(f"   {float(took) * 1000:6.0f} ms  {what[:200]}")


def _ends_on_last(last: dict[str, int], notified: dict[str, Any]) -> tuple[int, int]:
    """How many of the entities notified in the phase's last round end on that round's value."""
    end = notified["first_value"] + notified["sent"]
    final_round = set(range(end - notified["targets"], end))
    return sum(1 for number in last.values() if number in final_round), notified["targets"]


def _print(
    title: str,
    client: Client,
    result: dict[str, Any],
    pings: list[float],
    ends: tuple[int, int] | None,
    drained: float,
    pauses: list[tuple[int, float, float, str, int]],
) -> None:
    lat = result["latencies"]
    share = 100 * result["reached"] / result["sent"] if result["sent"] else 0.0
    print(f"-- {title}")
    if client.closed_at is not None:
        print("   !! Home Assistant closed the subscriber's WebSocket: it fell 4,096 messages behind")
    print(f"   values that reached a state        {result['reached']:,} of {result['sent']:,} ({share:.1f} %)")
    if ends is not None:
        print(f"   entities ending on the last value  {ends[0]:,} of {ends[1]:,}")
    state = result["to_state"]
    print(f"   latency to the state (last_changed) p50 {percentile(state, 0.5):.1f} ms, p99 {percentile(state, 0.99):.1f} ms,"
          f" max {max(state, default=float('nan')) * 1000:.0f} ms")  # fmt: skip
    print(f"   latency to the subscriber          p50 {percentile(lat, 0.5):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms,"
          f" max {max(lat, default=float('nan')) * 1000:.0f} ms")  # fmt: skip
    lag_max, lag_p99, timers = client.lag
    print(f"   longest event-loop stall (timer)   {lag_max * 1000:.0f} ms (p99 {lag_p99 * 1000:.0f} ms of {timers:,}"
          " 20 ms timers inside Home Assistant)")  # fmt: skip
    print(f"   ping round trip to the subscriber  {max(pings, default=0) * 1000:.0f} ms"
          f" (p99 {percentile(pings, 0.99):.0f} ms of {len(pings)} pings)")  # fmt: skip
    print(f"   recorder done writing              {drained:.1f} s after the phase (+2 s)")
    full = [pause for pause in pauses if pause[0] == 2]
    print(f"   objects the collector tracks       {client.tracked[0]:,} ({client.tracked[1]:,} frozen) at the end")
    print(f"   garbage collections                {len(pauses):,}, longest {max((p[1] for p in pauses), default=0) * 1000:.0f} ms;"
          f" {len(full)} full, {sum(p[1] for p in full) * 1000:.0f} ms in all")  # fmt: skip
    for _, wall, cpu, thread, walked in full:
        print(f"      full: {wall * 1000:.0f} ms ({cpu * 1000:.0f} ms of CPU) in {thread}, {walked:,} objects")
    for lag, collections in client.stalls:
        during = (
            ", ".join(f"gen {g} {t * 1000:.0f} ms in {n}" for g, t, n in collections if t > 0.005) or "none over 5 ms"
        )
        print(f"   stall {lag * 1000:.0f} ms; collections during it: {during}")
    if client.census_at_full is not None:
        total, top = client.census_at_full
        kinds = ", ".join(f"{kind.rsplit('.', 1)[-1]} {count:,}" for kind, count in top)
        print(f"   what the first full collection walked: {total:,} objects; {kinds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", default="1000", help="comma list: one Home Assistant for each")
    parser.add_argument("--rates", default="2000,5000", help="notifications a second, comma list")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after the storm before notifying")
    parser.add_argument(
        "--slow-callbacks",
        action="store_true",
        help="run Home Assistant in asyncio's debug mode and list what held its loop (slower: for finding stalls)",
    )
    parser.add_argument("--http-port", type=int, default=8123, help="Home Assistant's port, 0 for a free one (its default keeps it "
                        "from asking to confirm its http settings, and restarting 5 minutes later)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="run Home Assistant under cProfile and print where "
                        "it spent its time (slower)")  # fmt: skip
    parser.add_argument("--census", action="store_true", help="list by type the objects Python's collector walks "
                        "in Home Assistant: after the storm, after each phase and at each phase's first full collection")  # fmt: skip
    parser.add_argument("--py-spy", default="", metavar="EXECUTABLE", help="sample which thread of Home Assistant "
                        "holds the GIL, in what, during each phase (py-spy is not a dependency: give its path)")  # fmt: skip
    parser.add_argument("--commit-interval", type=int, default=None, help="the recorder's commit_interval "
                        "(seconds; Home Assistant's default is 5)")  # fmt: skip
    parser.add_argument("--refreeze", action="store_true", help="what-if, not what the integration does: freeze the "
                        "survivors of every full collection in Home Assistant (frozen garbage stays for good)")  # fmt: skip
    parser.add_argument("--switch-interval", type=float, default=0.0, help="what-if: Python's thread switch interval "
                        "in Home Assistant (s; Python's default is 0.005)")  # fmt: skip
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    for devices in (int(d) for d in args.devices.split(",")):
        asyncio.run(
            run(
                devices,
                rates,
                args.seconds,
                args.settle,
                args.slow_callbacks,
                args.http_port,
                args.profile,
                args.census,
                args.py_spy,
                args.commit_interval,
                args.refreeze,
                args.switch_interval,
            )
        )
    print(f"(first value {FIRST_VALUE}; latencies from the send in the load generator to the WebSocket subscriber)")


if __name__ == "__main__":
    main()
