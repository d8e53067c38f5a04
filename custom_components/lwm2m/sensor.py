"""Sensors: numeric and text resources, and the status of each LwM2M device."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Self

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    LIGHT_LUX,
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfInformation,
    UnitOfLength,
    UnitOfMass,
    UnitOfPower,
    UnitOfPressure,
    UnitOfSoundPressure,
    UnitOfSpeed,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import callback
from homeassistant.helpers.typing import StateType

from .const import Topic
from .entity import LwM2MEntity, LwM2MRestoreEntity, platform_setup
from .lwm2m.events import Event
from .lwm2m.registration import Registration
from .lwm2m.values import DataType, Value
from .mapping import MAX_STATE, EntityClass, Kind, LwM2MEntityDescription, Resource, text_state, unit_of


class LwM2MSensor(LwM2MRestoreEntity, SensorEntity):
    """A resource shown as a sensor."""

    entity_description: LwM2MSensorDescription
    _state_attr = "_attr_native_value"


def _state(value: Value) -> StateType:
    """Any value as a state: opaque as hex, time as ISO 8601, a flag as 0 or 1."""
    if isinstance(value, bytes):
        return value.hex()[:MAX_STATE]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, bool) else value
    return text_state(value)


_NUMBERS = (DataType.INTEGER, DataType.UNSIGNED_INTEGER, DataType.FLOAT)


@dataclass(frozen=True, kw_only=True)
class LwM2MSensorDescription(SensorEntityDescription, LwM2MEntityDescription):
    """A sensor row (value_fn, where a row leaves it open, follows the resource's type)."""

    entity_class: EntityClass = LwM2MSensor

    def specialize(self, resource: Resource) -> Self:
        """Specialize the row for one resource: the device's unit and device class."""
        unit, device_class = unit_of(self.native_unit_of_measurement, self.device_class, resource, self.unit_resource)
        value_fn = self.value_fn
        if value_fn is None and resource.type not in _NUMBERS:
            timestamp = resource.type is DataType.TIME and device_class is SensorDeviceClass.TIMESTAMP
            text = resource.type in (DataType.STRING, DataType.CORELNK, DataType.OBJLNK)
            value_fn = None if timestamp else text_state if text else _state
        return replace(self, native_unit_of_measurement=unit, device_class=device_class, value_fn=value_fn)


def _ipso(oid: int, key: str, device_class: SensorDeviceClass | None, unit: str | None) -> list[LwM2MSensorDescription]:
    """Describe the IPSO sensor pattern: the value (5700) in the unit 5701 names, its extremes (5601, 5602)."""
    value = LwM2MSensorDescription(
        key=key,
        objects=(oid,),
        resource_id=5700,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        unit_resource=5701,
        state_class=SensorStateClass.MEASUREMENT,
    )
    return [value] + [
        replace(
            value,
            key=f"{key}_{extreme}",
            resource_id=rid,
            translation_key=f"{key}_{extreme}",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            observe=False,
        )
        for extreme, rid in (("min", 5601), ("max", 5602))
    ]


# The IPSO sensor objects: object id -> (translation key, device class, unit). One row an object.
IPSO_SENSORS: dict[int, tuple[str, SensorDeviceClass | None, str | None]] = {
    3300: ("generic_sensor", None, None),
    3301: ("illuminance", SensorDeviceClass.ILLUMINANCE, LIGHT_LUX),
    3303: ("temperature", SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS),
    3304: ("humidity", SensorDeviceClass.HUMIDITY, PERCENTAGE),
    3315: ("barometer", SensorDeviceClass.ATMOSPHERIC_PRESSURE, UnitOfPressure.HPA),
    3316: ("voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT),
    3317: ("current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE),
    3318: ("frequency", SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ),
    3319: ("depth", SensorDeviceClass.DISTANCE, UnitOfLength.METERS),
    3320: ("percentage", None, PERCENTAGE),
    3321: ("altitude", SensorDeviceClass.DISTANCE, UnitOfLength.METERS),
    3322: ("load", SensorDeviceClass.WEIGHT, UnitOfMass.KILOGRAMS),
    3323: ("pressure", SensorDeviceClass.PRESSURE, UnitOfPressure.PA),
    3324: ("loudness", SensorDeviceClass.SOUND_PRESSURE, UnitOfSoundPressure.DECIBEL),
    3325: ("concentration", None, "ppm"),
    3326: ("acidity", SensorDeviceClass.PH, None),
    3327: ("conductivity", None, "S/m"),
    3328: ("power", SensorDeviceClass.POWER, UnitOfPower.WATT),
    3329: ("power_factor", SensorDeviceClass.POWER_FACTOR, None),
    3330: ("distance", SensorDeviceClass.DISTANCE, UnitOfLength.METERS),
    3346: ("rate", None, None),
}

DISCOVERY_SCHEMAS = [
    # Device (3): who made it, and what it runs on
    *(
        LwM2MSensorDescription(
            key=key,
            objects=(3,),
            resource_id=rid,
            translation_key=key,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            observe=False,
        )
        for rid, key in ((0, "manufacturer"), (1, "model_number"), (2, "serial_number"), (3, "firmware_version"))
    ),
    LwM2MSensorDescription(
        key="supply_voltage",
        objects=(3,),
        resource_id=7,
        translation_key="supply_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    LwM2MSensorDescription(
        key="supply_current",
        objects=(3,),
        resource_id=8,
        translation_key="supply_current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.MILLIAMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    LwM2MSensorDescription(
        key="battery",
        objects=(3,),
        resource_id=9,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    LwM2MSensorDescription(
        key="memory_free",
        objects=(3,),
        resource_id=10,
        translation_key="memory_free",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.KILOBYTES,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        observe=False,
    ),
    LwM2MSensorDescription(
        key="error_code",
        objects=(3,),
        resource_id=11,
        translation_key="error_code",
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    LwM2MSensorDescription(
        key="device_time",
        objects=(3,),
        resource_id=13,
        translation_key="device_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        observe=False,
    ),
    LwM2MSensorDescription(
        key="battery_status",
        objects=(3,),
        resource_id=20,
        translation_key="battery_status",
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    # Connectivity Monitoring (4)
    LwM2MSensorDescription(
        key="signal_strength",
        objects=(4,),
        resource_id=2,
        translation_key="signal_strength",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    LwM2MSensorDescription(
        key="link_quality",
        objects=(4,),
        resource_id=3,
        translation_key="link_quality",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    # Location (6): beside the tracker, which observes the whole instance
    LwM2MSensorDescription(
        key="altitude",
        objects=(6,),
        resource_id=2,
        translation_key="altitude",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        state_class=SensorStateClass.MEASUREMENT,
        observe=False,
    ),
    LwM2MSensorDescription(
        key="speed",
        objects=(6,),
        resource_id=6,
        device_class=SensorDeviceClass.SPEED,
        native_unit_of_measurement=UnitOfSpeed.METERS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        observe=False,
    ),
    # Digital and analog inputs, presence and on/off counters
    LwM2MSensorDescription(
        key="counter",
        objects=(3200, 3342),
        resource_id=5501,
        translation_key="counter",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
    ),
    LwM2MSensorDescription(
        key="analog_input",
        objects=(3202,),
        resource_id=5600,
        translation_key="analog_input",
        state_class=SensorStateClass.MEASUREMENT,
    ),
    # Energy: a power outlet's (3312) and an energy meter's (3331)
    LwM2MSensorDescription(
        key="outlet_energy",
        objects=(3312,),
        resource_id=5805,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
    ),
    LwM2MSensorDescription(
        key="energy",
        objects=(3331,),
        resource_id=5700,
        translation_key="energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        unit_resource=5701,
        state_class=SensorStateClass.TOTAL_INCREASING,
    ),
    # Battery (3411)
    LwM2MSensorDescription(
        key="battery_level",
        objects=(3411,),
        resource_id=1,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    LwM2MSensorDescription(
        key="battery_voltage",
        objects=(3411,),
        resource_id=3,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    *(row for oid, spec in IPSO_SENSORS.items() for row in _ipso(oid, *spec)),
    # Resources no row names, by what the object model says they are
    LwM2MSensorDescription(key="measurement", generic=Kind.MEASUREMENT, state_class=SensorStateClass.MEASUREMENT),
    LwM2MSensorDescription(
        key="time",
        generic=Kind.TIME,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    LwM2MSensorDescription(key="text", generic=Kind.TEXT, entity_category=EntityCategory.DIAGNOSTIC),
    LwM2MSensorDescription(
        key="opaque",
        generic=Kind.OPAQUE,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
]


class LwM2MStatusSensor(LwM2MEntity, SensorEntity):
    """What the server knows about a device: its registration and traffic."""

    entity_description: LwM2MStatusDescription

    async def async_added_to_hass(self) -> None:
        """Follow the device's registration (or every message it sends)."""
        self.hub.entity_added()
        topic: Literal[Topic.MESSAGE, Topic.REGISTRATION] = (
            Topic.MESSAGE if self.entity_description.every_message else Topic.REGISTRATION
        )
        self.async_on_remove(self.hub.async_subscribe(self.endpoint, topic, self._on_event))
        self.async_on_remove(self.hub.async_subscribe(self.endpoint, Topic.AVAILABILITY, self._on_availability))

    @callback
    def _on_event(self, event: Event) -> None:
        self.async_write_ha_state()

    @property
    def available(self) -> bool:
        """Return whether the device is registered."""
        return self.hub.registration(self.endpoint) is not None

    @property
    def native_value(self) -> Any:
        """Return the status the registration shows."""
        reg = self.hub.registration(self.endpoint)
        return self.entity_description.status_fn(reg) if reg is not None else None


@dataclass(frozen=True, kw_only=True)
class LwM2MStatusDescription(SensorEntityDescription, LwM2MEntityDescription):
    """A status sensor every device gets: status_fn reads it from the registration."""

    entity_class: EntityClass = LwM2MStatusSensor
    status_fn: Callable[[Registration], Any]
    every_message: bool = False  # changes with each message, not only with the registration


DEVICE_SCHEMAS = [
    LwM2MStatusDescription(
        key="last_seen",
        every_message=True,
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        status_fn=lambda reg: dt.datetime.fromtimestamp(reg.stats.last_seen or reg.updated_at, dt.UTC),
    ),
    LwM2MStatusDescription(
        key="lifetime",
        translation_key="registration_lifetime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        entity_category=EntityCategory.DIAGNOSTIC,
        status_fn=lambda reg: reg.lifetime,
    ),
    LwM2MStatusDescription(
        key="binding",
        translation_key="binding",
        entity_category=EntityCategory.DIAGNOSTIC,
        status_fn=lambda reg: reg.binding,
    ),
    LwM2MStatusDescription(
        key="security",
        translation_key="security",
        device_class=SensorDeviceClass.ENUM,
        options=["nosec", "psk", "x509"],
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        status_fn=lambda reg: (reg.identity or "nosec:").partition(":")[0],
    ),
    LwM2MStatusDescription(
        key="address",
        translation_key="address",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        status_fn=lambda reg: reg.address,
    ),
    *(
        LwM2MStatusDescription(
            key=key,
            every_message=True,
            translation_key=key,
            state_class=SensorStateClass.TOTAL_INCREASING,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            status_fn=status_fn,
        )
        for key, status_fn in (
            ("messages_in", lambda reg: reg.stats.messages_in),
            ("messages_out", lambda reg: reg.stats.messages_out),
        )
    ),
]

PARALLEL_UPDATES = 0
async_setup_entry = platform_setup(Platform.SENSOR)
