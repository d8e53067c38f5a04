"""The EMQX LwM2M gateway's behaviour on its MQTT side, without MQTT.

Which messages an event publishes, and how a command is carried out on a device and answered.
The Home Assistant bridge (mqtt_bridge.py) only moves these messages to and from the broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..api import DeviceOperations, Response
from ..errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError
from ..events import Event, EventType
from ..path import Path
from ..values import Value
from .codec import (
    Command,
    EmqxError,
    NotifyMessage,
    RegisterMessage,
    ResponseMessage,
    decode_command,
    encode_links,
    encode_values,
)
from .settings import EmqxSettings, Translator

Message = tuple[str, dict[str, Any], int]  # topic, JSON object, QoS


class EmqxBridge:
    """Turns events into up messages and commands into operations and responses.

    endpoint_for(name) gives the operations of one device (NotRegistered if there is none).
    """

    def __init__(self, settings: EmqxSettings, endpoint_for: Callable[[str], DeviceOperations]) -> None:
        """Bridge with settings; endpoint_for gives a device's operations."""
        self.settings = settings
        self._endpoint_for = endpoint_for
        self._observe_ids: dict[tuple[str, Path], Any] = {}  # (endpoint, path) -> reqID of its observe

    # -- up: events -----------------------------------------------------------------------------

    def messages_for(self, event: Event) -> Iterator[Message]:
        """Yield the MQTT messages EMQX publishes for an event."""
        settings = self.settings
        endpoint = event.endpoint
        info = event.registration
        if event.type is EventType.REGISTERED and info is not None:
            yield self._up(endpoint, settings.register, RegisterMessage.of("register", info).encode())
        elif event.type is EventType.UPDATED and info is not None and settings.publishes_update(info.objects_changed):
            yield self._up(endpoint, settings.update, RegisterMessage.of("update", info).encode())
        elif event.type is EventType.NOTIFICATION and event.path is not None:
            message = NotifyMessage(
                req_id=self._observe_ids.get((endpoint, event.path), 0),
                seq_num=event.sequence,
                code=event.code or "2.05",
                path=event.path,
                values=dict(sorted(event.values.items())),
            )
            yield self._up(endpoint, settings.notify, message.encode())
        elif event.type in (EventType.DEREGISTERED, EventType.EXPIRED):
            for key in [k for k in self._observe_ids if k[0] == endpoint]:
                del self._observe_ids[key]

    def _up(self, endpoint: str, translator: Translator, payload: dict[str, Any]) -> Message:
        return self.settings.topic(endpoint, translator), payload, translator.qos

    # -- down: commands -------------------------------------------------------------------------

    def parse(self, topic: str, payload: bytes | str) -> tuple[str, Command | Message] | None:
        """Find the endpoint a command topic names, with its command or the error response to publish.

        The error response goes out at once; a topic that is not a command topic gives None.
        """
        endpoint = self.settings.endpoint_of(topic)
        if endpoint is None:
            return None
        try:
            return endpoint, decode_command(payload)
        except EmqxError as err:
            return endpoint, self._up(endpoint, self.settings.response, ResponseMessage.error(err).encode())

    async def execute(self, endpoint: str, command: Command) -> Message:
        """Carry the command out on the device; the response message, never an exception."""
        try:
            response = await self._operate(endpoint, command)
        except LwM2MError as err:
            code, content = _error(endpoint, err)
        else:
            code, content = response.code, _content(command, response)
        answer = ResponseMessage(
            req_id=command.req_id, msg_type=command.msg_type, req_path=command.req_path, code=code, content=content
        )
        return self._up(endpoint, self.settings.response, answer.encode())

    async def _operate(self, endpoint: str, command: Command) -> Response:
        ep = self._endpoint_for(endpoint)
        path = command.path
        match command.msg_type:
            case "read":
                return await ep.read(path)
            case "discover":
                return await ep.discover(path)
            case "write":
                if command.single_write:
                    return await ep.write(path, command.values[path])
                instance = {p.ids[2]: v for p, v in command.values.items() if p.depth == 3 and p.parent == path}
                if path.is_instance and len(instance) == len(command.values):
                    return await ep.write(path, instance, replace=False)
                values: dict[Path | str, object] = dict(command.values.items())
                return await ep.write_composite(values)
            case "write-attr":
                return await ep.write_attributes(path, dict(command.attributes))
            case "execute":
                return await ep.execute(path, command.args)
            case "create":
                (iid,) = {p.ids[1] for p in command.values}  # the codec checked: one instance
                return await ep.create(path, {p.ids[2]: v for p, v in command.values.items()}, instance_id=iid)
            case "delete":
                return await ep.delete(path)
            case "observe":
                self._observe_ids[(endpoint, path)] = command.req_id
                return await ep.observe(path)
            case _:  # cancel-observe
                self._observe_ids.pop((endpoint, path), None)
                return await ep.cancel_observe(path)


def _error(endpoint: str, err: LwM2MError) -> tuple[str, str]:
    """Answer a core error as EMQX does: the code, and the explanation as content."""
    if isinstance(err, NotRegistered):
        return "4.04", f"{endpoint} is not registered"
    if isinstance(err, DeviceTimeout):
        return "5.04", str(err)
    if isinstance(err, OperationError):
        return err.code or "5.00", str(err)
    if isinstance(err, CodecError):
        return "4.00", str(err)
    return "5.00", str(err)


def _content(command: Command, response: Response) -> Any:
    if command.msg_type == "discover":
        return encode_links(response.attributes)
    if command.msg_type in ("read", "observe"):
        values: dict[Path, Value] = dict(sorted(response.values.items()))
        return encode_values(values)
    return None
