"""Texts: writable string resources (a display's text, a time zone)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.text import TextEntity, TextEntityDescription
from homeassistant.const import EntityCategory, Platform

from .entity import LwM2MRestoreEntity, platform_setup
from .mapping import MAX_STATE, EntityClass, Kind, LwM2MEntityDescription, ValueFn, text_state


class LwM2MText(LwM2MRestoreEntity, TextEntity):
    """A writable string: what is typed is written to the device."""

    entity_description: LwM2MTextDescription

    _state_attr = "_attr_native_value"

    async def async_set_value(self, value: str) -> None:
        """Write the new text."""
        await self.hub.async_write(self.endpoint, self.path, value)


@dataclass(frozen=True, kw_only=True)
class LwM2MTextDescription(TextEntityDescription, LwM2MEntityDescription):
    """Describe a text entity for a writable string LwM2M resource."""

    entity_class: EntityClass = LwM2MText
    native_max: int = MAX_STATE
    value_fn: ValueFn = text_state


DISCOVERY_SCHEMAS = [
    LwM2MTextDescription(key="display_text", objects=(3341,), resource_id=5527, translation_key="display_text"),
    # Strings and links no row names, writable
    LwM2MTextDescription(key="text", generic=Kind.TEXT_SETTING, entity_category=EntityCategory.CONFIG),
]

PARALLEL_UPDATES = 1
async_setup_entry = platform_setup(Platform.TEXT)
