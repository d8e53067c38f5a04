"""Selects and texts, and the generic entities of an object that only the user's object files describe.

A writable Integer with an enumeration in its object definition is a select; a writable
String a text. Both show what the device holds and write what the user picks or types.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path as FsPath

import pytest
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_PORT, CONF_XML_DIR, DOMAIN
from custom_components.lwm2m.lwm2m.path import Path
from tests.sim import SimClient

from .conftest import entry_data, free_udp_port, wait_for

P = Path.parse

HEAT_PUMP = """<?xml version="1.0" encoding="UTF-8"?>
<LWM2M>
  <Object ObjectType="MODefinition">
    <Name>Heat Pump</Name>
    <ObjectID>40010</ObjectID>
    <MultipleInstances>Single</MultipleInstances>
    <Resources>
      <Item ID="1"><Name>Mode</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>
        <Type>Integer</Type><RangeEnumeration>0: Off
1: Eco
2: Comfort</RangeEnumeration></Item>
      <Item ID="2"><Name>Label</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>
        <Type>String</Type></Item>
      <Item ID="3"><Name>Flow Temperature</Name><Operations>RW</Operations>
        <MultipleInstances>Single</MultipleInstances><Type>Float</Type><Units>Cel</Units></Item>
      <Item ID="4"><Name>Calibration</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
        <Type>Opaque</Type></Item>
      <Item ID="5"><Name>Service Code</Name><Operations>W</Operations><MultipleInstances>Single</MultipleInstances>
        <Type>String</Type></Item>
      <Item ID="6"><Name>Status</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
        <Type>Integer</Type><RangeEnumeration>0: Idle
1: Heating</RangeEnumeration></Item>
      <Item ID="7"><Name>Defrost</Name><Operations>E</Operations><MultipleInstances>Single</MultipleInstances>
        <Type></Type></Item>
    </Resources>
  </Object>
