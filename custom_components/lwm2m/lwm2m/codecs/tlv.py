"""OMA TLV (application/vnd.oma.lwm2m+tlv, 11542), typed with the object model."""

from __future__ import annotations

import struct
from datetime import datetime

from ..errors import CodecError
from ..model import ObjectModel
from ..nodes import MultipleResource, Node, Object, ObjectInstance, Resource, ResourceInstance
from ..path import Path
from ..values import DataType, ObjLnk, Value, guess_type, time_from_seconds, time_to_seconds
from .common import MAX_RECORDS

OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE = 0, 1, 2, 3
_KIND = {0: "object instance", 1: "resource instance", 2: "multiple resource", 3: "resource"}


class _Tlv:
    __slots__ = ("children", "id", "kind", "value")

    def __init__(self, kind: int, ident: int, value: bytes, children: list[_Tlv] | None) -> None:
        self.kind, self.id, self.value, self.children = kind, ident, value, children


def _parse(data: bytes | memoryview, level: int, count: list[int]) -> list[_Tlv]:
    out: list[_Tlv] = []
    pos, end = 0, len(data)
    while pos < end:
        count[0] += 1
        if count[0] > MAX_RECORDS:
            raise CodecError(f"TLV holds more than {MAX_RECORDS} entries")
        header = data[pos]
        pos += 1
        kind = header >> 6
        id_len = 2 if header & 0x20 else 1
        len_type = (header >> 3) & 0x03
        if pos + id_len + len_type > end:
            raise CodecError("TLV truncated in its header")
        ident = int.from_bytes(data[pos : pos + id_len], "big")
        pos += id_len
        if len_type == 0:
            length = header & 0x07
        else:
            length = int.from_bytes(data[pos : pos + len_type], "big")
            pos += len_type
        if pos + length > end:
            raise CodecError(f"TLV {_KIND[kind]} {ident} declares {length} bytes, {end - pos} remain")
        body = data[pos : pos + length]
        pos += length
        children = None
        if kind in (OBJECT_INSTANCE, MULTIPLE_RESOURCE):
            if level >= 2:
                raise CodecError("TLV nested deeper than an object instance allows")
            children = _parse(body, level + 1, count)
            allowed = (RESOURCE, MULTIPLE_RESOURCE) if kind == OBJECT_INSTANCE else (RESOURCE_INSTANCE,)
            for child in children:
                if child.kind not in allowed:
                    raise CodecError(f"TLV {_KIND[child.kind]} cannot sit inside a {_KIND[kind]}")
        out.append(_Tlv(kind, ident, bytes(body), children))
    return out


