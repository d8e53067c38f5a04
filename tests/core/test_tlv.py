"""TLV: the specification's examples, typing by the model, and malformed input."""

import struct

import pytest

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode, encode, tlv
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import (
    MultipleResource,
    Object,
    ObjectInstance,
    Resource,
    ResourceInstance,
    build_node,
    flatten,
)
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

from .vectors import DEVICE_TLV, DEVICE_VALUES

P = Path.parse


def test_device_instance_from_the_specification(model: ObjectModel) -> None:
    node = tlv.decode(DEVICE_TLV, P("/3/0"), model)
    assert isinstance(node, ObjectInstance)
    assert flatten(node, P("/3/0")) == DEVICE_VALUES
    assert isinstance(node.resources[7], MultipleResource)
    assert tlv.encode(node, P("/3/0"), model) == DEVICE_TLV


def test_object_read_wraps_instances(model: ObjectModel) -> None:
    node = tlv.decode(DEVICE_TLV, P("/3/0"), model)
    wrapped = tlv.encode(Object(3, {0: node}), P("/3"), model)
    assert wrapped[:3] == bytes([0x08, 0, len(DEVICE_TLV)])  # object instance 0, 8-bit length
    back = tlv.decode(wrapped, P("/3"), model)
    assert isinstance(back, Object) and flatten(back, P("/3")) == DEVICE_VALUES
    # A client that answers /3 with bare resources is read as instance 0.
    bare = tlv.decode(DEVICE_TLV, P("/3"), model)
    assert isinstance(bare, Object) and set(bare.instances) == {0}
    # An instance read answered with the wrapped instance.
    assert flatten(tlv.decode(wrapped, P("/3/0"), model), P("/3/0")) == DEVICE_VALUES


def test_single_and_multiple_resources(model: ObjectModel) -> None:
    battery = tlv.decode(bytes.fromhex("C10964"), P("/3/0/9"), model)
    assert battery == Resource(9, 100)
    volts = tlv.decode(bytes.fromhex("88070842000ED842011388"), P("/3/0/7"), model)
    assert volts == MultipleResource(7, {0: 3800, 1: 5000})
    one = tlv.decode(bytes.fromhex("88070842000ED842011388"), P("/3/0/7/1"), model)
    assert one == ResourceInstance(1, 5000)
    assert tlv.decode(bytes.fromhex("42011388"), P("/3/0/7/1"), model) == ResourceInstance(1, 5000)
    assert tlv.decode(bytes.fromhex("42000ED842011388"), P("/3/0/7"), model) == MultipleResource(7, {0: 3800, 1: 5000})
    assert tlv.encode(ResourceInstance(1, 5000), P("/3/0/7/1"), model) == bytes.fromhex("42011388")


def test_types(model: ObjectModel) -> None:
    temp = tlv.encode(Resource(5700, 21.5), P("/3303/0/5700"), model)
    assert temp == bytes.fromhex("E4164441AC0000")  # 16-bit id, 4-byte float
    assert tlv.decode(temp, P("/3303/0/5700"), model) == Resource(5700, 21.5)
    double = struct.pack(">d", 0.1)
    assert tlv.decode(bytes([0xE8, 0x16, 0x44, 8]) + double, P("/3303/0/5700"), model) == Resource(5700, 0.1)
    on = tlv.encode(Resource(5850, True), P("/3311/0/5850"), model)
    assert tlv.decode(on, P("/3311/0/5850"), model) == Resource(5850, True)
    link = ObjLnk(3303, 1)
    raw = tlv.encode(Resource(5, link), P("/2/0/5"), None)
    assert raw[-4:] == bytes.fromhex("0CE70001")
    # Unknown resources decode to their raw bytes rather than failing.
    unknown = tlv.decode(bytes.fromhex("C1 05 2A".replace(" ", "")), P("/40000/0/5"), model)
    assert unknown == Resource(5, b"\x2a")
    assert tlv.encode(Resource(1, 2**40), P("/40000/0/1"), None)[3:] == (2**40).to_bytes(8, "big")
    assert tlv.encode(Resource(1, 300), P("/1/0/1"), model) == bytes.fromhex("C201012C")


def test_long_values_use_wider_lengths(model: ObjectModel) -> None:
    for size in (7, 8, 255, 256, 70000):
        text = "x" * size
        raw = tlv.encode(Resource(0, text), P("/3/0/0"), model)
        assert tlv.decode(raw, P("/3/0/0"), model) == Resource(0, text)


def test_dispatch_by_content_format(model: ObjectModel) -> None:
    values = decode(ContentFormat.TLV, DEVICE_TLV, P("/3/0"), model)
    assert values == flatten(tlv.decode(DEVICE_TLV, P("/3/0"), model), P("/3/0"))
    node = build_node(P("/3/0"), values)
    assert encode(ContentFormat.LEGACY_TLV, node, P("/3/0"), model) == DEVICE_TLV
    with pytest.raises(CodecError, match="not supported"):
        decode(99, b"", P("/3/0"), model)


@pytest.mark.parametrize(
    ("hexdata", "path", "message"),
    [
        ("C8", "/3/0", "truncated"),
        ("C8 00 14 4F 70", "/3/0", "declares 20 bytes"),
        ("C2 09 64", "/3/0", "declares 2 bytes"),
        ("C3 09 64 00 00", "/3/0/9", "1, 2, 4 or 8"),
        ("C1 09 64 C1 09 64", "/3/0", "twice"),
        ("41 00 01", "/3/0", "expected resources"),
        ("C1 10 FF", "/3/0/16", "UTF-8"),
        ("E1 16 DA 02", "/3311/0/5850", "0 or 1"),
        ("E3 16 44 00 00 00", "/3303/0/5700", "4 or 8"),
        ("08 00 03 08 00 00", "/3", "cannot sit inside"),
        ("C1 09 64", "/3/0/10", "payload is for resource 9"),
        ("08 01 03 C1 09 64", "/3/0", "instance 1"),
        ("", "/3/0/9", "one resource"),
        ("C1 09 64", "/3/0/7/1", "resource instance 1"),
        ("C1 09 64", "/", "object path"),
        ("C3 0D 00 00 00", "/3/0/13", "1, 2, 4 or 8"),
    ],
)
def test_malformed(model: ObjectModel, hexdata: str, path: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        tlv.decode(bytes.fromhex(hexdata.replace(" ", "")), P(path), model)


def test_huge_counts_are_bounded(model: ObjectModel) -> None:
    many = bytes.fromhex("C10964") * 20_000
    with pytest.raises(CodecError, match="more than"):
        tlv.decode(many, P("/3/0"), model)


def test_encode_rejects_what_tlv_cannot_carry(model: ObjectModel) -> None:
    with pytest.raises(CodecError):
        tlv.encode(Resource(1, 2**70), P("/40000/0/1"), None)
    with pytest.raises(CodecError):
        tlv.encode(Resource(0, "x" * (1 << 24)), P("/3/0/0"), model)


def test_an_instance_is_encoded_as_the_model_types_its_resources(model: ObjectModel) -> None:
    # 20 for a Float resource goes out as a float, not as the one-byte integer it looks like
    instance = ObjectInstance(0, {5700: Resource(5700, 20)})
    assert tlv.encode(instance, P("/3303/0"), model) == bytes([0xE8, 0x16, 0x44, 8]) + struct.pack(">d", 20.0)
    assert tlv.encode(instance, P("/3303/0")) == bytes([0xE1, 0x16, 0x44, 20])
