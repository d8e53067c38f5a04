"""Numbers: writable numeric resources (dimmers, set points, the registration lifetime)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import PERCENTAGE, EntityCategory, Platform, UnitOfTime

from .entity import LwM2MRestoreEntity, platform_setup
from .lwm2m.values import DataType
from .mapping import EntityClass, Kind, LwM2MEntityDescription, Resource, ValueFn, number_state, unit_of

LIMIT = 1e9  # where neither the row nor the object model bounds a value


class LwM2MNumber(LwM2MRestoreEntity, NumberEntity):
    """A writable number: what is set is written to the device."""

    entity_description: LwM2MNumberDescription
    _state_attr = "_attr_native_value"

    async def async_set_native_value(self, value: float) -> None:
        """Write the new value (rounded for an integer resource)."""
        await self.hub.async_write(self.endpoint, self.path, round(value) if self.entity_description.integer else value)


@dataclass(frozen=True, kw_only=True)
class LwM2MNumberDescription(NumberEntityDescription, LwM2MEntityDescription):
    """A number row; limits, step and mode it leaves open come from the object model."""

    entity_class: EntityClass = LwM2MNumber
    value_fn: ValueFn = number_state
    integer: bool = False  # the resource takes whole numbers only

    def specialize(self, resource: Resource) -> Self:
        """Specialize the row for one resource: integer or not, and its range."""
        definition = resource.definition
        integer = definition is not None and definition.type in (DataType.INTEGER, DataType.UNSIGNED_INTEGER)
        low, high = self.native_min_value, self.native_max_value
        if low is None:
            low = definition.range_min if definition is not None and definition.range_min is not None else -LIMIT
        if high is None:
            high = definition.range_max if definition is not None and definition.range_max is not None else LIMIT
        if definition is not None and definition.type is DataType.UNSIGNED_INTEGER:
            low = max(low, 0)
        return replace(
            self,
            native_unit_of_measurement=unit_of(self.native_unit_of_measurement, None, resource, self.unit_resource)[0],
            native_min_value=float(low),
            native_max_value=float(high),
            native_step=float(self.native_step or (1 if integer else 0.1)),
            mode=self.mode or NumberMode.AUTO,
            integer=integer,
        )


DISCOVERY_SCHEMAS = [
    LwM2MNumberDescription(
        key="lifetime",
        objects=(1,),
        resource_id=1,
        translation_key="lifetime",
        native_unit_of_measurement=UnitOfTime.SECONDS,
        native_min_value=1,
        native_max_value=86400 * 30,
        native_step=1,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
        observe=False,
    ),
    LwM2MNumberDescription(
        key="analog_output", objects=(3203,), resource_id=5650, translation_key="analog_output", mode=NumberMode.BOX
    ),
    LwM2MNumberDescription(
        key="dimmer",
        objects=(3306, 3311, 3312, 3343),
        resource_id=5851,
        translation_key="dimmer",
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
    ),
    LwM2MNumberDescription(
        key="set_point",
        objects=(3308,),
        resource_id=5900,
        translation_key="set_point",
        unit_resource=5701,
        mode=NumberMode.BOX,
    ),
    # Numbers no row names, writable
    LwM2MNumberDescription(key="setting", generic=Kind.SETTING, mode=NumberMode.BOX),
]

PARALLEL_UPDATES = 1
async_setup_entry = platform_setup(Platform.NUMBER)
