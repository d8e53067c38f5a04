"""What an entity shows of the resource behind it: its name, unit, device class, limits and
state, for rows and for the resources no row names; and what its actions send to the device."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.lwm2m.const import DOMAIN
from custom_components.lwm2m.lwm2m.path import Path
from tests.sim.client import DEFAULT_VALUES

from .conftest import wait_for
from .test_devices import entity_id, get_device

P = Path.parse
LONG_NAME = "firmware-" + "x" * 291  # 300 characters: more than a state holds
EXTRA = {
    P("/3300/0/5700"): 1.5,  # a generic IPSO sensor: no device class, named by its row
    P("/3305/0/5518"): datetime.fromtimestamp(1_700_000_000, UTC),  # a read-only Time no row names
    P("/5/0/6"): LONG_NAME,  # a read-only string no row names (Firmware Update's PkgName)
    P("/5/0/13"): 30,  # a writable Unsigned Integer with no range (Maximum Defer Period)
    P("/3343/0/5851"): 40,  # the dimmer row on an object whose model has no resource 5851
}


async def _ready(hass: HomeAssistant, path: str, platform: str) -> str:
    return await wait_for(hass, lambda: entity_id(hass, "sim-1", path, platform))


async def _state(hass: HomeAssistant, path: str, platform: str):
    eid = await _ready(hass, path, platform)
    return await wait_for(hass, lambda: (s := hass.states.get(eid)) is not None and s.state != "unknown" and s)


@pytest.fixture
async def sim(hass: HomeAssistant, entry: MockConfigEntry, device):
    # Object 5's resources besides its update entity are off by default; these two the user turned on.
    registry = er.async_get(hass)
    for platform, unique_id in (("sensor", "sim-1_5_0_6"), ("number", "sim-1_5_0_13")):
        registry.async_get_or_create(platform, DOMAIN, unique_id, config_entry=entry)
    client = await device("sim-1", values={**DEFAULT_VALUES, **EXTRA})
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    return client


async def test_resources_no_row_names(hass: HomeAssistant, sim) -> None:
    # A Time is a timestamp sensor, in ISO 8601.
    stamp = await _state(hass, "/3305/0/5518", "sensor")
    assert stamp.attributes[ATTR_DEVICE_CLASS] == "timestamp"
    assert stamp.state == "2023-11-14T22:13:20+00:00"
    # A string longer than a state holds shows its first 255 characters.
    name = await _state(hass, "/5/0/6", "sensor")
    assert name.state == LONG_NAME[:255]
    # An unsigned integer setting: never below 0, in whole steps.
    defer = await _state(hass, "/5/0/13", "number")
    assert float(defer.state) == 30
    assert (defer.attributes["min"], defer.attributes["max"], defer.attributes["step"]) == (0, 1e9, 1)


async def test_rows_name_and_measure(hass: HomeAssistant, sim) -> None:
    generic = await _state(hass, "/3300/0/5700", "sensor")
    assert generic.name == "sim-1 Sensor"  # its row's translation, not the model's "Generic Sensor Sensor Value"
    assert float(generic.state) == 1.5 and ATTR_DEVICE_CLASS not in generic.attributes
    # The dimmer row where the model does not define the resource: the row's unit and range.
    dimmer = await _state(hass, "/3343/0/5851", "number")
    assert float(dimmer.state) == 40
    assert dimmer.attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert (dimmer.attributes["min"], dimmer.attributes["max"], dimmer.attributes["step"]) == (0, 100, 1)


async def test_actions_reach_the_device(hass: HomeAssistant, sim) -> None:
    light = await _ready(hass, "/3311/0/5850", "switch")
    await hass.services.async_call("switch", "turn_on", {"entity_id": light}, blocking=True)
    assert sim.values[P("/3311/0/5850")] is True and hass.states.get(light).state == STATE_ON
    await hass.services.async_call("switch", "turn_off", {"entity_id": light}, blocking=True)
    assert sim.values[P("/3311/0/5850")] is False and hass.states.get(light).state == STATE_OFF
    # An Integer resource gets a whole number: the value rounded.
    dimmer = await _ready(hass, "/3311/0/5851", "number")
    await hass.services.async_call("number", "set_value", {"entity_id": dimmer, "value": 42.6}, blocking=True)
    assert sim.values[P("/3311/0/5851")] == 43 and isinstance(sim.values[P("/3311/0/5851")], int)
    assert float(hass.states.get(dimmer).state) == 43
    # A refusal names the device it came from.
    sim.misbehave = "error"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("number", "set_value", {"entity_id": dimmer, "value": 10}, blocking=True)
    assert err.value.translation_key == "refused"
    assert err.value.translation_placeholders["endpoint"] == "sim-1"
    assert err.value.translation_placeholders["code"] == "5.00"


async def test_registration_events_carry_their_details(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    registered = async_capture_events(hass, f"{DOMAIN}_registered")
    deregistered = async_capture_events(hass, f"{DOMAIN}_deregistered")
    client = await device("sim-1", lifetime=120)
    await wait_for(hass, lambda: registered)
    data = registered[0].data
    assert (data["lifetime"], data["binding"], data["lwm2m_version"], data["queue_mode"]) == (120, "U", "1.1", False)
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    device_id = get_device(hass, "sim-1").id
    await client.deregister()
    await wait_for(hass, lambda: deregistered)
    # Deregistration says which device left, and nothing about a registration that is gone.
    assert deregistered[0].data == {"endpoint": "sim-1", "device_id": device_id}


async def test_a_reloaded_entry_shows_its_devices_at_once(hass: HomeAssistant, entry: MockConfigEntry, sim) -> None:
    temp = await _ready(hass, "/3303/0/5700", "sensor")
    defer = await _ready(hass, "/5/0/13", "number")  # a resource only what was read of the device names
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    await sim.stop()  # it says nothing from now on
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    # Known from the last run: the entities are back with their last values, marked as restored.
    state = hass.states.get(temp)
    assert state.state == "21.5" and state.attributes["restored"] is True
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    state = hass.states.get(defer)
    assert float(state.state) == 30 and state.attributes["restored"] is True
