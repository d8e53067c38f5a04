"""Numbers: writable numeric resources (dimmers, set points, the registration lifetime)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import LwM2MEntity, description_kwargs
from .lwm2m.values import DataType
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.NUMBER, LwM2MNumber)


class LwM2MNumber(LwM2MEntity, NumberEntity):
    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        rdef = hub.model.resource(spec.path)
        extra = spec.row.extra
        integer = rdef is not None and rdef.type in (DataType.INTEGER, DataType.UNSIGNED_INTEGER)
        low = extra.get("min", rdef.range_min if rdef and rdef.range_min is not None else -1e9)
        high = extra.get("max", rdef.range_max if rdef and rdef.range_max is not None else 1e9)
        if rdef is not None and rdef.type is DataType.UNSIGNED_INTEGER:
            low = max(low, 0)
        self.entity_description = NumberEntityDescription(
            **description_kwargs(spec),
            native_unit_of_measurement=spec.unit,
            native_min_value=float(low),
            native_max_value=float(high),
            native_step=float(extra.get("step", 1 if integer else 0.1)),
            mode=NumberMode(extra.get("mode", "auto")),
        )
        self._integer = integer

    @property
    def native_value(self) -> float | None:
        value = self.resource_value
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    async def async_set_native_value(self, value: float) -> None:
        await self.hub.async_write(self.endpoint, self.path, round(value) if self._integer else value)
