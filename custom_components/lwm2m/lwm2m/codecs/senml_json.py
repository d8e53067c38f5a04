"""SenML JSON (application/senml+json, 110)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping

from ..errors import CodecError
from ..model import ObjectModel
from ..nodes import Node, flatten
from ..path import ROOT, Path
from ..values import Value
from .senml import from_paths, from_values, to_paths, to_values


def _decode_vd(raw: object, path: Path) -> bytes:
    if not isinstance(raw, str):
        raise CodecError(f"{path}: vd must be base64url text")
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as err:
        raise CodecError(f"{path}: vd is not base64url: {err}") from None


def _encode_vd(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


def load(payload: bytes) -> object:
    """Decode JSON; CodecError if it is not JSON."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise CodecError(f"invalid JSON: {str(err)[:120]}") from None


def dump(doc: object) -> bytes:
    """Encode a document as compact JSON; CodecError if it cannot be."""
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as err:
        raise CodecError(f"cannot encode as JSON: {err}") from None


def decode_values(payload: bytes, model: ObjectModel | None = None) -> dict[Path, Value]:
    """Decode SenML JSON into leaf values keyed by full path."""
    return to_values(load(payload), model, _decode_vd)


def encode_values(values: Mapping[Path, Value], base: Path = ROOT) -> bytes:
    """Encode leaf values as SenML JSON."""
    return dump(from_values(values, base, _encode_vd))


def decode_paths(payload: bytes) -> list[Path]:
    """Decode the path list of a composite request in SenML JSON."""
    return to_paths(load(payload))


def encode_paths(paths: Iterable[Path]) -> bytes:
    """Encode a composite request's path list as SenML JSON."""
    return dump(from_paths(paths))


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode a node at path as SenML JSON."""
    return encode_values(flatten(node, path), path)
