"""Buttons: executable resources (3/0/4 reboot, 3/0/5 factory reset, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.button import (  # type: ignore[attr-defined,unused-ignore]
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory, Platform

from .entity import LwM2MEntity, platform_setup
from .mapping import EntityClass, Kind, LwM2MEntityDescription
from .sensor import IPSO_SENSORS


class LwM2MButton(LwM2MEntity, ButtonEntity):
    """An executable resource: pressing executes it."""

    entity_description: LwM2MButtonDescription

    async def async_press(self) -> None:
        """Execute the resource."""
        await self.hub.async_execute(self.endpoint, self.path)


@dataclass(frozen=True, kw_only=True)
class LwM2MButtonDescription(ButtonEntityDescription, LwM2MEntityDescription):
    """Describe a button for an executable LwM2M resource."""

    entity_class: EntityClass = LwM2MButton
    entity_category: EntityCategory | None = EntityCategory.CONFIG
    observe: bool = False


DISCOVERY_SCHEMAS = [
    LwM2MButtonDescription(
        key="reboot", objects=(3,), resource_id=4, translation_key="reboot", device_class=ButtonDeviceClass.RESTART
    ),
    *(
        LwM2MButtonDescription(
            key=key, objects=objects, resource_id=rid, translation_key=key, entity_registry_enabled_default=False
        )
        for key, objects, rid in (
            ("factory_reset", (3,), 5),
            ("reset_error_code", (3,), 12),
            ("reset_min_max", tuple(IPSO_SENSORS), 5605),
            ("reset_energy", (3331,), 5822),
        )
    ),
    # Executable resources no row names
    LwM2MButtonDescription(key="command", generic=Kind.COMMAND, entity_registry_enabled_default=False),
]

PARALLEL_UPDATES = 1
async_setup_entry = platform_setup(Platform.BUTTON)
