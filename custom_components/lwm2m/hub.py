"""The hub: owns the LwM2M server of one config entry and turns its events into devices,
entities and state updates. The protocol stays in the core; this is the Home Assistant side."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store

from .const import (
    AUTO_OBSERVE_ALL,
    AUTO_OBSERVE_ENTITIES,
    AUTO_OBSERVE_NONE,
    CONF_AUTO_OBSERVE,
    CONF_HOST,
    CONF_MAX_LIFETIME,
    CONF_MIN_LIFETIME,
    CONF_MODE,
    CONF_PORT,
    DEFAULT_HOST,
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MIN_LIFETIME,
    DEFAULT_PORT,
    DOMAIN,
    MODE_EMQX,
    SIGNAL_NEW_ENTITIES,
    STORAGE_VERSION,
)
from .lwm2m.client import Endpoint
from .lwm2m.config import ServerConfig
from .lwm2m.errors import CodecError, DeviceTimeout, LwM2MError, OperationError
from .lwm2m.events import Event, EventType
from .lwm2m.gateway import EmqxGateway
from .lwm2m.gateway_endpoint import GatewayEndpoint
from .lwm2m.model import ObjectModel
from .lwm2m.nodes import flatten
from .lwm2m.path import Path
from .lwm2m.registration import Registration
from .lwm2m.server import LwM2MServer
from .lwm2m.values import Value
from .mapping import BUTTON, EVENT, TRACKER, EntitySpec, entities_for

if TYPE_CHECKING:
    from .mqtt_consumer import MqttConsumer

_LOGGER = logging.getLogger(__name__)
DEVICE_INFO = {0: "manufacturer", 1: "model", 2: "serial_number", 3: "sw_version", 18: "hw_version"}
SAVE_DELAY = 5.0
ACTION_TIMEOUT = 30.0  # seconds an entity action (switch, number, button) waits for the device
STORM = 50  # endpoints set up at once that count as a registration storm
Source = LwM2MServer | EmqxGateway  # where devices come from: our own server, or an EMQX gateway


def server_config(data: dict[str, Any]) -> ServerConfig:
    host = data.get(CONF_HOST, DEFAULT_HOST)
    return ServerConfig(
        host="::" if host in ("", "0.0.0.0", "::") else host,
        port=int(data.get(CONF_PORT, DEFAULT_PORT)),
        min_lifetime=int(data.get(CONF_MIN_LIFETIME, DEFAULT_MIN_LIFETIME)),
        max_lifetime=int(data.get(CONF_MAX_LIFETIME, DEFAULT_MAX_LIFETIME)),
    )


class MqttUnavailable(HomeAssistantError):
    """The entry takes its devices over MQTT, and MQTT is not set up (yet)."""


type LwM2MConfigEntry = ConfigEntry[LwM2MHub]
"""A config entry of this integration: its runtime_data is the entry's hub."""


