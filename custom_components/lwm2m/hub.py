"""The hub: one config entry's device source, its endpoints as devices, their resources as entities.

The source is the built-in server or an EMQX gateway; one keyed store holds the subscriptions.

The store follows ESPHome's entry data: (endpoint, path) -> the value held and the callbacks of
the entities that show it, (endpoint, topic) -> the callbacks of those that follow the device
itself; a value equal to the one held reaches no entity.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal, overload
from urllib.parse import quote

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.core import Event as HassEvent
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import discovery_flow, entity_platform
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store

from .bootstrap_setup import BootstrapHolder
from .const import (
    ADMISSION_ASK,
    AUTO_OBSERVE_ALL,
    AUTO_OBSERVE_ENTITIES,
    AUTO_OBSERVE_NONE,
    CONF_ADMISSION,
    CONF_AUTO_OBSERVE,
    CONF_COMMUNICATION_RETRY,
    CONF_MODE,
    CONF_NOTIFICATION_EVENTS,
    DOMAIN,
    MODE_EMQX,
    SIGNAL_NEW_ENTITIES,
    STORAGE_VERSION,
    Topic,
)
from .firmware_setup import FirmwareHolder
from .lwm2m.api import DeviceOperations, DeviceSource, meaning
from .lwm2m.errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError, QueueFull
from .lwm2m.events import BootstrapInfo, Event, EventType, FirmwareInfo, RefusalInfo, Step
from .lwm2m.path import Path
from .lwm2m.registration import Registration
from .lwm2m.retries import retry_settings
from .lwm2m.values import Value
from .mapping import Match, Tables
from .message_log import LIVE as LIVE_LOG
from .message_log import MessageLog
from .panel import URL_PATH as PANEL_PATH

_LOGGER = logging.getLogger(__name__)
STORM = 50  # endpoints set up in one go that count as a registration storm
DEVICE_INFO = {0: "manufacturer", 1: "model", 2: "serial_number", 3: "sw_version", 18: "hw_version"}
SAVE_DELAY = 5.0
ACTION_TIMEOUT = 30.0  # seconds an entity action (switch, number, button) waits for the device
_STORED_RESPONSES: Final = frozenset({"read", "observe", "write"})  # answers that carry the device's values
_OBSERVATION_CHANGES: Final = frozenset({"observe", "cancel-observe"})
_MISSING: Final = object()
# After a restart each restored device is observed again once, at a moment of its own: a
# thousand devices spread over 5 s (never more), so that their answers do not all come at once.
RESTORE_SPREAD_PER_DEVICE = 0.005
RESTORE_MAX_SPREAD = 5.0
# Seconds a restored device (not in queue mode) has to answer before it is shown unavailable.
RESTORE_TIMEOUT = 10.0
# Devices set up (read, then observed) at once after their registration. In a storm of
# thousands, all at once starve each other: requests time out and setups stay half done
# (5,000 devices: 11,251 of 15,000 observations after 300 s). Bounded, each finishes quickly.
SETUP_CONCURRENCY = 32
# While devices are being set up, their entities wait and come after: CoAP exchanges have
# deadlines and Home Assistant's entity bookkeeping has none. In a storm of 1,000 devices the
# setups' own work took 5.6 s and adding 7,000 entities 7.5 s more; interleaved, the last device
# was observed after 13 s. They wait while setups keep finishing (at most ENTITY_WAIT s without
# one: a stuck setup holds nobody's entities longer) and ENTITY_MAX_WAIT s in all. Timed from
# the first waiting batch only, the wait ran out during 1 in 4 storms of 1,000 devices, whose
# setups then took 11-18 s instead of 6-7 s.
MAX_DISCOVERED: Final = 20  # unknown devices shown at once under "ask"; more wait for the user's answers
ENTITY_WAIT = 5.0
ENTITY_MAX_WAIT = 60.0
# After a storm, the long-lived objects are frozen for the garbage collector this many seconds
# after the last of its entities was added.
FREEZE_DELAY = 3.0
FREEZE_MAX_WAIT = 60.0  # seconds from a storm's settling: entities trickling in longer do not put it off

type LwM2MConfigEntry = ConfigEntry[LwM2MHub]
"""A config entry of this integration: its runtime_data is the entry's hub."""


@dataclass(slots=True)
class _Slot:
    """What the store keeps for one (endpoint, path or topic): the value, and who shows it."""

    value: Any = _MISSING
    listeners: list[Callable[[Any], None]] = field(default_factory=list)
    at: float = 0.0  # when the device last reported the value (epoch seconds)
    restored: bool = False  # the value is the last run's, not yet confirmed by the device


def restore_delays(count: int, rng: random.Random | None = None) -> list[float]:
    """Return when each of count restored devices is observed again, in seconds from the start.

    The moments are evenly spaced over RESTORE_SPREAD_PER_DEVICE seconds a device (at most
    RESTORE_MAX_SPREAD) and dealt out in a random order.
    """
    spread = min(RESTORE_MAX_SPREAD, count * RESTORE_SPREAD_PER_DEVICE)
    delays = [spread * index / count for index in range(count)]
    (rng or random.Random()).shuffle(delays)
    return delays


