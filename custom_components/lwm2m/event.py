"""Events: push-button presses (3347) seen as their counter rising."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.event import EventDeviceClass, EventEntity, EventEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .entity import LwM2MEntity, description_kwargs
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MHub

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: Any, async_add_entities: AddEntitiesCallback) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.EVENT, LwM2MPressEvent)


class LwM2MPressEvent(LwM2MEntity, EventEntity):
    """Fires "pressed" whenever the button's press counter (5501) goes up."""

    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        super().__init__(hub, spec)
        self.entity_description = EventEntityDescription(
            **description_kwargs(spec), device_class=EventDeviceClass.BUTTON, event_types=["pressed"]
        )
        self._last: int | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        value = self.resource_value
        self._last = value if isinstance(value, int) else None

    @callback
    def _on_value(self) -> None:
        value = self.resource_value
        if not isinstance(value, int):
            return
        if self._last is not None and value > self._last:
            self._trigger_event("pressed", {"count": value, "presses": value - self._last})
            self.async_write_ha_state()
        self._last = value
