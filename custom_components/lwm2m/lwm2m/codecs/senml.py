"""SenML records (RFC 8428 as profiled by LwM2M 1.1) <-> leaf values, for JSON and CBOR."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..errors import CodecError
from ..model import ObjectModel
from ..path import Path
from ..values import ObjLnk, Value, time_to_seconds
from .common import MAX_RECORDS, check_number, typed

VALUE_FIELDS = ("v", "vs", "vb", "vd", "vlo")
Record = dict[str, Any]


def _records(raw: object) -> list[Record]:
    if not isinstance(raw, list):
        raise CodecError(f"SenML must be an array of records, got {type(raw).__name__}")
    if len(raw) > MAX_RECORDS:
        raise CodecError(f"SenML holds {len(raw)} records, more than {MAX_RECORDS}")
    for rec in raw:
        if not isinstance(rec, dict):
            raise CodecError(f"a SenML record must be a map, got {type(rec).__name__}")
    return raw


def _names(records: list[Record]) -> Iterable[tuple[Record, Path, float]]:
    base_name, base_time = "", 0.0
    for rec in records:
        if "bn" in rec:
            if not isinstance(rec["bn"], str):
                raise CodecError("SenML base name must be text")
            base_name = rec["bn"]
        if "bt" in rec:
            base_time = check_number(rec["bt"], "SenML base time")
        name = rec.get("n", "")
        if not isinstance(name, str):
            raise CodecError("SenML name must be text")
        t = check_number(rec.get("t", 0), "SenML time")
        try:
            when = base_time + t
        except OverflowError:  # an integer past a float's range plus a float
            raise CodecError("SenML base time plus time is out of range") from None
        yield rec, Path.parse(base_name + name), when


def _value(rec: Record, path: Path, decode_vd: Any) -> Value:
    present = [f for f in VALUE_FIELDS if f in rec]
    if len(present) != 1:
        raise CodecError(f"SenML record for {path} needs exactly one value field, has {present or 'none'}")
    field = present[0]
    raw = rec[field]
    if field == "v":
        return check_number(raw, f"{path}")
    if field == "vb":
        if not isinstance(raw, bool):
            raise CodecError(f"{path}: vb must be a boolean")
        return raw
    if field == "vs":
        if not isinstance(raw, str):
            raise CodecError(f"{path}: vs must be text")
        return raw
    if field == "vlo":
        if not isinstance(raw, str):
            raise CodecError(f"{path}: vlo must be text 'object:instance'")
        return ObjLnk.parse(raw)
    vd: bytes = decode_vd(raw, path)
    return vd


def to_values(raw: object, model: ObjectModel | None, decode_vd: Any) -> dict[Path, Value]:
    """Leaf values from records; of several records for one path the latest (by time) wins."""
    out: dict[Path, Value] = {}
    times: dict[Path, float] = {}
    for rec, path, t in _names(_records(raw)):
        if path.depth < 3:
            raise CodecError(f"SenML record names {path}, not a resource")
        value = typed(_value(rec, path, decode_vd), path, model)
        if path not in times or t >= times[path]:
            out[path], times[path] = value, t
    return out


def to_paths(raw: object) -> list[Path]:
    """Read the paths a composite request (Read-/Observe-Composite body) names."""
    return [path for _rec, path, _t in _names(_records(raw))]


def from_values(values: Mapping[Path, Value], base: Path, encode_vd: Any) -> list[Record]:
    """Turn leaf values into SenML records relative to base."""
    records: list[Record] = []
    for path, value in sorted(values.items()):
        rec: Record = {}
        if not records:
            if path == base:
                rec["bn"] = str(base)
            elif not base.is_root:
                rec["bn"] = str(base) + "/"
        if path != base:
            rec["n"] = "/".join(map(str, path.relative_to(base))) if not base.is_root else str(path)
        _put_value(rec, value, path, encode_vd)
        records.append(rec)
    return records


def from_paths(paths: Iterable[Path]) -> list[Record]:
    """Turn paths into SenML records that name them."""
    return [{"n": str(p)} for p in paths]


def _put_value(rec: Record, value: Value, path: Path, encode_vd: Any) -> None:
    if isinstance(value, bool):
        rec["vb"] = value
    elif isinstance(value, (int, float)):
        rec["v"] = value
    elif isinstance(value, str):
        rec["vs"] = value
    elif isinstance(value, bytes):
        rec["vd"] = encode_vd(value)
    elif isinstance(value, datetime):
        rec["v"] = time_to_seconds(value)
    elif isinstance(value, ObjLnk):
        rec["vlo"] = str(value)
    else:
        raise CodecError(f"{path}: cannot encode {type(value).__name__} in SenML")