class LwM2MHub:
    """One source of LwM2M devices, its endpoints as devices, their resources as entities."""

    def __init__(self, hass: HomeAssistant, entry: LwM2MConfigEntry, source: DeviceSource, tables: Tables) -> None:
        """Keep the device source of an entry with its entity tables."""
        self.hass = hass
        self.entry = entry
        self.source = source
        self.model = source.model
        self.tables = tables
        settings = {**entry.data, **entry.options}
        self.auto_observe: str = settings.get(CONF_AUTO_OBSERVE, AUTO_OBSERVE_ENTITIES)
        # Devices of an EMQX gateway keep their server (the gateway) through our restarts.
        self.write_retry: bool = bool(settings.get(CONF_COMMUNICATION_RETRY, settings.get(CONF_MODE) != MODE_EMQX))
        # lwm2m_notification on the bus for each notification: an option, off by default (the
        # recorder stores every event; entities' states already carry the values).
        self.notification_events: bool = bool(settings.get(CONF_NOTIFICATION_EVENTS, False))
        self._discovered_full = False  # MAX_DISCOVERED unknown devices wait (logged once until fewer do)
        # what the entry was set up with: a change of only the device list (subentries) is taken live
        self.settings = (dict(entry.data), dict(entry.options))
        self.bootstrap = BootstrapHolder()
        self.firmware = FirmwareHolder(hass, entry, source)
        # the device browser's message log (following the source from load()); its live followers
        # are the integration's, so that a page survives the entry's reload
        self.log = MessageLog(hass.data.setdefault(LIVE_LOG, {}))
        self.store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, _storage_key(entry))
        self.matches: dict[str, dict[str, Match]] = {}  # endpoint -> unique id -> its entity's match
        # Entities disabled by default (diagnostics), created once no device is being set up:
        # endpoint -> unique id -> match. In a storm they were more than half of the entities.
        self._later: dict[str, dict[str, Match]] = {}
        # New entities of devices set up while others still are: one batch per device, created
        # when the setups are done, or once none has finished for ENTITY_WAIT s (ENTITY_MAX_WAIT
        # s after the first batch at most).
        self._waiting: deque[dict[Platform, list[Match]]] = deque()
        self._creator: asyncio.Task[None] | None = None  # hands the waiting batches out, one a loop round
        self._limit_reported = False  # the repair issue about Home Assistant's entity cap was raised
        self._timers: dict[str, CALLBACK_TYPE] = {}  # "entities", "freeze" -> its cancel
        self.known_paths: dict[str, list[str]] = {}  # endpoint -> resource paths seen (persisted)
        self.available: set[str] = set()
        self._store: dict[tuple[str, Path | Topic], _Slot] = {}
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._restored: list[Registration] = []
        self._setups: dict[str, asyncio.Task[None]] = {}
        self.setup_slots = asyncio.Semaphore(SETUP_CONCURRENCY)  # devices being set up at once
        self._set_up_this_spell = 0  # setups started since the last time none was left
        self._storm_settling = False  # a storm's setups are done: freeze once its entities are in
        self._freeze_deadline = 0.0  # (loop time) entities trickling in put the freeze off until then
        self._entities_deadline = 0.0  # (loop time) setups going on hold the waiting entities until then
        self._stopped = False
        self._lost: set[str] = set()  # endpoints logged as unavailable, to log their return once
        self._device_ids: dict[str, str] = {}
        # Restored endpoints whose observations are not re-established yet: what they had
        # observed (kept for the next save until they are) ...
        self._observed_before: dict[str, list[Path]] = {}
        # ... and those among them that did not answer: the next message they send retries.
        self._silent: set[str] = set()
        self.restore_schedule: dict[str, float] = {}  # endpoint -> seconds after start of its re-observe

    # -- life cycle ---------------------------------------------------------------------------

    @staticmethod
    async def async_saved(hass: HomeAssistant, entry: LwM2MConfigEntry) -> dict[str, Any]:
        """Return what the last run of the entry's hub saved (LwM2MHub.load takes it back)."""
        saved = await Store[dict[str, Any]](hass, STORAGE_VERSION, _storage_key(entry)).async_load()
        return saved if isinstance(saved, dict) else {}

    def load(self, saved: dict[str, Any]) -> None:
        """Take back what the last run saved, and listen to the source (which is not started)."""
        self.known_paths = dict(saved.get("resources", {}))
        self._restored = self.source.restore(saved.get("registrations", []))
        observations = saved.get("observations")
        for reg in self._restored:
            saved_paths = observations.get(reg.endpoint) if isinstance(observations, dict) else None
            self._observed_before[reg.endpoint] = _paths(saved_paths)
        self._unsubscribe = self.source.events.subscribe(self._on_event)
        self.log.follow(self.source.events)

    async def async_start(self) -> None:
        """Start the source; devices known from the last run get their entities at once."""
        await self.source.start()
        self.entry.async_on_unload(self.hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._on_hass_stop))
        restored, self._restored = self._restored, []
        for reg in restored:  # every entity first (no setup runs yet: none of them waits)
            self.available.add(reg.endpoint)
            self._add_entities(reg, dict.fromkeys(map(Path.parse, self.known_paths.get(reg.endpoint, []))))
        for reg, delay in zip(restored, restore_delays(len(restored)), strict=True):
            self.restore_schedule[reg.endpoint] = delay
            self._start_setup(reg.endpoint, self._restore_endpoint(reg.endpoint, delay))

    async def async_stop(self) -> None:
        """Stop following the source and stop the source."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.log.close()
        self._stopped = True  # what the cancelled setups and creator leave behind freezes nothing
        for name in list(self._timers):
            self._cancel_timer(name)
        if self._creator is not None:
            self._creator.cancel()
        for task in self._setups.values():
            task.cancel()
        if self._setups:
            await asyncio.gather(*self._setups.values(), return_exceptions=True)
        # Saved while the port is still open (stopping the source ends the observations).
        await self.store.async_save(self._store_data())
        await self.source.stop()

    def _store_data(self) -> dict[str, Any]:
        observations: dict[str, list[str]] = {}
        for reg in self.source.registrations:
            endpoint = reg.endpoint
            if endpoint in self._observed_before:
                paths = [str(path) for path in self._observed_before[endpoint]]
            else:
                paths = [o["paths"][0] for o in self.source.endpoint(endpoint).observations() if not o["composite"]]
            if paths:
                observations[endpoint] = paths
        return {
            "registrations": [reg.to_dict() for reg in self.source.registrations],
            "resources": self.known_paths,
            "observations": observations,
        }

    @callback
    def _on_hass_stop(self, _event: HassEvent) -> None:
        """Save what this run knows now (Home Assistant writes it before it exits)."""
        self._save()

    @callback
    def _save(self) -> None:
        self.store.async_delay_save(self._store_data, SAVE_DELAY)

    # -- events from the source ------------------------------------------------------------------

    @callback
    def _on_event(self, event: Event) -> None:
        endpoint, kind, values = event.endpoint, event.type, event.values
        if values and (
            kind is not EventType.RESPONSE
            or (event.response is not None and event.response.operation in _STORED_RESPONSES)
        ):
            store = self._store
            now = time.time()
            for path, value in values.items():
                slot = store.get((endpoint, path))
                if slot is None:
                    store[endpoint, path] = _Slot(value, at=now)  # no entity shows it (yet)
                    continue
                slot.at = now
                old = slot.value
                if old == value and type(old) is type(value) and not slot.restored:
                    continue  # unchanged: no state to write
                slot.value = value
                slot.restored = False
                for listener in slot.listeners:
                    try:
                        listener(value)
                    except Exception:
                        _LOGGER.exception("Showing %s of %s failed", path, endpoint)
        if kind is EventType.RESPONSE and event.code == "2.02" and event.path is not None and _deleted(event):
            self._forget_values(endpoint, event.path)  # a deleted instance's values are gone
        match kind:
            case EventType.REFUSED:
                self._refused(event)
                return
            case EventType.BOOTSTRAPPED | EventType.BOOTSTRAP_FAILED:
                self._fire(event)  # lwm2m_bootstrapped, lwm2m_bootstrap_failed (and the logbook's lines)
                return
            case EventType.FIRMWARE:
                info = event.details
                if isinstance(info, FirmwareInfo) and (info.step is not Step.DOWNLOADING or not info.percent):
                    self._fire(event)  # lwm2m_firmware at each step (its percent only reaches the entity)
                self._dispatch(endpoint, Topic.FIRMWARE, info)
                return
            case EventType.REGISTERED:
                # A new registration starts afresh: the setup observes what its entities show.
                self._observed_before.pop(endpoint, None)
                self._silent.discard(endpoint)
                reg = self.source.registrations.by_endpoint(endpoint)
                if reg is not None:
                    self._device(reg)  # now, so that the event below names its device
                self._start_setup(endpoint)
                self._save()
            case EventType.UPDATED:
                if event.registration is not None and event.registration.objects_changed:
                    self._start_setup(endpoint)
                elif endpoint in self._silent:
                    self._retry_restore(endpoint)
                self._set_available(endpoint, True)
                self._save()
            case EventType.DEREGISTERED | EventType.EXPIRED:
                self._observed_before.pop(endpoint, None)
                self._silent.discard(endpoint)
                self._set_available(endpoint, False, kind.value)
                self._save()
            case EventType.NOTIFICATION | EventType.SEND | EventType.RESPONSE if endpoint in self._silent:
                self._retry_restore(endpoint)  # it answers again: what failed can work now
                self._set_available(endpoint, True)
            case EventType.RESPONSE if event.response is not None and event.response.operation in _OBSERVATION_CHANGES:
                self._save()
        if kind is not EventType.RESPONSE and (kind is not EventType.NOTIFICATION or self.notification_events):
            self._fire(event)
        self._dispatch(endpoint, Topic.MESSAGE, event)
        if kind is EventType.SEND:
            self._dispatch(endpoint, Topic.SEND, event)
        if kind is not EventType.NOTIFICATION and kind is not EventType.RESPONSE:
            self._dispatch(endpoint, Topic.REGISTRATION, event)

    def _refused(self, event: Event) -> None:
        """Fire lwm2m_refused; under "ask", make an unknown endpoint a discovered device."""
        self._fire(event)
        info = event.details
        settings = {**self.entry.data, **self.entry.options}
        if not isinstance(info, RefusalInfo) or not info.unknown or settings.get(CONF_ADMISSION) != ADMISSION_ASK:
            return
        prefix = f"device {self.entry.entry_id} "
        waiting = [
            flow
            for flow in self.hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if (flow["context"].get("unique_id") or "").startswith(prefix)
        ]
        if len(waiting) >= MAX_DISCOVERED:
            log = _LOGGER.debug if self._discovered_full else _LOGGER.warning
            self._discovered_full = True
            log(
                "%s was refused as unknown; %d unknown devices already wait to be added or ignored, so it is not "
                "shown (answer those first)",
                event.endpoint,
                len(waiting),
            )
            return
        self._discovered_full = False
        discovery_flow.async_create_flow(
            self.hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data={"entry_id": self.entry.entry_id, "endpoint": event.endpoint, "address": info.address},
        )

    def _fire(self, event: Event) -> None:
        """lwm2m_registered, lwm2m_send, ... on the bus, for automations (lwm2m_notification if chosen)."""
        data = event.to_json() | {"device_id": self._device_ids.get(event.endpoint)}
        if isinstance(event.details, (RefusalInfo, BootstrapInfo, FirmwareInfo)):
            data |= event.details.to_json()
        info = event.registration
        if info is not None and event.type in (EventType.REGISTERED, EventType.UPDATED):
            data |= {
                "lifetime": info.lifetime,
                "binding": info.binding,
                "lwm2m_version": info.lwm2m_version,
                "queue_mode": info.queue_mode,
            }
        self.hass.bus.async_fire(f"{DOMAIN}_{event.type.value}", data)

    def _dispatch(self, endpoint: str, topic: Topic, payload: object) -> None:
        if (slot := self._store.get((endpoint, topic))) is not None:
            for listener in slot.listeners:
                listener(payload)

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
        self._dispatch(endpoint, Topic.AVAILABILITY, available)

    # -- setting up an endpoint ----------------------------------------------------------------

    @callback
    def _start_setup(self, endpoint: str, job: Coroutine[Any, Any, None] | None = None) -> None:
        """Run job (by default the setup after a registration) as the endpoint's one setup task."""
        old = self._setups.pop(endpoint, None)
        if old is not None:
            old.cancel()
        task = self.entry.async_create_background_task(
            self.hass, job or self._setup_endpoint(endpoint), f"{DOMAIN} set up {endpoint}"
        )
        self._setups[endpoint] = task
        self._set_up_this_spell += 1
        task.add_done_callback(lambda done: self._setup_finished(endpoint, done))

    @callback
    def _setup_finished(self, endpoint: str, task: asyncio.Task[None]) -> None:
        current = self._setups.get(endpoint) is task  # (not replaced by a newer setup)
        if current:
            del self._setups[endpoint]
        # a setup finished (not cancelled) and others go on: the waiting entities wait on
        if current and not task.cancelled() and self._setups and "entities" in self._timers:
            self._later_until("entities", ENTITY_WAIT, self._entities_deadline, self._create_waiting)
        if self._setups or self._stopped:
            return
        self._create_waiting()
        self._create_later()
        if self._set_up_this_spell >= STORM:
            if not self._storm_settling:
                self._freeze_deadline = self.hass.loop.time() + FREEZE_MAX_WAIT
            self._storm_settling = True
            self._freeze_later()
        # Counted per busy spell: devices registering one by one over days are no storm (each
        # freeze also keeps whatever garbage exists at that moment for good).
        self._set_up_this_spell = 0

    def _freeze_later(self) -> None:
        """Freeze the storm's objects FREEZE_DELAY s from now (later, if more entities come meanwhile).

        A registration storm leaves many long-lived objects (entities, states, registrations).
        The full garbage collection they make due would walk all of them in one go (0.4-1 s with
        a thousand devices) at a random moment during live traffic; frozen, later collections
        leave them out. gc.freeze only moves lists. Frozen before the storm's last entities are
        in, those are walked by every full collection (a run froze 0.93 M objects of 1.34 M).
        """
        if self._storm_settling and not self._stopped:
            self._later_until("freeze", FREEZE_DELAY, self._freeze_deadline, self._freeze)

    @callback
    def entity_added(self) -> None:
        """Count an entity in: after a storm, the freeze waits for the last one (FREEZE_DELAY s more).

        Home Assistant adds the batches it is handed over many loop rounds after the handover
        (the last quarter of a 1,000-device storm's entities came after a freeze timed from it).
        """
        self._freeze_later()

    @callback
    def _freeze(self) -> None:
        self._storm_settling = False
        gc.freeze()

    def _later_once(self, name: str, delay: float, job: Callable[[], None]) -> None:
        """Run job after delay seconds (unless the hub stops first); a pending one of that name is replaced."""
        self._cancel_timer(name)

        @callback
        def run(_now: Any) -> None:
            self._timers.pop(name, None)
            job()

        self._timers[name] = async_call_later(self.hass, delay, run)

    def _later_until(self, name: str, delay: float, deadline: float, job: Callable[[], None]) -> None:
        """_later_once, but never later than deadline (the loop's time)."""
        self._later_once(name, max(0.0, min(delay, deadline - self.hass.loop.time())), job)

    def _cancel_timer(self, name: str) -> None:
        if (cancel := self._timers.pop(name, None)) is not None:
            cancel()

    @callback
    def _create_waiting(self) -> None:
        """Create the entities that wait, a device's batch at a time (_create_gradually)."""
        self._cancel_timer("entities")
        if self._waiting and self._creator is None:
            self._creator = self.entry.async_create_background_task(
                self.hass, self._create_gradually(), f"{DOMAIN} create entities"
            )

    async def _create_gradually(self) -> None:
        """Hand the waiting batches to their platforms one loop round apart.

        Home Assistant adds a batch without yielding (about a millisecond an entity): all of a
        storm's batches in one round held the loop for seconds (300 devices: over 3 s).
        """
        try:
            while self._waiting:
                self._send_new(self._still_matched(self._waiting.popleft()), wait=False)
                await asyncio.sleep(0)  # the batch's own task runs first, then whatever else waits
        finally:
            self._creator = None
            self._freeze_later()

    def _still_matched(self, new: dict[Platform, list[Match]]) -> dict[Platform, list[Match]]:
        """Return the matches of a waiting batch that are still the hub's.

        The user may have deleted the device meanwhile (forget_device), and it may have
        registered again since (with matches of its own).
        """
        out: dict[Platform, list[Match]] = {}
        for platform, matches in new.items():
            kept = [m for m in matches if self.matches.get(m.endpoint, {}).get(m.unique_id) is m]
            if kept:
                out[platform] = kept
        return out

    async def _setup_endpoint(self, endpoint: str) -> None:
        reg = self.source.registrations.by_endpoint(endpoint)
        if reg is None:
            return
        self._device(reg)
        async with self.setup_slots:  # (a new registration meanwhile cancels this setup: _start_setup)
            await self._read_and_observe(endpoint, reg)

    async def _read_and_observe(self, endpoint: str, reg: Registration) -> None:
        device = self.source.endpoint(endpoint)
        values: dict[Path, Value | None] = {}
        for inst in reg.objects.instances:
            try:
                values.update((await device.read(inst)).values)
            except OperationError as err:
                _LOGGER.debug("Reading %s of %s: %s", inst, endpoint, err)
            except LwM2MError as err:
                _LOGGER.debug("Setting up %s stopped: %s", endpoint, err)
                return
        if Path.of(3, 0) in reg.objects.instances:
            self._device(reg, {k: values.get(Path.of(3, 0, k)) for k in DEVICE_INFO})
        self._set_available(endpoint, True)
        # What the device sends before its entities exist waits in the store for them (_send_new).
        await self._observe(device, reg, self._add_entities(reg, values))
        if self.write_retry:
            await self._write_retry(device, reg, values)

    async def _write_retry(self, device: DeviceOperations, reg: Registration, values: dict[Path, Value | None]) -> None:
        """Let the device retry long enough to find this server again after a restart.

        Written where its Server object showed the LwM2M 1.1 communication retry resources
        (lwm2m.retries); a refusal is the device's right.
        """
        server, changes = retry_settings(reg.objects.instances, values)
        if not changes:
            return
        try:
            await device.write(server, changes, replace=False)
        except LwM2MError as err:
            _LOGGER.debug("Writing the communication retry resources of %s: %s", reg.endpoint, err)
        else:
            _LOGGER.debug("Wrote the communication retry resources of %s: %s", reg.endpoint, changes)

    # -- after a restart ------------------------------------------------------------------------

    async def _restore_endpoint(self, endpoint: str, delay: float) -> None:
        """Re-establish, after delay seconds, what the entities of a restored device need.

        The device is observed again as before (each answer carries the current value); with
        no observation wanted, the instances its entities show are read. A device that does
        not answer (timeout, ICMP error, RST) is shown unavailable until it next talks.
        """
        await asyncio.sleep(delay)
        reg = self.source.registrations.by_endpoint(endpoint)
        if reg is None:
            return
        if not self.known_paths.get(endpoint):
            await self._setup_endpoint(endpoint)  # never set up before the restart: do it all now
            return
        found = list(self.matches.get(endpoint, {}).values())
        device = self.source.endpoint(endpoint)
        if self.auto_observe == AUTO_OBSERVE_NONE:
            paths = sorted({Path(m.path.ids[:2]) for m in found if m.path is not None and m.path.depth >= 2})
            operation = device.read
        else:
            paths = sorted({*self._observe_paths(reg, found), *self._observed_before.get(endpoint, ())})
            operation = device.observe
        # A sleeping device gets them when it wakes (its requests wait in the queue meanwhile).
        timeout = None if reg.queue_mode else RESTORE_TIMEOUT
        for path in paths:
            try:
                await operation(path, timeout=timeout)
            except (NotRegistered, QueueFull):
                return  # gone; or asleep with its queue full: it has not been heard yet
            except DeviceTimeout as err:
                self._silent.add(endpoint)
                self._set_available(endpoint, False, f"no answer after the restart: {err}")
                return
            except OperationError as err:
                _LOGGER.debug("Observing %s of %s again: %s", path, endpoint, err)
            except LwM2MError as err:
                _LOGGER.debug("Re-establishing %s stopped: %s", endpoint, err)
                return
        self._observed_before.pop(endpoint, None)
        self._silent.discard(endpoint)

    @callback
    def _retry_restore(self, endpoint: str) -> None:
        """Re-establish now what a restored device that did not answer needs (it talks again)."""
        self._silent.discard(endpoint)
        self._start_setup(endpoint, self._restore_endpoint(endpoint, 0.0))

    def _device(self, reg: Registration, info: dict[int, Value | None] | None = None) -> dr.DeviceEntry:
        kwargs: dict[str, Any] = {}
        for rid, value in (info or {}).items():
            if isinstance(value, str) and value:
                kwargs[DEVICE_INFO[rid]] = value
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, reg.endpoint)},
            name=reg.endpoint,
            # "Browse LwM2M objects": the device browser (panel.py) at this device
            configuration_url=f"homeassistant://{PANEL_PATH}/device/{quote(reg.endpoint, safe='')}",
            **kwargs,
        )
        self._device_ids[reg.endpoint] = device.id
        return device

    @callback
    def _add_entities(self, reg: Registration, values: dict[Path, Value | None]) -> list[Match]:
        """Match the device against the tables; entities not there yet go to their platforms."""
        found, new = self._match(reg, values)
        self._send_new(new)
        if not self._setups:
            self._create_later()
        return found

    @callback
    def _match(
        self, reg: Registration, values: dict[Path, Value | None]
    ) -> tuple[list[Match], dict[Platform, list[Match]]]:
        """Match the device against the tables: every match, and the new ones to make entities of.

        New matches disabled by default wait in _later for the setups to be done.
        """
        endpoint = reg.endpoint
        merged = dict.fromkeys(map(Path.parse, self.known_paths.get(endpoint, []))) | values
        found = self.tables.match(endpoint, reg.objects.instances, merged, self.model)
        self.known_paths[endpoint] = sorted(str(p) for p in merged if p.depth >= 3)
        existing = self.matches.setdefault(endpoint, {})
        later = self._later.setdefault(endpoint, {})
        registry = er.async_get(self.hass)
        new: dict[Platform, list[Match]] = {}
        for match in found:
            unique_id = match.unique_id
            if unique_id in existing or unique_id in later:
                continue
            if not match.description.entity_registry_enabled_default and not _enabled(registry, match):
                later[unique_id] = match  # created when the setups are done (_create_later)
                continue
            existing[unique_id] = match
            new.setdefault(match.platform, []).append(match)
        return found, new

    def _check_entity_limit(self, new: dict[Platform, list[Match]]) -> None:
        """Raise a repair issue, once, when new entities would pass Home Assistant's cap per entry.

        Home Assistant (2026) adds at most MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY enabled entities
        to one config entry and only logs a warning about the rest; a user with that many
        devices needs to know what to do.
        """
        limit: int | None = getattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", None)
        count = getattr(er.async_get(self.hass).entities, "get_enabled_count_for_config_entry_id", None)
        if self._limit_reported or limit is None or count is None:
            return
        adding = sum(1 for matches in new.values() for m in matches if m.description.entity_registry_enabled_default)
        if count(self.entry.entry_id) + adding <= limit:
            return
        self._limit_reported = True
        _LOGGER.warning(
            "%s reached Home Assistant's limit of %d enabled entities for one entry: the entities of further "
            "devices are not added (see the repair issue)",
            self.entry.title,
            limit,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            entity_limit_issue(self.entry),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="entity_limit",
            translation_placeholders={"entry": self.entry.title, "limit": f"{limit:,}"},
        )

    @callback
    def _create_later(self) -> None:
        """Create the entities disabled by default that wait (no device is being set up now)."""
        later, self._later = self._later, {}
        for endpoint, matches in later.items():
            existing = self.matches.setdefault(endpoint, {})
            new: dict[Platform, list[Match]] = {}
            for unique_id, match in matches.items():
                if unique_id not in existing:
                    existing[unique_id] = match
                    new.setdefault(match.platform, []).append(match)
            if new:
                self._waiting.append(new)
        self._create_waiting()

    def _send_new(self, new: dict[Platform, list[Match]], *, wait: bool = True) -> None:
        """Hand new matches to their platforms, which make entities of them.

        While devices are being set up, they wait for _create_waiting: until no setup is left,
        or ENTITY_WAIT s without a setup finishing, or ENTITY_MAX_WAIT s in all.
        """
        if not new:
            return
        if wait and self._setups:
            self._waiting.append(new)
            if "entities" not in self._timers:
                self._entities_deadline = self.hass.loop.time() + ENTITY_MAX_WAIT
                self._later_once("entities", ENTITY_WAIT, self._create_waiting)
            return
        self._check_entity_limit(new)
        for platform, matches in new.items():
            async_dispatcher_send(
                self.hass, SIGNAL_NEW_ENTITIES.format(entry_id=self.entry.entry_id, platform=platform), matches
            )

    def _observe_paths(self, reg: Registration, found: list[Match]) -> list[Path]:
        """Return what auto-observe observes of a device with these matches."""
        if self.auto_observe == AUTO_OBSERVE_NONE:
            return []
        if self.auto_observe == AUTO_OBSERVE_ALL:
            return list(reg.objects.instances)
        return sorted(
            {
                # An entity that shows several resources of an instance observes the instance.
                Path(match.path.ids[:2] if match.description.watch else match.path.ids[:3])
                for match in found
                if match.path is not None
                and match.description.observe
                and match.description.entity_registry_enabled_default
            }
        )

    async def _observe(self, device: DeviceOperations, reg: Registration, found: list[Match]) -> None:
        for path in self._observe_paths(reg, found):
            try:
                await device.observe(path)
            except OperationError as err:
                _LOGGER.debug("Observing %s of %s: %s", path, reg.endpoint, err)
            except LwM2MError:
                return

    # -- what entities use ---------------------------------------------------------------------

    @overload
    def async_subscribe(self, endpoint: str, key: Path, listener: Callable[[Value], None]) -> CALLBACK_TYPE: ...

    @overload
    def async_subscribe(
        self, endpoint: str, key: Literal[Topic.AVAILABILITY], listener: Callable[[bool], None]
    ) -> CALLBACK_TYPE: ...

    @overload
    def async_subscribe(
        self,
        endpoint: str,
        key: Literal[Topic.REGISTRATION, Topic.MESSAGE, Topic.SEND],
        listener: Callable[[Event], None],
    ) -> CALLBACK_TYPE: ...

    @overload
    def async_subscribe(
        self, endpoint: str, key: Literal[Topic.FIRMWARE], listener: Callable[[FirmwareInfo], None]
    ) -> CALLBACK_TYPE: ...

    @callback
    def async_subscribe(self, endpoint: str, key: Path | Topic, listener: Callable[[Any], None]) -> CALLBACK_TYPE:
        """Call listener with each new value of (endpoint, path), or with what a topic brings.

        The returned function ends it (entities call it when they are removed).
        """
        slot = self._store.setdefault((endpoint, key), _Slot())
        slot.listeners.append(listener)
        return partial(slot.listeners.remove, listener)

    def value(self, endpoint: str, path: Path) -> Value | None:
        """Return the value held for (endpoint, path), if one came."""
        slot = self._store.get((endpoint, path))
        return None if slot is None or slot.value is _MISSING else slot.value

    def reported(self, endpoint: str, path: Path) -> tuple[Value, float] | None:
        """Return the value held for (endpoint, path) and when the device reported it, if one came."""
        slot = self._store.get((endpoint, path))
        return None if slot is None or slot.value is _MISSING else (slot.value, slot.at)

    def restored_at(self, endpoint: str, path: Path) -> float | None:
        """Return when the device reported the value held, if that value is the last run's."""
        slot = self._store.get((endpoint, path))
        return slot.at if slot is not None and slot.restored else None

    @callback
    def restore_values(self, endpoint: str, values: dict[Path, tuple[Value, float]]) -> None:
        """Take back values (and when they were reported) an entity saved before a restart.

        They go into the store like values from the device, marked as the last run's until the
        device confirms or changes them; a value the device sent meanwhile is newer and stays.
        """
        for path, (value, at) in values.items():
            slot = self._store.setdefault((endpoint, path), _Slot())
            if slot.value is not _MISSING:
                continue
            slot.value, slot.at, slot.restored = value, at, True
            for listener in slot.listeners:
                try:
                    listener(value)
                except Exception:
                    _LOGGER.exception("Showing %s of %s failed", path, endpoint)

    def values(self, endpoint: str) -> dict[Path, Value]:
        """Every value held for endpoint (diagnostics)."""
        return {
            key: slot.value
            for (name, key), slot in self._store.items()
            if name == endpoint and isinstance(key, Path) and slot.value is not _MISSING
        }

    def is_available(self, endpoint: str) -> bool:
        """Return whether the device is registered and reachable."""
        return endpoint in self.available

    def registration(self, endpoint: str) -> Registration | None:
        """Return the device's registration, if it is registered."""
        return self.source.registrations.by_endpoint(endpoint)

    def matches_for(self, platform: Platform) -> list[Match]:
        """Return the matches of one platform, across every device."""
        return [match for matches in self.matches.values() for match in matches.values() if match.platform is platform]

    async def async_write(self, endpoint: str, path: Path, value: Any) -> None:
        """Write value to the device; the state follows once the device accepted it."""
        try:
            device = self.source.endpoint(endpoint)
            node = device.node_for(path, value)
        except LwM2MError as err:
            raise translate_error(err, endpoint, path=path) from err
        # What the device accepts is its value now: the write's response event (with the values
        # written) reaches the store like a read's answer.
        await async_run(endpoint, device.write(path, node), ACTION_TIMEOUT, path=path)

    async def async_execute(self, endpoint: str, path: Path, arguments: str | None = None) -> None:
        """Execute a resource, raising the error users see when it fails."""
        try:
            device = self.source.endpoint(endpoint)
        except LwM2MError as err:
            raise translate_error(err, endpoint, path=path) from err
        await async_run(endpoint, device.execute(path, arguments), ACTION_TIMEOUT, path=path)

    def _forget_values(self, endpoint: str, below: Path) -> None:
        """Drop the values held under a path (entities showing them keep their last state)."""
        for (name, key), slot in self._store.items():
            if name == endpoint and isinstance(key, Path) and key.startswith(below):
                slot.value = _MISSING

    @callback
    def forget_device(self, endpoint: str) -> None:
        """Drop a device the user deleted; its entities come back if it registers again."""
        self.matches.pop(endpoint, None)
        self._later.pop(endpoint, None)
        self.log.forget(endpoint)
        self.known_paths.pop(endpoint, None)
        self._observed_before.pop(endpoint, None)
        self._save()


