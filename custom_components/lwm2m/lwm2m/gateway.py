"""Devices of an external EMQX LwM2M gateway, taken over MQTT (the consumer mode).

The gateway speaks LwM2M to the devices; we see its MQTT side only: register, update,
notify and response messages come in through handle(), commands go out through the
publish callable given to the constructor. To the hub this looks like LwM2MServer:
registrations, an event stream and endpoint(name) with the same operations, so devices
behind the gateway become the same devices, entities and services as local ones.

No MQTT client here and no Home Assistant: the caller subscribes to up_filters() and
feeds every message to handle().
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .api import SourceStats
from .codecs.link_format import RegisteredObjects
from .emqx import MAX_COMMAND, EmqxSettings
from .errors import CodecError
from .events import Event, EventBus, EventType, NotificationInfo
from .gateway_endpoint import GatewayEndpoint, RemoteObservation
from .model import ObjectModel
from .path import Path
from .registration import Registration, RegistrationStore, new_registration_id
from .values import Value

_LOGGER = logging.getLogger(__name__)
Publish = Callable[[str, str, int], Awaitable[None]]


@dataclass(slots=True, kw_only=True)
class GatewayConfig:
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
        self._pending: dict[tuple[str, int], asyncio.Future[dict[str, Any]]] = {}
        self._expiry: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def expires(self) -> bool:
        """Only a gateway that publishes every update shows when a device stops updating."""
        return self.settings.update_msg_publish_condition == "always"

    async def start(self) -> None:
        self.running = True
        if self.expires:
            self._expiry = asyncio.get_running_loop().create_task(self._expire_loop(), name="lwm2m emqx expiry")

    async def stop(self) -> None:
        self.running = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def restore(self, saved: list[dict[str, Any]]) -> list[Registration]:
        """Devices known before a restart: the gateway does not announce them again."""
        restored = []
        for data in saved:
            try:
                reg = Registration.from_dict(data)
            except (KeyError, TypeError, ValueError, CodecError) as err:
                _LOGGER.debug("Skipping a stored registration: %s", err)
                continue
            reg.transport = "emqx"
            self.registrations.add(reg)
            restored.append(reg)
        return restored

    def is_awake(self, endpoint: str) -> bool:
        """A queue-mode device is awake for the gateway's window after it last talked."""
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None or not reg.queue_mode:
            return True
        return time.time() < (reg.stats.last_seen or reg.updated_at) + self.config.queue_window

    def queued(self, endpoint: str) -> int:
        """Commands published for endpoint and not answered yet."""
        return self._pending_by_endpoint.get(endpoint, 0)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "mode": "emqx",
            "malformed_messages": self.malformed,
            "unmatched_responses": self.unmatched_responses,
            "pending_commands": sum(self._pending_by_endpoint.values()),
            "observations": len(self.observations),
        }

    def endpoint(self, name: str) -> GatewayEndpoint:
        return GatewayEndpoint(self, name)

    def up_filters(self) -> dict[str, int]:
        return self.settings.up_filters()

    # -- messages from the gateway -------------------------------------------------------------

    def handle(self, topic: str, payload: bytes | str) -> None:
        """One MQTT message from the gateway; anything unusable is counted and dropped."""
        endpoint = self.settings.endpoint_of_up(topic)
        if endpoint is None:
            return
        try:
            if len(payload) > MAX_COMMAND:
                raise ValueError("message too large")
            doc = json.loads(payload)
            if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
                raise ValueError("not an object with msgType and data")
            msg_type = doc.get("msgType")
            data: dict[str, Any] = doc["data"]
            match msg_type:
                case "register":
                    self._on_register(endpoint, data)
                case "update":
                    self._on_update(endpoint, data)
                case "notify":
                    self._on_notify(endpoint, doc, data)
                case str():
                    self._on_response(endpoint, doc, data)
                case _:
                    raise ValueError("msgType missing")
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError, CodecError) as err:
            self.malformed += 1
            _LOGGER.debug("Unusable message on %s: %s", topic, str(err)[:200])

    def _on_register(self, endpoint: str, data: dict[str, Any]) -> None:
        reg = Registration(
            reg_id=new_registration_id(),
            endpoint=endpoint,
            lifetime=_lifetime(data),
            lwm2m_version=str(data.get("lwm2m", "1.0")),
            binding=str(data.get("b", "U")),
            queue_mode="Q" in str(data.get("b", "U")),
            objects=_objects(data),
            address="emqx",
            transport="emqx",
        )
        reg.stats.messages_in = 1
        reg.stats.last_seen = reg.registered_at
        old = self.registrations.add(reg)
        if old is not None:
            self._forget(endpoint)
        self.stats.registrations += 1
        self.events.emit(Event(type=EventType.REGISTERED, endpoint=endpoint, details=reg.info()))

    def _on_update(self, endpoint: str, data: dict[str, Any]) -> None:
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None:  # a device registered before we listened: its update introduces it
            self._on_register(endpoint, data)
            return
        if "lt" in data:
            reg.lifetime = _lifetime(data)
        if "b" in data:
            reg.binding = str(data["b"])
            reg.queue_mode = "Q" in reg.binding
        objects_changed = False
        if "objectList" in data:
            objects = _objects(data)
            objects_changed = objects != reg.objects
            reg.objects = objects
        self._heard(reg)
        reg.updated_at = reg.stats.last_seen
        self.stats.updates += 1
        details = reg.info(objects_changed=objects_changed)
        self.events.emit(Event(type=EventType.UPDATED, endpoint=endpoint, details=details))

    def _on_notify(self, endpoint: str, doc: dict[str, Any], data: dict[str, Any]) -> None:
        reg = self.registrations.by_endpoint(endpoint)
        if reg is None:
            raise ValueError(f"notification from {endpoint}, which never registered")
        path = _parse_path(data.get("reqPath"))
        values = self.typed_values(data.get("content"))
        sequence = doc.get("seqNum")
        sequence = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
        observation = self.observations.get((endpoint, path))
        if observation is not None:
            observation.notifications += 1
            observation.last_sequence = sequence
        self._heard(reg)
        self.stats.notifications += 1
        code = str(data.get("code", "2.05"))
        self.events.emit(
            Event(
                type=EventType.NOTIFICATION,
                endpoint=endpoint,
                path=path,
                values=values,
                sequence=sequence,
                code=code,
                details=NotificationInfo(paths=(path,)),
            )
        )

    def _on_response(self, endpoint: str, doc: dict[str, Any], data: dict[str, Any]) -> None:
        req_id = doc.get("reqID")
        future = self._pending.get((endpoint, req_id)) if isinstance(req_id, int) else None
        reg = self.registrations.by_endpoint(endpoint)
        if reg is not None:
            self._heard(reg)
        if future is None:
            self.unmatched_responses += 1
            _LOGGER.debug("A response from %s to no request of ours (reqID %r)", endpoint, req_id)
            return
        if not future.done():
            future.set_result(data)

    def _heard(self, reg: Registration) -> None:
        reg.stats.messages_in += 1
        reg.stats.last_seen = time.time()

    def typed_values(self, content: Any) -> dict[Path, Value]:
        """[{"path", "value"}] from the gateway, typed by the object model (JSON has no Opaque)."""
        if content is None:
            return {}
        if not isinstance(content, list):
            raise ValueError("content must be a list of {path, value}")
        values: dict[Path, Value] = {}
        for item in content:
            if not isinstance(item, dict) or "value" not in item:
                raise ValueError("every content item needs a path and a value")
            path = _parse_path(item.get("path"))
            values[path] = self._typed(path, item["value"])
        return values

    def _typed(self, path: Path, raw: Any) -> Value:
        try:
            return self.model.typed(path, raw)
        except CodecError:
            pass  # the gateway's idea of the type wins over a model that disagrees
        if isinstance(raw, (bool, int, float, str)):
            return raw
        return json.dumps(raw)

    # -- commands to the gateway -----------------------------------------------------------------

    async def command(
        self, endpoint: str, msg_type: str, data: Mapping[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        """Publish one command; the data of the gateway's response with the same reqID."""
        req_id = next(self._req_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        key = (endpoint, req_id)
        self._pending[key] = future
        self._pending_by_endpoint[endpoint] = self._pending_by_endpoint.get(endpoint, 0) + 1
        payload = json.dumps({"reqID": req_id, "msgType": msg_type, "data": dict(data)})
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


def _parse_path(text: Any) -> Path:
    if not isinstance(text, str):
        raise ValueError(f"path must be text such as /3/0/1, not {text!r}")
    return Path.parse(text if text.startswith("/") else "/" + text)


def _lifetime(data: Mapping[str, Any]) -> int:
    lifetime = data.get("lt", 86400)
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float, str)):
        raise ValueError(f"lt must be a number of seconds, not {lifetime!r}")
    seconds = int(float(lifetime))
    if seconds <= 0:
        raise ValueError(f"lt must be positive, not {seconds}")
    return seconds


def _objects(data: Mapping[str, Any]) -> RegisteredObjects:
    """EMQX's objectList (["/1/0", "/3/0", "/5"]) as the objects a Register announces."""
    items = data.get("objectList", [])
    if not isinstance(items, list):
        raise ValueError("objectList must be a list of paths")
    objects: dict[int, str | None] = {}
    instances: set[Path] = set()
    for item in items:
        path = _parse_path(str(item).strip().strip("<>") if isinstance(item, str) else item)
        if path.depth == 0:
            continue
        objects.setdefault(path.ids[0], None)
        if path.depth >= 2:
            instances.add(Path(path.ids[:2]))
    root = data.get("alternatePath", "/")
    return RegisteredObjects(
        root_path=root if isinstance(root, str) and root else "/",
        objects=objects,
        instances=tuple(sorted(instances)),
    )


__all__ = ["EmqxGateway", "GatewayConfig", "GatewayEndpoint", "Publish"]
