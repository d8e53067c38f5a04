"""Binary sensors: readable boolean resources (digital inputs, presence, push buttons)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined,unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import Platform

from .entity import LwM2MRestoreEntity, platform_setup
from .mapping import EntityClass, Kind, LwM2MEntityDescription, ValueFn


class LwM2MBinarySensor(LwM2MRestoreEntity, BinarySensorEntity):
    """A boolean resource shown as on or off."""

    entity_description: LwM2MBinarySensorDescription
    _state_attr = "_attr_is_on"


@dataclass(frozen=True, kw_only=True)
class LwM2MBinarySensorDescription(BinarySensorEntityDescription, LwM2MEntityDescription):
    """Describe a binary sensor for a boolean LwM2M resource."""

    entity_class: EntityClass = LwM2MBinarySensor
    value_fn: ValueFn = bool


DISCOVERY_SCHEMAS = [
    LwM2MBinarySensorDescription(
        key="digital_input", objects=(3200,), resource_id=5500, translation_key="digital_input"
    ),
    LwM2MBinarySensorDescription(
        key="presence", objects=(3302,), resource_id=5500, device_class=BinarySensorDeviceClass.OCCUPANCY
    ),
    LwM2MBinarySensorDescription(
        key="on_off_switch", objects=(3342,), resource_id=5500, translation_key="on_off_switch"
    ),
    LwM2MBinarySensorDescription(key="push_button", objects=(3347,), resource_id=5500, translation_key="push_button"),
    LwM2MBinarySensorDescription(
        key="battery_low", objects=(3411,), resource_id=6, device_class=BinarySensorDeviceClass.BATTERY
    ),
    # Boolean resources no row names, read-only
    LwM2MBinarySensorDescription(key="flag", generic=Kind.FLAG),
]

PARALLEL_UPDATES = 0
async_setup_entry = platform_setup(Platform.BINARY_SENSOR)
