"""The base of every LwM2M entity, and the set-up every platform shares.

An entity is one match (endpoint, path, description), with its device and its availability.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity

from .const import DOMAIN, SIGNAL_NEW_ENTITIES, Topic
from .hub import LwM2MConfigEntry
from .lwm2m.errors import LwM2MError
from .lwm2m.path import Path
from .lwm2m.values import INT64_MAX, DataType, Value, coerce, guess_type, to_json_value

if TYPE_CHECKING:
    from .hub import LwM2MHub
    from .mapping import LwM2MEntityDescription, Match

ATTR_RESTORED = "restored"
ATTR_REPORTED_AT = "reported_at"

type SetupEntry = Callable[[HomeAssistant, LwM2MConfigEntry, AddConfigEntryEntitiesCallback], Coroutine[Any, Any, None]]


def platform_setup(platform: Platform) -> SetupEntry:
    """Make a platform's async_setup_entry: each match becomes an entity of its description's class.

    That happens now (devices known from the last run) and whenever the hub finds more.
    """

    async def async_setup_entry(
        hass: HomeAssistant, entry: LwM2MConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        hub = entry.runtime_data

        @callback
        def add(matches: list[Match]) -> None:
            async_add_entities([match.description.entity_class(hub, match) for match in matches])

        entry.async_on_unload(
            async_dispatcher_connect(hass, SIGNAL_NEW_ENTITIES.format(entry_id=entry.entry_id, platform=platform), add)
        )
        add(hub.matches_for(platform))

    return async_setup_entry


class LwM2MEntity(Entity):
    """An entity of one LwM2M device, built from what the matcher found.

    The hub calls `_on_value` with each new value of (endpoint, path) and nothing else; the
    value (through the description's value_fn, where it needs converting) goes to the attribute
    the platform shows it in, and the state is written, once.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _state_attr: ClassVar[str] = ""  # the attribute that holds the resource's value ("": none)
    _showing_restored = False  # the value shown is the last run's (LwM2MRestoreEntity)
    entity_description: LwM2MEntityDescription

    def __init__(self, hub: LwM2MHub, match: Match) -> None:
        """Attach the entity to its hub and its match."""
        self.hub = hub
        self.endpoint = match.endpoint
        self.path = match.path or Path(())
        self.entity_description = match.description
        self._attr_unique_id = match.unique_id
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, match.endpoint)})
        self._attr_available = hub.is_available(match.endpoint)

    async def async_added_to_hass(self) -> None:
        """Follow the device's availability and the entity's value."""
        hub, endpoint = self.hub, self.endpoint
        hub.entity_added()  # (subclasses that follow something else call it too)
        self.async_on_remove(hub.async_subscribe(endpoint, Topic.AVAILABILITY, self._on_availability))
        if not self._state_attr:
            return
        self.async_on_remove(hub.async_subscribe(endpoint, self.path, self._on_value))
        if (value := hub.value(endpoint, self.path)) is not None:
            self._on_value(value)

    @callback
    def _on_availability(self, available: bool) -> None:
        self._attr_available = available
        self.async_write_ha_state()

    @callback
    def _on_value(self, value: Value) -> None:
        value_fn = self.entity_description.value_fn
        setattr(self, self._state_attr, value if value_fn is None else value_fn(value))
        if self._showing_restored:
            self._mark_restored()
        self.async_write_ha_state()

    def _mark_restored(self) -> None:
        """Mark the state, while its value is the last run's, as restored and reported when it was."""
        at = self.hub.restored_at(self.endpoint, self.path)
        self._showing_restored = at is not None
        self._attr_extra_state_attributes = (
            {ATTR_RESTORED: True, ATTR_REPORTED_AT: dt.datetime.fromtimestamp(at, dt.UTC).isoformat()}
            if at is not None
            else {}
        )


class StoredValues(ExtraStoredData):
    """The values an entity showed, each with its type and when the device reported it."""

    def __init__(self, values: dict[str, dict[str, Any]]) -> None:
        """Keep the values by path, in their stored form (stored_value)."""
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        """Return the values as Home Assistant saves them."""
        return {"values": self.values}


def stored_value(value: Value, at: float) -> dict[str, Any]:
    """Return a value in the form it is saved in across a restart: its type, itself, its time."""
    raw: object
    if isinstance(value, dt.datetime):
        kind, raw = DataType.TIME, value.isoformat()
    else:
        kind = guess_type(value)
        if kind is DataType.INTEGER and isinstance(value, int) and value > INT64_MAX:
            kind = DataType.UNSIGNED_INTEGER
        raw = to_json_value(value)
    return {"type": kind.value, "value": raw, "at": at}


def read_stored(saved: Mapping[str, Any], paths: Iterable[Path]) -> dict[Path, tuple[Value, float]]:
    """Return the values of paths saved by StoredValues; anything unreadable is left out."""
    values = saved.get("values")
    out: dict[Path, tuple[Value, float]] = {}
    if not isinstance(values, dict):
        return out
    for path in paths:
        data: Any = values.get(str(path))
        try:
            out[path] = coerce(data["value"], DataType(data["type"])), float(data["at"])
        except (KeyError, TypeError, ValueError, LwM2MError):
            continue
    return out


class LwM2MRestoreEntity(LwM2MEntity, RestoreEntity):
    """An entity whose value survives a restart of Home Assistant.

    What it showed is saved with the time the device reported it, goes back into the hub's
    store when the entity returns (as if the device had sent it, so that an equal value from
    the device later writes no new state), and is marked restored (with that time) until the
    device confirms or changes it.
    """

    _unrecorded_attributes = frozenset({ATTR_RESTORED, ATTR_REPORTED_AT})

    def _shown_paths(self) -> list[Path]:
        """Return the resources the entity shows: its own and those of its instance it watches."""
        instance = Path(self.path.ids[:2])
        return [self.path, *(instance.child(rid) for rid in self.entity_description.watch)]

    async def async_added_to_hass(self) -> None:
        """Take back the last run's values the device has not sent yet, then follow the device."""
        hub, endpoint = self.hub, self.endpoint
        paths = self._shown_paths()
        if any(hub.value(endpoint, path) is None for path in paths):
            saved = await self.async_get_last_extra_data()
            if saved is not None and (values := read_stored(saved.as_dict(), paths)):
                hub.restore_values(endpoint, values)
        self._mark_restored()
        await super().async_added_to_hass()

    @property
    def extra_restore_state_data(self) -> StoredValues | None:
        """Return what the entity shows, to be taken back after a restart."""
        values: dict[str, dict[str, Any]] = {}
        for path in self._shown_paths():
            if (reported := self.hub.reported(self.endpoint, path)) is not None:
                values[str(path)] = stored_value(*reported)
        return StoredValues(values) if values else None
