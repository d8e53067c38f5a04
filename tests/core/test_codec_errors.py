"""What each decoder and encoder says when it refuses something: the message reaches the user
(Home Assistant's UI, the MQTT bridge's error replies), so it names the path and the problem.
Also the record limits, at the limit and one past it."""

from __future__ import annotations

import json
from collections.abc import Callable

import cbor2
import pytest

from custom_components.lwm2m.lwm2m import codecs
from custom_components.lwm2m.lwm2m.codecs import (
    link_format,
    lwm2m_cbor,
    lwm2m_json,
    opaque,
    senml_cbor,
    senml_json,
    text,
    tlv,
)
from custom_components.lwm2m.lwm2m.codecs.common import MAX_RECORDS, check_number
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import MultipleResource, ObjectInstance, Resource, ResourceInstance
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse
H = bytes.fromhex
MODEL = ObjectModel()
UTF8_FF = "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"

CASES: list[tuple[str, Callable[[], object], str]] = [
    # the shared number check
    ("number-text", lambda: check_number("1", "where"), "where: expected a number, got str"),
    ("number-bool", lambda: check_number(True, "where"), "where: expected a number, got bool"),
    ("number-none", lambda: check_number(None, "w"), "w: expected a number, got NoneType"),
    ("number-nan", lambda: check_number(float("nan"), "w"), "w: nan is not a finite number"),
    ("number-inf", lambda: check_number(float("-inf"), "w"), "w: -inf is not a finite number"),
    # opaque
    ("opaque-instance", lambda: opaque.decode_value(b"x", P("/5/0")), "opaque content carries one resource, not /5/0"),
    (
        "opaque-text-value",
        lambda: opaque.encode(Resource(0, "text"), P("/5/0/0")),
        "opaque content carries the bytes of one resource, not Resource(id=0, value='text') at /5/0/0",
    ),
    (
        "opaque-of-an-instance",
        lambda: opaque.encode(ObjectInstance(0, {}), P("/5/0")),
        "opaque content carries the bytes of one resource, not ObjectInstance(id=0, resources={}) at /5/0",
    ),
    # TLV: values of the wrong size for their type
    (
        "tlv-unsigned",
        lambda: tlv.decode(H("c3 11 616263"), P("/1/0/17"), MODEL),
        "/1/0/17: an unsigned integer takes 1, 2, 4 or 8 bytes, not 3",
    ),
    (
        "tlv-integer",
        lambda: tlv.decode(H("c3 09 616263"), P("/3/0/9"), MODEL),
        "/3/0/9: an integer takes 1, 2, 4 or 8 bytes, not 3",
    ),
    (
        "tlv-float",
        lambda: tlv.decode(H("e3 1644 616263"), P("/3303/0/5700"), MODEL),
        "/3303/0/5700: a float takes 4 or 8 bytes, not 3",
    ),
    (
        "tlv-boolean",
        lambda: tlv.decode(H("c1 06 02"), P("/1/0/6"), MODEL),
        "/1/0/6: a boolean is one byte 0 or 1, got 02",
    ),
    (
        "tlv-objlnk",
        lambda: tlv.decode(H("c2 0a 0001"), P("/1/0/10"), MODEL),
        "/1/0/10: an object link takes 4 bytes, not 2",
    ),
    ("tlv-utf8", lambda: tlv.decode(H("c1 00 ff"), P("/3/0/0"), MODEL), f"/3/0/0: string is not UTF-8: {UTF8_FF}"),
    # TLV: structure
    ("tlv-header", lambda: tlv.decode(H("c8 00"), P("/3/0/0"), MODEL), "TLV truncated in its header"),
    ("tlv-length", lambda: tlv.decode(H("c5 00 61"), P("/3/0/0"), MODEL), "TLV resource 0 declares 5 bytes, 1 remain"),
    (
        "tlv-too-deep",
        lambda: tlv.decode(H("04 00 82 00 0000"), P("/3"), MODEL),
        "TLV nested deeper than an object instance allows",
    ),
    (
        "tlv-instance-in-instance",
        lambda: tlv.decode(H("03 00 41 00 61"), P("/3"), MODEL),
        "TLV resource instance cannot sit inside a object instance",
    ),
    (
        "tlv-resource-in-multiple",
        lambda: tlv.decode(H("83 07 c1 00 61"), P("/3/0/7"), MODEL),
        "TLV resource cannot sit inside a multiple resource",
    ),
    ("tlv-root", lambda: tlv.decode(b"", P("/"), MODEL), "TLV needs at least an object path"),
    (
        "tlv-object-of-resource-instances",
        lambda: tlv.decode(H("41 00 01"), P("/3"), MODEL),
        "/3: expected object instances, found a resource instance",
    ),
    ("tlv-instance-twice", lambda: tlv.decode(H("00 00 00 00"), P("/3"), MODEL), "/3/0 appears twice"),
    ("tlv-resource-twice", lambda: tlv.decode(H("c1 00 61 c1 00 62"), P("/3/0"), MODEL), "/3/0/0 appears twice"),
    (
        "tlv-other-instance",
        lambda: tlv.decode(H("03 01 c1 00 61"), P("/3/0"), MODEL),
        "/3/0: payload is for instance 1",
    ),
    (
        "tlv-instance-of-resource-instances",
        lambda: tlv.decode(H("41 00 61"), P("/3/0"), MODEL),
        "/3/0: expected resources, found a resource instance",
    ),
    ("tlv-other-resource", lambda: tlv.decode(H("c1 01 61"), P("/3/0/0"), MODEL), "/3/0/0: payload is for resource 1"),
    (
        "tlv-two-resources",
        lambda: tlv.decode(H("c1 00 61 c1 00 61"), P("/3/0/0"), MODEL),
        "/3/0/0: expected one resource in the TLV payload",
    ),
    (
        "tlv-resource-instance-twice",
        lambda: tlv.decode(H("41 00 01 41 00 02"), P("/3/0/7"), MODEL),
        "/3/0/7/0 appears twice",
    ),
    (
        "tlv-missing-resource-instance",
        lambda: tlv.decode(H("41 01 01"), P("/3/0/7/0"), MODEL),
        "/3/0/7/0: expected resource instance 0 in the TLV payload",
    ),
    # TLV: encoding
    (
        "tlv-65-bits",
        lambda: tlv.encode(Resource(9, 2**64), P("/3/0/9"), MODEL),
        "18446744073709551616 does not fit in 64 bits",
    ),
    ("tlv-list", lambda: tlv.encode(Resource(9, [1]), P("/3/0/9"), MODEL), "/3/0/9: cannot encode list in TLV"),  # type: ignore[arg-type]
    (
        "tlv-16-mb",
        lambda: tlv.encode(Resource(0, b"x" * (1 << 24)), P("/5/0/0"), MODEL),
        "a TLV value is at most 16 MB",
    ),
    # plain text
    (
        "text-utf8",
        lambda: text.decode_value(b"\xff", P("/3/0/0"), MODEL),
        f"/3/0/0: plain text is not UTF-8: {UTF8_FF}",
    ),
    ("text-integer", lambda: text.decode_value(b"12a", P("/3/0/9"), MODEL), "/3/0/9: '12a' is not an integer"),
    (
        "text-integer-range",
        lambda: text.decode_value(b"9223372036854775808", P("/3/0/9"), MODEL),
        "/3/0/9: 9223372036854775808 is out of range",
    ),
    ("text-unsigned-range", lambda: text.decode_value(b"-1", P("/1/0/17"), MODEL), "/1/0/17: -1 is out of range"),
    (
        "text-float",
        lambda: text.decode_value(b"1.2.3", P("/3303/0/5700"), MODEL),
        "/3303/0/5700: '1.2.3' is not a number",
    ),
    (
        "text-float-range",
        lambda: text.decode_value(b"1e999", P("/3303/0/5700"), MODEL),
        "/3303/0/5700: '1e999' is out of range",
    ),
    (
        "text-boolean",
        lambda: text.decode_value(b"true", P("/1/0/6"), MODEL),
        "/1/0/6: a boolean is '0' or '1', got 'true'",
    ),
    (
        "text-boolean-cut-at-40",
        lambda: text.decode_value(b"x" * 50, P("/1/0/6"), MODEL),
        "/1/0/6: a boolean is '0' or '1', got '" + "x" * 40 + "'",
    ),
    (
        "text-integer-cut-at-40",
        lambda: text.decode_value(b"y" * 50, P("/3/0/9"), MODEL),
        "/3/0/9: '" + "y" * 40 + "' is not an integer",
    ),
    (
        "text-opaque",
        lambda: text.decode_value(b"!!", P("/5/0/0"), MODEL),
        "/5/0/0: opaque text must be base64: Only base64 data is allowed",
    ),
    ("text-nan", lambda: text.encode_value(float("nan")), "nan cannot be sent as text"),
    ("text-list", lambda: text.encode_value([1]), "cannot encode list as text"),  # type: ignore[arg-type]
    (
        "text-instance",
        lambda: text.encode(ObjectInstance(0, {}), P("/3/0")),
        "plain text carries one value, not a ObjectInstance at /3/0",
    ),
    # SenML JSON
    (
        "senml-json-invalid",
        lambda: senml_json.decode_values(b"{", MODEL),
        "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
    (
        "senml-json-object",
        lambda: senml_json.decode_values(b"{}", MODEL),
        "SenML must be an array of records, got dict",
    ),
    ("senml-json-record", lambda: senml_json.decode_values(b"[1]", MODEL), "a SenML record must be a map, got int"),
    ("senml-bn", lambda: senml_json.decode_values(b'[{"bn": 1}]', MODEL), "SenML base name must be text"),
    (
        "senml-bt",
        lambda: senml_json.decode_values(b'[{"bt": "x"}]', MODEL),
        "SenML base time: expected a number, got str",
    ),
    ("senml-n", lambda: senml_json.decode_values(b'[{"n": 1}]', MODEL), "SenML name must be text"),
    (
        "senml-t",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/0", "t": "1", "vs": "x"}]', MODEL),
        "SenML time: expected a number, got str",
    ),
    (
        "senml-time-overflow",
        lambda: senml_json.decode_values(b'[{"bt": 1' + b"0" * 400 + b', "n": "/3/0/9", "t": 1.0, "v": 1}]', MODEL),
        "SenML base time plus time is out of range",
    ),
    (
        "senml-no-value",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/0"}]', MODEL),
        "SenML record for /3/0/0 needs exactly one value field, has none",
    ),
    (
        "senml-two-values",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/0", "v": 1, "vs": "x"}]', MODEL),
        "SenML record for /3/0/0 needs exactly one value field, has ['v', 'vs']",
    ),
    (
        "senml-vb",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/0", "vb": 1}]', MODEL),
        "/3/0/0: vb must be a boolean",
    ),
    ("senml-vs", lambda: senml_json.decode_values(b'[{"n": "/3/0/0", "vs": 1}]', MODEL), "/3/0/0: vs must be text"),
    (
        "senml-vlo",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/0", "vlo": 1}]', MODEL),
        "/3/0/0: vlo must be text 'object:instance'",
    ),
    (
        "senml-v",
        lambda: senml_json.decode_values(b'[{"n": "/3/0/9", "v": "1"}]', MODEL),
        "/3/0/9: expected a number, got str",
    ),
    (
        "senml-vd-type",
        lambda: senml_json.decode_values(b'[{"n": "/5/0/0", "vd": 1}]', MODEL),
        "/5/0/0: vd must be base64url text",
    ),
    (
        "senml-vd",
        lambda: senml_json.decode_values(b'[{"n": "/5/0/0", "vd": "a"}]', MODEL),
        "/5/0/0: vd is not base64url: Invalid base64-encoded string: "
        "number of data characters (1) cannot be 1 more than a multiple of 4",
    ),
    (
        "senml-instance",
        lambda: senml_json.decode_values(b'[{"n": "/3/0", "v": 1}]', MODEL),
        "SenML record names /3/0, not a resource",
    ),
    (
        "senml-json-nan",
        lambda: senml_json.encode_values({P("/3303/0/5700"): float("nan")}),
        "cannot encode as JSON: Out of range float values are not JSON compliant: nan",
    ),
    (
        "senml-list",
        lambda: senml_json.encode_values({P("/3303/0/5700"): [1]}),  # type: ignore[dict-item]
        "/3303/0/5700: cannot encode list in SenML",
    ),
    # SenML CBOR
    (
        "senml-cbor-invalid",
        lambda: senml_cbor.decode_values(b"\xff", MODEL),
        "invalid CBOR: break code encountered where a data item was expected",
    ),
    (
        "senml-cbor-map",
        lambda: senml_cbor.decode_values(cbor2.dumps({}), MODEL),
        "SenML must be an array of records, got dict",
    ),
    (
        "senml-cbor-record",
        lambda: senml_cbor.decode_values(cbor2.dumps([1]), MODEL),
        "a SenML record must be a map, got int",
    ),
    (
        "senml-cbor-label",
        lambda: senml_cbor.decode_values(cbor2.dumps([{99: 1}]), MODEL),
        "unknown SenML CBOR label 99",
    ),
    (
        "senml-cbor-bool-label",
        lambda: senml_cbor.decode_values(cbor2.dumps([{True: 1}]), MODEL),
        "unknown SenML CBOR label True",
    ),
    (
        "senml-cbor-vd",
        lambda: senml_cbor.decode_values(cbor2.dumps([{0: "/5/0/0", 8: "abc"}]), MODEL),
        "/5/0/0: vd must be a byte string",
    ),
    # LwM2M JSON
    (
        "lwm2m-json-array",
        lambda: lwm2m_json.decode_values(b"[]", MODEL),
        "LwM2M JSON must be an object with an 'e' array",
    ),
    (
        "lwm2m-json-bn",
        lambda: lwm2m_json.decode_values(b'{"bn": 1, "e": []}', MODEL),
        "LwM2M JSON needs text 'bn' and an array 'e'",
    ),
    (
        "lwm2m-json-e",
        lambda: lwm2m_json.decode_values(b'{"e": {}}', MODEL),
        "LwM2M JSON needs text 'bn' and an array 'e'",
    ),
    (
        "lwm2m-json-bt",
        lambda: lwm2m_json.decode_values(b'{"e": [], "bt": "x"}', MODEL),
        "bt: expected a number, got str",
    ),
    (
        "lwm2m-json-fields",
        lambda: lwm2m_json.decode_values(b'{"e": [{"n": "/3/0/0"}]}', MODEL),
        "LwM2M JSON entry /3/0/0 needs exactly one of v, sv, bv, ov",
    ),
    (
        "lwm2m-json-bv",
        lambda: lwm2m_json.decode_values(b'{"e": [{"n": "/1/0/6", "bv": 1}]}', MODEL),
        "/1/0/6: bv must be true or false",
    ),
    (
        "lwm2m-json-ov",
        lambda: lwm2m_json.decode_values(b'{"e": [{"n": "/1/0/10", "ov": 1}]}', MODEL),
        "/1/0/10: ov must be text 'object:instance'",
    ),
    (
        "lwm2m-json-sv",
        lambda: lwm2m_json.decode_values(b'{"e": [{"n": "/3/0/0", "sv": 1}]}', MODEL),
        "/3/0/0: sv must be text",
    ),
    (
        "lwm2m-json-opaque",
        lambda: lwm2m_json.decode_values(b'{"e": [{"n": "/5/0/0", "sv": "!!"}]}', MODEL),
        "/5/0/0: opaque sv must be base64: Only base64 data is allowed",
    ),
    # LwM2M CBOR
    ("lwm2m-cbor-array", lambda: lwm2m_cbor.decode_values(cbor2.dumps([1]), MODEL), "LwM2M CBOR must be a map"),
    (
        "lwm2m-cbor-instance-value",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({3: {0: 1}}), MODEL),
        "LwM2M CBOR value at /3/0 is not a resource",
    ),
    (
        "lwm2m-cbor-object-value",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({3: 1}), MODEL),
        "LwM2M CBOR value at /3 is not a resource",
    ),
    (
        "lwm2m-cbor-deep",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({3: {0: {7: {0: {1: 2}}}}}), MODEL),
        "LwM2M CBOR nests deeper than a resource instance",
    ),
    (
        "lwm2m-cbor-text-key",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({"3": 1}), MODEL),
        "LwM2M CBOR key '3' is not an id or array of ids",
    ),
    (
        "lwm2m-cbor-empty-key",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({(): 1}), MODEL),
        "LwM2M CBOR key () is not an id or array of ids",
    ),
    (
        "lwm2m-cbor-long-path",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({(3, 0, 7, 0, 1): 1}), MODEL),
        "LwM2M CBOR path longer than a resource instance",
    ),
    (
        "lwm2m-cbor-id",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({(3, 0, 70000): 1}), MODEL),
        "path id 70000 is not an integer between 0 and 65534",
    ),
    (
        "lwm2m-cbor-tag",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({3: {0: {0: cbor2.CBORTag(99, 1)}}}), MODEL),
        "/3/0/0: unsupported CBOR tag 99",
    ),
    (
        "lwm2m-cbor-list",
        lambda: lwm2m_cbor.decode_values(cbor2.dumps({3: {0: {0: [1]}}}), MODEL),
        "/3/0/0: list is not an LwM2M value",
    ),
    ("lwm2m-cbor-encode-instance", lambda: lwm2m_cbor.encode_values({P("/3/0"): 1}), "/3/0 is not a resource"),
    # link format
    ("link-utf8", lambda: link_format.parse(b"\xff"), f"link format is not UTF-8: {UTF8_FF}"),
    ("link-lt", lambda: link_format.parse(b" x"), "link format: expected '<' at offset 1"),
    ("link-unterminated", lambda: link_format.parse(b"</3"), "link format: unterminated '<'"),
    ("link-attribute", lambda: link_format.parse(b"</3>;=1"), "link format: bad attribute name at offset 5"),
    ("link-quoted", lambda: link_format.parse(b'</3>;a="x'), "link format: unterminated quoted value"),
    ("link-comma", lambda: link_format.parse(b"</3> </4>"), "link format: expected ',' at offset 5"),
    ("link-integer-attribute", lambda: link_format.parse(b"</3>;pmin=x"), "attribute pmin='x' is not a number"),
    ("link-float-attribute", lambda: link_format.parse(b"</3>;gt=x"), "attribute gt='x' is not a number"),
    (
        "link-ct",
        lambda: link_format.parse_registration(b'</>;rt="oma.lwm2m";ct="1 x"'),
        "ct='1 x' is not a list of content formats",
    ),
    (
        "link-registered-resource",
        lambda: link_format.parse_registration(b"</3/0/1>"),
        "registration link </3/0/1> is not an object or object instance",
    ),
    # the dispatcher
    (
        "format-unknown",
        lambda: codecs.decode(9999, b"", P("/3/0/0"), MODEL),
        "content format 9999 is not supported here",
    ),
    (
        "format-single",
        lambda: codecs.decode(0, b"", P("/3/0"), MODEL),
        "content format 0 carries one resource, not /3/0",
    ),
    (
        "format-opaque-single",
        lambda: codecs.decode(42, b"", P("/5"), MODEL),
        "content format 42 carries one resource, not /5",
    ),
    ("answer-root", lambda: codecs.decode(110, b"[]", P("/"), MODEL), "an answer needs an object path at least"),
    ("answer-empty", lambda: codecs.decode(110, b"[]", P("/3/0/0"), MODEL), "no value for /3/0/0"),
    (
        "answer-elsewhere",
        lambda: codecs.decode(110, b'[{"n":"/4/0/0","v":1}]', P("/3/0"), MODEL),
        "value path /4/0/0 is not a resource below /3/0",
    ),
    (
        "answer-single-and-multiple",
        lambda: codecs.decode(110, b'[{"n":"/3/0/7","v":1},{"n":"/3/0/7/0","v":1}]', P("/3/0"), MODEL),
        "/3/0/7 is both a single and a multiple resource",
    ),
    (
        "values-no-format",
        lambda: codecs.decode_values(None, b""),
        "the payload names no Content-Format; SenML or LwM2M CBOR/JSON is needed here",
    ),
    (
        "encode-unknown",
        lambda: codecs.encode(60, Resource(0, 1), P("/3/0/0")),
        "content format 60 is not supported here",
    ),
    ("paths-not-senml", lambda: codecs.decode_paths(11543, b"{}"), "content format 11543 is not supported here"),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_refusal_names_the_problem(call: Callable[[], object], message: str) -> None:
    with pytest.raises(CodecError) as err:
        call()
    assert str(err.value) == message


