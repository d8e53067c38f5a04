"""Operations on one device behind an EMQX LwM2M gateway, as on a device of the built-in server.

They have the same signatures and results (api.DeviceOperations): each one is a command on the
gateway's command topic, answered by the response with the same reqID.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..api import Response, SourceStats, check_attributes, meaning
from ..errors import CodecError, DeviceTimeout, NotRegistered, OperationError
from ..events import Event, EventBus, EventType, ResponseInfo
from ..model import ObjectModel
from ..nodes import Node, flatten, node_for
from ..path import Path
from ..registration import Registration, RegistrationStore
from ..values import Value
from .codec import Command, ResponseMessage, decode_links, decode_values

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RemoteObservation:
    """An observation the consumer asked the gateway for; its notifications name the path."""

    endpoint: str
    path: Path
    notifications: int = 0
    last_sequence: int | None = None


class CommandChannel(Protocol):
    """What a device needs of its gateway: its records, and a way to send a command."""

    model: ObjectModel
    registrations: RegistrationStore
    events: EventBus
    stats: SourceStats
    observations: dict[tuple[str, Path], RemoteObservation]

    async def send(self, endpoint: str, command: Command, timeout: float | None) -> ResponseMessage:
        """Publish the command (the channel numbers it); the response with its reqID."""
        ...


def typed_values(model: ObjectModel, raw_values: Mapping[Path, Any]) -> dict[Path, Value]:
    """Type values as JSON carries them by the object model (JSON has no Opaque).

    Where the model disagrees, the gateway's idea of the type wins.
    """
    values: dict[Path, Value] = {}
    for path, raw in raw_values.items():
        try:
            values[path] = model.typed(path, raw)
        except CodecError:
            values[path] = raw if isinstance(raw, (bool, int, float, str)) else json.dumps(raw)
    return values


class GatewayEndpoint:
    """A device behind the gateway; looks its registration up anew for each command."""

    def __init__(self, channel: CommandChannel, name: str) -> None:
        """Address the endpoint name behind the gateway on channel."""
        self._channel = channel
        self.name = name

    @property
    def registration(self) -> Registration:
        """Return the endpoint's registration; NotRegistered once it is gone."""
        reg = self._channel.registrations.by_endpoint(self.name)
        if reg is None:
            raise NotRegistered(f"{self.name} is not registered", "4.04")
        return reg

    def node_for(self, path: Path, value: object) -> Node:
        """Return the node a Write of path sends for a user's value."""
        return node_for(self._channel.model, path, value)

    # -- the command path -------------------------------------------------------------------

    async def _command(self, command: Command, timeout: float | None) -> ResponseMessage:
        """Send one command; its successful answer, else OperationError."""
        channel, path, msg_type = self._channel, command.path, command.msg_type
        reg = self.registration
        reg.stats.messages_out += 1
        try:
            answer = await channel.send(self.name, command, timeout)
        except TimeoutError:
            reg.stats.errors += 1
            channel.stats.errors += 1
            raise DeviceTimeout(f"the gateway did not answer {msg_type} {path} for {self.name} in time") from None
        code = answer.code
        if not code.startswith("2."):
            reg.stats.errors += 1
            self._emit_response(msg_type, path, code, {})
            if isinstance(answer.content, str) and answer.content:
                raise OperationError(answer.content, code)  # the gateway's own explanation
            text = meaning(code) if meaning(code) != "error" else answer.code_msg or "error"
            raise OperationError(f"{self.name} answered {msg_type} {path} with {code} ({text})", code)
        return answer

    def _finish(self, operation: str, path: Path, code: str, values: Mapping[Path, Value], **extra: Any) -> Response:
        self._emit_response(operation, path, code, values)
        return Response(code, values, **extra)

    def _emit_response(self, operation: str, path: Path, code: str, values: Mapping[Path, Value]) -> None:
        self._channel.events.emit(
            Event(
                type=EventType.RESPONSE,
                endpoint=self.name,
                path=path,
                values=values,
                code=code,
                details=ResponseInfo(operation=operation),
            )
        )

    def _values(self, path: Path, answer: ResponseMessage) -> dict[Path, Value]:
        try:
            return typed_values(self._channel.model, decode_values(answer.content))
        except CodecError as err:
            raise OperationError(f"the gateway sent an unreadable answer for {path}: {err}", answer.code) from None

    # -- operations --------------------------------------------------------------------------

    async def read(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Read path."""
        path = _path(path)
        answer = await self._command(Command(msg_type="read", path=path), timeout)
        return self._finish("read", path, answer.code, self._values(path, answer))

    async def discover(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Discover the attributes at path."""
        path = _path(path)
        answer = await self._command(Command(msg_type="discover", path=path), timeout)
        try:
            attributes = decode_links(answer.content)
        except CodecError as err:
            raise OperationError(f"{self.name} sent an unreadable Discover answer: {err}", answer.code) from None
        return self._finish("discover", path, answer.code, {}, attributes=attributes)

    async def write(
        self,
        path: Path | str,
        value: object,
        *,
        replace: bool = True,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Write a resource (path, type, value) or several (basePath and content)."""
        path = _path(path)
        node = value if isinstance(value, Node) else self.node_for(path, value)
        values = flatten(node, path)
        answer = await self._command(Command(msg_type="write", path=path, values=values), timeout)
        return self._finish("write", path, answer.code, values)

    async def write_attributes(
        self, path: Path | str, attributes: Mapping[str, float | int | None], *, timeout: float | None = None
    ) -> Response:
        """Write the notification attributes of path."""
        path = _path(path)
        command = Command(msg_type="write-attr", path=path, attributes=check_attributes(attributes))
        answer = await self._command(command, timeout)
        return self._finish("write-attributes", path, answer.code, {})

    async def execute(
        self, path: Path | str, arguments: str | None = None, *, timeout: float | None = None
    ) -> Response:
        """Execute the resource at path."""
        path = _path(path)
        if not path.is_resource:
            raise CodecError(f"Execute needs a resource path, not {path}")
        answer = await self._command(Command(msg_type="execute", path=path, args=arguments or None), timeout)
        return self._finish("execute", path, answer.code, {})

    async def create(
        self,
        path: Path | str,
        values: Mapping[Any, object],
        *,
        instance_id: int | None = None,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Create an instance of the object at path."""
        path = _path(path)
        if not path.is_object:
            raise CodecError(f"Create needs an object path, not {path}")
        if instance_id is None:
            instance_id = self.registration.objects.free_instance_id(path.ids[0])
        location = path.child(instance_id)
        typed = flatten(self.node_for(location, dict(values)), location)
        answer = await self._command(Command(msg_type="create", path=path, values=typed), timeout)
        return self._finish("create", path, answer.code, {}, location=location)

    async def delete(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Delete the instance at path."""
        path = _path(path)
        answer = await self._command(Command(msg_type="delete", path=path), timeout)
        return self._finish("delete", path, answer.code, {})

    async def read_composite(
        self, paths: Iterable[Path | str], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """EMQX's JSON has no composite read: one read per path, together."""
        plist = [_path(p) for p in paths]
        responses = await asyncio.gather(*(self.read(p, timeout=timeout) for p in plist))
        values = {p: v for response in responses for p, v in response.values.items()}
        return self._finish("read-composite", Path(), "2.05", values)

    async def write_composite(
        self, values: Mapping[Path | str, object], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Write values of several paths: one write with basePath per object instance, in turn.

        EMQX's JSON has no composite write, so this is not atomic across instances.
        """
        typed = {(p := _path(k)): self._channel.model.typed(p, v) for k, v in values.items()}
        by_instance: dict[Path, dict[Path, Value]] = {}
        for p, value in typed.items():
            if p.depth < 3:
                raise CodecError(f"Write-Composite needs resource paths, not {p}")
            by_instance.setdefault(Path(p.ids[:2]), {})[p] = value
        code = "2.04"
        for instance, items in by_instance.items():
            code = (await self._command(Command(msg_type="write", path=instance, values=items), timeout)).code
        return self._finish("write-composite", Path(), code, typed)

    # -- observation ---------------------------------------------------------------------------

    async def observe(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Start observing path; notifications arrive as events."""
        path = _path(path)
        answer = await self._command(Command(msg_type="observe", path=path), timeout)
        self._channel.observations[(self.name, path)] = RemoteObservation(self.name, path)
        return self._finish("observe", path, answer.code, self._values(path, answer))

    async def cancel_observe(
        self, path: Path | str | Iterable[Path | str], *, timeout: float | None = None
    ) -> Response:
        """Cancel the observation of path (or of several paths)."""
        paths = (_path(path),) if isinstance(path, (str, Path)) else tuple(_path(p) for p in path)
        if len(paths) != 1:
            raise CodecError("EMQX's gateway cancels one path at a time")
        target = paths[0]
        self._channel.observations.pop((self.name, target), None)
        answer = await self._command(Command(msg_type="cancel-observe", path=target), timeout)
        return self._finish("cancel-observe", target, answer.code, {})

    async def cancel_all_observations(self) -> int:
        """Cancel every observation of the device; return how many there were."""
        count = 0
        for endpoint, path in list(self._channel.observations):
            if endpoint != self.name:
                continue
            try:
                await self.cancel_observe(path)
            except OperationError as err:
                _LOGGER.debug("Cancelling %s on %s: %s", path, self.name, err)
            count += 1
        return count

    def observations(self) -> list[dict[str, Any]]:
        """Return the device's observations in JSON-friendly form."""
        return [
            {
                "paths": [str(o.path)],
                "composite": False,
                "token": "",
                "notifications": o.notifications,
                "last_sequence": o.last_sequence,
            }
            for (endpoint, _), o in self._channel.observations.items()
            if endpoint == self.name
        ]


def _path(path: Path | str) -> Path:
    return path if isinstance(path, Path) else Path.parse(path)
