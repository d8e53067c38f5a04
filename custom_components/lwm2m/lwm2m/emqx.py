"""The EMQX LwM2M gateway's JSON messages, as pure functions: core events and responses to
MQTT payloads (up), MQTT commands to core operations (down). No MQTT and no Home Assistant here.

The contract is EMQX's LwM2M gateway manual: topics are {mountpoint}{translator topic} with
${endpoint_name} in the mountpoint; every command carries reqID, msgType and data.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .api import code_name
from .codecs.link_format import Link, format_links
from .errors import CodecError, LwM2MError
from .events import RegistrationInfo
from .path import Path
from .values import DataType, Value, coerce, to_json_value

COMMANDS = ("read", "discover", "write", "write-attr", "execute", "create", "delete", "observe", "cancel-observe")
VALUE_TYPES = {
    "Time": DataType.TIME,
    "String": DataType.STRING,
    "Integer": DataType.INTEGER,
    "Float": DataType.FLOAT,
    "Boolean": DataType.BOOLEAN,
    "Opaque": DataType.OPAQUE,
    "Objlnk": DataType.OBJLNK,
}
MAX_COMMAND = 256 * 1024


class EmqxError(LwM2MError):
    """A command cannot be carried out; code and message go back on the response topic."""

    def __init__(self, message: str, code: str = "4.00", req_id: Any = None, msg_type: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.req_id = req_id
        self.msg_type = msg_type


@dataclass(frozen=True, slots=True)
class Translator:
    topic: str
    qos: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmqxSettings:
    """EMQX's gateway settings that shape the MQTT side, with EMQX's defaults."""

    mountpoint: str = "lwm2m/${endpoint_name}/"
    command: Translator = field(default_factory=lambda: Translator("dn/#"))
    response: Translator = field(default_factory=lambda: Translator("up/resp"))
    notify: Translator = field(default_factory=lambda: Translator("up/notify"))
    register: Translator = field(default_factory=lambda: Translator("up/resp"))
    update: Translator = field(default_factory=lambda: Translator("up/update"))
    update_msg_publish_condition: str = "contains_object_list"  # or "always"

    def topic(self, endpoint: str, translator: Translator) -> str:
        return self.mountpoint.replace("${endpoint_name}", endpoint) + translator.topic

    def command_filter(self) -> str:
        """The MQTT subscription that receives commands for every endpoint."""
        return self.mountpoint.replace("${endpoint_name}", "+") + self.command.topic

    def endpoint_of(self, topic: str) -> str | None:
        """The endpoint a command topic addresses, or None if it is not a command topic."""
        match = _topic_pattern(self.mountpoint, self.command.topic).match(topic)
        return match.group("ep") if match else None

    # -- the consumer's side: devices of an EMQX gateway, seen from MQTT --------------------

    def command_topic(self, endpoint: str) -> str:
        """Where a consumer publishes a command for endpoint: the command filter made concrete
        (EMQX's default "dn/#" becomes "dn/cmd", as EMQX's own examples publish)."""
        levels = ["cmd" if level in ("#", "+") else level for level in self.command.topic.split("/")]
        return self.topic(endpoint, Translator("/".join(levels)))

    def up_filters(self) -> dict[str, int]:
        """The MQTT subscriptions that receive everything the gateway publishes, with their QoS."""
        out: dict[str, int] = {}
        for translator in (self.register, self.update, self.notify, self.response):
            topic = self.mountpoint.replace("${endpoint_name}", "+") + translator.topic
            out[topic] = max(out.get(topic, 0), translator.qos)
        return out

    def endpoint_of_up(self, topic: str) -> str | None:
        """The endpoint a message from the gateway is about, or None if no up topic matches."""
        for translator in (self.response, self.notify, self.update, self.register):
            match = _topic_pattern(self.mountpoint, translator.topic).match(topic)
            if match:
                return match.group("ep")
        return None


@functools.cache
def _topic_pattern(mountpoint: str, topic: str) -> re.Pattern[str]:
    """MQTT topic filter semantics: '+' one level, a final '#' any levels (or none)."""
    mount = re.escape(mountpoint).replace(re.escape("${endpoint_name}"), "(?P<ep>[^/+#]+)")
    tail = ""
    for index, part in enumerate(topic.split("/")):
        sep = "/" if index else ""
        if part == "#":
            tail += f"(?:{sep}.*)?" if index else ".*"
        elif part == "+":
            tail += sep + "[^/]+"
        else:
            tail += sep + re.escape(part)
    return re.compile(f"^{mount}{tail}$")


@dataclass(frozen=True, slots=True)
class Command:
    """One command from MQTT, checked and typed."""

    req_id: Any
    msg_type: str
    path: Path
    values: Mapping[Path, Value] = field(default_factory=dict)  # write, create
    attributes: Mapping[str, float | None] = field(default_factory=dict)  # write-attr
    args: str | None = None  # execute
    req_path: str = ""  # the path as the command gave it, echoed in the response


EMQX_TYPES = {
    DataType.UNSIGNED_INTEGER: "Integer",
    DataType.CORELNK: "String",
    **{dtype: name for name, dtype in VALUE_TYPES.items()},
}


def typed_item(path: str, value: Value, dtype: DataType) -> dict[str, Any]:
    """One {path, type, value} of a write or create command."""
    return {"path": path, "type": EMQX_TYPES.get(dtype, "String"), "value": to_json_value(value)}


def registration_message(msg_type: str, registration: RegistrationInfo) -> dict[str, Any]:
    """A register or update message, as EMQX publishes it (alternatePath always, "/" by default)."""
    data: dict[str, Any] = {"ep": registration.endpoint, "lt": registration.lifetime}
    if registration.sms:
        data["sms"] = registration.sms
    data |= {
        "lwm2m": registration.lwm2m_version,
        "b": registration.binding,
        "alternatePath": registration.root_path or "/",
        "objectList": [str(p) for p in registration.instances] or [f"/{oid}" for oid in registration.objects],
    }
    return {"msgType": msg_type, "data": data}


def should_publish_update(settings: EmqxSettings, objects_changed: bool) -> bool:
    return settings.update_msg_publish_condition == "always" or objects_changed


def response_message(req_id: Any, msg_type: str, req_path: str, code: str, content: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {"reqPath": req_path, "code": code, "codeMsg": code_name(code)}
    if content is not None:
        data["content"] = content
    return {"reqID": req_id, "msgType": msg_type, "data": data}


def values_content(values: Mapping[Path, Value]) -> list[dict[str, Any]]:
    """The content of a read or notify: [{"path", "value"}], by path."""
    return [{"path": str(p), "value": to_json_value(v)} for p, v in sorted(values.items())]


def discover_content(attributes: Mapping[Path, Mapping[str, Any]]) -> list[str]:
    return [format_links([Link(str(p), dict(a))]).decode() for p, a in attributes.items()]


def notify_message(
    req_id: Any, sequence: int | None, code: str, req_path: str, values: Mapping[Path, Value]
) -> dict[str, Any]:
    return {
        "reqID": req_id,
        "msgType": "notify",
        "seqNum": sequence,
        "data": {"code": code, "codeMsg": code_name(code), "reqPath": req_path, "content": values_content(values)},
    }


def error_message(err: EmqxError) -> dict[str, Any]:
    """The response to a command that could not be carried out."""
    out = response_message(err.req_id, err.msg_type or "error", "", err.code)
    out["data"]["content"] = str(err)
    return out


def _path(text: Any, req_id: Any, msg_type: str, what: str = "path") -> Path:
    if not isinstance(text, str):
        raise EmqxError(f"{what} must be a path such as /3/0/1", "4.00", req_id, msg_type)
    try:
        return Path.parse(text if text.startswith("/") else "/" + text)
    except CodecError as err:
        raise EmqxError(f"bad {what} {text!r}: {err}", "4.00", req_id, msg_type) from None


def _typed(item: Any, path: Path, req_id: Any, msg_type: str) -> Value:
    if not isinstance(item, dict) or "value" not in item:
        raise EmqxError(f"{path}: needs a value", "4.00", req_id, msg_type)
    type_name = item.get("type")
    if type_name not in VALUE_TYPES:
        raise EmqxError(f"{path}: type must be one of {', '.join(VALUE_TYPES)}", "4.00", req_id, msg_type)
    try:
        return coerce(item["value"], VALUE_TYPES[type_name])
    except CodecError as err:
        raise EmqxError(f"{path}: {err}", "4.00", req_id, msg_type) from None


def parse_command(payload: bytes | str) -> Command:
    """Check and type one command; EmqxError (with reqID when known) for anything wrong."""
    if len(payload) > MAX_COMMAND:
        raise EmqxError("command too large")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise EmqxError(f"the command is not JSON: {str(err)[:100]}") from None
    if not isinstance(doc, dict):
        raise EmqxError("the command must be a JSON object with reqID, msgType and data")
    req_id = doc.get("reqID")
    msg_type = doc.get("msgType")
    if not isinstance(msg_type, str) or msg_type not in COMMANDS:
        raise EmqxError(
            f"unknown msgType {msg_type!r}; use one of {', '.join(COMMANDS)}",
            "4.00",
            req_id,
            msg_type if isinstance(msg_type, str) else None,
        )
    data = doc.get("data")
    if not isinstance(data, dict):
        raise EmqxError("data must be a JSON object", "4.00", req_id, msg_type)
    if msg_type in ("write", "create") and "basePath" in data:
        base_text = data["basePath"]
        base = _path(base_text, req_id, msg_type, "basePath")
        content = data.get("content")
        if not isinstance(content, list) or not content:
            raise EmqxError("content must be a non-empty list of {path, type, value}", "4.00", req_id, msg_type)
        values: dict[Path, Value] = {}
        for item in content:
            rel = item.get("path") if isinstance(item, dict) else None
            if not isinstance(rel, str):
                raise EmqxError("every content item needs a path", "4.00", req_id, msg_type)
            full = _path(str(base_text).rstrip("/") + "/" + rel.lstrip("/"), req_id, msg_type)
            values[full] = _typed(item, full, req_id, msg_type)
        if msg_type == "create" and not base.is_object:
            raise EmqxError("create needs basePath /ObjectID", "4.00", req_id, msg_type)
        return Command(req_id, msg_type, base, values=values, req_path=str(base_text))
    path = _path(data.get("path"), req_id, msg_type)
    req_path = str(data.get("path"))
    if msg_type == "write":
        if path.depth < 3:
            raise EmqxError(
                "a single write needs a resource path; use basePath and content for several", "4.00", req_id, msg_type
            )
        return Command(req_id, msg_type, path, values={path: _typed(data, path, req_id, msg_type)}, req_path=req_path)
    if msg_type == "write-attr":
        attributes: dict[str, float | None] = {}
        for name in ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax"):
            if name in data:
                value = data[name]
                if value is None or value == "":
                    attributes[name] = None
                    continue
                try:
                    attributes[name] = float(value)
                except (TypeError, ValueError):
                    raise EmqxError(f"{name} must be a number", "4.00", req_id, msg_type) from None
        if not attributes:
            raise EmqxError("write-attr needs at least one of pmin, pmax, gt, lt, st", "4.00", req_id, msg_type)
        return Command(req_id, msg_type, path, attributes=attributes, req_path=req_path)
    if msg_type == "execute":
        args = data.get("args")
        if args is not None and not isinstance(args, str):
            raise EmqxError("args must be text", "4.00", req_id, msg_type)
        if not path.is_resource:
            raise EmqxError("execute needs a resource path", "4.00", req_id, msg_type)
        return Command(req_id, msg_type, path, args=args or None, req_path=req_path)
    if msg_type == "delete" and not path.is_instance:
        raise EmqxError("delete needs an object instance path /ObjectID/InstanceID", "4.00", req_id, msg_type)
    if msg_type == "create":
        raise EmqxError("create needs basePath and content", "4.00", req_id, msg_type)
    return Command(req_id, msg_type, path, req_path=req_path)