# -- limits: the last value accepted and the first refused ---------------------------------------


def test_tlv_entries_up_to_the_limit() -> None:
    # a multiple resource with MAX_RECORDS - 1 instances: MAX_RECORDS entries in all
    body = b"".join(H("61") + i.to_bytes(2, "big") + b"\x01" for i in range(MAX_RECORDS - 1))
    payload = H("90 07") + len(body).to_bytes(2, "big") + body
    node = tlv.decode(payload, P("/3/0/7"), MODEL)
    assert isinstance(node, MultipleResource) and len(node.instances) == MAX_RECORDS - 1
    with pytest.raises(CodecError, match=r"^TLV holds more than 10000 entries$"):
        tlv.decode(payload + H("c1 00 61"), P("/3/0"), MODEL)


def _senml(count: int) -> list[dict[str, object]]:
    return [{"n": f"/3/0/{i}", "v": 1} for i in range(count)]


def test_senml_records_up_to_the_limit() -> None:
    assert len(senml_json.decode_values(json.dumps(_senml(MAX_RECORDS)).encode())) == MAX_RECORDS
    with pytest.raises(CodecError, match=r"^SenML holds 10001 records, more than 10000$"):
        senml_json.decode_values(json.dumps(_senml(MAX_RECORDS + 1)).encode())
    as_cbor = [{0: f"/3/0/{i}", 2: 1} for i in range(MAX_RECORDS + 1)]
    assert len(senml_cbor.decode_values(cbor2.dumps(as_cbor[:MAX_RECORDS]))) == MAX_RECORDS
    with pytest.raises(CodecError, match=r"^SenML holds 10001 records, more than 10000$"):
        senml_cbor.decode_values(cbor2.dumps(as_cbor))


