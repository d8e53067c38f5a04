"""What the typed codecs share: applying the object model to self-described values."""

from __future__ import annotations

import base64
import math
from datetime import datetime

from ..errors import CodecError
from ..model import ObjectModel
from ..path import Path
from ..values import DataType, ObjLnk, Value, check_value, time_from_seconds

MAX_RECORDS = 10_000  # more entries than any LwM2M payload holds; bounds memory and time


def typed(value: Value, path: Path, model: ObjectModel | None) -> Value:
    """Give a self-described value (SenML, JSON, CBOR) the type the model says it has.

    Resources the model does not describe keep the value as sent. A value that cannot
    be the model's type is a CodecError.
    """
    rdef = model.resource(path) if model is not None else None
    if rdef is None or rdef.type is DataType.NONE:
        return value
    dtype = rdef.type
    try:
        if dtype is DataType.FLOAT and type(value) is int:
            return float(value)
        if dtype in (DataType.INTEGER, DataType.UNSIGNED_INTEGER) and type(value) is float:
            if not value.is_integer():
                raise CodecError(f"{path}: {value!r} is not an integer")
            return check_value(int(value), dtype)
        if dtype is DataType.TIME and isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise CodecError(f"{path}: {value!r} is not a time")
            return time_from_seconds(value)
        if dtype is DataType.OBJLNK and isinstance(value, str):
            return ObjLnk.parse(value)
        if dtype is DataType.OPAQUE and isinstance(value, str):
            return base64.b64decode(
                value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None
            )
        if dtype in (DataType.STRING, DataType.CORELNK) and isinstance(value, bytes):
            return value.decode("utf-8")
        return check_value(value, dtype)
    except CodecError as err:
        raise CodecError(f"{path}: {err}") from None
    except (ValueError, TypeError) as err:
        raise CodecError(f"{path}: {value!r} is not a valid {dtype.value}: {err}") from None


def check_number(value: object, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"{where}: expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{where}: {value!r} is not a finite number")
    return value


def is_time(value: object) -> bool:
    return isinstance(value, datetime)
