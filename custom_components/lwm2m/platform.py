"""Adding entities when the hub finds them: shared by every platform."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SIGNAL_NEW_ENTITIES
from .mapping import EntitySpec

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub


def setup_platform(
    hass: HomeAssistant,
    entry: LwM2MConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: Platform,
    factory: Callable[[LwM2MHub, EntitySpec], Entity],
) -> None:
    """Add entities of one platform now (restored endpoints) and whenever the hub finds more."""
    hub = entry.runtime_data

    @callback
    def add(specs: list[EntitySpec]) -> None:
        async_add_entities([factory(hub, spec) for spec in specs])

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_NEW_ENTITIES.format(entry_id=entry.entry_id, platform=platform), add)
    )
    existing = [spec for specs in hub.specs.values() for spec in specs.values() if spec.row.platform is platform]
    if existing:
        add(existing)