def test_lwm2m_json_entries_up_to_the_limit() -> None:
    def doc(count: int) -> bytes:
        return json.dumps({"bn": "/3/0/", "e": [{"n": str(i), "v": 1} for i in range(count)]}).encode()

    assert len(lwm2m_json.decode_values(doc(MAX_RECORDS))) == MAX_RECORDS
    with pytest.raises(CodecError, match=r"^LwM2M JSON holds more than 10000 entries$"):
        lwm2m_json.decode_values(doc(MAX_RECORDS + 1))


def test_lwm2m_cbor_values_up_to_the_limit() -> None:
    assert len(lwm2m_cbor.decode_values(cbor2.dumps({3: {0: {i: 1 for i in range(MAX_RECORDS)}}}))) == MAX_RECORDS
    with pytest.raises(CodecError, match=r"^LwM2M CBOR holds more than 10000 values$"):
        lwm2m_cbor.decode_values(cbor2.dumps({3: {0: {i: 1 for i in range(MAX_RECORDS + 1)}}}))


def test_links_up_to_the_limit() -> None:
    links = [b"</3/%d>" % i for i in range(link_format.MAX_LINKS + 1)]
    assert len(link_format.parse(b",".join(links[:-1]))) == link_format.MAX_LINKS
    with pytest.raises(CodecError, match=r"^link format holds more than 10000 links$"):
        link_format.parse(b",".join(links))


