"""Selects: writable resources with an enumeration in the object model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Self

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform

from .entity import LwM2MRestoreEntity, platform_setup
from .lwm2m.values import Value
from .mapping import EntityClass, Kind, LwM2MEntityDescription, Resource


class LwM2MSelect(LwM2MRestoreEntity, SelectEntity):
    """An enumerated resource: the option picked is written to the device as its number."""

    entity_description: LwM2MSelectDescription
    _state_attr = "_attr_current_option"

    async def async_select_option(self, option: str) -> None:
        """Write the number of the chosen label."""
        number = next(key for key, label in self.entity_description.enumeration.items() if label == option)
        await self.hub.async_write(self.endpoint, self.path, number)


@dataclass(frozen=True, kw_only=True)
class LwM2MSelectDescription(SelectEntityDescription, LwM2MEntityDescription):
    """A select row; its options are the object model's enumeration (number -> label)."""

    entity_class: EntityClass = LwM2MSelect
    enumeration: Mapping[int, str] = field(default_factory=dict)

    def specialize(self, resource: Resource) -> Self:
        """Specialize the row for one resource: its enumeration."""
        enumeration = dict(resource.definition.enumeration or {}) if resource.definition else {}
        return replace(
            self, enumeration=enumeration, options=list(enumeration.values()), value_fn=partial(_option, enumeration)
        )


def _option(enumeration: Mapping[int, str], value: Value) -> str | None:
    """Label the device's number (a number outside the enumeration is unknown)."""
    return enumeration.get(value) if isinstance(value, int) else None


DISCOVERY_SCHEMAS = [
    # Enumerated numbers no row names, writable
    LwM2MSelectDescription(key="choice", generic=Kind.CHOICE),
]

PARALLEL_UPDATES = 1
async_setup_entry = platform_setup(Platform.SELECT)
