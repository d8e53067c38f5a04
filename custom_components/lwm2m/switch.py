"""Switches: writable boolean resources (3201/5550, 3311/5850, 3312/5850, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import (  # type: ignore[attr-defined,unused-ignore]
    SwitchDeviceClass,
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.const import Platform

from .entity import LwM2MRestoreEntity, platform_setup
from .mapping import EntityClass, Kind, LwM2MEntityDescription, ValueFn


class LwM2MSwitch(LwM2MRestoreEntity, SwitchEntity):
    """A writable boolean resource: on and off are written to the device."""

    entity_description: LwM2MSwitchDescription
    _state_attr = "_attr_is_on"

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write true to the resource."""
        await self.hub.async_write(self.endpoint, self.path, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write false to the resource."""
        await self.hub.async_write(self.endpoint, self.path, False)


@dataclass(frozen=True, kw_only=True)
class LwM2MSwitchDescription(SwitchEntityDescription, LwM2MEntityDescription):
    """Describe a switch for a writable boolean LwM2M resource."""

    entity_class: EntityClass = LwM2MSwitch
    value_fn: ValueFn = bool


DISCOVERY_SCHEMAS = [
    LwM2MSwitchDescription(key="digital_output", objects=(3201,), resource_id=5550, translation_key="digital_output"),
    LwM2MSwitchDescription(key="actuation", objects=(3306,), resource_id=5850, translation_key="actuation"),
    LwM2MSwitchDescription(key="light", objects=(3311,), resource_id=5850, translation_key="light"),
    LwM2MSwitchDescription(key="outlet", objects=(3312,), resource_id=5850, device_class=SwitchDeviceClass.OUTLET),
    LwM2MSwitchDescription(key="buzzer", objects=(3338,), resource_id=5850, translation_key="buzzer"),
    LwM2MSwitchDescription(key="timer", objects=(3340,), resource_id=5850, translation_key="timer"),
    # Boolean resources no row names, writable
    LwM2MSwitchDescription(key="switch", generic=Kind.SWITCH),
]

PARALLEL_UPDATES = 1
async_setup_entry = platform_setup(Platform.SWITCH)
