"""1,000 LwM2M devices into a running Home Assistant: set-up time, notification rate, latency.

    .venv/bin/python -m pytest tests/bench/bench_hass.py -s -q [--devices 1000]

A load generator in a separate process (tests/bench/loadgen.py, one UDP port per device)
registers DEVICES endpoints, each with a device object, a temperature and a humidity sensor
(three observed resources each), answers every read and observe, then sends non-confirmable
notifications, each with its own number as the value (1000, 1001, ...: the same whatever
the time of day); the generator reports when it sent each number, so that the state a
number produces tells the latency. Prints figures; asserts only that the work happened.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import pytest
import pytest_socket
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import DOMAIN
from tests.components.lwm2m.conftest import entry_data, free_udp_port


@pytest.fixture(autouse=True)
def _custom(enable_custom_integrations: None) -> None:
    pass


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_bench(
    hass: HomeAssistant, socket_enabled: None, request: pytest.FixtureRequest, expected_lingering_timers: bool
) -> None:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)
    # The test harness runs the loop in asyncio debug mode, which records a stack trace for
    # every callback and future; Home Assistant does not run like that.
    hass.loop.set_debug(False)
    devices = int(request.config.getoption("--devices", default=1000))
    seconds = float(request.config.getoption("--seconds", default=10))
    rate = float(request.config.getoption("--rate", default=2000))
    settle = float(request.config.getoption("--settle", default=2))
    port = free_udp_port()
    # every simulated device talks from 127.0.0.1: the per-address cap is off, as if each had its own
    entry = MockConfigEntry(domain=DOMAIN, unique_id=str(port), data=entry_data(port, max_registrations_per_host=0))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    arrived: list[tuple[int, float]] = []  # (number a notification carried, when its state changed)
    timed: set[str] = set()  # the temperature and humidity entities, found once they exist

    @callback
    def on_state(event: Event) -> None:
        new = event.data.get("new_state")
        if new is None or new.entity_id not in timed:
            return
        try:
            number = float(new.state)
        except ValueError:
            return
        if number < 1000:  # the initial 21.5 / 40.0, not a numbered notification
            return
        arrived.append((int(number), time.time()))

    hass.bus.async_listen("state_changed", on_state)
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.loadgen",
        "hass",
        str(port),
        str(devices),
        str(seconds),
        str(rate),
        str(settle),
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 26,  # the last line lists every send time
    )
    assert proc.stdout is not None
    registry = dr.async_get(hass)
    entities = er.async_get(hass)

    def ready() -> bool:
        if len(dr.async_entries_for_config_entry(registry, entry.entry_id)) < devices:
            return False
        temps = [
            e
            for e in er.async_entries_for_config_entry(entities, entry.entry_id)
            if e.unique_id.endswith("_3303_0_5700")
        ]
        return len(temps) == devices and all(hass.states.get(e.entity_id) is not None for e in temps)

    async with asyncio.timeout(300):
        while not ready():
            await asyncio.sleep(0.1)
    setup_seconds = time.perf_counter() - start
    timed.update(
        e.entity_id
        for e in er.async_entries_for_config_entry(entities, entry.entry_id)
        if e.unique_id.endswith(("_3303_0_5700", "_3304_0_5700"))
    )
    entity_count = len(er.async_entries_for_config_entry(entities, entry.entry_id))
    observed = json.loads(await asyncio.wait_for(proc.stdout.readline(), 300))
    observed_seconds = time.perf_counter() - start
    notified = json.loads(await asyncio.wait_for(proc.stdout.readline(), 300))
    await asyncio.sleep(1.0)
    await proc.wait()
    sent_at, first = notified["sent_at"], notified["first_value"]
    numbers = [number for number, _ in arrived]
    assert len(set(numbers)) == len(numbers), "a notification changed a state twice"
    assert all(first <= number < first + len(sent_at) for number in numbers), "a state no notification carried"
    latencies = sorted(at - sent_at[number - first] for number, at in arrived)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print()
    print(f"devices registered and set up:        {devices:,} ({entity_count:,} entities)")
    print(f"time until every device and entity:   {setup_seconds:.1f} s")
    print(f"time until all {observed['observations']:,} observations:   {observed_seconds:.1f} s")
    print(f"notifications sent:                    {notified['sent']:,} in {notified['seconds']:.1f} s")
    print(f"states changed by notifications:       {len(arrived):,} ({len(arrived) / notified['seconds']:,.0f} / s)")
    print(f"notification-to-state latency:         p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert arrived
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
