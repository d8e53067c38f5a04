"""Sensors: numeric and text resources, and the status of each LwM2M device."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorEntityDescription, SensorStateClass
from homeassistant.const import EntityCategory, Platform, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, SIGNAL_NEW_ENTITIES
from .entity import LwM2MEntity, description_kwargs
from .lwm2m.registration import Registration
from .lwm2m.values import ObjLnk
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

PARALLEL_UPDATES = 0
MAX_STATE = 255


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.SENSOR, LwM2MSensor)
    hub = entry.runtime_data

    @callback
    def add_status(endpoint: str) -> None:
        async_add_entities([LwM2MStatusSensor(hub, endpoint, description) for description in STATUS_SENSORS])

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_NEW_ENTITIES.format(entry_id=entry.entry_id, platform="endpoint"), add_status
        )
    )
    for endpoint in list(hub.specs):
        hub.mark_status_entities(endpoint)
        add_status(endpoint)


class LwM2MSensor(LwM2MEntity, SensorEntity):
    """A resource shown as a sensor."""

    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = SensorEntityDescription(
            **description_kwargs(spec),
            device_class=SensorDeviceClass(spec.device_class) if spec.device_class else None,
            native_unit_of_measurement=spec.unit,
            state_class=SensorStateClass(spec.row.state_class) if spec.row.state_class else None,
        )

    @property
    def native_value(self) -> Any:
        value = self.resource_value
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value if self.device_class == SensorDeviceClass.TIMESTAMP else value.isoformat()
        if isinstance(value, bytes):
            return value.hex()[:MAX_STATE]
        if isinstance(value, ObjLnk):
            return str(value)
        if isinstance(value, str):
            return value[:MAX_STATE]
        if isinstance(value, bool):
            return int(value)
        return value


@dataclass(frozen=True, kw_only=True)
class StatusDescription(SensorEntityDescription):
    value_fn: Callable[[Registration], Any]
    every_message: bool = False  # changes with each message, not only with the registration


STATUS_SENSORS = (
    StatusDescription(
        key="last_seen",
        every_message=True,
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reg: dt.datetime.fromtimestamp(reg.stats.last_seen or reg.updated_at, dt.UTC),
    ),
    StatusDescription(
        key="lifetime",
        translation_key="registration_lifetime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda reg: reg.lifetime,
    ),
    StatusDescription(
        key="binding",
        translation_key="binding",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda reg: reg.binding,
    ),
    StatusDescription(
        key="address",
        translation_key="address",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reg: reg.address,
    ),
    StatusDescription(
        key="messages_in",
        every_message=True,
        translation_key="messages_in",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reg: reg.stats.messages_in,
    ),
    StatusDescription(
        key="messages_out",
        every_message=True,
        translation_key="messages_out",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reg: reg.stats.messages_out,
    ),
)


class LwM2MStatusSensor(SensorEntity):
    """What the server knows about a device: its registration and traffic."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: StatusDescription

    def __init__(self, hub: LwM2MHub, endpoint: str, description: StatusDescription) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.entity_description = description
        self._attr_unique_id = f"{endpoint}_status_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, endpoint)})

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(
            self.hub.subscribe_endpoint(
                self.endpoint, self.async_write_ha_state, every_message=self.entity_description.every_message
            )
        )
        self.async_on_remove(self.hub.subscribe_availability(self.endpoint, self.async_write_ha_state))

    @property
    def available(self) -> bool:
        return self.hub.registration(self.endpoint) is not None

    @property
    def native_value(self) -> Any:
        reg = self.hub.registration(self.endpoint)
        return self.entity_description.value_fn(reg) if reg is not None else None
