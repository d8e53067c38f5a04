"""OMA LwM2M JSON (application/vnd.oma.lwm2m+json, 11543), the LwM2M 1.0 JSON format."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import CodecError
from ..model import ObjectModel
from ..nodes import Node, flatten
from ..path import ROOT, Path
from ..values import DataType, ObjLnk, Value, time_to_seconds
from .common import MAX_RECORDS, check_number, typed
from .senml_json import dump, load

_FIELDS = ("v", "sv", "bv", "ov")


def decode_values(payload: bytes, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Decode OMA JSON into leaf values keyed by full path."""
    doc = load(payload)
    if not isinstance(doc, dict):
        raise CodecError("LwM2M JSON must be an object with an 'e' array")
    base = doc.get("bn", "")
    entries = doc.get("e")
    if not isinstance(base, str) or not isinstance(entries, list):
        raise CodecError("LwM2M JSON needs text 'bn' and an array 'e'")
    if len(entries) > MAX_RECORDS:
        raise CodecError(f"LwM2M JSON holds more than {MAX_RECORDS} entries")
    base_time = check_number(doc.get("bt", 0), "bt")
    out: dict[Path, Value] = {}
    times: dict[Path, float] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise CodecError("an LwM2M JSON entry must be an object")
        name = entry.get("n", "")
        if not isinstance(name, str):
            raise CodecError("an LwM2M JSON entry name must be text")
        path = Path.parse(base + name)
        if path.depth < 3:
            raise CodecError(f"LwM2M JSON entry names {path}, not a resource")
        present = [f for f in _FIELDS if f in entry]
        if len(present) != 1:
            raise CodecError(f"LwM2M JSON entry {path} needs exactly one of v, sv, bv, ov")
        value = _value(present[0], entry[present[0]], path, model)
        t = base_time + check_number(entry.get("t", 0), "t")
        if path not in times or t >= times[path]:
            out[path], times[path] = value, t
    return out


def _value(field: str, raw: Any, path: Path, model: ObjectModel | None) -> Value:
    if field == "v":
        return typed(check_number(raw, str(path)), path, model)
    if field == "bv":
        if not isinstance(raw, bool):
            raise CodecError(f"{path}: bv must be true or false")
        return typed(raw, path, model)
    if field == "ov":
        if not isinstance(raw, str):
            raise CodecError(f"{path}: ov must be text 'object:instance'")
        return typed(ObjLnk.parse(raw), path, model)
    if not isinstance(raw, str):
        raise CodecError(f"{path}: sv must be text")
    rdef = model.resource(path) if model is not None else None
    if rdef is not None and rdef.type is DataType.OPAQUE:
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError as err:
            raise CodecError(f"{path}: opaque sv must be base64: {err}") from None
    return typed(raw, path, model)


def encode_values(values: Mapping[Path, Value], base: Path = ROOT) -> bytes:
    """Encode leaf values as OMA JSON, names relative to base."""
    entries = []
    for path, value in sorted(values.items()):
        entry: dict[str, Any] = {}
        if path != base:
            entry["n"] = "/".join(map(str, path.relative_to(base)))
        if isinstance(value, bool):
            entry["bv"] = value
        elif isinstance(value, (int, float)):
            entry["v"] = value
        elif isinstance(value, str):
            entry["sv"] = value
        elif isinstance(value, bytes):
            entry["sv"] = base64.b64encode(value).decode()
        elif isinstance(value, datetime):
            entry["v"] = time_to_seconds(value)
        elif isinstance(value, ObjLnk):
            entry["ov"] = str(value)
        else:
            raise CodecError(f"{path}: cannot encode {type(value).__name__} in LwM2M JSON")
        entries.append(entry)
    bn = str(base) if len(values) == 1 and base in values else str(base).rstrip("/") + "/"
    return dump({"bn": bn, "e": entries})


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a node at path as OMA JSON."""
    return encode_values(flatten(node, path), path)
