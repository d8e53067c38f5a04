"""Devices of an external EMQX LwM2M gateway, taken over MQTT (the consumer mode).

This is a device source (api.DeviceSource) like the built-in server.

The gateway speaks LwM2M to the devices; we see its MQTT side only: register, update, notify
and response messages come in through handle(), commands go out through the publish callable
given to the constructor. No MQTT client here and no Home Assistant: the caller subscribes to
up_filters() and feeds every message to handle().
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..api import SourceStats
from ..codecs.link_format import RegisteredObjects
from ..errors import CodecError
from ..events import Event, EventBus, EventType, NotificationInfo
from ..model import ObjectModel
from ..path import Path
from ..registration import (
    Registration,
    RegistrationStore,
    endpoint_name_problem,
    new_registration_id,
    readable_registrations,
)
from .codec import Command, NotifyMessage, RegisterMessage, ResponseMessage, decode_up
from .device import GatewayEndpoint, RemoteObservation, typed_values
from .settings import EmqxSettings

_LOGGER = logging.getLogger(__name__)
Publish = Callable[[str, str, int], Awaitable[None]]
DEFAULT_LIFETIME = 86400  # LwM2M's, for a Register that names none


@dataclass(slots=True, kw_only=True)
class GatewayConfig:
    """Timing of the gateway's devices."""

    request_timeout: float = 30.0  # the gateway may hold a command for a sleeping device
    # EMQX's qmode_time_window: after each message from a queue-mode device the gateway sends
    # it commands at once; later ones wait in the gateway until the device talks again.
    queue_window: float = 22.0
    grace_period: float = 15.0
    expiry_check_interval: float = 5.0


