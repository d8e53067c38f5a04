"""Plain text (text/plain, 0): one value of one resource or resource instance."""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime

from ..errors import CodecError, shown
from ..model import ObjectModel
from ..nodes import Node, Resource, ResourceInstance
from ..path import Path
from ..values import INT64_MAX, INT64_MIN, UINT64_MAX, DataType, ObjLnk, Value, time_from_seconds, time_to_seconds

_INT = re.compile(r"[-+]?[0-9]{1,20}")
_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


def decode_value(payload: bytes, path: Path, model: ObjectModel | None) -> Value:
    """Decode the plain-text value of the resource at path."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CodecError(f"{path}: plain text is not UTF-8: {err}") from None
    rdef = model.resource(path) if model is not None else None
    dtype = rdef.type if rdef is not None else DataType.STRING
    stripped = text.strip()
    match dtype:
        case DataType.INTEGER | DataType.UNSIGNED_INTEGER | DataType.TIME:
            if not _INT.fullmatch(stripped):
                raise CodecError(f"{path}: {text[:40]!r} is not an integer")
            number = int(stripped)
            low, high = (0, UINT64_MAX) if dtype is DataType.UNSIGNED_INTEGER else (INT64_MIN, INT64_MAX)
            if not low <= number <= high:
                raise CodecError(f"{path}: {number} is out of range")
            return time_from_seconds(number) if dtype is DataType.TIME else number
        case DataType.FLOAT:
            if not _FLOAT.fullmatch(stripped):
                raise CodecError(f"{path}: {text[:40]!r} is not a number")
            value = float(stripped)
            if not math.isfinite(value):
                raise CodecError(f"{path}: {text[:40]!r} is out of range")
            return value
        case DataType.BOOLEAN:
            if stripped not in ("0", "1"):
                raise CodecError(f"{path}: a boolean is '0' or '1', got {text[:40]!r}")
            return stripped == "1"
        case DataType.OBJLNK:
            return ObjLnk.parse(stripped)
        case DataType.OPAQUE:
            try:
                return base64.b64decode(stripped, validate=True)
            except (binascii.Error, ValueError) as err:  # ValueError: text that is not ASCII
                raise CodecError(f"{path}: opaque text must be base64: {err}") from None
        case _:
            return text


def encode_value(value: Value) -> bytes:
    """Encode one value as plain text."""
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(f"{shown(value)} cannot be sent as text")
        return repr(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return base64.b64encode(value)
    if isinstance(value, datetime):
        return str(time_to_seconds(value)).encode()
    if isinstance(value, ObjLnk):
        return str(value).encode()
    raise CodecError(f"cannot encode {type(value).__name__} as text")


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a resource's value as plain text."""
    if isinstance(node, (Resource, ResourceInstance)):
        return encode_value(node.value)
    raise CodecError(f"plain text carries one value, not a {type(node).__name__} at {path}")
