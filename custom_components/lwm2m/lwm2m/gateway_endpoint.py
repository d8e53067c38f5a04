"""Operations on one device behind an EMQX LwM2M gateway, with the same signatures and
results as Endpoint (client.py): each one is a command on the gateway's command topic,
answered by the response with the same reqID."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .api import Response, check_attributes, meaning
from .codecs.link_format import parse_discover
from .emqx import typed_item
from .errors import CodecError, DeviceTimeout, NotRegistered, OperationError
from .events import Event, EventType, ResponseInfo
from .nodes import Node, flatten, node_for
from .path import Path
from .registration import Registration
from .values import DataType, Value, guess_type

if TYPE_CHECKING:
    from .gateway import EmqxGateway

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RemoteObservation:
    """An observation the consumer asked the gateway for; its notifications name the path."""

    endpoint: str
    path: Path
    notifications: int = 0
    last_sequence: int | None = None


class GatewayEndpoint:
    """A device behind the gateway; looks its registration up anew for each command."""

    def __init__(self, gateway: EmqxGateway, name: str) -> None:
        self._gateway = gateway
        self.name = name

    @property
    def registration(self) -> Registration:
        reg = self._gateway.registrations.by_endpoint(self.name)
        if reg is None:
            raise NotRegistered(f"{self.name} is not registered", "4.04")
        return reg

    def node_for(self, path: Path, value: object) -> Node:
        return node_for(self._gateway.model, path, value)

    # -- the command path -------------------------------------------------------------------

    async def _command(
        self, msg_type: str, path: Path, data: Mapping[str, Any], timeout: float | None
    ) -> tuple[str, Any]:
        """Send one command; (code, content) of a successful answer, else OperationError."""
        gateway = self._gateway
        reg = self.registration
        reg.stats.messages_out += 1
        try:
            answer = await gateway.command(self.name, msg_type, data, timeout)
        except TimeoutError:
            reg.stats.errors += 1
            gateway.stats.errors += 1
            raise DeviceTimeout(f"the gateway did not answer {msg_type} {path} for {self.name} in time") from None
        code = str(answer.get("code", "5.00"))
        content = answer.get("content")
        if not code.startswith("2."):
            reg.stats.errors += 1
            self._emit_response(msg_type, path, code, {})
            if isinstance(content, str) and content:
                raise OperationError(content, code)  # the gateway's own explanation
            text = meaning(code) if meaning(code) != "error" else str(answer.get("codeMsg") or "error")
            raise OperationError(f"{self.name} answered {msg_type} {path} with {code} ({text})", code)
        return code, content

    def _finish(self, operation: str, path: Path, code: str, values: Mapping[Path, Value], **extra: Any) -> Response:
        self._emit_response(operation, path, code, values)
        return Response(code, values, **extra)

    def _emit_response(self, operation: str, path: Path, code: str, values: Mapping[Path, Value]) -> None:
        self._gateway.events.emit(
            Event(
                type=EventType.RESPONSE,
                endpoint=self.name,
                path=path,
                values=values,
                code=code,
                details=ResponseInfo(operation=operation),
            )
        )

    def _values(self, path: Path, content: Any) -> dict[Path, Value]:
        try:
            return self._gateway.typed_values(content)
        except (ValueError, CodecError) as err:
            raise OperationError(f"the gateway sent an unreadable answer for {path}: {err}", "2.05") from None

    def _items(self, base: Path, values: Mapping[Path, Value]) -> list[dict[str, Any]]:
        """{path, type, value} items relative to base, typed by the model (else by the value)."""
        items = []
        for path, value in values.items():
            rdef = self._gateway.model.resource(path)
            dtype = rdef.type if rdef is not None and rdef.type is not DataType.NONE else guess_type(value)
            items.append(typed_item("/".join(str(i) for i in path.ids[base.depth :]), value, dtype))
        return items

    # -- operations --------------------------------------------------------------------------

    async def read(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        path = _path(path)
        code, content = await self._command("read", path, {"path": str(path)}, timeout)
        return self._finish("read", path, code, self._values(path, content))

    async def discover(self, path: Path | str, *, timeout: float | None = None) -> Response:
        path = _path(path)
        code, content = await self._command("discover", path, {"path": str(path)}, timeout)
        links = content if isinstance(content, list) else [content] if isinstance(content, str) else []
        try:
            attributes = parse_discover(",".join(str(link) for link in links))
        except CodecError as err:
            raise OperationError(f"{self.name} sent an unreadable Discover answer: {err}", "2.05") from None
        return self._finish("discover", path, code, {}, attributes=attributes)

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
        if path.is_resource and list(values) == [path]:
            data: dict[str, Any] = self._items(path, values)[0] | {"path": str(path)}
        else:
            data = {"basePath": str(path), "content": self._items(path, values)}
        code, _ = await self._command("write", path, data, timeout)
        return self._finish("write", path, code, values)

    async def write_attributes(
        self, path: Path | str, attributes: Mapping[str, float | int | None], *, timeout: float | None = None
    ) -> Response:
        path = _path(path)
        checked = check_attributes(attributes)
        code, _ = await self._command("write-attr", path, {"path": str(path), **checked}, timeout)
        return self._finish("write-attributes", path, code, {})

    async def execute(
        self, path: Path | str, arguments: str | None = None, *, timeout: float | None = None
    ) -> Response:
        path = _path(path)
        if not path.is_resource:
            raise CodecError(f"Execute needs a resource path, not {path}")
        data = {"path": str(path)} | ({"args": arguments} if arguments else {})
        code, _ = await self._command("execute", path, data, timeout)
        return self._finish("execute", path, code, {})

    async def create(
        self,
        path: Path | str,
        values: Mapping[Any, object],
        *,
        instance_id: int | None = None,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        path = _path(path)
        if not path.is_object:
            raise CodecError(f"Create needs an object path, not {path}")
        if instance_id is None:
            instance_id = self.registration.objects.free_instance_id(path.ids[0])
        location = path.child(instance_id)
        typed = flatten(self.node_for(location, dict(values)), location)
        code, _ = await self._command(
            "create", path, {"basePath": str(path), "content": self._items(path, typed)}, timeout
        )
        return self._finish("create", path, code, {}, location=location)

    async def delete(self, path: Path | str, *, timeout: float | None = None) -> Response:
        path = _path(path)
        code, _ = await self._command("delete", path, {"path": str(path)}, timeout)
        return self._finish("delete", path, code, {})

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
        """EMQX's JSON has no composite write: one write with basePath per object instance,
        in turn (so not atomic across instances)."""
        typed = {(p := _path(k)): self._gateway.model.typed(p, v) for k, v in values.items()}
        by_instance: dict[Path, dict[Path, Value]] = {}
        for p, value in typed.items():
            if p.depth < 3:
                raise CodecError(f"Write-Composite needs resource paths, not {p}")
            by_instance.setdefault(Path(p.ids[:2]), {})[p] = value
        code = "2.04"
        for instance, items in by_instance.items():
            code, _ = await self._command(
                "write", instance, {"basePath": str(instance), "content": self._items(instance, items)}, timeout
            )
        return self._finish("write-composite", Path(), code, typed)

    # -- observation ---------------------------------------------------------------------------

    async def observe(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        path = _path(path)
        gateway = self._gateway
        code, content = await self._command("observe", path, {"path": str(path)}, timeout)
        gateway.observations[(self.name, path)] = RemoteObservation(self.name, path)
        return self._finish("observe", path, code, self._values(path, content))

    async def cancel_observe(
        self, path: Path | str | Iterable[Path | str], *, timeout: float | None = None
    ) -> Response:
        paths = (_path(path),) if isinstance(path, (str, Path)) else tuple(_path(p) for p in path)
        if len(paths) != 1:
            raise CodecError("EMQX's gateway cancels one path at a time")
        target = paths[0]
        self._gateway.observations.pop((self.name, target), None)
        code, _ = await self._command("cancel-observe", target, {"path": str(target)}, timeout)
        return self._finish("cancel-observe", target, code, {})

    async def cancel_all_observations(self) -> int:
        count = 0
        for endpoint, path in list(self._gateway.observations):
            if endpoint != self.name:
                continue
            try:
                await self.cancel_observe(path)
            except OperationError as err:
                _LOGGER.debug("Cancelling %s on %s: %s", path, self.name, err)
            count += 1
        return count

    def observations(self) -> list[dict[str, Any]]:
        return [
            {
                "paths": [str(o.path)],
                "composite": False,
                "token": "",
                "notifications": o.notifications,
                "last_sequence": o.last_sequence,
            }
            for (endpoint, _), o in self._gateway.observations.items()
            if endpoint == self.name
        ]


def _path(path: Path | str) -> Path:
    return path if isinstance(path, Path) else Path.parse(path)
