"""lwm2m.write on an object instance takes a mapping of resource ids to values."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import DOMAIN
from custom_components.lwm2m.lwm2m.path import Path

from .conftest import wait_for

P = Path.parse


async def _write(hass: HomeAssistant, value: object) -> object:
    return await hass.services.async_call(
        DOMAIN, "write", {"endpoint": "sim-1", "path": "/3311/0", "value": value}, blocking=True, return_response=True
    )


async def test_an_instance_write_with_resource_ids(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    client = await device("sim-1")
    await wait_for(hass, lambda: entry.runtime_data.registration("sim-1"))
    answer = await _write(hass, {"5850": True, "5851": 40})
    assert answer == {"code": "2.04", "values": {"/3311/0/5850": True, "/3311/0/5851": 40}}
    assert client.values[P("/3311/0/5850")] is True and client.values[P("/3311/0/5851")] == 40
    with pytest.raises(ServiceValidationError) as info:
        await _write(hass, {"70000": 1})  # no such resource id
    assert info.value.translation_key == "invalid_value"


async def test_an_instance_write_with_a_key_that_is_no_resource_id(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    """A name where a resource id belongs is an invalid value (it was an unexpected ValueError
    out of the action before 039239f)."""
    client = await device("sim-1")
    await wait_for(hass, lambda: entry.runtime_data.registration("sim-1"))
    with pytest.raises(ServiceValidationError) as info:
        await _write(hass, {"on": True})
    assert info.value.translation_key == "invalid_value"
    assert "'on'" in info.value.translation_placeholders["error"]
    assert client.written == []
