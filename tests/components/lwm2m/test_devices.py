"""A registering device becomes a Home Assistant device whose entities follow it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiocoap.numbers.codes import Code
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_platform
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m import async_remove_entry
from custom_components.lwm2m import hub as hub_module
from custom_components.lwm2m.const import CONF_PORT, DOMAIN
from custom_components.lwm2m.lwm2m.path import Path
from tests.core.rawcoap import RawDevice

from .conftest import wait_for

P = Path.parse


def entity_id(hass: HomeAssistant, endpoint: str, path: str, platform: str) -> str | None:
    unique_id = f"{endpoint}_{'_'.join(path.strip('/').split('/'))}"
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


def get_device(hass: HomeAssistant, endpoint: str) -> dr.DeviceEntry | None:
    """The device of an endpoint (by identifier, in every supported Home Assistant version)."""
    registry = dr.async_get(hass)
    for config_entry in hass.config_entries.async_entries(DOMAIN):
        for device_entry in dr.async_entries_for_config_entry(registry, config_entry.entry_id):
            if (DOMAIN, endpoint) in device_entry.identifiers:
                return device_entry
    return None


def _around_reads(source: Any, around: Callable[[], AbstractAsyncContextManager[None]]) -> None:
    """Run each device read of the server inside around() (a device that takes its time)."""
    real_endpoint = source.endpoint

    class Reads:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        async def read(self, *args: Any, **kwargs: Any) -> Any:
            async with around():
                return await self._inner.read(*args, **kwargs)

    source.endpoint = lambda name: Reads(real_endpoint(name))


async def _ready(hass: HomeAssistant, endpoint: str, path: str, platform: str = "sensor") -> str:
    return await wait_for(hass, lambda: entity_id(hass, endpoint, path, platform))


async def test_device_with_temperature_and_battery(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("sim-1")
    temp = await _ready(hass, "sim-1", "/3303/0/5700")
    device_entry = get_device(hass, "sim-1")
    assert device_entry is not None
    await wait_for(hass, lambda: dr.async_get(hass).async_get(device_entry.id).manufacturer)
    device_entry = dr.async_get(hass).async_get(device_entry.id)
    assert (
        device_entry.manufacturer,
        device_entry.model,
        device_entry.serial_number,
        device_entry.sw_version,
        device_entry.hw_version,
    ) == ("Simulated Devices Inc.", "Sim-1", "SN-0001", "1.2.3", "HW-2")
    assert device_entry.name == "sim-1"
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    state = hass.states.get(temp)
    assert state.attributes[ATTR_DEVICE_CLASS] == "temperature"
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    assert state.attributes["state_class"] == "measurement"
    assert state.name == "sim-1 Temperature"
    battery = await _ready(hass, "sim-1", "/3/0/9")
    state = hass.states.get(battery)
    assert state.state == "95" and state.attributes[ATTR_DEVICE_CLASS] == "battery"
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert er.async_get(hass).async_get(battery).entity_category == "diagnostic"
    volts = await _ready(hass, "sim-1", "/3/0/7/1")
    assert hass.states.get(volts).state == "5000" and hass.states.get(volts).name == "sim-1 Supply voltage 1"
    reboot = await _ready(hass, "sim-1", "/3/0/4", "button")
    assert hass.states.get(reboot).attributes[ATTR_DEVICE_CLASS] == "restart"
    # Resources beyond the table exist but are disabled by default.
    units = await _ready(hass, "sim-1", "/3303/0/5701")
    assert er.async_get(hass).async_get(units).disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_notifications_move_states(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sim-1")
    temp = await _ready(hass, "sim-1", "/3303/0/5700")
    wanted = {"/3303/0/5700", "/3/0/9", "/3311/0/5850", "/3311/0/5851", "/3/0/7"}
    await wait_for(hass, lambda: wanted <= {str(p) for (p,), _o in client.root.observers})
    observed = {str(p) for (p,), _o in client.root.observers}
    assert "/3/0/4" not in observed and "/3303/0/5701" not in observed  # buttons and disabled extras are not
    for value in (22.25, 23.5):
        client.set_value("/3303/0/5700", value)
        await wait_for(hass, lambda v=value: hass.states.get(temp).state == str(v))
    light = await _ready(hass, "sim-1", "/3311/0/5850", "switch")
    assert hass.states.get(light).state == STATE_OFF
    client.set_value("/3311/0/5850", True)
    await wait_for(hass, lambda: hass.states.get(light).state == STATE_ON)


async def test_switch_and_number_reach_the_device(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sim-1")
    light = await _ready(hass, "sim-1", "/3311/0/5850", "switch")
    dimmer = await _ready(hass, "sim-1", "/3311/0/5851", "number")
    await hass.services.async_call("switch", "turn_on", {"entity_id": light}, blocking=True)
    assert client.values[P("/3311/0/5850")] is True
    assert hass.states.get(light).state == STATE_ON
    await hass.services.async_call("number", "set_value", {"entity_id": dimmer, "value": 80}, blocking=True)
    assert client.values[P("/3311/0/5851")] == 80
    assert float(hass.states.get(dimmer).state) == 80
    lifetime = await _ready(hass, "sim-1", "/1/0/1", "number")
    await hass.services.async_call("number", "set_value", {"entity_id": lifetime, "value": 300}, blocking=True)
    assert client.values[P("/1/0/1")] == 300
    reboot = await _ready(hass, "sim-1", "/3/0/4", "button")
    await hass.services.async_call("button", "press", {"entity_id": reboot}, blocking=True)
    assert client.executed == [(P("/3/0/4"), "")]
    # A refusal becomes a clear error, and the state stays what the device has.
    client.misbehave = "error"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("switch", "turn_off", {"entity_id": light}, blocking=True)
    assert err.value.translation_key == "refused"  # as the services say it: one translator
    assert err.value.translation_placeholders["code"] == "5.00"
    assert hass.states.get(light).state == STATE_ON


async def test_expiry_and_return(hass: HomeAssistant, entry: MockConfigEntry, device, caplog) -> None:
    hub = entry.runtime_data
    hub.source.config.grace_period = 0.1
    hub.source.config.expiry_check_interval = 0.05
    client = await device("sleeper", lifetime=1)
    temp = await _ready(hass, "sleeper", "/3303/0/5700")
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    await wait_for(hass, lambda: hass.states.get(temp).state == STATE_UNAVAILABLE)
    assert caplog.text.count("sleeper is unavailable (expired)") == 1
    await client.register()
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    assert caplog.text.count("sleeper is back") == 1
    await client.deregister()
    await wait_for(hass, lambda: hass.states.get(temp).state == STATE_UNAVAILABLE)


async def test_device_with_an_unknown_object(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    values = {P("/3/0/0"): "Acme", P("/40000/0/1"): 7, P("/40000/0/2"): "hello", P("/40000/0/3"): True}
    await device("odd", values=values, executables=set())
    number = await _ready(hass, "odd", "/40000/0/1")
    text = await _ready(hass, "odd", "/40000/0/2")
    flag = await _ready(hass, "odd", "/40000/0/3", "binary_sensor")
    await wait_for(hass, lambda: hass.states.get(number).state == "7")
    assert hass.states.get(number).name == "odd /40000/0/1"
    assert hass.states.get(text).state == "hello"
    assert hass.states.get(flag).state == STATE_ON


async def test_two_instances_are_numbered(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    values = {P("/3303/0/5700"): 20.0, P("/3303/1/5700"): 30.0}
    await device("twins", values=values, executables=set())
    first = await _ready(hass, "twins", "/3303/0/5700")
    second = await _ready(hass, "twins", "/3303/1/5700")
    await wait_for(hass, lambda: hass.states.get(second).state == "30.0")
    assert hass.states.get(first).name == "twins Temperature 0"
    assert hass.states.get(second).name == "twins Temperature 1"


async def test_device_registering_after_setup_appears_without_reload(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    await device("first")
    await _ready(hass, "first", "/3303/0/5700")
    await device("second", version="1.0")
    temp = await _ready(hass, "second", "/3303/0/5700")
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    assert entry.state is ConfigEntryState.LOADED
    assert len(dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)) == 2


async def test_status_sensors(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sim-1", lifetime=120)
    lifetime = await wait_for(
        hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sim-1_status_lifetime")
    )
    assert hass.states.get(lifetime).state == "120"
    binding = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sim-1_status_binding")
    assert hass.states.get(binding).state == "U"
    await client.update(lifetime=240)
    await wait_for(hass, lambda: hass.states.get(lifetime).state == "240")
    # disabled by default: created once the device's setup is done
    last_seen = await wait_for(
        hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sim-1_status_last_seen")
    )
    assert er.async_get(hass).async_get(last_seen).disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_entities_wait_while_devices_are_being_set_up(
    hass: HomeAssistant, entry: MockConfigEntry, device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a storm the setups (CoAP, with deadlines) come first: entities wait for them, at most
    ENTITY_WAIT seconds without a setup finishing; those disabled by default (diagnostics) until
    no setup is left."""
    monkeypatch.setattr(hub_module, "ENTITY_WAIT", 2.0)
    registry = er.async_get(hass)
    hub = entry.runtime_data
    stuck = RawDevice(entry.data[CONF_PORT], "stuck")  # its setup waits for the answers the test gives
    await stuck.start()
    try:
        await stuck.register()
        first = await stuck.next_request()  # the setup's first read, unanswered for now
        await device("sim-1", lifetime=120)
        await wait_for(hass, lambda: "sim-1" not in hub._setups)  # sim-1 is set up (and observed) ...
        await hass.async_block_till_done()
        # ... but with another setup under way, its entities wait
        assert registry.async_get_entity_id("sensor", DOMAIN, "sim-1_status_lifetime") is None
        assert hub.value("sim-1", Path.parse("/3303/0/5700")) == 21.5  # its values wait in the store
        # ENTITY_WAIT seconds with no setup finishing: then the enabled ones come, with the value
        # the store holds
        temperature = await wait_for(
            hass, lambda: registry.async_get_entity_id("sensor", DOMAIN, "sim-1_3303_0_5700"), timeout=5
        )
        await wait_for(hass, lambda: hass.states.get(temperature) is not None)
        assert hass.states.get(temperature).state == "21.5" and "stuck" in hub._setups
        # the disabled diagnostics wait for the setups to be done
        assert registry.async_get_entity_id("sensor", DOMAIN, "sim-1_status_last_seen") is None
        await _refuse_until_set_up(hub, stuck, first)
        last_seen = await wait_for(
            hass, lambda: registry.async_get_entity_id("sensor", DOMAIN, "sim-1_status_last_seen")
        )
        assert registry.async_get(last_seen).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    finally:
        await stuck.stop()


