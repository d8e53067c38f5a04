"""SenML CBOR (application/senml+cbor, 112), with cbor2."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import cbor2

from ..errors import CodecError, shown
from ..model import ObjectModel
from ..nodes import Node, flatten
from ..path import ROOT, Path
from ..values import Value
from .common import MAX_RECORDS
from .senml import from_paths, from_values, to_paths, to_values

# RFC 8428 section 6; "vlo" (LwM2M object link) has no integer label and stays text.
LABELS = {"bn": -2, "bt": -3, "n": 0, "v": 2, "vs": 3, "vb": 4, "t": 6, "vd": 8}
NAMES = {code: name for name, code in LABELS.items()} | {
    -1: "bver",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    1: "u",
    5: "s",
    7: "ut",
}


def load(payload: bytes) -> object:
    """Decode CBOR; CodecError if it is not CBOR."""
    try:
        return cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as err:
        raise CodecError(f"invalid CBOR: {str(err)[:120]}") from None


def _from_cbor(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise CodecError(f"SenML must be an array of records, got {type(raw).__name__}")
    out = []
    for rec in raw[: MAX_RECORDS + 1]:
        if not isinstance(rec, dict):
            raise CodecError(f"a SenML record must be a map, got {type(rec).__name__}")
        named: dict[str, Any] = {}
        for key, value in rec.items():
            name = NAMES.get(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(name, str):
                raise CodecError(f"unknown SenML CBOR label {shown(key)}")
            named[name] = value
        out.append(named)
    return out


def _decode_vd(raw: object, path: Path) -> bytes:
    if not isinstance(raw, bytes):
        raise CodecError(f"{path}: vd must be a byte string")
    return raw


def _to_cbor(records: list[dict[str, Any]]) -> bytes:
    return cbor2.dumps([{LABELS.get(k, k): v for k, v in rec.items()} for rec in records])


def decode_values(payload: bytes, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Decode SenML CBOR into leaf values keyed by full path."""
    return to_values(_from_cbor(load(payload)), model, _decode_vd)


def encode_values(values: Mapping[Path, Value], base: Path = ROOT) -> bytes:
    """Encode leaf values as SenML CBOR."""
    return _to_cbor(from_values(values, base, bytes))


def decode_paths(payload: bytes) -> list[Path]:
    """Decode the path list of a composite request in SenML CBOR."""
    return to_paths(_from_cbor(load(payload)))


def encode_paths(paths: Iterable[Path]) -> bytes:
    """Encode a composite request's path list as SenML CBOR."""
    return _to_cbor(from_paths(paths))


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a node at path as SenML CBOR."""
    return encode_values(flatten(node, path), path)