class LwM2MHub:
    """One source of LwM2M devices (a server here, or an EMQX gateway over MQTT), its
    endpoints as devices, their resources as entities."""

    def __init__(self, hass: HomeAssistant, entry: LwM2MConfigEntry, model: ObjectModel) -> None:
        self.hass = hass
        self.entry = entry
        settings = {**entry.data, **entry.options}
        self.auto_observe: str = settings.get(CONF_AUTO_OBSERVE, AUTO_OBSERVE_ENTITIES)
        self.server: Source
        self.consumer: MqttConsumer | None = None
        if settings.get(CONF_MODE) == MODE_EMQX:
            # MQTT's modules only load for an entry that uses them.
            from .mqtt_bridge import bridge_settings  # noqa: PLC0415
            from .mqtt_consumer import MqttConsumer  # noqa: PLC0415

            self.consumer = MqttConsumer(hass)
            self.server = EmqxGateway(bridge_settings(settings), model, self.consumer.publish)
        else:
            self.server = LwM2MServer(server_config(settings), model)
        self.model = model
        self.store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")
        self.values: dict[str, dict[Path, Value]] = {}
        self.specs: dict[str, dict[Path, EntitySpec]] = {}
        self.known_paths: dict[str, list[str]] = {}  # endpoint -> resource paths seen (persisted)
        self.available: set[str] = set()
        self._value_listeners: dict[tuple[str, Path], list[Callable[[], None]]] = {}
        self._endpoint_listeners: dict[str, list[Callable[[], None]]] = {}
        self._availability_listeners: dict[str, list[Callable[[], None]]] = {}
        self._traffic_listeners: dict[str, list[Callable[[], None]]] = {}
        self._event_listeners: dict[str, list[Callable[[Event], None]]] = {}
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._setups: dict[str, asyncio.Task[None]] = {}
        self._status_entities: set[str] = set()  # endpoints whose status sensors exist
        self._lost: set[str] = set()  # endpoints logged as unavailable, to log their return once
        self._set_up_since_collect = 0
        self._device_ids: dict[str, str] = {}

    # -- life cycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        saved = await self.store.async_load() or {}
        self.known_paths = dict(saved.get("resources", {}))
        restored = self.server.restore(saved.get("registrations", []))
        self._unsubscribe = self.server.events.subscribe(self._on_event)
        if (
            isinstance(self.server, EmqxGateway)
            and self.consumer is not None
            and not await self.consumer.async_start(self.server)
        ):
            raise MqttUnavailable(translation_domain=DOMAIN, translation_key="mqtt_missing")
        await self.server.start()
        for reg in restored:
            self.available.add(reg.endpoint)
            self._create_entities(reg, {Path.parse(p): None for p in self.known_paths.get(reg.endpoint, [])})
            self._start_setup(reg.endpoint, restored=True)

    async def async_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.consumer is not None:
            self.consumer.async_stop()
        for task in self._setups.values():
            task.cancel()
        if self._setups:
            await asyncio.gather(*self._setups.values(), return_exceptions=True)
        await self.server.stop()
        await self.store.async_save(self._store_data())

    def _store_data(self) -> dict[str, Any]:
        return {
            "registrations": [reg.to_dict() for reg in self.server.registrations],
            "resources": self.known_paths,
        }

    @callback
    def _save(self) -> None:
        self.store.async_delay_save(self._store_data, SAVE_DELAY)

    # -- events from the server ------------------------------------------------------------------

    @callback
    def _on_event(self, event: Event) -> None:
        endpoint = event.endpoint
        match event.type:
            case EventType.REGISTERED:
                reg = self.server.registrations.by_endpoint(endpoint)
                if reg is not None:
                    self._device(reg)  # now, so that the event below names its device
                self._start_setup(endpoint, restored=False)
                self._save()
            case EventType.UPDATED:
                if event.registration is not None and event.registration.objects_changed:
                    self._start_setup(endpoint, restored=False)
                self._set_available(endpoint, True)
                self._save()
            case EventType.DEREGISTERED | EventType.EXPIRED:
                self._set_available(endpoint, False, event.type.value)
                self._save()
            case EventType.NOTIFICATION | EventType.SEND:
                self._store_values(endpoint, event.values)
            case EventType.RESPONSE if (
                event.values and event.response and event.response.operation in ("read", "observe")
            ):
                self._store_values(endpoint, event.values)
        if event.type is not EventType.RESPONSE:
            self._fire(event)
        for event_listener in self._event_listeners.get(endpoint, ()):
            event_listener(event)
        if event.type not in (EventType.NOTIFICATION, EventType.RESPONSE):
            for listener in self._endpoint_listeners.get(endpoint, ()):
                listener()
        for listener in self._traffic_listeners.get(endpoint, ()):
            listener()

    def _fire(self, event: Event) -> None:
        """lwm2m_registered, lwm2m_notification, ... on the bus, for automations."""
        data = event.to_json() | {"device_id": self._device_ids.get(event.endpoint)}
        info = event.registration
        if info is not None and event.type in (EventType.REGISTERED, EventType.UPDATED):
            data |= {
                "lifetime": info.lifetime,
                "binding": info.binding,
                "lwm2m_version": info.lwm2m_version,
                "queue_mode": info.queue_mode,
            }
        self.hass.bus.async_fire(f"{DOMAIN}_{event.type.value}", data)

    def _store_values(self, endpoint: str, values: Any) -> None:
        current = self.values.setdefault(endpoint, {})
        listeners = self._value_listeners
        for path, value in values.items():
            current[path] = value
            for listener in listeners.get((endpoint, path), ()):
                listener()

    @callback
    def _set_available(self, endpoint: str, available: bool, reason: str = "") -> None:
        if available == (endpoint in self.available):
            return
        if available:
            self.available.add(endpoint)
            if endpoint in self._lost:
                self._lost.discard(endpoint)
                _LOGGER.info("LwM2M device %s is back", endpoint)
        else:
            self.available.discard(endpoint)
            self._lost.add(endpoint)
            _LOGGER.info("LwM2M device %s is unavailable (%s)", endpoint, reason)
        for listener in self._availability_listeners.get(endpoint, ()):
            listener()

    # -- setting up an endpoint ----------------------------------------------------------------

    @callback
    def _start_setup(self, endpoint: str, *, restored: bool) -> None:
        old = self._setups.pop(endpoint, None)
        if old is not None:
            old.cancel()
        task = self.entry.async_create_background_task(
            self.hass, self._setup_endpoint(endpoint, restored), f"{DOMAIN} set up {endpoint}"
        )
        self._setups[endpoint] = task
        self._set_up_since_collect += 1
        task.add_done_callback(lambda t: self._setup_finished(endpoint, t))

    @callback
    def _setup_finished(self, endpoint: str, task: asyncio.Task[None]) -> None:
        if self._setups.get(endpoint) is task:
            del self._setups[endpoint]
        if not self._setups and self._set_up_since_collect >= STORM:
            # A registration storm just settled, leaving many new long-lived objects (entities,
            # states, registrations). The full garbage collection they make due would otherwise
            # land at a random moment later and stall live notifications for up to a second
            # with a thousand devices; take it now, while nothing is waiting.
            self._set_up_since_collect = 0
            started = time.perf_counter()
            gc.collect()
            _LOGGER.debug(
                "Collected garbage after a registration storm in %.0f ms", (time.perf_counter() - started) * 1000
            )

    async def _setup_endpoint(self, endpoint: str, restored: bool) -> None:
        reg = self.server.registrations.by_endpoint(endpoint)
        if reg is None:
            return
        self._device(reg)
        ep = self.server.endpoint(endpoint)
        values: dict[Path, Value | None] = {}
        for inst in reg.objects.instances:
            try:
                values.update((await ep.read(inst)).values)
            except OperationError as err:
                _LOGGER.debug("Reading %s of %s: %s", inst, endpoint, err)
            except LwM2MError as err:
                _LOGGER.debug("Setting up %s stopped: %s", endpoint, err)
                return
        if Path.of(3, 0) in reg.objects.instances:
            self._device(reg, {k: values.get(Path.of(3, 0, k)) for k in DEVICE_INFO})
        self._set_available(endpoint, True)
        specs = self._create_entities(reg, values)
        await self._observe(ep, reg, specs)

    def _device(self, reg: Registration, info: dict[int, Value | None] | None = None) -> dr.DeviceEntry:
        kwargs: dict[str, Any] = {}
        for rid, value in (info or {}).items():
            if isinstance(value, str) and value:
                kwargs[DEVICE_INFO[rid]] = value
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, reg.endpoint)},
            name=reg.endpoint,
            **kwargs,
        )
        self._device_ids[reg.endpoint] = device.id
        return device

    @callback
    def _create_entities(self, reg: Registration, values: dict[Path, Value | None]) -> list[EntitySpec]:
        endpoint = reg.endpoint
        known = {Path.parse(p) for p in self.known_paths.get(endpoint, [])}
        merged = {p: None for p in known} | {p: v for p, v in values.items()}
        counts: dict[int, int] = {}
        for inst in reg.objects.instances:
            counts[inst.ids[0]] = counts.get(inst.ids[0], 0) + 1
        specs = entities_for(
            endpoint, list(reg.objects.instances), merged, self.model, {oid for oid, n in counts.items() if n > 1}
        )
        self.values.setdefault(endpoint, {}).update({p: v for p, v in values.items() if v is not None})
        self.known_paths[endpoint] = sorted(str(p) for p in set(merged) if p.depth >= 3)
        existing = self.specs.setdefault(endpoint, {})
        new = [spec for spec in specs if spec.path not in existing]
        for spec in new:
            existing[spec.path] = spec
        by_platform: dict[Platform, list[EntitySpec]] = {}
        for spec in new:
            by_platform.setdefault(spec.row.platform, []).append(spec)
        for platform, items in by_platform.items():
            async_dispatcher_send(
                self.hass, SIGNAL_NEW_ENTITIES.format(entry_id=self.entry.entry_id, platform=platform), items
            )
        if endpoint not in self._status_entities:
            self._status_entities.add(endpoint)
            async_dispatcher_send(
                self.hass, SIGNAL_NEW_ENTITIES.format(entry_id=self.entry.entry_id, platform="endpoint"), endpoint
            )
        return specs

    async def _observe(self, ep: Endpoint | GatewayEndpoint, reg: Registration, specs: list[EntitySpec]) -> None:
        if self.auto_observe == AUTO_OBSERVE_NONE:
            return
        if self.auto_observe == AUTO_OBSERVE_ALL:
            paths = list(reg.objects.instances)
        else:
            paths = sorted(
                {
                    Path(s.path.ids[:3])
                    for s in specs
                    if s.row.observe and s.row.enabled and s.row.platform not in (BUTTON, EVENT, TRACKER)
                }
                | {Path(s.path.ids[:3]) for s in specs if s.row.platform is EVENT}
                | {Path(s.path.ids[:2]) for s in specs if s.row.platform is TRACKER}  # a position is one instance
            )
        for path in paths:
            try:
                await ep.observe(path)
            except OperationError as err:
                _LOGGER.debug("Observing %s of %s: %s", path, reg.endpoint, err)
            except LwM2MError:
                return

    # -- what entities use ---------------------------------------------------------------------

    @callback
    def subscribe_value(self, endpoint: str, path: Path, listener: Callable[[], None]) -> CALLBACK_TYPE:
        return _add(self._value_listeners, (endpoint, path), listener)

    @callback
    def subscribe_endpoint(
        self, endpoint: str, listener: Callable[[], None], *, every_message: bool = False
    ) -> CALLBACK_TYPE:
        """Called when the endpoint's registration changes, or with every_message on each
        message from it (for status sensors that count traffic)."""
        return _add(self._traffic_listeners if every_message else self._endpoint_listeners, endpoint, listener)

    @callback
    def subscribe_availability(self, endpoint: str, listener: Callable[[], None]) -> CALLBACK_TYPE:
        return _add(self._availability_listeners, endpoint, listener)

    @callback
    def subscribe_events(self, endpoint: str, listener: Callable[[Event], None]) -> CALLBACK_TYPE:
        return _add(self._event_listeners, endpoint, listener)

    def value(self, endpoint: str, path: Path) -> Value | None:
        return self.values.get(endpoint, {}).get(path)

    def is_available(self, endpoint: str) -> bool:
        return endpoint in self.available

    def registration(self, endpoint: str) -> Registration | None:
        return self.server.registrations.by_endpoint(endpoint)

    async def async_write(self, endpoint: str, path: Path, value: Any) -> None:
        """Write value to the device; the state follows once the device accepted it."""
        try:
            ep = self.server.endpoint(endpoint)
            node = ep.node_for(path, value)
            async with asyncio.timeout(ACTION_TIMEOUT):  # a sleeping device must not hang the UI
                await ep.write(path, node)
        except TimeoutError as err:
            raise operation_error(endpoint, path, DeviceTimeout(f"no answer within {ACTION_TIMEOUT:g} s")) from err
        except CodecError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders={"path": str(path), "error": str(err)},
            ) from err
        except LwM2MError as err:
            raise operation_error(endpoint, path, err) from err
        self._store_values(endpoint, flatten(node, path))

    async def async_execute(self, endpoint: str, path: Path, arguments: str | None = None) -> None:
        try:
            async with asyncio.timeout(ACTION_TIMEOUT):
                await self.server.endpoint(endpoint).execute(path, arguments)
        except TimeoutError as err:
            raise operation_error(endpoint, path, DeviceTimeout(f"no answer within {ACTION_TIMEOUT:g} s")) from err
        except LwM2MError as err:
            raise operation_error(endpoint, path, err) from err

    @callback
    def mark_status_entities(self, endpoint: str) -> None:
        """The sensor platform added the status sensors of endpoint itself (restored endpoints)."""
        self._status_entities.add(endpoint)

    @callback
    def forget_device(self, endpoint: str) -> None:
        """The user deleted the device: its entities come back if it registers again."""
        self.specs.pop(endpoint, None)
        self.known_paths.pop(endpoint, None)
        self._status_entities.discard(endpoint)
        self._save()


def operation_error(endpoint: str, path: Path, err: LwM2MError) -> HomeAssistantError:
    code = getattr(err, "code", None)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="operation_failed",
        translation_placeholders={
            "endpoint": endpoint,
            "path": str(path),
            "code": code or "timeout",
            "error": str(err),
        },
    )


def _add(table: dict[Any, list[Any]], key: Any, listener: Any) -> CALLBACK_TYPE:
    table.setdefault(key, []).append(listener)

    def remove() -> None:
        items = table.get(key)
        if items and listener in items:
            items.remove(listener)
            if not items:
                del table[key]

    return remove
