"""The EMQX LwM2M gateway's JSON, both ways, to the letter of EMQX's manual.

Every message the gateway publishes (register, update, notify, a command's response) and every
command it takes (read, discover, write, write-attr, execute, create, delete, observe,
cancel-observe) is a typed value here, with encode() to the JSON object and decode() from it.

This is the only module that knows the JSON's field names. decode() raises CodecError for a
message without the manual's shape; for a command, EmqxError, which carries what is known of
the command (reqID, msgType) so that its error response can be sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..api import code_name
from ..codecs.link_format import AttrValue, Link, format_links, parse_discover
from ..errors import CodecError, LwM2MError, shown
from ..events import RegistrationInfo
from ..path import Path
from ..values import DataType, ObjLnk, Value, coerce, guess_type, to_json_value

MAX_MESSAGE = 256 * 1024
VALUE_TYPES = {  # a write's "type", as the manual lists them
    "Time": DataType.TIME,
    "String": DataType.STRING,
    "Integer": DataType.INTEGER,
    "Float": DataType.FLOAT,
    "Boolean": DataType.BOOLEAN,
    "Opaque": DataType.OPAQUE,
    "Objlnk": DataType.OBJLNK,
}
EMQX_TYPES = {dtype: name for name, dtype in VALUE_TYPES.items()}
WRITE_ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")
BAD_REQUEST = "4.00"


class EmqxError(LwM2MError):
    """A command cannot be carried out; code and message go back on the response topic."""

    def __init__(self, message: str, code: str = BAD_REQUEST, req_id: Any = None, msg_type: str | None = None) -> None:
        """Keep what the error response needs: its code and the command it answers."""
        super().__init__(message)
        self.code = code
        self.req_id = req_id
        self.msg_type = msg_type


def loads(payload: bytes | str) -> Any:
    """Parse the JSON of one MQTT message; CodecError if it is too large or no JSON."""
    if len(payload) > MAX_MESSAGE:
        raise CodecError("too large")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise CodecError(f"not JSON: {str(err)[:100]}") from None


# -- register and update (up) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterMessage:
    """A Register or Update as the gateway publishes it; None for a field it left out."""

    msg_type: str = "register"  # or "update"
    endpoint: str | None = None
    lifetime: int | None = None
    lwm2m: str | None = None
    binding: str | None = None
    sms: str | None = None
    alternate_path: str | None = None
    objects: tuple[Path, ...] | None = None  # objectList: object instances, and objects without any

    @classmethod
    def of(cls, msg_type: str, info: RegistrationInfo) -> RegisterMessage:
        """Make what EMQX publishes for a registration: alternatePath always ("/" by default)."""
        instanced = {p.ids[0] for p in info.instances}
        bare = tuple(Path.of(oid) for oid in info.objects if oid not in instanced)
        return cls(
            msg_type=msg_type,
            endpoint=info.endpoint,
            lifetime=info.lifetime,
            lwm2m=info.lwm2m_version,
            binding=info.binding,
            sms=info.sms or None,
            alternate_path=info.root_path or "/",
            objects=tuple(sorted(info.instances + bare)),
        )

    def encode(self) -> dict[str, Any]:
        """Return the message as EMQX's JSON."""
        data: dict[str, Any] = {}
        for key, value in (
            ("ep", self.endpoint),
            ("lt", self.lifetime),
            ("sms", self.sms),
            ("lwm2m", self.lwm2m),
            ("b", self.binding),
            ("alternatePath", self.alternate_path),
        ):
            if value is not None:
                data[key] = value
        if self.objects is not None:
            data["objectList"] = [str(p) for p in self.objects]
        return {"msgType": self.msg_type, "data": data}

    @classmethod
    def decode(cls, doc: Mapping[str, Any]) -> RegisterMessage:
        """Parse a registration message; EmqxError names what is wrong."""
        data = _data(doc)
        version = data.get("lwm2m")
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            version = str(version)  # 1.1 where "1.1" belongs
        return cls(
            msg_type=_one_of(doc.get("msgType"), ("register", "update"), "msgType"),
            endpoint=_text(data.get("ep"), "ep"),
            lifetime=_lifetime(data["lt"]) if "lt" in data else None,
            lwm2m=_text(version, "lwm2m"),
            binding=_text(data.get("b"), "b"),
            sms=_text(data.get("sms"), "sms"),
            alternate_path=_text(data.get("alternatePath"), "alternatePath"),
            objects=_object_list(data["objectList"]) if "objectList" in data else None,
        )


