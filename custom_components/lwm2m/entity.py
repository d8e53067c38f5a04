"""The base of every LwM2M entity, and the set-up every platform shares.

An entity is one match (endpoint, path, description), with its device and its availability.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, SIGNAL_NEW_ENTITIES, Topic
from .hub import LwM2MConfigEntry
from .lwm2m.path import Path
from .lwm2m.values import Value

if TYPE_CHECKING:
    from .hub import LwM2MHub
    from .mapping import LwM2MEntityDescription, Match

type SetupEntry = Callable[[HomeAssistant, LwM2MConfigEntry, AddConfigEntryEntitiesCallback], Coroutine[Any, Any, None]]


def platform_setup(platform: Platform) -> SetupEntry:
    """Make a platform's async_setup_entry: each match becomes an entity of its description's class.

    That happens now (devices known from the last run) and whenever the hub finds more.
    """

    async def async_setup_entry(
        hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        hub = entry.runtime_data

        @callback
        def add(matches: list[Match]) -> None:
            async_add_entities([match.description.entity_class(hub, match) for match in matches])

        entry.async_on_unload(
            async_dispatcher_connect(hass, SIGNAL_NEW_ENTITIES.format(entry_id=entry.entry_id, platform=platform), add)
        )
        add(hub.matches_for(platform))

    return async_setup_entry


class LwM2MEntity(Entity):
    """An entity of one LwM2M device, built from what the matcher found.

    The hub calls `_on_value` with each new value of (endpoint, path) and nothing else; the
    value (through the description's value_fn, where it needs converting) goes to the attribute
    the platform shows it in, and the state is written, once.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _state_attr: ClassVar[str] = ""  # the attribute that holds the resource's value ("": none)
    entity_description: LwM2MEntityDescription

    def __init__(self, hub: LwM2MHub, match: Match) -> None:
        """Attach the entity to its hub and its match."""
        self.hub = hub
        self.endpoint = match.endpoint
        self.path = match.path or Path(())
        self.entity_description = match.description
        self._attr_unique_id = match.unique_id
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, match.endpoint)})
        self._attr_available = hub.is_available(match.endpoint)

    async def async_added_to_hass(self) -> None:
        """Follow the device's availability and the entity's value."""
        hub, endpoint = self.hub, self.endpoint
        self.async_on_remove(hub.async_subscribe(endpoint, Topic.AVAILABILITY, self._on_availability))
        if not self._state_attr:
            return
        self.async_on_remove(hub.async_subscribe(endpoint, self.path, self._on_value))
        if (value := hub.value(endpoint, self.path)) is not None:
            self._on_value(value)

    @callback
    def _on_availability(self, available: bool) -> None:
        self._attr_available = available
        self.async_write_ha_state()

    @callback
    def _on_value(self, value: Value) -> None:
        value_fn = self.entity_description.value_fn
        setattr(self, self._state_attr, value if value_fn is None else value_fn(value))
        self.async_write_ha_state()
