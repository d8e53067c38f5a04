"""Events: push-button presses (3347) seen as their counter rising."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.event import EventDeviceClass, EventEntity, EventEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, SIGNAL_NEW_ENTITIES
from .entity import LwM2MEntity, description_kwargs
from .lwm2m.events import Event, EventType
from .lwm2m.values import to_json_value
from .mapping import EntitySpec
from .platform import setup_platform

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    setup_platform(hass, entry, async_add_entities, Platform.EVENT, LwM2MPressEvent)
    hub = entry.runtime_data

    @callback
    def add_send(endpoint: str) -> None:
        async_add_entities([LwM2MSendEvent(hub, endpoint)])

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_NEW_ENTITIES.format(entry_id=entry.entry_id, platform="endpoint"), add_send
        )
    )
    for endpoint in list(hub.specs):
        add_send(endpoint)


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


class LwM2MSendEvent(EventEntity):
    """Fires "send" with the values whenever the device pushes data with Send (LwM2M 1.1)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "send"

    def __init__(self, hub: LwM2MHub, endpoint: str) -> None:
        self._attr_event_types = ["send"]
        self.hub = hub
        self.endpoint = endpoint
        self._attr_unique_id = f"{endpoint}_status_send"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, endpoint)})

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self.hub.subscribe_events(self.endpoint, self._on_event))

    @callback
    def _on_event(self, event: Event) -> None:
        if event.type is EventType.SEND:
            self._trigger_event("send", {"values": {str(p): to_json_value(v) for p, v in event.values.items()}})
            self.async_write_ha_state()
