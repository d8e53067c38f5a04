"""LwM2M JSON (11543) and SenML JSON (110)."""

import json
from datetime import UTC, datetime

import pytest

from custom_components.lwm2m.lwm2m.codecs import (
    ContentFormat,
    decode,
    decode_paths,
    decode_values,
    encode_paths,
    encode_values,
    lwm2m_json,
    senml_json,
)
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import MultipleResource, ObjectInstance, Resource, build_node
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

from .vectors import DEVICE_JSON, DEVICE_VALUES

P = Path.parse


def test_lwm2m_json_device_example(model: ObjectModel) -> None:
    values = decode(ContentFormat.LWM2M_JSON, DEVICE_JSON, P("/3/0"), model)
    assert values == DEVICE_VALUES
    again = lwm2m_json.encode(build_node(P("/3/0"), values), P("/3/0"), model)
    assert json.loads(again) == json.loads(DEVICE_JSON)


def test_lwm2m_json_types(model: ObjectModel) -> None:
    payload = b'{"bn":"/","e":[{"n":"3311/0/5850","bv":true},{"n":"1/0/10","ov":"3:0"},{"n":"5/0/0","sv":"AQI="},{"n":"3303/0/5700","v":21}]}'
    values = decode_values(ContentFormat.LWM2M_JSON, payload, model)
    assert values == {
        P("/3311/0/5850"): True,
        P("/1/0/10"): ObjLnk(3, 0),
        P("/5/0/0"): b"\x01\x02",
        P("/3303/0/5700"): 21.0,
    }
    assert isinstance(values[P("/3303/0/5700")], float)
    single = lwm2m_json.encode(Resource(9, 95), P("/3/0/9"))
    assert json.loads(single) == {"bn": "/3/0/9", "e": [{"v": 95}]}