def _lifetime(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CodecError(f"lt must be a number of seconds, not {shown(value)}")
    try:
        seconds = int(float(value))
    except (ValueError, OverflowError):
        raise CodecError(f"lt must be a number of seconds, not {shown(value)}") from None
    if seconds <= 0:
        raise CodecError(f"lt must be positive, not {seconds}")
    return seconds


def _object_list(items: Any) -> tuple[Path, ...]:
    """["/1/0", "/3/0", "/5"]; a link's brackets ("</3/0>") are tolerated."""
    if not isinstance(items, list):
        raise CodecError("objectList must be a list of paths")
    return tuple(_path(item.strip().strip("<>") if isinstance(item, str) else item, "objectList") for item in items)


# -- notify (up) --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyMessage:
    """A notification of an observation; values as JSON (the reader types them)."""

    req_id: Any = None  # the reqID of the observe command, if the gateway knows it
    seq_num: int | None = None  # the CoAP Observe number
    code: str = "2.05"
    path: Path
    values: Mapping[Path, Any] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """Return the message as EMQX's JSON."""
        return {
            "reqID": self.req_id,
            "msgType": "notify",
            "seqNum": self.seq_num,
            "data": {
                "code": self.code,
                "codeMsg": code_name(self.code),
                "reqPath": str(self.path),
                "content": encode_values(self.values),
            },
        }

    @classmethod
    def decode(cls, doc: Mapping[str, Any]) -> NotifyMessage:
        """Parse a notify message; EmqxError names what is wrong."""
        _one_of(doc.get("msgType"), ("notify",), "msgType")
        data = _data(doc)
        sequence = doc.get("seqNum")
        code = data.get("code", "2.05")
        if not isinstance(code, str):
            raise CodecError(f"code must be text such as 2.05, not {shown(code)}")
        return cls(
            req_id=doc.get("reqID"),
            seq_num=sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None,
            code=code,
            path=_path(data.get("reqPath"), "reqPath"),
            values=decode_values(data.get("content")),
        )


def encode_values(values: Mapping[Path, Any]) -> list[dict[str, Any]]:
    """Encode the content of a read, observe or notify: [{"path", "value"}]."""
    return [{"path": str(p), "value": _json(v)} for p, v in values.items()]


def decode_values(content: Any) -> dict[Path, Any]:
    """Parse the content of a read, observe or notify into values by path."""
    if content is None:
        return {}
    if not isinstance(content, list):
        raise CodecError("content must be a list of {path, value}")
    values: dict[Path, Any] = {}
    for item in content:
        if not isinstance(item, dict) or "value" not in item:
            raise CodecError("every content item needs a path and a value")
        values[_path(item.get("path"), "path")] = item["value"]
    return values


def encode_links(attributes: Mapping[Path, Mapping[str, AttrValue]]) -> list[str]:
    """Encode the content of a discover: one CoRE link per path ("</3/0>;pmin=10")."""
    return [format_links([Link(str(p), dict(a))]).decode() for p, a in attributes.items()]


def decode_links(content: Any) -> dict[Path, dict[str, AttrValue]]:
    """Parse the content of a discover into attributes by path."""
    links = content if isinstance(content, list) else [content] if isinstance(content, str) else []
    return parse_discover(",".join(str(link) for link in links))


def _json(value: Any) -> Any:
    return to_json_value(value) if isinstance(value, (bytes, datetime, ObjLnk)) else value


# -- a command's response (up) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseMessage:
    """The answer to a command: the device's code, and content by msgType.

    The content is values for read and observe, links for discover, an explanation for an error.
    """

    req_id: Any
    msg_type: str
    req_path: str = ""
    code: str
    code_msg: str = ""  # EMQX's name for the code; empty for code_name(code)
    content: Any = None

    @classmethod
    def error(cls, err: EmqxError) -> ResponseMessage:
        """Make the response to a command that could not be carried out."""
        return cls(req_id=err.req_id, msg_type=err.msg_type or "error", code=err.code, content=str(err))

    def encode(self) -> dict[str, Any]:
        """Return the response as EMQX's JSON."""
        data: dict[str, Any] = {
            "reqPath": self.req_path,
            "code": self.code,
            "codeMsg": self.code_msg or code_name(self.code),
        }
        if self.content is not None:
            data["content"] = self.content
        return {"reqID": self.req_id, "msgType": self.msg_type, "data": data}

    @classmethod
    def decode(cls, doc: Mapping[str, Any]) -> ResponseMessage:
        """Parse a response; EmqxError names what is wrong."""
        msg_type = doc.get("msgType")
        if not isinstance(msg_type, str) or msg_type in ("register", "update", "notify"):
            raise CodecError(f"msgType {shown(msg_type)} is not a command's")
        data = _data(doc)
        code = data.get("code")
        code = code if isinstance(code, str) else "5.00"  # no code: nothing good happened
        code_msg = data.get("codeMsg")
        req_path = data.get("reqPath")
        return cls(
            req_id=doc.get("reqID"),
            msg_type=msg_type,
            req_path=req_path if isinstance(req_path, str) else "",
            code=code,
            code_msg=code_msg if isinstance(code_msg, str) and code_msg != code_name(code) else "",
            content=data.get("content"),
        )


UpMessage = RegisterMessage | NotifyMessage | ResponseMessage


def kind(doc: Mapping[str, Any]) -> str | None:
    """Tell what an encoded message is ("register", "notify", "read", ...)."""
    msg_type = doc.get("msgType")
    return msg_type if isinstance(msg_type, str) else None


def decode_up(payload: bytes | str) -> UpMessage:
    """One message the gateway published."""
    doc = loads(payload)
    if not isinstance(doc, dict):
        raise CodecError("not a JSON object with msgType and data")
    msg_type = doc.get("msgType")
    if msg_type in ("register", "update"):
        return RegisterMessage.decode(doc)
    if msg_type == "notify":
        return NotifyMessage.decode(doc)
    return ResponseMessage.decode(doc)


# -- commands (down) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One command, typed.

    path is the path (or basePath) it names, req_path that path as the command wrote it (echoed
    in the response). values: a write's or create's, by full path; attributes: a write-attr's
    (None clears one); args: an execute's.
    """

    req_id: Any = None
    msg_type: str
    path: Path
    values: Mapping[Path, Value] = field(default_factory=dict)
    attributes: Mapping[str, int | float | None] = field(default_factory=dict)
    args: str | None = None
    req_path: str = ""

    def __post_init__(self) -> None:
        """Default req_path to the path."""
        if not self.req_path:
            object.__setattr__(self, "req_path", str(self.path))

    @property
    def single_write(self) -> bool:
        """A write of one resource ({path, type, value}), else of several (basePath, content)."""
        return list(self.values) == [self.path] and self.path.depth >= 3

    def encode(self) -> dict[str, Any]:
        """Return the command as EMQX's JSON."""
        return {"reqID": self.req_id, "msgType": self.msg_type, "data": _CODECS[self.msg_type][1](self)}

    @classmethod
    def decode(cls, doc: Any) -> Command:
        """Parse a command; EmqxError names what is wrong."""
        if not isinstance(doc, dict):
            raise EmqxError("the command must be a JSON object with reqID, msgType and data")
        req_id = doc.get("reqID")
        msg_type = doc.get("msgType")
        if not isinstance(msg_type, str) or msg_type not in COMMANDS:
            known = msg_type if isinstance(msg_type, str) else None
            raise EmqxError(
                f"unknown msgType {shown(msg_type)}; use one of {', '.join(COMMANDS)}", req_id=req_id, msg_type=known
            )
        data = doc.get("data")
        if not isinstance(data, dict):
            raise EmqxError("data must be a JSON object", req_id=req_id, msg_type=msg_type)
        try:
            return _CODECS[msg_type][0](req_id, msg_type, data)
        except CodecError as err:
            raise EmqxError(str(err), req_id=req_id, msg_type=msg_type) from None


def decode_command(payload: bytes | str) -> Command:
    """Check and type one command; EmqxError (with reqID when known) for anything wrong."""
    try:
        doc = loads(payload)
    except CodecError as err:
        raise EmqxError(f"the command is {err}") from None
    return Command.decode(doc)


# Each command's data, both ways: _decode_* checks and types it (CodecError), _encode_* writes it.


def _decode_path(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    """read, discover, observe, cancel-observe: {"path"}."""
    return Command(req_id=req_id, msg_type=msg_type, path=_path(data.get("path"), "path"), req_path=data["path"])


def _encode_path(command: Command) -> dict[str, Any]:
    return {"path": command.req_path}


def _decode_delete(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    command = _decode_path(req_id, msg_type, data)
    if not command.path.is_instance:
        raise CodecError("delete needs an object instance path /ObjectID/InstanceID")
    return command


def _decode_write(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    """{"path", "type", "value"} for one resource, {"basePath", "content"} for several."""
    if "basePath" in data:
        path, values = _decode_content(data)
        return Command(req_id=req_id, msg_type=msg_type, path=path, values=values, req_path=data["basePath"])
    path = _path(data.get("path"), "path")
    if path.depth < 3:
        raise CodecError("a single write needs a resource path; use basePath and content for several")
    values = {path: _typed(data, path)}
    return Command(req_id=req_id, msg_type=msg_type, path=path, values=values, req_path=data["path"])


def _encode_write(command: Command) -> dict[str, Any]:
    if command.single_write:
        return {"path": command.req_path} | _item(command.values[command.path])
    return _encode_content(command)


def _decode_create(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    """{"basePath": "/ObjectID", "content"}: the resources of one new instance."""
    if "basePath" not in data:
        raise CodecError("create needs basePath and content")
    path, values = _decode_content(data)
    if not path.is_object:
        raise CodecError("create needs basePath /ObjectID")
    if len({p.ids[1:2] for p in values}) != 1 or any(p.depth != 3 for p in values):
        raise CodecError("create content must be resources of one instance, such as 0/5700")
    return Command(req_id=req_id, msg_type=msg_type, path=path, values=values, req_path=data["basePath"])


def _decode_content(data: Mapping[str, Any]) -> tuple[Path, dict[Path, Value]]:
    """Decode basePath and content [{path, type, value}], each path relative to basePath."""
    base_text = data["basePath"]
    base = _path(base_text, "basePath")
    content = data.get("content")
    if not isinstance(content, list) or not content:
        raise CodecError("content must be a non-empty list of {path, type, value}")
    values: dict[Path, Value] = {}
    for item in content:
        rel = item.get("path") if isinstance(item, dict) else None
        if not isinstance(rel, str):
            raise CodecError("every content item needs a path")
        full = _path(base_text.rstrip("/") + "/" + rel.lstrip("/"), "path")
        values[full] = _typed(item, full)
    return base, values


def _encode_content(command: Command) -> dict[str, Any]:
    base = command.path.depth
    content = [{"path": "/".join(map(str, p.ids[base:]))} | _item(v) for p, v in command.values.items()]
    return {"basePath": command.req_path, "content": content}


def _typed(item: Any, path: Path) -> Value:
    if not isinstance(item, dict) or "value" not in item:
        raise CodecError(f"{path}: needs a value")
    type_name = item.get("type")
    if not isinstance(type_name, str) or type_name not in VALUE_TYPES:
        raise CodecError(f"{path}: type must be one of {', '.join(VALUE_TYPES)}")
    value = item["value"]
    if type_name == "Opaque" and isinstance(value, str):
        # EMQX's JSON carries opaque values in base64 (hex with 0x is taken too, where it is no base64)
        with contextlib.suppress(binascii.Error, ValueError):
            return base64.b64decode(value, validate=True)
    try:
        return coerce(value, VALUE_TYPES[type_name])
    except CodecError as err:
        raise CodecError(f"{path}: {err}") from None


def _item(value: Value) -> dict[str, Any]:
    """Encode a write's {type, value}: the type a typed value has, as EMQX names it."""
    return {"type": EMQX_TYPES.get(guess_type(value), "String"), "value": to_json_value(value)}


def _decode_write_attr(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    """{"path", "pmin", "pmax", "gt", "lt", "st"}: any of them, null or "" to clear one."""
    path = _path(data.get("path"), "path")
    attributes = {name: _attribute(name, data[name]) for name in WRITE_ATTRIBUTES if name in data}
    if not attributes:
        raise CodecError("write-attr needs at least one of pmin, pmax, gt, lt, st")
    return Command(req_id=req_id, msg_type=msg_type, path=path, attributes=attributes, req_path=data["path"])


def _encode_write_attr(command: Command) -> dict[str, Any]:
    return {"path": command.req_path, **command.attributes}


def _attribute(name: str, value: Any) -> int | float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            value = _float(name, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"{name} must be a number")
    if not math.isfinite(_float(name, value)):
        raise CodecError(f"{name} must be a finite number")
    return value


def _float(name: str, value: Any) -> float:
    try:
        return float(value)
    except ValueError:
        raise CodecError(f"{name} must be a number") from None
    except OverflowError:
        raise CodecError(f"{name} is out of range") from None


def _decode_execute(req_id: Any, msg_type: str, data: Mapping[str, Any]) -> Command:
    """{"path", "args"}: args, the Execute arguments as text, may be left out."""
    path = _path(data.get("path"), "path")
    args = data.get("args")
    if args is not None and not isinstance(args, str):
        raise CodecError("args must be text")
    if not path.is_resource:
        raise CodecError("execute needs a resource path")
    return Command(req_id=req_id, msg_type=msg_type, path=path, args=args or None, req_path=data["path"])


def _encode_execute(command: Command) -> dict[str, Any]:
    return {"path": command.req_path} | ({"args": command.args} if command.args else {})


_Decode = Callable[[Any, str, Mapping[str, Any]], Command]
_Encode = Callable[[Command], dict[str, Any]]
_CODECS: dict[str, tuple[_Decode, _Encode]] = {
    "read": (_decode_path, _encode_path),
    "discover": (_decode_path, _encode_path),
    "write": (_decode_write, _encode_write),
    "write-attr": (_decode_write_attr, _encode_write_attr),
    "execute": (_decode_execute, _encode_execute),
    "create": (_decode_create, _encode_content),
    "delete": (_decode_delete, _encode_path),
    "observe": (_decode_path, _encode_path),
    "cancel-observe": (_decode_path, _encode_path),
}
COMMANDS = tuple(_CODECS)


# -- shared pieces ---------------------------------------------------------------------------------


def _data(doc: Mapping[str, Any]) -> dict[str, Any]:
    data = doc.get("data")
    if not isinstance(data, dict):
        raise CodecError("data must be a JSON object")
    return data


def _path(text: Any, what: str) -> Path:
    if not isinstance(text, str):
        raise CodecError(f"{what} must be a path such as /3/0/1")
    try:
        return Path.parse(text if text.startswith("/") else "/" + text)
    except CodecError as err:
        raise CodecError(f"bad {what} {shown(text)}: {err}") from None


def _text(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise CodecError(f"{key} must be text, not {shown(value)}")
    return value


def _one_of(value: Any, choices: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise CodecError(f"{what} must be one of {', '.join(choices)}, not {shown(value)}")
    return value
