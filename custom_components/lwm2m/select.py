"""Selects: writable resources with an enumeration in the object model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import LwM2MEntity, description_kwargs
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.SELECT, LwM2MSelect)


class LwM2MSelect(LwM2MEntity, SelectEntity):
    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = SelectEntityDescription(**description_kwargs(spec), options=list(spec.options))
        self._by_label = {label: key for key, label in spec.enumeration.items()}

    @property
    def current_option(self) -> str | None:
        value = self.resource_value
        return self.spec.enumeration.get(value) if isinstance(value, int) else None

    async def async_select_option(self, option: str) -> None:
        await self.hub.async_write(self.endpoint, self.path, self._by_label[option])
