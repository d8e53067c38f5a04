"""Opaque (application/octet-stream, 42): the raw bytes of one resource."""

from __future__ import annotations

from ..errors import CodecError, shown
from ..model import ObjectModel
from ..nodes import Node, Resource, ResourceInstance
from ..path import Path


def decode_value(payload: bytes, path: Path, model: ObjectModel | None = None) -> bytes:
    """Decode the opaque value of the resource at path."""
    if path.depth < 3:
        raise CodecError(f"opaque content carries one resource, not {path}")
    return bytes(payload)


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode an opaque resource's value as it is."""
    if isinstance(node, (Resource, ResourceInstance)) and isinstance(node.value, bytes):
        return node.value
    raise CodecError(f"opaque content carries the bytes of one resource, not {shown(node)} at {path}")
