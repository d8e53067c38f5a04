"""Texts: writable string resources (a display's text, a time zone)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.text import TextEntity, TextEntityDescription
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
    setup_platform(hass, entry, async_add_entities, Platform.TEXT, LwM2MText)


class LwM2MText(LwM2MEntity, TextEntity):
    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = TextEntityDescription(**description_kwargs(spec), native_max=255)

    @property
    def native_value(self) -> str | None:
        value = self.resource_value
        return None if value is None else str(value)[:255]

    async def async_set_value(self, value: str) -> None:
        await self.hub.async_write(self.endpoint, self.path, value)
