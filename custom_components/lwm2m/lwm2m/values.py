"""Typed LwM2M values and the data types of the object model."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from .errors import CodecError, shown

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
_OBJLNK = re.compile(r"([0-9]{1,5}):([0-9]{1,5})")  # ASCII digits only: "²" passes str.isdigit()


class DataType(StrEnum):
    """Resource data types, named as in the OMA object XML."""

    STRING = "String"
    INTEGER = "Integer"
    UNSIGNED_INTEGER = "Unsigned Integer"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    OPAQUE = "Opaque"
    TIME = "Time"
    OBJLNK = "Objlnk"
    CORELNK = "Corelnk"
    NONE = "none"  # executable resources carry no value

    @classmethod
    def from_xml(cls, text: str | None) -> DataType:
        """Parse the Type element of an object XML."""
        text = (text or "").strip()
        if not text:
            return cls.NONE
        for member in cls:
            if member.value.lower() == text.lower():
                return member
        raise ValueError(f"unknown resource type {text!r}")


@dataclass(frozen=True, slots=True)
class ObjLnk:
    """An object link "O:I"; 65535:65535 is the null link."""

    object_id: int
    instance_id: int

    def __post_init__(self) -> None:
        """Refuse an object or instance id outside 0..65535."""
        for part in (self.object_id, self.instance_id):
            if type(part) is not int or not 0 <= part <= 0xFFFF:
                raise CodecError(f"object link part {shown(part)} is not between 0 and 65535")

    @classmethod
    def parse(cls, text: str) -> ObjLnk:
        """Parse an Objlnk from its text form ("3:0")."""
        match = _OBJLNK.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise CodecError(f"invalid object link {shown(text)}, expected 'object:instance'")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        """Return the Objlnk as text ("3:0")."""
        return f"{self.object_id}:{self.instance_id}"


Value = int | float | bool | str | bytes | datetime | ObjLnk


def time_from_seconds(seconds: float) -> datetime:
    """Return a time from epoch seconds; CodecError if it is out of range."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise CodecError(f"time value {shown(seconds)} is out of range") from err


def time_to_seconds(value: datetime) -> int:
    """Return a time as epoch seconds (a naive time is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return math.floor(value.timestamp())


def check_value(value: Value, dtype: DataType) -> Value:
    """Return value if it is a valid Python value of dtype, else raise CodecError."""
    ok: bool
    match dtype:
        case DataType.INTEGER:
            ok = type(value) is int and INT64_MIN <= value <= INT64_MAX
        case DataType.UNSIGNED_INTEGER:
            ok = type(value) is int and 0 <= value <= UINT64_MAX
        case DataType.FLOAT:
            ok = type(value) is float or (type(value) is int and abs(value) <= 2**53)
        case DataType.BOOLEAN:
            ok = type(value) is bool
        case DataType.STRING | DataType.CORELNK:
            ok = isinstance(value, str)
        case DataType.OPAQUE:
            ok = isinstance(value, bytes)
        case DataType.TIME:
            ok = isinstance(value, datetime)
        case DataType.OBJLNK:
            ok = isinstance(value, ObjLnk)
        case _:
            ok = False
    if not ok:
        raise CodecError(f"{shown(value)} is not a valid {dtype.value} value")
    if dtype is DataType.FLOAT and isinstance(value, int):
        return float(value)
    return value


def coerce(value: object, dtype: DataType) -> Value:
    """Turn a raw value (a user's, MQTT JSON, a self-described SenML/JSON/CBOR value) into one of dtype.

    This is the one conversion from raw to typed. It accepts the obvious spellings: "21.5" for a
    Float, "true"/"on"/1 for a Boolean, "3:0" for an Objlnk, ISO 8601 text or epoch seconds for a
    Time, base64 (padded or not, URL-safe or not) or 0x-hex text for Opaque, UTF-8 bytes for a
    String.
    """
    try:
        match dtype:
            case DataType.INTEGER | DataType.UNSIGNED_INTEGER:
                return _coerce_integer(value, dtype)
            case DataType.FLOAT:
                return _coerce_float(value)
            case DataType.BOOLEAN:
                return _coerce_boolean(value)
            case DataType.STRING | DataType.CORELNK:
                return _coerce_string(value)
            case DataType.OPAQUE:
                return _coerce_opaque(value)
            case DataType.TIME:
                return _coerce_time(value)
            case DataType.OBJLNK:
                return value if isinstance(value, ObjLnk) else ObjLnk.parse(str(value))
    except CodecError:
        raise
    except (ValueError, TypeError, OverflowError) as err:
        raise CodecError(f"{shown(value)} is not a valid {dtype.value} value: {str(err)[:120]}") from err
    raise CodecError(f"resources of type {dtype.value} take no value")


# The conversions coerce() makes, one per data type; each raises ValueError or TypeError
# (or CodecError from check_value) for a value it cannot take.


def _coerce_integer(value: object, dtype: DataType) -> Value:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    return check_value(int(str(value).strip(), 0) if isinstance(value, str) else value, dtype)  # type: ignore[arg-type]


def _coerce_float(value: object) -> Value:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    result = float(value)  # type: ignore[arg-type]
    if not math.isfinite(result):
        raise ValueError("not a finite number")
    return result


def _coerce_boolean(value: object) -> Value:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError("expected true or false")


def _coerce_string(value: object) -> Value:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (dict, list)):
        raise TypeError("expected text")
    return value if isinstance(value, str) else str(value)


def _coerce_opaque(value: object) -> Value:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("expected bytes, hex (0x...) or base64 text")
    if value.startswith("0x"):
        return bytes.fromhex(value[2:])
    # base64 as SenML and JSON carry it: padding optional, URL-safe alphabet too
    return base64.b64decode(
        value + "=" * (-len(value) % 4),
        altchars=b"-_" if "-" in value or "_" in value else None,
        validate=True,
    )


def _coerce_time(value: object) -> Value:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return time_from_seconds(value)
    text = str(value).strip()
    if text.lstrip("-").isascii() and text.lstrip("-").isdigit():
        return time_from_seconds(int(text))
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def guess_type(value: Value) -> DataType:
    """Guess the data type a Python value naturally has (for resources no model describes)."""
    return _NATURAL_TYPES.get(type(value), DataType.STRING)


_NATURAL_TYPES: dict[type, DataType] = {
    bool: DataType.BOOLEAN,
    int: DataType.INTEGER,
    float: DataType.FLOAT,
    bytes: DataType.OPAQUE,
    datetime: DataType.TIME,
    ObjLnk: DataType.OBJLNK,
}


def to_json_value(value: Value) -> object:
    """Return a JSON-friendly form of a value (opaque as base64, time as epoch seconds)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return time_to_seconds(value)
    if isinstance(value, ObjLnk):
        return str(value)
    return value
