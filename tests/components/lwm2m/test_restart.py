"""Through a restart of Home Assistant: values restored, observations re-established and spread,
a device that does not answer shown unavailable at once, retry resources written at registration.

A restart here is what Home Assistant's own tests do: the restore-state machinery dumps and
loads the entities' states (async_mock_restore_state_shutdown_restart) and the entry is unloaded
and set up again on the same port, with the same saved registrations.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_restore_state_shutdown_restart

from custom_components.lwm2m import hub as hub_module
from custom_components.lwm2m.const import CONF_COMMUNICATION_RETRY, CONF_PORT, CONF_XML_DIR, DOMAIN
from custom_components.lwm2m.entity import read_stored, stored_value
from custom_components.lwm2m.hub import LwM2MHub, restore_delays
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.retries import RETRY_VALUES
from custom_components.lwm2m.lwm2m.values import ObjLnk
from tests.sim import SimClient
from tests.sim.client import DEFAULT_VALUES

from .conftest import entry_data, free_udp_port, wait_for
from .test_select_and_text import HEAT_PUMP

P = Path.parse
# A device with an entity of every platform that shows a value: sensors (3303, 3/0/9, 40010/0/6),
# a binary sensor (3200), a switch and a number (3311), a text (3341), a select and a number of
# the user's object (40010), a tracker (6).
RICH_VALUES = {
    **DEFAULT_VALUES,
    P("/3200/0/5500"): True,
    P("/3341/0/5527"): "Hello",
    P("/6/0/0"): 52.52,
    P("/6/0/1"): 13.4,
    P("/6/0/3"): 7.0,
    P("/40010/0/1"): 2,
    P("/40010/0/2"): "Hall",
    P("/40010/0/3"): 35.5,
    P("/40010/0/6"): 1,
}
RESTORED_PLATFORMS = {"sensor", "binary_sensor", "switch", "number", "select", "text", "device_tracker"}


@pytest.fixture
async def entry(hass: HomeAssistant, udp: None, tmp_path: FsPath) -> AsyncGenerator[MockConfigEntry]:
    """The built-in server with the heat pump's object file, so that selects and texts appear too."""
    (tmp_path / "40010.xml").write_text(HEAT_PUMP)
    port = free_udp_port()
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"LwM2M server (UDP {port})",
        unique_id=str(port),
        data=entry_data(port, **{CONF_XML_DIR: str(tmp_path)}),
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    yield config_entry
    if config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


def _entities(hass: HomeAssistant, entry: MockConfigEntry, endpoint: str) -> dict[str, str]:
    """The entity ids of endpoint's enabled entities on the platforms that restore their value."""
    return {
        e.entity_id: e.domain
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.unique_id.startswith(f"{endpoint}_")
        and e.domain in RESTORED_PLATFORMS
        and not e.disabled_by
        and "_status_" not in e.unique_id
    }


