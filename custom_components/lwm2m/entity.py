"""The base of every LwM2M entity: one (endpoint, path), its device, its availability."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .lwm2m.values import Value
from .mapping import EntitySpec

if TYPE_CHECKING:
    from .hub import LwM2MHub


def description_kwargs(spec: EntitySpec) -> dict[str, Any]:
    """What every platform's EntityDescription takes from a spec."""
    kwargs: dict[str, Any] = {
        "key": str(spec.path),
        "translation_key": spec.row.translation_key,
        "entity_category": spec.row.entity_category,
        "entity_registry_enabled_default": spec.row.enabled,
    }
    if spec.name is not None:  # a translation would win over the name: keep only one
        kwargs["name"] = spec.name
        kwargs["translation_key"] = None
    return kwargs


class LwM2MEntity(Entity):
    """An entity that shows (or acts on) one resource of one endpoint."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: LwM2MHub, spec: EntitySpec) -> None:
        self.hub = hub
        self.spec = spec
        self.endpoint = spec.endpoint
        self.path = spec.path
        self._attr_unique_id = spec.unique_id
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, spec.endpoint)})
        if spec.placeholders:
            self._attr_translation_placeholders = dict(spec.placeholders)

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self.hub.subscribe_value(self.endpoint, self.path, self._on_value))
        self.async_on_remove(self.hub.subscribe_availability(self.endpoint, self._on_availability))

    @callback
    def _on_value(self) -> None:
        self.async_write_ha_state()

    @callback
    def _on_availability(self) -> None:
        self.async_write_ha_state()

    @property
    def available(self) -> bool:
        return self.hub.is_available(self.endpoint)

    @property
    def resource_value(self) -> Value | None:
        return self.hub.value(self.endpoint, self.path)