def test_lwm2m_json_latest_timestamp_wins(model: ObjectModel) -> None:
    payload = b'{"bn":"/3303/0/5700","bt":100,"e":[{"v":20,"t":5},{"v":22,"t":-5},{"v":21,"t":0}]}'
    assert decode_values(ContentFormat.LWM2M_JSON, payload, model) == {P("/3303/0/5700"): 20.0}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"e":{}}',
        b'{"bn":3,"e":[]}',
        b'{"e":[1]}',
        b'{"e":[{"n":"3/0/9"}]}',
        b'{"e":[{"n":"3/0/9","v":1,"sv":"x"}]}',
        b'{"e":[{"n":"3/0","v":1}]}',
        b'{"e":[{"n":"3/x/9","v":1}]}',
        b'{"e":[{"n":"/3/0/9","v":"95"}]}',
        b'{"e":[{"n":"/3/0/9","v":9.5}]}',
        b'{"e":[{"n":"/3311/0/5850","bv":1}]}',
        b'{"e":[{"n":"/5/0/0","sv":"!!"}]}',
        b'{"e":[{"n":"/1/0/10","ov":"x"}]}',
        b'{"bt":"x","e":[]}',
        b'{"e":[{"n":5,"v":1}]}',
        b"[" * 100_000,
        b'{"e":[{"n":"/1/0/1","v":1e999}]}',
    ],
)
def test_lwm2m_json_malformed(model: ObjectModel, payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_values(ContentFormat.LWM2M_JSON, payload, model)


def test_senml_json_read(model: ObjectModel) -> None:
    payload = (
        b'[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"9","v":95},{"n":"7/0","v":3800},'
        b'{"n":"13","v":1367491215},{"n":"16","vs":"U"}]'
    )
    node = build_node(P("/3/0"), decode(ContentFormat.SENML_JSON, payload, P("/3/0"), model))
    assert isinstance(node, ObjectInstance)
    assert node.resources[7] == MultipleResource(7, {0: 3800})
    assert node.resources[13] == Resource(13, datetime.fromtimestamp(1367491215, UTC))
    again = senml_json.encode(node, P("/3/0"), model)
    assert json.loads(again)[0]["bn"] == "/3/0/"
    assert decode_values(ContentFormat.SENML_JSON, again, model) == decode_values(
        ContentFormat.SENML_JSON, payload, model
    )


def test_senml_json_composite_and_types(model: ObjectModel) -> None:
    values = {
        P("/3/0/9"): 95,
        P("/3303/0/5700"): 21.5,
        P("/3311/0/5850"): True,
        P("/5/0/0"): b"\xfb\xff",
        P("/1/0/10"): ObjLnk(3, 0),
    }
    raw = encode_values(ContentFormat.SENML_JSON, values)
    records = json.loads(raw)
    assert {"n": "/5/0/0", "vd": "-_8"} in records and {"n": "/1/0/10", "vlo": "3:0"} in records
    assert decode_values(ContentFormat.SENML_JSON, raw, model) == values
    paths = [P("/3/0/9"), P("/3303/0")]
    assert decode_paths(ContentFormat.SENML_JSON, encode_paths(ContentFormat.SENML_JSON, paths)) == paths


def test_senml_json_base_name_carries_and_time_orders(model: ObjectModel) -> None:
    payload = b'[{"bn":"/3303/0/","bt":1000,"n":"5700","v":20,"t":-10},{"n":"5700","v":25},{"bn":"/3304/0/","n":"5700","v":40}]'
    assert decode_values(ContentFormat.SENML_JSON, payload, model) == {P("/3303/0/5700"): 25.0, P("/3304/0/5700"): 40.0}


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",
        b"[1]",
        b'[{"n":"/3/0/9"}]',
        b'[{"n":"/3/0/9","v":true}]',
        b'[{"n":"/3/0/9","vb":1}]',
        b'[{"n":"/3/0/9","vs":1}]',
        b'[{"n":"/3/0/9","vd":"@@"}]',
        b'[{"n":"/3/0/9","vd":5}]',
        b'[{"n":"/3/0/9","vlo":5}]',
        b'[{"bn":5,"n":"9","v":1}]',
        b'[{"n":"/3/0","v":1}]',
        b'[{"n":"/3/0/9","v":1,"t":"now"}]',
        b'[{"n":"/3/0/9/1/2","v":1}]',
        b"not json",
        b"\xff",
    ],
)
def test_senml_json_malformed(model: ObjectModel, payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_values(ContentFormat.SENML_JSON, payload, model)


def test_a_number_for_a_string_resource_is_taken_as_text(model: ObjectModel) -> None:
    """One raw-to-typed conversion for users and devices alike: a number where the model
    says String is its text, in every format."""
    assert decode_values(ContentFormat.SENML_JSON, b'[{"n":"/3/0/0","v":5}]', model) == {P("/3/0/0"): "5"}
    assert decode_values(ContentFormat.LWM2M_JSON, b'{"e":[{"n":"/3/0/0","v":5}]}', model) == {P("/3/0/0"): "5"}


def test_senml_record_count_is_bounded(model: ObjectModel) -> None:
    payload = json.dumps([{"n": "/3/0/9", "v": 1}] * 10_001).encode()
    with pytest.raises(CodecError, match="more than"):
        decode_values(ContentFormat.SENML_JSON, payload, model)


def test_senml_node_mismatch(model: ObjectModel) -> None:
    with pytest.raises(CodecError, match="not a resource below"):
        decode(ContentFormat.SENML_JSON, b'[{"n":"/3/0/9","v":1}]', P("/4/0"), model)
    with pytest.raises(CodecError, match="no value"):
        decode(ContentFormat.SENML_JSON, b"[]", P("/3/0/9"), model)
    with pytest.raises(CodecError, match="both a single and a multiple"):
        decode(ContentFormat.SENML_JSON, b'[{"n":"/3/0/7","v":1},{"n":"/3/0/7/0","v":2}]', P("/3/0"), model)
    with pytest.raises(CodecError):
        encode_values(ContentFormat.SENML_JSON, {P("/1/0/1"): float("nan")})
