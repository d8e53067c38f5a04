"""Every LwM2M content format behind one interface.

Decode to leaf values keyed by their full path; encode from nodes (the tree a Write sends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from types import ModuleType

from ..errors import CodecError
from ..model import ObjectModel
from ..nodes import Node, flatten
from ..path import ROOT, Path
from ..values import Value
from . import lwm2m_cbor, lwm2m_json, opaque, senml_cbor, senml_json, text, tlv


class ContentFormat(IntEnum):
    """CoAP Content-Format numbers of the LwM2M data formats."""

    TEXT = 0
    LINK_FORMAT = 40
    OPAQUE = 42
    CBOR = 60
    SENML_JSON = 110
    SENML_CBOR = 112
    TLV = 11542
    LWM2M_JSON = 11543
    LWM2M_CBOR = 11544
    LEGACY_TLV = 1542  # numbers some LwM2M 1.0 clients used before registration
    LEGACY_JSON = 1543


_ENCODERS: dict[int, ModuleType] = {
    ContentFormat.TEXT: text,
    ContentFormat.OPAQUE: opaque,
    ContentFormat.TLV: tlv,
    ContentFormat.LEGACY_TLV: tlv,
    ContentFormat.LWM2M_JSON: lwm2m_json,
    ContentFormat.LEGACY_JSON: lwm2m_json,
    ContentFormat.SENML_JSON: senml_json,
    ContentFormat.SENML_CBOR: senml_cbor,
    ContentFormat.LWM2M_CBOR: lwm2m_cbor,
}
# Formats of one value (a resource or resource instance).
_SINGLE: dict[int, Callable[[bytes, Path, ObjectModel | None], Value]] = {
    ContentFormat.TEXT: text.decode_value,
    ContentFormat.OPAQUE: opaque.decode_value,
}
# Formats that carry any set of paths (composite operations, Send, notifications).
_MULTI: dict[int, ModuleType] = {
    ContentFormat.SENML_JSON: senml_json,
    ContentFormat.SENML_CBOR: senml_cbor,
    ContentFormat.LWM2M_JSON: lwm2m_json,
    ContentFormat.LEGACY_JSON: lwm2m_json,
    ContentFormat.LWM2M_CBOR: lwm2m_cbor,
}
# Formats of Read-Composite and Observe-Composite request bodies.
_SENML: dict[int, ModuleType] = {ContentFormat.SENML_JSON: senml_json, ContentFormat.SENML_CBOR: senml_cbor}
SUPPORTED = frozenset(_ENCODERS)


def _codec(fmt: int, table: Mapping[int, ModuleType]) -> ModuleType:
    try:
        return table[fmt]
    except KeyError:
        raise CodecError(f"content format {fmt} is not supported here") from None


def decode(fmt: int, payload: bytes, path: Path, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Decode the leaf values of a response (or request) about path, keyed by full path."""
    single = _SINGLE.get(fmt)
    if single is not None:
        if len(path.ids) < 3:
            raise CodecError(f"content format {fmt} carries one resource, not {path}")
        return {path: single(bytes(payload), path, model)}
    if fmt in (ContentFormat.TLV, ContentFormat.LEGACY_TLV):
        return flatten(tlv.decode(bytes(payload), path, model), path)
    return _below(path, _codec(fmt, _MULTI).decode_values(bytes(payload), model))


def _below(path: Path, values: dict[Path, Value]) -> dict[Path, Value]:
    """values, checked to answer a request on path: resources below it, none twice."""
    if path.is_root:
        raise CodecError("an answer needs an object path at least")
    if not values and path.depth >= 3:
        raise CodecError(f"no value for {path}")
    for leaf in values:
        if leaf.depth < 3 or not leaf.startswith(path):
            raise CodecError(f"value path {leaf} is not a resource below {path}")
        if leaf.depth == 4 and leaf.parent in values:
            raise CodecError(f"{leaf.parent} is both a single and a multiple resource")
    return values


def encode(fmt: int, node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a node at path in content format fmt."""
    return _codec(fmt, _ENCODERS).encode(node, path, model)  # type: ignore[no-any-return]


def decode_values(fmt: int | None, payload: bytes, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Leaf values keyed by path, for formats that name their own paths."""
    if fmt is None:
        raise CodecError("the payload names no Content-Format; SenML or LwM2M CBOR/JSON is needed here")
    return _codec(fmt, _MULTI).decode_values(bytes(payload), model)  # type: ignore[no-any-return]


def encode_values(fmt: int, values: Mapping[Path, Value], base: Path = ROOT) -> bytes:
    """Encode leaf values in content format fmt."""
    return _codec(fmt, _MULTI).encode_values(values, base)  # type: ignore[no-any-return]


def decode_paths(fmt: int, payload: bytes) -> list[Path]:
    """Decode the paths a Read-Composite or Observe-Composite request body names."""
    paths: list[Path] = _codec(fmt, _SENML).decode_paths(bytes(payload))
    return paths


def encode_paths(fmt: int, paths: Iterable[Path]) -> bytes:
    """Encode the path list of a composite request in content format fmt."""
    payload: bytes = _codec(fmt, _SENML).encode_paths(paths)
    return payload


__all__ = [
    "SUPPORTED",
    "ContentFormat",
    "decode",
    "decode_paths",
    "decode_values",
    "encode",
    "encode_paths",
    "encode_values",
]
