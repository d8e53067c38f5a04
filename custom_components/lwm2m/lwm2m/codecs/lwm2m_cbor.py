"""LwM2M CBOR (application/vnd.oma.lwm2m+cbor, 11544, LwM2M 1.2), with cbor2.

Nested maps keyed by object, instance, resource and resource-instance ids from the root;
a key may also be an array of ids (path compression), which the decoder accepts anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import cbor2

from ..errors import CodecError, shown
from ..model import ObjectModel
from ..nodes import Node, flatten
from ..path import Path
from ..values import ObjLnk, Value, time_to_seconds
from .common import MAX_RECORDS, typed
from .senml_cbor import load


def _walk(node: Any, prefix: tuple[int, ...], model: ObjectModel | None, out: dict[Path, Value]) -> None:
    if not isinstance(node, dict):
        if len(prefix) < 3:
            raise CodecError(f"LwM2M CBOR value at {Path(prefix) if prefix else '/'} is not a resource")
        out[Path(prefix)] = typed(_leaf(node, prefix), Path(prefix), model)
        return
    if len(prefix) >= 4:
        raise CodecError("LwM2M CBOR nests deeper than a resource instance")
    for key, child in node.items():
        ids = tuple(key) if isinstance(key, (tuple, list)) else (key,)
        if not ids or any(type(i) is not int for i in ids):
            raise CodecError(f"LwM2M CBOR key {shown(key)} is not an id or array of ids")
        full = prefix + ids
        if len(full) > 4:
            raise CodecError("LwM2M CBOR path longer than a resource instance")
        Path(full)  # validates the ids
        if len(out) >= MAX_RECORDS:
            raise CodecError(f"LwM2M CBOR holds more than {MAX_RECORDS} values")
        _walk(child, full, model, out)


def _leaf(value: Any, prefix: tuple[int, ...]) -> Value:
    if isinstance(value, cbor2.CBORTag):
        raise CodecError(f"{Path(prefix)}: unsupported CBOR tag {value.tag}")
    if isinstance(value, (bool, int, float, str, bytes, datetime)):
        return value
    raise CodecError(f"{Path(prefix)}: {type(value).__name__} is not an LwM2M value")


def decode_values(payload: bytes, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Decode LwM2M CBOR into leaf values keyed by full path."""
    doc = load(payload)
    if not isinstance(doc, dict):
        raise CodecError("LwM2M CBOR must be a map")
    out: dict[Path, Value] = {}
    _walk(doc, (), model, out)
    return out


def _cbor_value(value: Value) -> Any:
    if isinstance(value, datetime):
        return cbor2.CBORTag(1, time_to_seconds(value))
    if isinstance(value, ObjLnk):
        return str(value)
    return value


def encode_values(values: Mapping[Path, Value], base: Path | None = None) -> bytes:
    """Encode leaf values as LwM2M CBOR."""
    root: dict[int, Any] = {}
    for path, value in sorted(values.items()):
        if path.depth < 3:
            raise CodecError(f"{path} is not a resource")
        node = root
        for i in path.ids[:-1]:
            node = node.setdefault(i, {})
        node[path.ids[-1]] = _cbor_value(value)
    return cbor2.dumps(root)


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a node at path as LwM2M CBOR."""
    return encode_values(flatten(node, path))