</LWM2M>
"""
PUMP_VALUES = {
    P("/3/0/0"): "Acme",
    P("/40010/0/1"): 1,
    P("/40010/0/2"): "Hall",
    P("/40010/0/3"): 35.0,
    P("/40010/0/4"): b"\x01\x02",
    P("/40010/0/5"): "not readable, yet sent",  # a device that answers a read with a write-only resource
    P("/40010/0/6"): 1,
    P("/40010/0/7"): "",  # and one that sends a value for an executable resource
}


def entity_id(hass: HomeAssistant, endpoint: str, path: str, platform: str) -> str | None:
    unique_id = f"{endpoint}_{'_'.join(path.strip('/').split('/'))}"
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


async def _ready(hass: HomeAssistant, endpoint: str, path: str, platform: str) -> str:
    return await wait_for(hass, lambda: entity_id(hass, endpoint, path, platform))


@pytest.fixture
async def pump_entry(hass: HomeAssistant, udp: None, tmp_path: FsPath) -> AsyncGenerator[MockConfigEntry]:
    (tmp_path / "40010.xml").write_text(HEAT_PUMP)
    port = free_udp_port()
    entry = MockConfigEntry(
        domain=DOMAIN, title="LwM2M server", unique_id=str(port), data=entry_data(port, **{CONF_XML_DIR: str(tmp_path)})
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def pump(hass: HomeAssistant, pump_entry: MockConfigEntry) -> AsyncGenerator[SimClient]:
    client = SimClient("pump", pump_entry.data[CONF_PORT], values=PUMP_VALUES, executables=set())
    await client.start()
    yield client
    await client.stop()


async def test_an_enumeration_is_a_select(hass: HomeAssistant, pump: SimClient) -> None:
    mode = await _ready(hass, "pump", "/40010/0/1", "select")
    await wait_for(hass, lambda: hass.states.get(mode).state == "Eco")
    state = hass.states.get(mode)
    assert state.attributes["options"] == ["Off", "Eco", "Comfort"]
    assert state.name == "pump Heat Pump Mode"
    registry_entry = er.async_get(hass).async_get(mode)
    assert registry_entry.disabled_by is None and registry_entry.entity_category is None

    await hass.services.async_call("select", "select_option", {"entity_id": mode, "option": "Comfort"}, blocking=True)
    assert pump.values[P("/40010/0/1")] == 2
    assert pump.written[-1][1] == P("/40010/0/1")
    assert hass.states.get(mode).state == "Comfort"

    # the device changes it itself; a number outside the enumeration shows as unknown
    pump.set_value("/40010/0/1", 0)
    await wait_for(hass, lambda: hass.states.get(mode).state == "Off")
    pump.set_value("/40010/0/1", 7)
    await wait_for(hass, lambda: hass.states.get(mode).state == STATE_UNKNOWN)

    with pytest.raises(ServiceValidationError):
        await hass.services.async_call("select", "select_option", {"entity_id": mode, "option": "Turbo"}, blocking=True)
    assert pump.values[P("/40010/0/1")] == 7

    pump.misbehave = "error"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("select", "select_option", {"entity_id": mode, "option": "Eco"}, blocking=True)
    assert err.value.translation_key == "refused" and err.value.translation_placeholders["code"] == "5.00"
    assert hass.states.get(mode).state == STATE_UNKNOWN  # the state stays what the device has


async def test_generic_entities_of_a_described_object(hass: HomeAssistant, pump: SimClient) -> None:
    registry = er.async_get(hass)
    # read-only enumeration: a sensor, not a select
    status = await _ready(hass, "pump", "/40010/0/6", "sensor")
    assert entity_id(hass, "pump", "/40010/0/6", "select") is None
    await wait_for(hass, lambda: hass.states.get(status).state == "1")
    # a writable Float without enumeration: a number in a box, with the model's unit
    flow = await _ready(hass, "pump", "/40010/0/3", "number")
    await wait_for(hass, lambda: hass.states.get(flow).state == "35.0")
    assert hass.states.get(flow).attributes["mode"] == "box"
    assert hass.states.get(flow).attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    await hass.services.async_call("number", "set_value", {"entity_id": flow, "value": 41.5}, blocking=True)
    assert pump.values[P("/40010/0/3")] == 41.5
    # opaque: a disabled diagnostic sensor of raw bytes
    calibration = await _ready(hass, "pump", "/40010/0/4", "sensor")
    entry = registry.async_get(calibration)
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert entry.entity_category is EntityCategory.DIAGNOSTIC
    # an executable: a disabled button, never a sensor of what the device sent
    defrost = await _ready(hass, "pump", "/40010/0/7", "button")
    assert registry.async_get(defrost).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert registry.async_get(defrost).entity_category is EntityCategory.CONFIG
    # write-only: no entity at all, whatever the device sent
    await _ready(hass, "pump", "/40010/0/2", "text")
    entry_id = hass.config_entries.async_entries(DOMAIN)[0].entry_id
    unique_ids = {e.unique_id for e in er.async_entries_for_config_entry(registry, entry_id)}
    assert "pump_40010_0_4" in unique_ids and "pump_40010_0_5" not in unique_ids


async def test_a_unit_from_the_device_that_contradicts_the_table(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    """A temperature object whose device says its unit is %RH: the device's unit, and no device class
    (a temperature in % would be refused by Home Assistant's sensor checks)."""
    values = {P("/3/0/0"): "Acme", P("/3303/0/5700"): 40.0, P("/3303/0/5701"): "%RH"}
    await device("odd-temp", values=values, executables=set())
    sensor = await _ready(hass, "odd-temp", "/3303/0/5700", "sensor")
    await wait_for(hass, lambda: hass.states.get(sensor).state == "40.0")
    attributes = hass.states.get(sensor).attributes
    assert attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert "device_class" not in attributes


async def test_a_writable_string_is_a_text(hass: HomeAssistant, pump: SimClient) -> None:
    label = await _ready(hass, "pump", "/40010/0/2", "text")
    await wait_for(hass, lambda: hass.states.get(label).state == "Hall")
    assert er.async_get(hass).async_get(label).entity_category is EntityCategory.CONFIG
    assert hass.states.get(label).attributes["max"] == 255
    await hass.services.async_call("text", "set_value", {"entity_id": label, "value": "Cellar"}, blocking=True)
    assert pump.values[P("/40010/0/2")] == "Cellar"
    assert hass.states.get(label).state == "Cellar"
    pump.set_value("/40010/0/2", "Attic")
    await wait_for(hass, lambda: hass.states.get(label).state == "Attic")


async def test_display_text_longer_than_a_state_can_hold(
    hass: HomeAssistant, entry: MockConfigEntry, device, caplog: pytest.LogCaptureFixture
) -> None:
    """/3341/0/5527 (a display's text) is a text; 300 characters on the device show as the first 255."""
    client = await device("display", values={P("/3/0/0"): "Acme", P("/3341/0/5527"): "Hello"}, executables=set())
    text = await _ready(hass, "display", "/3341/0/5527", "text")
    await wait_for(hass, lambda: hass.states.get(text).state == "Hello")
    assert hass.states.get(text).name == "display Display text"  # the table's translation key
    long = "".join(chr(ord("a") + i % 26) for i in range(300))
    client.set_value("/3341/0/5527", long)
    await wait_for(hass, lambda: len(hass.states.get(text).state) == 255)
    assert hass.states.get(text).state == long[:255]
    assert "Traceback" not in caplog.text
    await hass.services.async_call("text", "set_value", {"entity_id": text, "value": "Bye"}, blocking=True)
    assert client.values[P("/3341/0/5527")] == "Bye"
    assert hass.states.get(text).state == "Bye"