class EmqxGateway:
    """The devices an EMQX LwM2M gateway publishes, operated through its command topic."""

    def __init__(
        self,
        settings: EmqxSettings,
        model: ObjectModel,
        publish: Publish,
        config: GatewayConfig | None = None,
    ) -> None:
        """Take the gateway's devices with settings; publish sends a command."""
        self.settings = settings
        self.model = model
        self.config = config or GatewayConfig()
        self.publish = publish
        self.registrations = RegistrationStore()
        self.events = EventBus()
        self.stats = SourceStats()
        self._pending_by_endpoint: dict[str, int] = {}
        self.malformed = 0  # messages from the gateway that could not be used (bad JSON, missing fields)
        self.unmatched_responses = 0  # answers to commands of other consumers (or timed out)
        self.observations: dict[tuple[str, Path], RemoteObservation] = {}
        self.running = False
        # EMQX's reqID is an integer; a random start keeps two consumers of one gateway apart.
        self._req_ids = itertools.count(secrets.randbelow(1 << 30) + 1)
        self._pending: dict[tuple[str, int], asyncio.Future[ResponseMessage]] = {}
        self._expiry: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def expires(self) -> bool:
        """Only a gateway that publishes every update shows when a device stops updating."""
        return self.settings.publishes_every_update

    async def start(self) -> None:
        """Start expiring registrations."""
        self.running = True
        if self.expires:
            self._expiry = asyncio.get_running_loop().create_task(self._expire_loop(), name="lwm2m emqx expiry")

    async def stop(self) -> None:
        """Stop expiring registrations."""
        self.running = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def restore(self, saved: Iterable[dict[str, Any]]) -> list[Registration]:
        """Devices known before a restart: the gateway does not announce them again."""
        restored = list(readable_registrations(saved))
        for reg in restored:
            reg.transport = "emqx"
            self.registrations.add(reg)
        return restored

    def is_awake(self, endpoint: str) -> bool:
        """Tell whether the device is awake; a queue-mode one is, for the gateway's window after it last talked."""
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None or not reg.queue_mode:
            return True
        return time.time() < (reg.stats.last_seen or reg.updated_at) + self.config.queue_window

    def queued(self, endpoint: str) -> int:
        """Commands published for endpoint and not answered yet."""
        return self._pending_by_endpoint.get(endpoint, 0)

    def diagnostics(self) -> dict[str, Any]:
        """Return what a diagnostics download shows of the gateway."""
        return {
            "mode": "emqx",
            "malformed_messages": self.malformed,
            "unmatched_responses": self.unmatched_responses,
            "pending_commands": sum(self._pending_by_endpoint.values()),
            "observations": len(self.observations),
        }

    def endpoint(self, name: str) -> GatewayEndpoint:
        """Return the operations on one device behind the gateway."""
        return GatewayEndpoint(self, name)

    def up_filters(self) -> dict[str, int]:
        """Return the subscriptions that receive what the gateway publishes."""
        return self.settings.up_filters()

    # -- messages from the gateway -------------------------------------------------------------

    def handle(self, topic: str, payload: bytes | str) -> None:
        """One MQTT message from the gateway; anything unusable is counted and dropped."""
        endpoint = self.settings.endpoint_of_up(topic)
        if endpoint is None:
            return
        problem = endpoint_name_problem(endpoint)
        if problem is not None:  # the same rule as the built-in server's Register
            self.malformed += 1
            _LOGGER.debug("Ignoring a message about %r on %s: an endpoint name %s", endpoint, topic, problem)
            return
        try:
            match decode_up(payload):
                case RegisterMessage(msg_type="register") as message:
                    self._on_register(endpoint, message)
                case RegisterMessage() as message:
                    self._on_update(endpoint, message)
                case NotifyMessage() as message:
                    self._on_notify(endpoint, message)
                case ResponseMessage() as message:
                    self._on_response(endpoint, message)
        except (CodecError, RecursionError) as err:
            self.malformed += 1
            _LOGGER.debug("Unusable message on %s: %s", topic, str(err)[:200])

    def _on_register(self, endpoint: str, message: RegisterMessage) -> None:
        binding = message.binding or "U"
        reg = Registration(
            reg_id=new_registration_id(),
            endpoint=endpoint,
            lifetime=message.lifetime or DEFAULT_LIFETIME,
            lwm2m_version=message.lwm2m or "1.0",
            binding=binding,
            sms=message.sms,
            queue_mode="Q" in binding,
            objects=_registered(message),
            address="emqx",
            transport="emqx",
        )
        old = self.registrations.register(reg)
        if old is not None:
            self._forget(endpoint)
        self.stats.registrations += 1
        self.events.emit(Event(type=EventType.REGISTERED, endpoint=endpoint, details=reg.info()))

    def _on_update(self, endpoint: str, message: RegisterMessage) -> None:
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None:  # a device registered before we listened: its update introduces it
            self._on_register(endpoint, message)
            return
        if message.lifetime is not None:
            reg.lifetime = message.lifetime
        if message.binding is not None:
            reg.binding = message.binding
            reg.queue_mode = "Q" in reg.binding
        objects_changed = False
        if message.objects is not None:
            objects = _registered(message)
            objects_changed = objects != reg.objects
            reg.objects = objects
        self._heard(reg)
        reg.updated_at = reg.stats.last_seen
        self.stats.updates += 1
        details = reg.info(objects_changed=objects_changed)
        self.events.emit(Event(type=EventType.UPDATED, endpoint=endpoint, details=details))

    def _on_notify(self, endpoint: str, message: NotifyMessage) -> None:
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None:
            raise CodecError(f"notification from {endpoint}, which never registered")
        values = typed_values(self.model, message.values)
        path = message.path
        observation = self.observations.get((endpoint, path))
        if observation is not None:
            observation.notifications += 1
            observation.last_sequence = message.seq_num
        self._heard(reg)
        self.stats.notifications += 1
        self.events.emit(
            Event(
                type=EventType.NOTIFICATION,
                endpoint=endpoint,
                path=path,
                values=values,
                sequence=message.seq_num,
                code=message.code,
                details=NotificationInfo(paths=(path,)),
            )
        )

    def _on_response(self, endpoint: str, message: ResponseMessage) -> None:
        req_id = message.req_id
        known = isinstance(req_id, int) and not isinstance(req_id, bool)
        future = self._pending.get((endpoint, req_id)) if known else None
        reg = self.registrations.by_endpoint(endpoint)
        if reg is not None:
            self._heard(reg)
        if future is None:
            self.unmatched_responses += 1
            _LOGGER.debug("A response from %s to no request of ours (reqID %r)", endpoint, req_id)
            return
        if not future.done():
            future.set_result(message)

    def _heard(self, reg: Registration) -> None:
        reg.stats.messages_in += 1
        reg.stats.last_seen = time.time()

    # -- commands to the gateway -----------------------------------------------------------------

    async def send(self, endpoint: str, command: Command, timeout: float | None) -> ResponseMessage:
        """Publish one command under a reqID of ours; the gateway's response with that reqID."""
        req_id = next(self._req_ids)
        future: asyncio.Future[ResponseMessage] = asyncio.get_running_loop().create_future()
        key = (endpoint, req_id)
        self._pending[key] = future
        self._pending_by_endpoint[endpoint] = self._pending_by_endpoint.get(endpoint, 0) + 1
        payload = json.dumps(dataclasses.replace(command, req_id=req_id).encode())
        try:
            self.stats.requests_out += 1
            await self.publish(self.settings.command_topic(endpoint), payload, self.settings.command.qos)
            async with asyncio.timeout(timeout if timeout is not None else self.config.request_timeout):
                return await future
        finally:
            self._pending.pop(key, None)
            left = self._pending_by_endpoint.get(endpoint, 1) - 1
            if left > 0:
                self._pending_by_endpoint[endpoint] = left
            else:
                self._pending_by_endpoint.pop(endpoint, None)

    # -- expiry ---------------------------------------------------------------------------------------

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_check_interval)
            self.expire_now()

    def expire_now(self, now: float | None = None) -> list[Registration]:
        """Devices silent (no update, notification or response) for their lifetime plus grace."""
        now = time.time() if now is None else now
        expired = [
            reg
            for reg in self.registrations
            if max(reg.updated_at, reg.stats.last_seen) + reg.lifetime + self.config.grace_period <= now
        ]
        for reg in expired:
            self.registrations.remove(reg)
            self._forget(reg.endpoint)
            self.stats.expirations += 1
            self.events.emit(Event(type=EventType.EXPIRED, endpoint=reg.endpoint, details=reg.info()))
        return expired

    def _forget(self, endpoint: str) -> None:
        for key in [k for k in self.observations if k[0] == endpoint]:
            del self.observations[key]


def _registered(message: RegisterMessage) -> RegisteredObjects:
    """EMQX's objectList (["/1/0", "/3/0", "/5"]) as the objects a Register announces."""
    objects: dict[int, str | None] = {}
    instances: set[Path] = set()
    for path in message.objects or ():
        if path.depth == 0:
            continue
        objects.setdefault(path.ids[0], None)
        if path.depth >= 2:
            instances.add(Path(path.ids[:2]))
    return RegisteredObjects(
        root_path=message.alternate_path or "/",
        objects=objects,
        instances=tuple(sorted(instances)),
    )