def _deleted(event: Event) -> bool:
    """Whether an answer is a Delete's (2.02 may answer other requests too)."""
    return event.response is not None and event.response.operation == "delete"


def entity_limit_issue(entry: LwM2MConfigEntry) -> str:
    """Return the id of the repair issue about Home Assistant's entity cap for the entry."""
    return f"entity_limit_{entry.entry_id}"


def _storage_key(entry: LwM2MConfigEntry) -> str:
    """Return the key the entry's hub saves under."""
    return f"{DOMAIN}.{entry.entry_id}"


def _enabled(registry: er.EntityRegistry, match: Match) -> bool:
    """Return whether the entity of match is in the registry and enabled (a user enabled it)."""
    entity_id = registry.async_get_entity_id(match.platform, DOMAIN, match.unique_id)
    entry = registry.async_get(entity_id) if entity_id is not None else None
    return entry is not None and entry.disabled_by is None


def _paths(saved: Any) -> list[Path]:
    """Return the paths of a saved list of them; anything unreadable (older data, garbage) is skipped."""
    paths: list[Path] = []
    for text in saved if isinstance(saved, list) else ():
        try:
            paths.append(Path.parse(text))
        except (CodecError, TypeError):
            continue
    return paths


def translate_error(
    err: LwM2MError | TimeoutError, endpoint: str, *, path: Path | str = "", timeout: float = 0.0
) -> HomeAssistantError:
    """Turn a core error into the translated error users see, for services and entity actions alike."""
    if isinstance(err, TimeoutError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="timeout",
            translation_placeholders={"endpoint": endpoint, "timeout": f"{timeout:g}"},
        )
    if isinstance(err, CodecError):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_value",
            translation_placeholders={"path": str(path), "error": str(err)},
        )
    if isinstance(err, NotRegistered):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_endpoint",
            translation_placeholders={"endpoint": endpoint},
        )
    if isinstance(err, QueueFull):
        return HomeAssistantError(
            translation_domain=DOMAIN, translation_key="queue_full", translation_placeholders={"endpoint": endpoint}
        )
    if isinstance(err, DeviceTimeout):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="no_answer",
            translation_placeholders={"endpoint": endpoint, "error": str(err)},
        )
    if isinstance(err, OperationError):
        code = err.code or "?"
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="refused",
            translation_placeholders={"endpoint": endpoint, "code": code, "meaning": meaning(code), "error": str(err)},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="failed",
        translation_placeholders={"endpoint": endpoint, "error": str(err)},
    )


async def async_run[T](endpoint: str, operation: Awaitable[T], timeout: float, *, path: Path | str = "") -> T:
    """One operation on a device within timeout seconds; its errors translated."""
    try:
        async with asyncio.timeout(timeout):
            return await operation
    except TimeoutError as err:
        raise translate_error(err, endpoint, timeout=timeout) from None
    except LwM2MError as err:
        raise translate_error(err, endpoint, path=path) from err
