"""After a registration storm the objects it left are frozen for the garbage collector, once.

gc.freeze is replaced by a recorder of its calls: the real one would freeze the test process.
"""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.lwm2m import hub as hub_module
from custom_components.lwm2m.const import CONF_PORT, DOMAIN
from custom_components.lwm2m.sensor import LwM2MSensor
from tests.core.rawcoap import RawDevice

from .conftest import wait_for

DELAY = 0.4
SLOW = 0.15


def _shown(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    """How many of the entry's entities have a state (are added)."""
    entries = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    return sum(1 for e in entries if hass.states.get(e.entity_id) is not None)


@pytest.fixture
def frozen(hass: HomeAssistant, entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many of the entry's entities were added at each gc.freeze."""
    calls: list[int] = []
    monkeypatch.setattr(hub_module, "STORM", 3)
    monkeypatch.setattr(hub_module, "FREEZE_DELAY", DELAY)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(_shown(hass, entry)))
    return calls


def _slow_sensors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sensor takes SLOW s to be added, one after another (a busy Home Assistant)."""
    added = LwM2MSensor.async_added_to_hass

    async def slow(self: LwM2MSensor) -> None:
        await asyncio.sleep(SLOW)
        await added(self)

    monkeypatch.setattr(LwM2MSensor, "async_added_to_hass", slow)


async def test_a_storm_is_frozen_once_its_entities_are_in(
    hass: HomeAssistant, entry: MockConfigEntry, device, frozen: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen FREEZE_DELAY s after the storm's last entity was added: frozen earlier, the entities
    still to come would be walked by every later full collection. A busy Home Assistant adds
    what it is handed long after the handover (here each sensor takes SLOW s, one after another)."""
    _slow_sensors(monkeypatch)
    names = [f"storm-{n}" for n in range(5)]
    await asyncio.gather(*(device(name) for name in names))
    await wait_for(hass, lambda: frozen)
    assert frozen[0] == _shown(hass, entry)  # every entity of the storm was in when it froze
    registry = er.async_get(hass)
    assert len({e.device_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}) == len(names)
    # once a storm: a device registering afterwards (no storm) freezes nothing more
    await device("later")
    await wait_for(hass, lambda: not entry.runtime_data._setups and hass.states.get(_temperature(hass, "later")))
    await asyncio.sleep(2 * DELAY)
    assert len(frozen) == 1


async def test_entities_trickling_in_put_the_freeze_off_for_a_while_only(
    hass: HomeAssistant, entry: MockConfigEntry, device, frozen: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most FREEZE_MAX_WAIT s after the storm settled, however long its entities keep coming."""
    monkeypatch.setattr(hub_module, "FREEZE_MAX_WAIT", SLOW)
    _slow_sensors(monkeypatch)
    await asyncio.gather(*(device(f"storm-{n}") for n in range(5)))
    await wait_for(hass, lambda: frozen)
    await asyncio.sleep(2 * DELAY)
    assert frozen[0] < _shown(hass, entry)  # frozen while the sensors were still coming
    assert len(frozen) == 1


def _temperature(hass: HomeAssistant, endpoint: str) -> str:
    return er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{endpoint}_3303_0_5700") or "sensor.none"


def _later(hass: HomeAssistant, seconds: float) -> None:
    """Let Home Assistant's timers due in the next seconds run."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))


async def test_a_device_or_two_are_no_storm(
    hass: HomeAssistant, entry: MockConfigEntry, device, frozen: list[int]
) -> None:
    """Devices registering one by one over days are no storm: each freeze also keeps whatever
    garbage exists at that moment for good."""
    for name in ("one", "two"):
        await device(name)
        await wait_for(hass, lambda: not entry.runtime_data._setups)
    await asyncio.sleep(3 * DELAY)
    assert frozen == []


async def test_a_storm_unloaded_while_it_settles_freezes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, device, frozen: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "FREEZE_DELAY", 60.0)  # the timers are run by hand
    await asyncio.gather(*(device(f"storm-{n}") for n in range(5)))
    hub = entry.runtime_data
    await wait_for(hass, lambda: hub._storm_settling and hub._creator is None and "freeze" in hub._timers)
    assert await hass.config_entries.async_unload(entry.entry_id)
    _later(hass, 120)
    await hass.async_block_till_done()
    assert frozen == []


async def test_setups_cancelled_by_an_unload_start_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, device, frozen: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unload cancels the setups under way: the last one's end (a storm's) creates none of
    the entities that waited for it, and arms no freeze, on the stopped hub."""
    monkeypatch.setattr(hub_module, "FREEZE_DELAY", 60.0)
    monkeypatch.setattr(hub_module, "ENTITY_WAIT", 60.0)  # the devices' entities wait for stuck's setup
    stuck = RawDevice(entry.data[CONF_PORT], "stuck")  # its setup waits for answers that never come
    await stuck.start()
    try:
        await stuck.register()
        await stuck.next_request()
        await asyncio.gather(*(device(f"storm-{n}") for n in range(4)))
        hub = entry.runtime_data
        await wait_for(hass, lambda: list(hub._setups) == ["stuck"])
        assert _shown(hass, entry) == 0 and hub._waiting
        assert await hass.config_entries.async_unload(entry.entry_id)
        _later(hass, 120)
        await hass.async_block_till_done()
        assert frozen == []
        assert _shown(hass, entry) == 0
    finally:
        await stuck.stop()
