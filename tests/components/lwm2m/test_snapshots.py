"""Snapshots (syrupy, as Home Assistant core's tests) of the entities typical devices get: the
simulated device (objects 1, 3, 3303, 3311) and a battery-powered tracker (3, 3304, 3411, 6).

Only our own fields are kept: registry entries and states carry more, and what else differs
between the Home Assistant releases we support; nothing that changes from run to run (times,
addresses, ports) is in them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.lwm2m.lwm2m.path import Path

from .conftest import wait_for

P = Path.parse
TRACKER = {
    P("/3/0/0"): "Trackers Ltd",
    P("/3/0/1"): "T-100",
    P("/3/0/2"): "SN-42",
    P("/3/0/3"): "2.0.1",
    P("/3/0/9"): 80,
    P("/3304/0/5700"): 40.5,
    P("/3304/0/5701"): "%RH",
    P("/3304/0/5601"): 35.0,
    P("/3304/0/5602"): 60.0,
    P("/3411/0/1"): 80,
    P("/3411/0/3"): 3.7,
    P("/3411/0/6"): False,
    P("/6/0/0"): 48.8566,
    P("/6/0/1"): 2.3522,
    P("/6/0/2"): 35.0,
    P("/6/0/3"): 12.4,
    P("/6/0/5"): datetime.fromtimestamp(1_700_000_000, UTC),
    P("/6/0/6"): 1.5,
}
# What a state or an entity's capabilities hold in some of the Home Assistant releases we support
# and not in others (a tracker's tracking_type and zones came in 2026).
RELEASE_ATTRIBUTES = {"in_zones", "tracking_type"}


def _plain(value: Any) -> Any:
    """Enums as their values, mappings and sequences as plain ones: the same on every release."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def _ours(attributes: Any) -> Any:
    """Attributes or capabilities without what only some releases have."""
    if attributes is None:
        return None
    return {k: v for k, v in attributes.items() if k not in RELEASE_ATTRIBUTES} or None


def _entities(hass: HomeAssistant, entry: MockConfigEntry, endpoint: str) -> dict[str, Any]:
    registry = er.async_get(hass)
    found = {}
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        if not item.unique_id.startswith(f"{endpoint}_"):
            continue
        state = hass.states.get(item.entity_id)
        found[item.entity_id] = _plain(
            {
                "unique_id": item.unique_id,
                "translation_key": item.translation_key,
                "original_name": item.original_name,
                "device_class": item.original_device_class,
                "entity_category": item.entity_category,
                "disabled_by": item.disabled_by,
                "unit_of_measurement": item.unit_of_measurement,
                "capabilities": _ours(item.capabilities),
                "state": state.state if state else None,
                "attributes": _ours(state.attributes) if state else None,
            }
        )
    return dict(sorted(found.items()))


async def _settled(hass: HomeAssistant, entry: MockConfigEntry, endpoint: str, entity_id: str, state: str) -> None:
    """Until the device is set up, observed, and entity_id shows state."""

    def done() -> bool:
        shown = hass.states.get(entity_id)
        return not entry.runtime_data._setups and shown is not None and shown.state == state

    await wait_for(hass, done)


@pytest.mark.parametrize(
    ("endpoint", "values", "settled"),
    [
        ("sim-1", None, ("sensor.sim_1_temperature", "21.5")),
        ("tracker-1", TRACKER, ("device_tracker.tracker_1_location", "not_home")),
    ],
    ids=["simulated_device", "battery_tracker"],
)
async def test_entities_of_a_typical_device(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    device,
    snapshot: SnapshotAssertion,
    endpoint: str,
    values: dict[Path, Any] | None,
    settled: tuple[str, str],
) -> None:
    await device(endpoint, **({} if values is None else {"values": values, "executables": set()}))
    await wait_for(hass, lambda: er.async_get(hass).async_get(settled[0]))
    await _settled(hass, entry, endpoint, *settled)
    assert _entities(hass, entry, endpoint) == snapshot
