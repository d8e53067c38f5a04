"""What the typed codecs share: applying the object model to self-described values, bounds."""

from __future__ import annotations

import math

from ..errors import CodecError, shown
from ..model import ObjectModel
from ..path import Path
from ..values import Value

MAX_RECORDS = 10_000  # more entries than any LwM2M payload holds; bounds memory and time


def typed(value: Value, path: Path, model: ObjectModel | None) -> Value:
    """Type a self-described value (SenML, JSON, CBOR) as the model types the resource at path."""
    return value if model is None else model.typed(path, value)


def check_number(value: object, where: str) -> int | float:
    """Return value if it is a number; CodecError (naming where) if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"{where}: expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{where}: {shown(value)} is not a finite number")
    return value
