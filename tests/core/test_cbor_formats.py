"""SenML CBOR (112) and LwM2M CBOR (11544), with cbor2."""

from datetime import UTC, datetime

import cbor2
import pytest

from custom_components.lwm2m.lwm2m.codecs import (
    ContentFormat,
    decode,
    decode_paths,
    decode_values,
    encode,
    encode_paths,
    encode_values,
    lwm2m_cbor,
)
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import ObjectInstance, build_node
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

from .vectors import DEVICE_VALUES

P = Path.parse


def test_senml_cbor_uses_integer_labels(model: ObjectModel) -> None:
    raw = encode_values(ContentFormat.SENML_CBOR, {P("/3303/0/5700"): 21.5, P("/3303/0/5701"): "Cel"}, P("/3303/0"))
    assert cbor2.loads(raw) == [{-2: "/3303/0/", 0: "5700", 2: 21.5}, {0: "5701", 3: "Cel"}]
    assert decode_values(ContentFormat.SENML_CBOR, raw, model) == {P("/3303/0/5700"): 21.5, P("/3303/0/5701"): "Cel"}


def test_senml_cbor_round_trip_of_device(model: ObjectModel) -> None:
    raw = encode_values(ContentFormat.SENML_CBOR, DEVICE_VALUES, P("/3/0"))
    assert decode(ContentFormat.SENML_CBOR, raw, P("/3/0"), model) == DEVICE_VALUES


def test_senml_cbor_types_and_paths(model: ObjectModel) -> None:
    raw = cbor2.dumps(
        [
            {-2: "/", 0: "3311/0/5850", 4: True},
            {0: "5/0/0", 8: b"\x00\xff"},
            {0: "1/0/10", "vlo": "3:0"},
            {0: "3/0/13", 2: 1367491215},
        ]
    )
    assert decode_values(ContentFormat.SENML_CBOR, raw, model) == {
        P("/3311/0/5850"): True,
        P("/5/0/0"): b"\x00\xff",
        P("/1/0/10"): ObjLnk(3, 0),
        P("/3/0/13"): datetime.fromtimestamp(1367491215, UTC),
    }
    paths = [P("/3/0/9"), P("/3303")]
    assert decode_paths(ContentFormat.SENML_CBOR, encode_paths(ContentFormat.SENML_CBOR, paths)) == paths


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff",
        cbor2.dumps({}),
        cbor2.dumps([1]),
        cbor2.dumps([{99: 1}]),
        cbor2.dumps([{0: "/3/0/9", 8: "text"}]),
        cbor2.dumps([{0: "/3/0/9", 2: 1, 3: "x"}]),
        cbor2.dumps([{0: 5, 2: 1}]),
        b"\x9f" * 5000,  # deeply nested indefinite arrays
        b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",  # a byte string claiming 2**64 bytes
        b"\x9b\x00\x00\x00\x01\x00\x00\x00\x00",  # an array claiming 2**32 items
    ],
)
def test_senml_cbor_malformed(model: ObjectModel, payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_values(ContentFormat.SENML_CBOR, payload, model)


def test_lwm2m_cbor_device(model: ObjectModel) -> None:
    values = decode(ContentFormat.TLV, encode(ContentFormat.TLV, _device_node(), P("/3/0"), model), P("/3/0"), model)
    raw = lwm2m_cbor.encode(build_node(P("/3/0"), values), P("/3/0"), model)
    doc = cbor2.loads(raw)
    assert doc[3][0][9] == 100 and doc[3][0][7] == {0: 3800, 1: 5000}
    assert doc[3][0][13] == datetime.fromtimestamp(1367491215, UTC)  # tag 1, epoch seconds
    assert decode(ContentFormat.LWM2M_CBOR, raw, P("/3/0"), model) == DEVICE_VALUES


def test_lwm2m_cbor_compressed_paths(model: ObjectModel) -> None:
    raw = cbor2.dumps({(3303, 0): {5700: 21, 5701: "Cel"}, 3: {0: {(7, 1): 5000}}})
    values = decode_values(ContentFormat.LWM2M_CBOR, raw, model)
    assert values == {P("/3303/0/5700"): 21.0, P("/3303/0/5701"): "Cel", P("/3/0/7/1"): 5000}
    single = cbor2.dumps({(3303, 0, 5700): 21})
    assert decode(ContentFormat.LWM2M_CBOR, single, P("/3303/0/5700"), model) == {P("/3303/0/5700"): 21.0}
    assert decode(ContentFormat.LWM2M_CBOR, cbor2.dumps({(3, 0, 7): {0: 1, 1: 2}}), P("/3/0/7"), model) == {
        P("/3/0/7/0"): 1,
        P("/3/0/7/1"): 2,
    }
    assert cbor2.loads(encode_values(ContentFormat.LWM2M_CBOR, {P("/1/0/10"): ObjLnk(3, 0)})) == {1: {0: {10: "3:0"}}}


@pytest.mark.parametrize(
    "doc",
    [
        [1],
        {3: 5},
        {3: {0: 5}},
        {"3": {0: {9: 1}}},
        {(3, 0, 9, 1, 2): 1},
        {3: {0: {7: {0: {1: 2}}}}},
        {3: {0: {9: [1, 2]}}},
        {3: {0: {9: cbor2.CBORTag(99, 1)}}},
        {3: {0: {9: "ninety"}}},
        {(): 1},
        {70000: {0: {0: 1}}},
    ],
)
def test_lwm2m_cbor_malformed(model: ObjectModel, doc: object) -> None:
    with pytest.raises(CodecError):
        decode_values(ContentFormat.LWM2M_CBOR, cbor2.dumps(doc), model)


def test_lwm2m_cbor_rejects_non_resource_paths() -> None:
    with pytest.raises(CodecError):
        encode_values(ContentFormat.LWM2M_CBOR, {P("/3/0"): 1})


def _device_node() -> ObjectInstance:
    from custom_components.lwm2m.lwm2m.nodes import build_node

    node = build_node(P("/3/0"), DEVICE_VALUES)
    assert isinstance(node, ObjectInstance)
    return node