def _decode_value(raw: bytes, path: Path, model: ObjectModel | None) -> Value:
    rdef = model.resource(path) if model is not None else None
    dtype = rdef.type if rdef is not None else DataType.OPAQUE
    n = len(raw)
    match dtype:
        case DataType.STRING | DataType.CORELNK:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise CodecError(f"{path}: string is not UTF-8: {err}") from None
        case DataType.INTEGER | DataType.TIME:
            if n not in (1, 2, 4, 8):
                raise CodecError(f"{path}: an integer takes 1, 2, 4 or 8 bytes, not {n}")
            number = int.from_bytes(raw, "big", signed=True)
            return time_from_seconds(number) if dtype is DataType.TIME else number
        case DataType.UNSIGNED_INTEGER:
            if n not in (1, 2, 4, 8):
                raise CodecError(f"{path}: an unsigned integer takes 1, 2, 4 or 8 bytes, not {n}")
            return int.from_bytes(raw, "big")
        case DataType.FLOAT:
            if n == 4:
                return float(struct.unpack(">f", raw)[0])
            if n == 8:
                return float(struct.unpack(">d", raw)[0])
            raise CodecError(f"{path}: a float takes 4 or 8 bytes, not {n}")
        case DataType.BOOLEAN:
            if raw not in (b"\x00", b"\x01"):
                raise CodecError(f"{path}: a boolean is one byte 0 or 1, got {raw.hex()}")
            return raw == b"\x01"
        case DataType.OBJLNK:
            if n != 4:
                raise CodecError(f"{path}: an object link takes 4 bytes, not {n}")
            return ObjLnk(int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big"))
        case _:
            return raw  # opaque, executable, or a resource nobody described


def _int_bytes(number: int, signed: bool) -> bytes:
    for size in (1, 2, 4, 8):
        try:
            return number.to_bytes(size, "big", signed=signed)
        except OverflowError:
            continue
    raise CodecError(f"{number} does not fit in 64 bits")


def _encode_value(value: Value, path: Path, model: ObjectModel | None) -> bytes:
    rdef = model.resource(path) if model is not None else None
    dtype = rdef.type if rdef is not None and rdef.type is not DataType.NONE else guess_type(value)
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        if dtype is DataType.FLOAT:
            return struct.pack(">d", float(value))
        return _int_bytes(value, signed=dtype is not DataType.UNSIGNED_INTEGER)
    if isinstance(value, float):
        try:
            single = struct.pack(">f", value)
        except OverflowError:  # beyond single precision
            return struct.pack(">d", value)
        return single if struct.unpack(">f", single)[0] == value else struct.pack(">d", value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, datetime):
        return _int_bytes(time_to_seconds(value), signed=True)
    if isinstance(value, ObjLnk):
        return value.object_id.to_bytes(2, "big") + value.instance_id.to_bytes(2, "big")
    raise CodecError(f"{path}: cannot encode {type(value).__name__} in TLV")


def _header(kind: int, ident: int, length: int) -> bytes:
    if length >= 1 << 24:
        raise CodecError("a TLV value is at most 16 MB")
    head = kind << 6
    id_bytes = ident.to_bytes(2 if ident > 0xFF else 1, "big")
    if ident > 0xFF:
        head |= 0x20
    if length < 8:
        return bytes([head | length]) + id_bytes
    len_bytes = length.to_bytes(1 if length <= 0xFF else 2 if length <= 0xFFFF else 3, "big")
    return bytes([head | (len(len_bytes) << 3)]) + id_bytes + len_bytes


def _tlv(kind: int, ident: int, body: bytes) -> bytes:
    return _header(kind, ident, len(body)) + body


def _enc_resource(res: Resource | MultipleResource, path: Path, model: ObjectModel | None) -> bytes:
    if isinstance(res, Resource):
        return _tlv(RESOURCE, res.id, _encode_value(res.value, path, model))
    body = b"".join(
        _tlv(RESOURCE_INSTANCE, ri, _encode_value(v, path.child(ri), model)) for ri, v in res.instances.items()
    )
    return _tlv(MULTIPLE_RESOURCE, res.id, body)


def _enc_instance(inst: ObjectInstance, path: Path, model: ObjectModel | None) -> bytes:
    return b"".join(_enc_resource(r, path.child(rid), model) for rid, r in inst.resources.items())


def encode(node: Node, path: Path, model: ObjectModel | None = None) -> bytes:
    """Encode node, which sits at path (the path of the request)."""
    if isinstance(node, Object):
        return b"".join(
            _tlv(OBJECT_INSTANCE, iid, _enc_instance(inst, path.child(iid), model))
            for iid, inst in node.instances.items()
        )
    if isinstance(node, ObjectInstance):
        if path.is_object:  # Create on /O with a known instance id
            return _tlv(OBJECT_INSTANCE, node.id, _enc_instance(node, path.child(node.id), model))
        return _enc_instance(node, path, model)
    if isinstance(node, (Resource, MultipleResource)):
        return _enc_resource(node, path, model)
    return _tlv(RESOURCE_INSTANCE, node.id, _encode_value(node.value, path, model))


def _resource_node(t: _Tlv, path: Path, model: ObjectModel | None) -> Resource | MultipleResource:
    if t.kind == RESOURCE:
        return Resource(t.id, _decode_value(t.value, path, model))
    assert t.children is not None
    return MultipleResource(t.id, _instances(t.children, path, model))


def _instances(children: list[_Tlv], path: Path, model: ObjectModel | None) -> dict[int, Value]:
    out: dict[int, Value] = {}
    for c in children:
        if c.id in out:
            raise CodecError(f"{path}/{c.id} appears twice")
        out[c.id] = _decode_value(c.value, path.child(c.id), model)
    return out


def _instance_node(iid: int, tlvs: list[_Tlv], path: Path, model: ObjectModel | None) -> ObjectInstance:
    resources: dict[int, Resource | MultipleResource] = {}
    for t in tlvs:
        if t.kind not in (RESOURCE, MULTIPLE_RESOURCE):
            raise CodecError(f"{path}: expected resources, found a {_KIND[t.kind]}")
        if t.id in resources:
            raise CodecError(f"{path}/{t.id} appears twice")
        resources[t.id] = _resource_node(t, path.child(t.id), model)
    return ObjectInstance(iid, resources)


def decode(payload: bytes, path: Path, model: ObjectModel | None = None) -> Node:
    """Decode a TLV payload answering a request on path."""
    if path.is_root:
        raise CodecError("TLV needs at least an object path")
    tlvs = _parse(memoryview(payload), 0, [0])
    kinds = {t.kind for t in tlvs}
    if path.is_object:
        if kinds <= {RESOURCE, MULTIPLE_RESOURCE} and tlvs:  # a single instance sent bare
            return Object(path.ids[0], {0: _instance_node(0, tlvs, path.child(0), model)})
        instances: dict[int, ObjectInstance] = {}
        for t in tlvs:
            if t.kind != OBJECT_INSTANCE:
                raise CodecError(f"{path}: expected object instances, found a {_KIND[t.kind]}")
            if t.id in instances:
                raise CodecError(f"{path}/{t.id} appears twice")
            assert t.children is not None
            instances[t.id] = _instance_node(t.id, t.children, path.child(t.id), model)
        return Object(path.ids[0], instances)
    if path.is_instance:
        iid = path.ids[1]
        if len(tlvs) == 1 and tlvs[0].kind == OBJECT_INSTANCE:
            if tlvs[0].id != iid:
                raise CodecError(f"{path}: payload is for instance {tlvs[0].id}")
            assert tlvs[0].children is not None
            return _instance_node(iid, tlvs[0].children, path, model)
        return _instance_node(iid, tlvs, path, model)
    rid = path.ids[2]
    if path.is_resource:
        if len(tlvs) == 1 and tlvs[0].kind in (RESOURCE, MULTIPLE_RESOURCE):
            if tlvs[0].id != rid:
                raise CodecError(f"{path}: payload is for resource {tlvs[0].id}")
            return _resource_node(tlvs[0], path, model)
        if kinds == {RESOURCE_INSTANCE}:
            return MultipleResource(rid, _instances(tlvs, path, model))
        raise CodecError(f"{path}: expected one resource in the TLV payload")
    ri = path.ids[3]
    if len(tlvs) == 1 and tlvs[0].kind == MULTIPLE_RESOURCE and tlvs[0].children is not None:
        tlvs = tlvs[0].children  # the client sent the whole multiple resource
    for t in tlvs:
        if t.kind == RESOURCE_INSTANCE and t.id == ri:
            return ResourceInstance(ri, _decode_value(t.value, path, model))
    raise CodecError(f"{path}: expected resource instance {ri} in the TLV payload")