def _states(hass: HomeAssistant, entity_ids: dict[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """State and attributes of each entity, less what marks a restored value."""
    out = {}
    for entity_id in entity_ids:
        state = hass.states.get(entity_id)
        attributes = {k: v for k, v in state.attributes.items() if k not in ("restored", "reported_at")}
        out[entity_id] = (state.state, attributes)
    return out


def _observed(hub: LwM2MHub, endpoint: str) -> list[str]:
    return sorted(o["paths"][0] for o in hub.source.endpoint(endpoint).observations())


async def _settled(hass: HomeAssistant, entry: MockConfigEntry) -> LwM2MHub:
    """The entry's hub once every device it set up is observed."""
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    return entry.runtime_data


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Hold every re-observe after a restart until the test opens the gate (set())."""
    opened = asyncio.Event()
    original = LwM2MHub._restore_endpoint

    async def gated(self: LwM2MHub, endpoint: str, delay: float) -> None:
        await opened.wait()
        await original(self, endpoint, delay)

    monkeypatch.setattr(LwM2MHub, "_restore_endpoint", gated)
    return opened


async def restart(
    hass: HomeAssistant, entry: MockConfigEntry, during: Callable[[], Awaitable[Any]] | None = None
) -> LwM2MHub:
    """Home Assistant stops (states dumped, the server stopped) and starts again on the same config."""
    await async_mock_restore_state_shutdown_restart(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    if during is not None:
        await during()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry.runtime_data


@pytest.fixture
async def device(hass: HomeAssistant, entry: MockConfigEntry) -> AsyncGenerator[Callable[..., Awaitable[SimClient]]]:
    clients: list[SimClient] = []

    async def start(endpoint: str, **kwargs: Any) -> SimClient:
        client = SimClient(endpoint, entry.data[CONF_PORT], lifetime=300, **kwargs)
        clients.append(client)
        await client.start()
        return client

    yield start
    for client in clients:
        await client.stop()


def test_the_re_observe_is_spread_over_at_most_five_seconds() -> None:
    assert restore_delays(0) == []
    assert restore_delays(1) == [0.0]
    for count in (2, 10, 1000, 10_000):
        delays = restore_delays(count)
        spread = min(5.0, count * 0.005)
        assert sorted(delays) == pytest.approx([spread * i / count for i in range(count)])
        assert max(delays) < 5.0
    # a thousand devices: one every 5 ms, in an order of their own
    assert sorted(restore_delays(1000))[1] == pytest.approx(0.005)
    assert restore_delays(50, random.Random(1)) != sorted(restore_delays(50, random.Random(1)))


def test_values_are_stored_with_their_type() -> None:
    values = {
        P("/1/0/1"): 60,
        P("/3/0/9"): 2**64 - 1,
        P("/3303/0/5700"): 21.0,
        P("/3311/0/5850"): True,
        P("/3/0/0"): "Acme",
        P("/40010/0/4"): b"\x00\xff",
        P("/3/0/13"): datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        P("/40010/0/8"): ObjLnk(3, 0),
    }
    saved = {"values": {str(p): stored_value(v, 1700000000.5) for p, v in values.items()}}
    back = read_stored(saved, [*values, P("/9/9/9")])
    assert {p: v for p, (v, _at) in back.items()} == values
    assert all(type(back[p][0]) is type(v) for p, v in values.items())  # 21.0 stays a float, True a bool
    assert {at for _v, at in back.values()} == {1700000000.5}
    broken = {"values": {"/1/0/1": {"type": "Integer", "value": "x", "at": 1}, "/1/0/2": None, "/1/0/3": {}}}
    assert read_stored(broken, [P("/1/0/1"), P("/1/0/2"), P("/1/0/3")]) == {}
    assert read_stored({"values": []}, [P("/1/0/1")]) == {}


async def test_a_restart_keeps_values_and_observations(
    hass: HomeAssistant, entry: MockConfigEntry, device, gate: asyncio.Event
) -> None:
    client = await device("live", values=RICH_VALUES)
    await wait_for(hass, lambda: len(_entities(hass, entry, "live")) >= 10)
    hub = await _settled(hass, entry)
    entities = _entities(hass, entry, "live")
    assert set(entities.values()) == RESTORED_PLATFORMS  # one of each
    before = _states(hass, entities)
    assert not any(state in (STATE_UNKNOWN, STATE_UNAVAILABLE) for state, _ in before.values())
    # One more observation than the entities need, through the service.
    await hass.services.async_call(
        DOMAIN, "observe", {"endpoint": "live", "path": "/3/0/13"}, blocking=True, return_response=True
    )
    observed = _observed(hub, "live")
    assert "/3/0/13" in observed and "/3303/0/5700" in observed

    async def forget_requests() -> None:
        client.requests.clear()

    hub = await restart(hass, entry, during=forget_requests)

    # At once, before the device said anything: the same states, marked as the last run's.
    assert _states(hass, entities) == before
    temperature = next(e for e in entities if "temperature" in e)
    state = hass.states.get(temperature)
    assert state.attributes["restored"] is True
    assert datetime.fromisoformat(state.attributes["reported_at"]) <= datetime.now(UTC)
    assert client.requests == [] and _observed(hub, "live") == []

    # The re-observe: the device is asked for exactly what was observed, nothing read again.
    gate.set()
    await wait_for(hass, lambda: _observed(hub, "live") == observed)
    assert sorted({path for method, path, _accept in client.requests}) == observed
    assert {method for method, _path, _accept in client.requests} == {"GET"}
    # The device confirmed the values: the same states, no longer marked.
    await wait_for(hass, lambda: "restored" not in hass.states.get(temperature).attributes)
    assert _states(hass, entities) == before
    # A value that does not change writes no state; a new one reaches its entity.
    reported = hass.states.get(temperature).last_reported
    client.set_value("/3/0/9", 95)
    client.set_value("/3303/0/5700", 21.5)
    await hass.async_block_till_done()
    assert hass.states.get(temperature).last_reported == reported
    client.set_value("/3303/0/5700", 19.25)
    await wait_for(hass, lambda: hass.states.get(temperature).state == "19.25")


async def test_the_re_observe_of_many_devices_is_spread(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    clients = [await device(f"dev-{i}") for i in range(3)]
    for client in clients:
        await wait_for(hass, lambda c=client: entry.runtime_data.is_available(c.endpoint))
    hub = await _settled(hass, entry)
    observed = {c.endpoint: _observed(hub, c.endpoint) for c in clients}
    assert all(observed.values())

    async def forget_requests() -> None:
        for client in clients:
            client.requests.clear()

    hub = await restart(hass, entry, during=forget_requests)
    # Each device has its own moment, on a grid of 5 ms a device, in a random order.
    assert set(hub.restore_schedule) == {c.endpoint for c in clients}
    assert sorted(hub.restore_schedule.values()) == pytest.approx([0.0, 0.005, 0.010])
    for client in clients:
        await wait_for(hass, lambda c=client: _observed(hub, c.endpoint) == observed[c.endpoint])
        assert sorted({path for _method, path, _accept in client.requests}) == observed[client.endpoint]


async def test_a_silent_device_is_unavailable_after_the_re_observe(
    hass: HomeAssistant, entry: MockConfigEntry, device, gate: asyncio.Event, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(hub_module, "RESTORE_TIMEOUT", 0.5)
    client = await device("quiet")
    hub = await _settled(hass, entry)
    temperature = await wait_for(
        hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "quiet_3303_0_5700")
    )
    await wait_for(hass, lambda: hass.states.get(temperature).state == "21.5")
    observed = _observed(hub, "quiet")
    client.misbehave = "silent"  # takes every request and answers none

    hub = await restart(hass, entry)
    assert hass.states.get(temperature).state == "21.5"  # restored, and available until it is asked
    gate.set()
    await wait_for(hass, lambda: hass.states.get(temperature).state == STATE_UNAVAILABLE)
    assert not hub.is_available("quiet")
    assert caplog.text.count("LwM2M device quiet is unavailable (no answer after the restart") == 1
    # Nothing more is asked of it until it talks again.
    asked = len(client.requests)
    await asyncio.sleep(0.1)
    assert len(client.requests) == asked

    # It comes back with its next Update: available, observed again, values live.
    client.misbehave = None
    assert (await client.update()).code.dotted == "2.04"
    await wait_for(hass, lambda: hass.states.get(temperature).state == "21.5")
    await wait_for(hass, lambda: _observed(hub, "quiet") == observed)
    assert "LwM2M device quiet is back" in caplog.text
    client.set_value("/3303/0/5700", 22.0)
    await wait_for(hass, lambda: hass.states.get(temperature).state == "22.0")


async def test_a_device_gone_from_its_port_is_unavailable_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, device, gate: asyncio.Event
) -> None:
    """ICMP port unreachable (the device stopped listening) fails the re-observe without a timeout."""
    client = await device("gone")
    hub = await _settled(hass, entry)
    battery = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "gone_3_0_9")
    await wait_for(hass, lambda: hass.states.get(battery).state == "95")
    hub = await restart(hass, entry, during=client.sleep)  # its socket closed
    assert hass.states.get(battery).state == "95"
    gate.set()
    await wait_for(hass, lambda: hass.states.get(battery).state == STATE_UNAVAILABLE)
    assert not hub.is_available("gone")
    await client.wake()  # the same port again, and an Update
    await wait_for(hass, lambda: hass.states.get(battery).state == "95")
    # observed again: the device confirmed the value
    await wait_for(hass, lambda: "restored" not in hass.states.get(battery).attributes)


async def test_a_sleeping_device_is_observed_again_when_it_wakes(
    hass: HomeAssistant, entry: MockConfigEntry, device, gate: asyncio.Event
) -> None:
    client = await device("sleepy", queue_mode=True)
    hub = await _settled(hass, entry)
    temperature = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sleepy_3303_0_5700")
    await wait_for(hass, lambda: hass.states.get(temperature).state == "21.5")
    observed = _observed(hub, "sleepy")

    async def fall_asleep() -> None:
        await client.sleep()
        client.requests.clear()

    hub = await restart(hass, entry, during=fall_asleep)
    gate.set()
    # Its re-observe waits for it: it is not asked, and not shown unavailable for not answering.
    await wait_for(hass, lambda: hub.source.queued("sleepy") == 1)
    assert client.requests == [] and _observed(hub, "sleepy") == []
    assert hass.states.get(temperature).state == "21.5"
    assert hass.states.get(temperature).attributes["restored"] is True
    await client.wake()  # an Update: the queued re-observe goes out
    await wait_for(hass, lambda: _observed(hub, "sleepy") == observed)
    await wait_for(hass, lambda: "restored" not in hass.states.get(temperature).attributes)


RETRY_DEVICE = {**DEFAULT_VALUES, P("/1/0/17"): 5, P("/1/0/18"): 60, P("/1/0/19"): 86400, P("/1/0/20"): 1}


async def test_retry_resources_are_written_at_registration(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    with_retry = await device("retry", values=RETRY_DEVICE)
    without = await device("plain")
    await _settled(hass, entry)
    await wait_for(hass, lambda: any(path == P("/1/0") for _mode, path, _v in with_retry.written))
    assert with_retry.written == [("update", P("/1/0"), {P("/1/0/18"): 10, P("/1/0/19"): 300, P("/1/0/20"): 12})]
    assert {rid: with_retry.values[P(f"/1/0/{rid}")] for rid in RETRY_VALUES} == dict(RETRY_VALUES)
    assert without.written == []  # no retry resources: nothing to write
    # Registered again with the values in place: nothing more to write.
    await with_retry.register()
    await _settled(hass, entry)
    assert len(with_retry.written) == 1


async def test_the_retry_option_switches_the_write_off(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    schema = flow["data_schema"].schema
    assert next(k for k in schema if k == CONF_COMMUNICATION_RETRY).default() is True
    done = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {"min_lifetime": 1, "max_lifetime": 86400, "auto_observe": "entities", CONF_COMMUNICATION_RETRY: False},
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_COMMUNICATION_RETRY] is False and entry.runtime_data.write_retry is False
    client = await device("retry", values=RETRY_DEVICE)
    await wait_for(hass, lambda: entry.runtime_data.is_available("retry"))
    await _settled(hass, entry)
    assert client.written == [] and client.values[P("/1/0/19")] == 86400


async def test_the_store_is_saved_before_the_port_closes(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("saved")
    hub = await _settled(hass, entry)
    running_when_saved: list[bool] = []
    original = hub.store.async_save

    async def save(data: dict[str, Any]) -> None:
        running_when_saved.append(hub.source.running)
        await original(data)

    hub.store.async_save = save  # type: ignore[method-assign]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert running_when_saved == [True]
    assert not hub.source.running
