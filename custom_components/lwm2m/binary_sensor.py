"""Binary sensors: readable boolean resources (digital inputs, presence, push buttons)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import LwM2MEntity, description_kwargs
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.BINARY_SENSOR, LwM2MBinarySensor)


class LwM2MBinarySensor(LwM2MEntity, BinarySensorEntity):
    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = BinarySensorEntityDescription(
            **description_kwargs(spec),
            device_class=cast(Any, spec.device_class),  # the platform's enum moved between releases
        )

    @property
    def is_on(self) -> bool | None:
        value = self.resource_value
        return None if value is None else bool(value)
