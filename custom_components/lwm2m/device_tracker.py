"""Device trackers: the Location object (6) — latitude, longitude and radius of one instance."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.device_tracker import (  # type: ignore[attr-defined,unused-ignore]
    SourceType,
    TrackerEntity,
    TrackerEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import callback

from .entity import LwM2MRestoreEntity, platform_setup
from .lwm2m.path import Path
from .lwm2m.values import Value
from .mapping import EntityClass, LwM2MEntityDescription, ValueFn, number_state

LONGITUDE, RADIUS = 1, 3


class LwM2MTracker(LwM2MRestoreEntity, TrackerEntity):
    """Where the device says it is (its entity is keyed by the latitude resource, 6/I/0)."""

    entity_description: LwM2MTrackerDescription

    _attr_source_type = SourceType.GPS
    _state_attr = "_attr_latitude"

    async def async_added_to_hass(self) -> None:
        """Follow the location object's latitude and longitude as well."""
        await super().async_added_to_hass()
        instance = Path(self.path.ids[:2])
        for rid, listener in ((LONGITUDE, self._on_longitude), (RADIUS, self._on_radius)):
            self.async_on_remove(self.hub.async_subscribe(self.endpoint, instance.child(rid), listener))
            if (value := self.hub.value(self.endpoint, instance.child(rid))) is not None:
                listener(value)

    @callback
    def _on_longitude(self, value: Value) -> None:
        self._attr_longitude = number_state(value)
        self.async_write_ha_state()

    @callback
    def _on_radius(self, value: Value) -> None:
        radius = number_state(value)
        self._attr_location_accuracy = round(radius) if radius is not None else 0
        self.async_write_ha_state()


@dataclass(frozen=True, kw_only=True)
class LwM2MTrackerDescription(TrackerEntityDescription, LwM2MEntityDescription):  # type: ignore[misc,unused-ignore]
    """Describe a tracker for an LwM2M location object."""

    entity_class: EntityClass = LwM2MTracker
    value_fn: ValueFn = number_state


DISCOVERY_SCHEMAS = [
    # One tracker an instance; it shows longitude and radius too, so the instance is observed.
    LwM2MTrackerDescription(
        key="location", objects=(6,), resource_id=0, translation_key="location", watch=(LONGITUDE, RADIUS)
    ),
]

PARALLEL_UPDATES = 0
async_setup_entry = platform_setup(Platform.DEVICE_TRACKER)
