"""Events: push-button presses (3347) seen as their counter rising, and each device's Send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.event import EventDeviceClass, EventEntity, EventEntityDescription
from homeassistant.const import Platform
from homeassistant.core import callback

from .const import Topic
from .entity import LwM2MEntity, platform_setup
from .lwm2m.events import Event
from .lwm2m.values import Value, to_json_value
from .mapping import EntityClass, LwM2MEntityDescription, Match

if TYPE_CHECKING:
    from .hub import LwM2MHub


class LwM2MPressEvent(LwM2MEntity, EventEntity):
    """Fires "pressed" whenever the button's press counter (5501) goes up."""

    _attr_device_class = EventDeviceClass.BUTTON
    entity_description: LwM2MEventDescription
    _state_attr = "_last"
    _last: int | None = None

    def __init__(self, hub: LwM2MHub, match: Match) -> None:
        """Offer the pressed event type."""
        super().__init__(hub, match)
        self._attr_event_types = ["pressed"]

    @callback
    def _on_value(self, value: Value) -> None:
        if not isinstance(value, int):
            return
        last, self._last = self._last, value
        if last is not None and value > last:
            self._trigger_event("pressed", {"count": value, "presses": value - last})
            self.async_write_ha_state()


class LwM2MSendEvent(LwM2MEntity, EventEntity):
    """Fires "send" with the values whenever the device pushes data with Send (LwM2M 1.1)."""

    entity_description: LwM2MEventDescription

    def __init__(self, hub: LwM2MHub, match: Match) -> None:
        """Offer the send event type."""
        super().__init__(hub, match)
        self._attr_event_types = ["send"]

    async def async_added_to_hass(self) -> None:
        """Follow the device's Send operations."""
        self.hub.entity_added()
        self.async_on_remove(self.hub.async_subscribe(self.endpoint, Topic.SEND, self._on_send))

    @callback
    def _on_send(self, event: Event) -> None:
        self._trigger_event("send", {"values": {str(p): to_json_value(v) for p, v in event.values.items()}})
        self.async_write_ha_state()


@dataclass(frozen=True, kw_only=True)
class LwM2MEventDescription(EventEntityDescription, LwM2MEntityDescription):
    """Describe an event entity for an LwM2M resource."""

    entity_class: EntityClass = LwM2MPressEvent


DISCOVERY_SCHEMAS = [
    LwM2MEventDescription(
        key="push_button_event", objects=(3347,), resource_id=5501, translation_key="push_button_event"
    ),
]

DEVICE_SCHEMAS = [
    LwM2MEventDescription(key="send", translation_key="send", entity_class=LwM2MSendEvent),
]

PARALLEL_UPDATES = 0
async_setup_entry = platform_setup(Platform.EVENT)
