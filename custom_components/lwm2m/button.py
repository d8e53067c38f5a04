"""Buttons: executable resources (3/0/4 reboot, 3/0/5 factory reset, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
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
    setup_platform(hass, entry, async_add_entities, Platform.BUTTON, LwM2MButton)


class LwM2MButton(LwM2MEntity, ButtonEntity):
    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = ButtonEntityDescription(
            **description_kwargs(spec),
            device_class=cast(Any, spec.device_class),  # the platform's enum moved between releases
        )

    async def async_press(self) -> None:
        await self.hub.async_execute(self.endpoint, self.path)
