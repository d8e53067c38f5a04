"""The EMQX LwM2M gateway's behaviour on its MQTT side, without MQTT: which messages an
event publishes, and how a command is carried out on a device and answered. The Home
Assistant bridge (mqtt_bridge.py) only moves these messages to and from the broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .api import Response
from .client import Endpoint
from .emqx import (
    Command,
    EmqxError,
    EmqxSettings,
    Translator,
    discover_content,
    error_message,
    notify_message,
    parse_command,
    registration_message,
    response_message,
    should_publish_update,
    values_content,
)
from .errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError
from .events import Event, EventType
from .gateway_endpoint import GatewayEndpoint
from .path import Path

Message = tuple[str, dict[str, Any], int]  # topic, JSON payload, QoS


class EmqxBridge:
    """Turns events into up messages and commands into operations and responses.

    endpoint_for(name) gives the operations of one device (a local server's Endpoint, or
    any object with the same methods)."""

    def __init__(self, settings: EmqxSettings, endpoint_for: Any) -> None:
        self.settings = settings
        self._endpoint_for = endpoint_for
        self._observe_ids: dict[tuple[str, str], Any] = {}  # (endpoint, path) -> reqID of its observe

    # -- up: events -----------------------------------------------------------------------------

    def messages_for(self, event: Event) -> Iterator[Message]:
        settings = self.settings
        endpoint = event.endpoint
        info = event.registration
        if event.type is EventType.REGISTERED and info is not None:
            yield self._up(endpoint, settings.register, registration_message("register", info))
        elif (
            event.type is EventType.UPDATED
            and info is not None
            and should_publish_update(settings, info.objects_changed)
        ):
            yield self._up(endpoint, settings.update, registration_message("update", info))
        elif event.type is EventType.NOTIFICATION and event.path is not None:
            req_id = self._observe_ids.get((endpoint, str(event.path)), 0)
            message = notify_message(req_id, event.sequence, event.code or "2.05", str(event.path), event.values)
            yield self._up(endpoint, settings.notify, message)
        elif event.type in (EventType.DEREGISTERED, EventType.EXPIRED):
            for key in [k for k in self._observe_ids if k[0] == endpoint]:
                del self._observe_ids[key]

    def _up(self, endpoint: str, translator: Translator, payload: dict[str, Any]) -> Message:
        return self.settings.topic(endpoint, translator), payload, translator.qos

    # -- down: commands -------------------------------------------------------------------------

    def parse(self, topic: str, payload: bytes | str) -> tuple[str, Command | Message] | None:
        """The endpoint a command topic names with its parsed command, or with the error
        response to publish at once; None for a topic that is not a command topic."""
        endpoint = self.settings.endpoint_of(topic)
        if endpoint is None:
            return None
        try:
            return endpoint, parse_command(payload)
        except EmqxError as err:
            return endpoint, self._up(endpoint, self.settings.response, error_message(err))

    async def execute(self, endpoint: str, command: Command) -> Message:
        """Carry the command out on the device; the response message, never an exception."""
        req_id, msg_type, req_path = command.req_id, command.msg_type, command.req_path
        try:
            response = await self._operate(endpoint, command)
        except NotRegistered:
            out = response_message(req_id, msg_type, req_path, "4.04", f"{endpoint} is not registered")
        except DeviceTimeout as err:
            out = response_message(req_id, msg_type, req_path, "5.04", str(err))
        except OperationError as err:
            out = response_message(req_id, msg_type, req_path, err.code or "5.00", str(err))
        except CodecError as err:
            out = response_message(req_id, msg_type, req_path, "4.00", str(err))
        except LwM2MError as err:
            out = response_message(req_id, msg_type, req_path, "5.00", str(err))
        else:
            out = response_message(req_id, msg_type, req_path, response.code, _content(command, response))
        return self._up(endpoint, self.settings.response, out)

    async def _operate(self, endpoint: str, command: Command) -> Response:
        ep: Endpoint | GatewayEndpoint = self._endpoint_for(endpoint)
        path = command.path
        match command.msg_type:
            case "read":
                return await ep.read(path)
            case "discover":
                return await ep.discover(path)
            case "write":
                if len(command.values) == 1 and path in command.values:
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
                instances = {p.ids[1] for p in command.values}
                if len(instances) != 1 or any(p.depth != 3 for p in command.values):
                    raise CodecError("create content must be resources of one instance, such as 0/5700")
                (iid,) = instances
                return await ep.create(path, {p.ids[2]: v for p, v in command.values.items()}, instance_id=iid)
            case "delete":
                return await ep.delete(path)
            case "observe":
                self._observe_ids[(endpoint, str(path))] = command.req_id
                return await ep.observe(path)
            case _:  # cancel-observe
                self._observe_ids.pop((endpoint, str(path)), None)
                return await ep.cancel_observe(path)


def _content(command: Command, response: Response) -> Any:
    if command.msg_type == "discover":
        return discover_content(response.attributes)
    if command.msg_type in ("read", "observe"):
        return values_content(response.values)
    return None
