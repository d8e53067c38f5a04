"""Device trackers: the Location object (6) — latitude, longitude and radius of one instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.device_tracker import (  # type: ignore[attr-defined,unused-ignore]
    SourceType,
    TrackerEntity,
    TrackerEntityDescription,
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
LONGITUDE, RADIUS = 1, 3


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.DEVICE_TRACKER, LwM2MTracker)


class LwM2MTracker(LwM2MEntity, TrackerEntity):
    """Where the device says it is (its entity is keyed by the latitude resource, 6/I/0)."""

    _attr_source_type = SourceType.GPS

    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = TrackerEntityDescription(**description_kwargs(spec))
        instance = spec.path.parent
        self._longitude = instance.child(LONGITUDE)
        self._radius = instance.child(RADIUS)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        for path in (self._longitude, self._radius):
            self.async_on_remove(self.hub.subscribe_value(self.endpoint, path, self._on_value))

    def _number(self, value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def latitude(self) -> float | None:
        return self._number(self.resource_value)

    @property
    def longitude(self) -> float | None:
        return self._number(self.hub.value(self.endpoint, self._longitude))

    @property
    def location_accuracy(self) -> int:
        radius = self._number(self.hub.value(self.endpoint, self._radius))
        return round(radius) if radius is not None else 0