@pytest.mark.parametrize(("max_wait", "held"), [(60.0, True), (0.3, False)])
async def test_entities_wait_while_setups_keep_finishing(
    hass: HomeAssistant, entry: MockConfigEntry, device, monkeypatch: pytest.MonkeyPatch, max_wait: float, held: bool
) -> None:
    """Setups that keep finishing hold the waiting entities past ENTITY_WAIT, so that a storm's
    setups all come first; ENTITY_MAX_WAIT s in all at most. (Timed from the first waiting
    batch only, the wait ran out in 1 of 4 storms of 1,000 devices, and adding the entities
    then slowed the remaining setups from 6-7 s to 11-18 s.)"""
    monkeypatch.setattr(hub_module, "ENTITY_WAIT", 1.0)
    monkeypatch.setattr(hub_module, "ENTITY_MAX_WAIT", max_wait)
    hub = entry.runtime_data
    hub.setup_slots = asyncio.Semaphore(1)  # one setup after another

    @contextlib.asynccontextmanager
    async def slow() -> AsyncIterator[None]:
        await asyncio.sleep(0.05)
        yield

    _around_reads(hub.source, slow)
    names = [f"slow-{n}" for n in range(12)]
    await asyncio.gather(*(device(name) for name in names))
    began = asyncio.get_running_loop().time()
    shown_during_setups = False  # (the devices are set up in no particular order)
    while hub._setups:
        shown_during_setups |= any(entity_id(hass, name, "/3303/0/5700", "sensor") for name in names)
        await asyncio.sleep(0.02)
    assert asyncio.get_running_loop().time() - began > 1.5  # the setups took well over ENTITY_WAIT
    assert shown_during_setups is not held
    for name in names:
        await _ready(hass, name, "/3303/0/5700")