# -- what is accepted at the edges ---------------------------------------------------------------


def test_senml_json_vd_without_padding() -> None:
    for raw in (b"", b"\x00", b"\x00\x01", b"\x00\x01\x02", b"\xfb\xff"):
        encoded = senml_json.encode_values({P("/5/0/0"): raw})
        assert b"=" not in encoded
        assert senml_json.decode_values(encoded, MODEL) == {P("/5/0/0"): raw}
    assert senml_json.decode_values(b'[{"n": "/5/0/0", "vd": "-_8"}]', MODEL) == {P("/5/0/0"): b"\xfb\xff"}
    assert senml_json.decode_values(b'[{"n": "/5/0/0", "vd": "AAE"}]', MODEL) == {P("/5/0/0"): b"\x00\x01"}


def test_senml_json_is_compact() -> None:
    assert (
        senml_json.encode_values({P("/3/0/9"): 5, P("/3/0/0"): "a"})
        == b'[{"n":"/3/0/0","vs":"a"},{"n":"/3/0/9","v":5}]'
    )
    assert senml_json.encode_paths([P("/3/0"), P("/4")]) == b'[{"n":"/3/0"},{"n":"/4"}]'
    assert lwm2m_json.encode_values({P("/3/0/9"): 5}, P("/3/0/9")) == b'{"bn":"/3/0/9","e":[{"v":5}]}'


def test_senml_of_equal_times_the_last_record_wins() -> None:
    doc = b'[{"n": "/3/0/9", "v": 1, "t": 5}, {"n": "/3/0/9", "v": 2, "t": 5}, {"n": "/3/0/9", "v": 3, "t": 4}]'
    assert senml_json.decode_values(doc, MODEL) == {P("/3/0/9"): 2}


def test_opaque_carries_bytes_of_one_resource_or_instance() -> None:
    assert opaque.decode_value(b"\x00\x01", P("/5/0/0")) == b"\x00\x01"
    assert opaque.decode_value(b"ab", P("/19/0/0/1")) == b"ab"
    assert opaque.encode(Resource(0, b"\xff"), P("/5/0/0")) == b"\xff"
    assert opaque.encode(ResourceInstance(1, b"\x01"), P("/19/0/0/1")) == b"\x01"
