"""The services' errors name what the user gave them, and a call's timeout bounds a queued read."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.lwm2m.path import Path

from .conftest import wait_for
from .test_services import call


@pytest.fixture
async def sim(hass: HomeAssistant, entry: MockConfigEntry, device):
    client = await device("sim-1")
    await wait_for(hass, lambda: entry.runtime_data.registration("sim-1") and not entry.runtime_data._setups)
    return client


async def test_errors_name_the_path(hass: HomeAssistant, sim) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "execute", endpoint="sim-1", path="/3/0")
    assert err.value.translation_key == "invalid_path"
    assert err.value.translation_placeholders == {"path": "/3/0"}
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "write", endpoint="sim-1", path="/3311/0/5851", value="bright")
    assert err.value.translation_key == "invalid_value"
    assert err.value.translation_placeholders["path"] == "/3311/0/5851"
    assert sim.values[Path.parse("/3311/0/5851")] == 50  # nothing was written


async def test_a_queued_read_leaves_the_queue_at_its_timeout(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    queue = entry.runtime_data.source.queue
    queue.window = 0.2
    client = await device("sleepy", queue_mode=True)
    await wait_for(hass, lambda: entry.runtime_data.registration("sleepy") and not entry.runtime_data._setups)
    await client.sleep()
    await wait_for(hass, lambda: not queue.is_awake("sleepy"))
    asked_before = len(client.requests)
    queued = await call(hass, "read", endpoint="sleepy", path="/3/0/9", wait=False, timeout=0.3)
    assert queued == {"status": "queued", "queued": 1}
    await wait_for(hass, lambda: queue.queued("sleepy") == 0, timeout=3)  # given up after the call's 0.3 s
    await asyncio.sleep(0.1)
    await client.wake()
    # The device, awake again, is asked only what is still wanted.
    assert (await call(hass, "read", endpoint="sleepy", path="/3/0/0", timeout=5))["values"] == {
        "/3/0/0": "Simulated Devices Inc."
    }
    assert [r[:2] for r in client.requests[asked_before:]] == [("GET", "/3/0/0")]