async def test_setups_started_again_do_not_hold_the_waiting_entities(
    hass: HomeAssistant, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A setup cancelled because its device registered again finished nothing: with another
    setup stuck, the waiting entities come ENTITY_WAIT s later, however often that happens."""
    monkeypatch.setattr(hub_module, "ENTITY_WAIT", 0.3)
    monkeypatch.setattr(hub_module, "ENTITY_MAX_WAIT", 3.0)
    hub = entry.runtime_data
    loop = asyncio.get_running_loop()
    created: list[float] = []
    monkeypatch.setattr(hub, "_create_waiting", lambda: created.append(loop.time()))
    hub._start_setup("stuck", asyncio.Event().wait())
    await asyncio.sleep(0)
    began = loop.time()
    hub._send_new({Platform.SENSOR: []})  # a set-up device's batch waits
    while not created and loop.time() - began < 5:
        hub._start_setup("flapping", asyncio.sleep(10))  # registers again and again
        await asyncio.sleep(0.1)
    assert created and created[0] - began < 1.5
    for task in hub._setups.values():
        task.cancel()


async def _refuse_until_set_up(hub: Any, stuck: RawDevice, first: Any) -> None:
    """Answer the stuck device's first request and every later one with 4.04 until its setup ends."""
    stuck.answer(first, b"", code=Code.NOT_FOUND)
    while "stuck" in hub._setups:
        with contextlib.suppress(TimeoutError):
            stuck.answer(await stuck.next_request(timeout=0.2), b"", code=Code.NOT_FOUND)


async def test_a_device_deleted_while_its_entities_wait_gets_none(
    hass: HomeAssistant, entry: MockConfigEntry, device, hass_ws_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "ENTITY_WAIT", 60.0)
    hub = entry.runtime_data
    stuck = RawDevice(entry.data[CONF_PORT], "stuck")
    await stuck.start()
    try:
        await stuck.register()
        first = await stuck.next_request()
        await device("sim-1")
        await wait_for(hass, lambda: "sim-1" not in hub._setups)  # its entities wait for stuck's setup
        assert entity_id(hass, "sim-1", "/3303/0/5700", "sensor") is None
        assert await async_remove(hass, hass_ws_client, get_device(hass, "sim-1").id, entry.entry_id)
        await _refuse_until_set_up(hub, stuck, first)
        await hass.async_block_till_done()
        # the waiting batch went out without the deleted device's entities, and did not bring it back
        assert entity_id(hass, "sim-1", "/3303/0/5700", "sensor") is None
        assert get_device(hass, "sim-1") is None
    finally:
        await stuck.stop()


@pytest.mark.skipif(
    not hasattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY"), reason="this Home Assistant has no cap"
)
async def test_home_assistants_cap_on_entities_is_a_repair_issue(
    hass: HomeAssistant, entry: MockConfigEntry, device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past Home Assistant's cap of enabled entities per entry (10,000), the user is told what to do."""
    issues, registry = ir.async_get(hass), er.async_get(hass)
    await device("sim-1")
    await wait_for(hass, lambda: registry.async_get_entity_id("sensor", DOMAIN, "sim-1_3303_0_5700"))
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, f"entity_limit_{entry.entry_id}") is None  # under the cap
    cap = registry.entities.get_enabled_count_for_config_entry_id(entry.entry_id) + 2
    monkeypatch.setattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", cap)
    await device("sim-2")  # as many entities again: past the cap
    issue = await wait_for(hass, lambda: issues.async_get_issue(DOMAIN, f"entity_limit_{entry.entry_id}"))
    assert issue.translation_key == "entity_limit" and issue.translation_placeholders["limit"] == str(cap)
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    await hass.async_block_till_done()
    # Home Assistant's own doing: entities past the cap are not added
    assert registry.entities.get_enabled_count_for_config_entry_id(entry.entry_id) == cap
    await async_remove_entry(hass, entry)  # what Home Assistant calls when the user deletes the entry
    assert issues.async_get_issue(DOMAIN, f"entity_limit_{entry.entry_id}") is None


async def test_unload_frees_the_port(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("sim-1")
    await _ready(hass, "sim-1", "/3303/0/5700")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    import socket

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.bind(("::", entry.data[CONF_PORT]))
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_registrations_survive_a_restart(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sim-1")
    temp = await _ready(hass, "sim-1", "/3303/0/5700")
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    # Home Assistant stops and starts again (a reload of the entry is the same path).
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data
    assert "sim-1" in hub.source.registrations and hub.is_available("sim-1")
    assert hass.states.get(temp).state != STATE_UNAVAILABLE
    # An Update is accepted without a new Register, and the device is observed again.
    assert (await client.update()).code.dotted == "2.04"
    client.set_value("/3303/0/5700", 19.0)
    await wait_for(hass, lambda: hass.states.get(temp).state == "19.0")


async def test_deleted_device_comes_back(hass: HomeAssistant, entry: MockConfigEntry, device, hass_ws_client) -> None:
    client = await device("sim-1")
    await _ready(hass, "sim-1", "/3303/0/5700")
    device_entry = get_device(hass, "sim-1")
    assert await async_remove(hass, hass_ws_client, device_entry.id, entry.entry_id)
    assert get_device(hass, "sim-1") is None
    assert entity_id(hass, "sim-1", "/3303/0/5700", "sensor") is None
    await client.register()
    await _ready(hass, "sim-1", "/3303/0/5700")
    assert get_device(hass, "sim-1") is not None


async def async_remove(hass: HomeAssistant, hass_ws_client, device_id: str, entry_id: str) -> bool:
    """Delete a device the way the UI does."""
    assert await async_setup_component(hass, "config", {})
    ws = await hass_ws_client(hass)
    await ws.send_json(
        {
            "id": 1,
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry_id,
            "device_id": device_id,
        }
    )
    response = await ws.receive_json()
    await asyncio.sleep(0)
    return bool(response["success"])


async def test_send_fires_an_event(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sender", version="1.1")
    send = await wait_for(hass, lambda: er.async_get(hass).async_get_entity_id("event", DOMAIN, "sender_status_send"))
    temp = await _ready(hass, "sender", "/3303/0/5700")
    client.values[P("/3303/0/5700")] = 25.5
    await client.send([P("/3303/0/5700")])
    await wait_for(hass, lambda: hass.states.get(send).attributes.get("event_type") == "send")
    assert hass.states.get(send).attributes["values"] == {"/3303/0/5700": 25.5}
    await wait_for(hass, lambda: hass.states.get(temp).state == "25.5")  # Send updates the state too


async def test_push_button_presses(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("button", values={P("/3347/0/5500"): False, P("/3347/0/5501"): 0}, executables=set())
    press = await _ready(hass, "button", "/3347/0/5501", "event")
    await wait_for(hass, lambda: any(str(p) == "/3347/0/5501" for (p,), _o in client.root.observers))
    client.set_value("/3347/0/5501", 1)
    await wait_for(hass, lambda: hass.states.get(press).attributes.get("event_type") == "pressed")
    assert hass.states.get(press).attributes["count"] == 1


async def test_names_stay_unique_when_an_instance_read_fails(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    """A device that refuses whole-instance reads still gets every table row, each named apart."""
    client = await device("picky", values={P("/3304/0/5700"): 40.0}, executables=set(), misbehave="resources-only")
    humidity = await _ready(hass, "picky", "/3304/0/5700")
    low = await _ready(hass, "picky", "/3304/0/5601")
    high = await _ready(hass, "picky", "/3304/0/5602")
    registry = er.async_get(hass)
    assert humidity == "sensor.picky_humidity"
    assert registry.async_get(low).translation_key == "humidity_min"
    assert registry.async_get(high).translation_key == "humidity_max"
    assert low != high and not humidity.endswith("_2")
    assert ("GET", "/3304/0", 112) in client.requests  # it asked, and was refused
    await wait_for(hass, lambda: hass.states.get(humidity).state == "40.0")  # observed resource by resource


async def test_action_on_a_sleeping_device_is_bounded(
    hass: HomeAssistant, entry: MockConfigEntry, device, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.lwm2m import hub as hub_module

    monkeypatch.setattr(hub_module, "ACTION_TIMEOUT", 0.5)
    entry.runtime_data.source.queue.window = 0.1
    client = await device("sleepy", queue_mode=True)
    light = await _ready(hass, "sleepy", "/3311/0/5850", "switch")
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    await client.sleep()
    await asyncio.sleep(0.2)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("switch", "turn_on", {"entity_id": light}, blocking=True)
    assert err.value.translation_key == "timeout"
    assert err.value.translation_placeholders == {"endpoint": "sleepy", "timeout": "0.5"}
    await client._open(client.local_port)


async def test_location_becomes_a_tracker(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    values = {
        P("/3/0/0"): "Trackers Ltd",
        P("/6/0/0"): 48.8566,
        P("/6/0/1"): 2.3522,
        P("/6/0/2"): 35.0,
        P("/6/0/3"): 12.4,
        P("/6/0/5"): datetime.fromtimestamp(1_700_000_000, UTC),
    }
    client = await device("tracker-1", values=values, executables=set())
    tracker = await _ready(hass, "tracker-1", "/6/0/0", "device_tracker")
    await wait_for(hass, lambda: hass.states.get(tracker).attributes.get("latitude") == 48.8566)
    state = hass.states.get(tracker)
    assert state.attributes["longitude"] == 2.3522 and state.attributes["gps_accuracy"] == 12
    assert state.attributes["source_type"] == "gps" and state.name == "tracker-1 Location"
    altitude = await _ready(hass, "tracker-1", "/6/0/2")
    assert hass.states.get(altitude).state == "35.0"
    # The whole instance is observed: a new position moves the tracker.
    await wait_for(hass, lambda: any(str(p) == "/6/0" for (p,), _o in client.root.observers))
    client.values[P("/6/0/1")] = 2.2945
    client.set_value("/6/0/0", 48.8584)
    await wait_for(hass, lambda: hass.states.get(tracker).attributes.get("latitude") == 48.8584)
    assert hass.states.get(tracker).attributes["longitude"] == 2.2945


async def test_multiple_resources_not_read_get_their_first_instance(
    hass: HomeAssistant, entry: MockConfigEntry, device, caplog
) -> None:
    """With no values read, /3/0/7 (a multiple resource) is still named with its index."""
    await device("picky", misbehave="resources-only")
    volts = await _ready(hass, "picky", "/3/0/7/0")
    await wait_for(hass, lambda: hass.states.get(volts).state == "3800")  # observed, then notified
    assert hass.states.get(volts).name == "picky Supply voltage 0"
    assert entity_id(hass, "picky", "/3/0/7", "sensor") is None
    assert "{index}" not in caplog.text and "placeholder" not in caplog.text.lower()


async def test_the_two_lifetimes_have_distinct_names(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("sim-1", lifetime=120)
    granted = await wait_for(
        hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sim-1_status_lifetime")
    )
    setting = await _ready(hass, "sim-1", "/1/0/1", "number")
    assert hass.states.get(granted).name == "sim-1 Registration lifetime (granted)"
    assert hass.states.get(granted).state == "120"
    assert hass.states.get(setting).name == "sim-1 Lifetime setting (device)"
    await wait_for(hass, lambda: hass.states.get(setting).state == "60.0")


async def test_a_storm_of_devices_is_set_up_a_bounded_number_at_a_time(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    """After a registration each device is read and observed; in a storm only setup_slots of them
    at once (5,000 at once starved each other in a real Home Assistant), and every one finishes."""
    hub = entry.runtime_data
    hub.setup_slots = asyncio.Semaphore(2)
    source = hub.source
    busy, most = 0, 0

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[None]:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        try:
            await asyncio.sleep(0.02)  # a device that takes its time
            yield
        finally:
            busy -= 1

    _around_reads(source, counted)
    names = [f"storm-{n}" for n in range(6)]
    await asyncio.gather(*(device(name) for name in names))
    for name in names:
        await _ready(hass, name, "/3303/0/5700")
    await wait_for(hass, lambda: all(source.observations.of(name) for name in names))
    assert most == 2
