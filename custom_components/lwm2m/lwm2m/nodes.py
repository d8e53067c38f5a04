"""The LwM2M node tree: objects, instances, single and multiple resources.

Every codec decodes into these nodes (or into a flat mapping of leaf paths to values,
which `flatten` and `build_node` convert between).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import CodecError, shown
from .path import Path
from .values import Value

if TYPE_CHECKING:
    from .model import ObjectModel


@dataclass(frozen=True, slots=True)
class ResourceInstance:
    """One instance of a multiple resource and its value."""

    id: int
    value: Value


@dataclass(frozen=True, slots=True)
class Resource:
    """A single-instance resource."""

    id: int
    value: Value


@dataclass(frozen=True, slots=True)
class MultipleResource:
    """A multiple-instance resource: resource instance id -> value."""

    id: int
    instances: Mapping[int, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectInstance:
    """One object instance and its resources."""

    id: int
    resources: Mapping[int, Resource | MultipleResource] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Object:
    """One object and its instances."""

    id: int
    instances: Mapping[int, ObjectInstance] = field(default_factory=dict)


Node = Object | ObjectInstance | Resource | MultipleResource | ResourceInstance


def flatten(node: Node, path: Path) -> dict[Path, Value]:
    """Leaf values of node (found at path) keyed by their full paths."""
    out: dict[Path, Value] = {}
    _flatten(node, path, out)
    return out


def _flatten(node: Node, path: Path, out: dict[Path, Value]) -> None:
    if isinstance(node, (Resource, ResourceInstance)):
        out[path] = node.value
    elif isinstance(node, MultipleResource):
        for ri, value in node.instances.items():
            out[path.child(ri)] = value
    elif isinstance(node, ObjectInstance):
        for rid, res in node.resources.items():
            _flatten(res, path.child(rid), out)
    else:
        for iid, inst in node.instances.items():
            _flatten(inst, path.child(iid), out)


def build_node(path: Path, values: Mapping[Path, Value], multiple: frozenset[Path] = frozenset()) -> Node:
    """Assemble the node at path from leaf values below it.

    A resource is multiple when a value sits at a resource-instance path below it, or when
    its path is in multiple (so an empty multiple resource survives the round trip).
    """
    if path.is_root:
        raise CodecError("a node needs an object path at least")
    objects: dict[int, dict[int, dict[int, object]]] = {}
    for leaf, value in values.items():
        if not leaf.startswith(path) or leaf.depth < 3:
            raise CodecError(f"value path {leaf} is not a resource below {path}")
        o, i, r = leaf.ids[:3]
        res = objects.setdefault(o, {}).setdefault(i, {})
        if leaf.depth == 4:
            current = res.setdefault(r, {})
            if not isinstance(current, dict):
                raise CodecError(f"{leaf.parent} is both a single and a multiple resource")
            current[leaf.ids[3]] = value
        else:
            if r in res:
                raise CodecError(f"{leaf} appears twice or as single and multiple resource")
            res[r] = _Single(value)
    for mpath in multiple:
        if mpath.depth == 3 and mpath.startswith(path):
            objects.setdefault(mpath.ids[0], {}).setdefault(mpath.ids[1], {}).setdefault(mpath.ids[2], {})

    def resource(rid: int, raw: object) -> Resource | MultipleResource:
        if isinstance(raw, _Single):
            return Resource(rid, raw.value)
        assert isinstance(raw, dict)
        return MultipleResource(rid, dict(sorted(raw.items())))

    def instance(iid: int, raw: dict[int, object]) -> ObjectInstance:
        return ObjectInstance(iid, {rid: resource(rid, r) for rid, r in sorted(raw.items())})

    o = path.ids[0]
    insts = objects.get(o, {})
    if path.is_object:
        return Object(o, {iid: instance(iid, r) for iid, r in sorted(insts.items())})
    i = path.ids[1]
    if path.is_instance:
        return instance(i, insts.get(i, {}))
    r = path.ids[2]
    raw = insts.get(i, {}).get(r)
    if raw is None:
        raise CodecError(f"no value for {path}")
    if path.is_resource:
        return resource(r, raw)
    if not isinstance(raw, dict) or path.ids[3] not in raw:
        raise CodecError(f"no value for {path}")
    return ResourceInstance(path.ids[3], raw[path.ids[3]])


@dataclass(frozen=True, slots=True)
class _Single:
    value: Value


def node_for(model: ObjectModel, path: Path, value: object) -> Node:
    """Build the node a Write sends from a user's value, each value typed by the model.

    The user gives a value for a resource (or resource instance), a mapping or list for a
    multiple resource, a mapping of resource ids for an instance.
    """
    if path.is_resource_instance:
        return ResourceInstance(path.ids[3], model.typed(path, value))
    if path.is_resource:
        rdef = model.resource(path)
        if isinstance(value, Mapping) or (rdef is not None and rdef.multiple and isinstance(value, (list, tuple))):
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            instances = {_id(k, path): v for k, v in items}
            return MultipleResource(path.ids[2], {k: model.typed(path.child(k), v) for k, v in instances.items()})
        return Resource(path.ids[2], model.typed(path, value))
    if path.is_instance and isinstance(value, Mapping):
        resources: dict[int, Resource | MultipleResource] = {}
        for key, item in value.items():
            node = node_for(model, path.child(_id(key, path)), item)
            assert isinstance(node, (Resource, MultipleResource))
            resources[node.id] = node
        return ObjectInstance(path.ids[1], resources)
    raise CodecError(f"a Write on {path} needs a resource path, or an instance path with a mapping of resources")


def _id(key: object, below: Path) -> int:
    """Read a resource (instance) id as a user gave it ("5700", 5700)."""
    try:
        number = int(str(key))
    except ValueError:
        raise CodecError(f"{shown(key)} is not an id below {below} (use numbers such as 5700)") from None
    if not 0 <= number <= 0xFFFF:
        raise CodecError(f"{number} is not an id between 0 and 65535 below {below}")
    return number
