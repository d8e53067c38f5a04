"""Typed values: what a user's value becomes before a Write, and what a device's value becomes
when the object model types it (values.py, codecs/common.py, the node tree in nodes.py)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import cbor2
import pytest

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode, decode_values
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import ROOT, Path
from custom_components.lwm2m.lwm2m.values import (
    DataType,
    ObjLnk,
    check_value,
    coerce,
    guess_type,
    time_from_seconds,
    time_to_seconds,
    to_json_value,
)

P = Path.parse
D = DataType
EPOCH_1700 = datetime.fromtimestamp(1_700_000_000, UTC)


# -- a user's value (service call, runner command, MQTT JSON) for a resource of a given type -----


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (2.0, D.INTEGER, 2),  # a whole float from a JSON number or a slider
        (" 0x10 ", D.INTEGER, 16),
        ("-7", D.INTEGER, -7),
        (7, D.UNSIGNED_INTEGER, 7),
        ("21.5", D.FLOAT, 21.5),
        (3, D.FLOAT, 3.0),
        (" ON ", D.BOOLEAN, True),
        ("yes", D.BOOLEAN, True),
        ("1", D.BOOLEAN, True),
        ("off", D.BOOLEAN, False),
        ("no", D.BOOLEAN, False),
        (0, D.BOOLEAN, False),
        (False, D.BOOLEAN, False),
        (42, D.STRING, "42"),
        (21.5, D.STRING, "21.5"),
        ("</3/0>", D.CORELNK, "</3/0>"),
        (b"\x01\x02", D.OPAQUE, b"\x01\x02"),
        ("0x0aff", D.OPAQUE, b"\n\xff"),
        ("AQI=", D.OPAQUE, b"\x01\x02"),
        (1_700_000_000, D.TIME, EPOCH_1700),
        (1_700_000_000.0, D.TIME, EPOCH_1700),
        (" 1700000000 ", D.TIME, EPOCH_1700),
        ("-5", D.TIME, datetime(1969, 12, 31, 23, 59, 55, tzinfo=UTC)),
        ("2023-11-14T22:13:20", D.TIME, EPOCH_1700),  # no zone: UTC
        (datetime(2023, 11, 14, 22, 13, 20), D.TIME, EPOCH_1700),  # naive: UTC
        ("3:0", D.OBJLNK, ObjLnk(3, 0)),
        (ObjLnk(65535, 65535), D.OBJLNK, ObjLnk(65535, 65535)),
    ],
)
def test_coerce_accepts_the_obvious_spellings(value: object, dtype: DataType, expected: object) -> None:
    result = coerce(value, dtype)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, datetime):
        assert result.tzinfo is not None


def test_coerce_keeps_a_given_time_zone() -> None:
    result = coerce("2024-01-01T12:00:00+02:00", D.TIME)
    assert isinstance(result, datetime)
    assert result.utcoffset() == timedelta(hours=2)
    assert time_to_seconds(result) == time_to_seconds(datetime(2024, 1, 1, 10, 0, tzinfo=UTC))
    aware = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert coerce(aware, D.TIME) is aware


@pytest.mark.parametrize(
    ("value", "dtype", "message"),
    [
        (True, D.INTEGER, "a boolean is not an integer"),
        (2.5, D.INTEGER, "not a whole number"),
        ("-1", D.UNSIGNED_INTEGER, "not a valid Unsigned Integer"),
        (2**64, D.UNSIGNED_INTEGER, "not a valid Unsigned Integer"),
        (2**63, D.INTEGER, "not a valid Integer"),
        (True, D.FLOAT, "a boolean is not a number"),
        ("nan", D.FLOAT, "not a finite number"),
        ("-inf", D.FLOAT, "not a finite number"),
        ([1], D.FLOAT, "not a valid Float"),
        ("maybe", D.BOOLEAN, "expected true or false"),
        ({"a": 1}, D.STRING, "expected text"),
        (["a"], D.CORELNK, "expected text"),
        ("not base64!", D.OPAQUE, "not a valid Opaque"),
        ("0xzz", D.OPAQUE, "not a valid Opaque"),
        (12, D.OPAQUE, "not a valid Opaque"),
        ("tomorrow", D.TIME, "not a valid Time"),
        (1e20, D.TIME, "out of range"),
        ("99999999999999999999", D.TIME, "out of range"),
        (True, D.TIME, "not a valid Time"),
        ("3", D.OBJLNK, "expected 'object:instance'"),
        ("70000:0", D.OBJLNK, "between 0 and 65535"),
        ("", D.NONE, "take no value"),
    ],
)
def test_coerce_refuses_what_the_type_cannot_hold(value: object, dtype: DataType, message: str) -> None:
    with pytest.raises(CodecError, match=message.replace("(", r"\(")):
        coerce(value, dtype)


# -- values checked against their type (encoders, the model's typing of device values) ---------


def test_check_value() -> None:
    assert check_value(3, D.FLOAT) == 3.0 and type(check_value(3, D.FLOAT)) is float
    assert check_value(2**53, D.FLOAT) == float(2**53)
    with pytest.raises(CodecError, match="not a valid Float"):
        check_value(2**53 + 1, D.FLOAT)  # an integer a float cannot hold exactly
    assert check_value(EPOCH_1700, D.TIME) is EPOCH_1700
    assert check_value("Acme", D.STRING) == "Acme" and check_value("</3/0>", D.CORELNK) == "</3/0>"
    with pytest.raises(CodecError, match="not a valid String value"):
        check_value(b"Acme", D.STRING)
    assert check_value(ObjLnk(1, 0), D.OBJLNK) == ObjLnk(1, 0)
    with pytest.raises(CodecError, match="not a valid none value"):
        check_value(1, D.NONE)  # an executable resource carries no value
    with pytest.raises(CodecError, match="not a valid Opaque value"):
        check_value("AQI=", D.OPAQUE)
    with pytest.raises(CodecError, match="not a valid Boolean value"):
        check_value(1, D.BOOLEAN)


def test_object_links() -> None:
    assert str(ObjLnk.parse("3:0")) == "3:0"
    for bad in ("3", "a:b", "123456:0", "-1:0", "3:"):
        with pytest.raises(CodecError, match="invalid object link"):
            ObjLnk.parse(bad)
    for object_id, instance_id in ((65536, 0), (0, -1)):
        with pytest.raises(CodecError, match="between 0 and 65535"):
            ObjLnk(object_id, instance_id)
    with pytest.raises(CodecError, match="between 0 and 65535"):
        ObjLnk(True, 0)  # type: ignore[arg-type]  # a boolean is no id


def test_times() -> None:
    assert time_from_seconds(0) == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(CodecError, match="out of range"):
        time_from_seconds(float("inf"))
    with pytest.raises(CodecError, match="out of range"):
        time_from_seconds(-1e18)
    # A naive datetime is UTC, not the host's local time.
    assert time_to_seconds(datetime(2023, 11, 14, 22, 13, 20)) == 1_700_000_000
    assert time_to_seconds(datetime(2023, 11, 14, 22, 13, 20, 999_999, tzinfo=UTC)) == 1_700_000_000


def test_data_type_names_from_object_files() -> None:
    assert DataType.from_xml(" unsigned integer ") is D.UNSIGNED_INTEGER
    assert DataType.from_xml("") is D.NONE and DataType.from_xml(None) is D.NONE
    with pytest.raises(ValueError, match="unknown resource type 'Decimal'"):
        DataType.from_xml("Decimal")


@pytest.mark.parametrize(
    ("value", "dtype", "json_value"),
    [
        (True, D.BOOLEAN, True),
        (5, D.INTEGER, 5),
        (2.5, D.FLOAT, 2.5),
        (b"\x01\x02", D.OPAQUE, "AQI="),
        (EPOCH_1700, D.TIME, 1_700_000_000),
        (ObjLnk(3, 1), D.OBJLNK, "3:1"),
        ("text", D.STRING, "text"),
    ],
)
def test_values_no_model_describes_and_their_json(value: object, dtype: DataType, json_value: object) -> None:
    """A resource of an unknown object is typed by its value; its JSON form goes to MQTT and the runner."""
    assert guess_type(value) is dtype  # type: ignore[arg-type]
    assert to_json_value(value) == json_value  # type: ignore[arg-type]
    json.dumps(to_json_value(value))  # type: ignore[arg-type]
    assert coerce(json_value, dtype) == value  # and back, as a command would give it


# -- device values typed by the object model (codecs/common.py) ---------------------------------


@pytest.fixture(scope="module")
def model() -> ObjectModel:
    return ObjectModel()


def _senml(*records: dict[str, object]) -> bytes:
    return json.dumps(list(records)).encode()


def test_a_whole_number_for_a_float_resource_is_a_float(model: ObjectModel) -> None:
    values = decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3303/0/5700", "v": 21}), model)
    assert values == {P("/3303/0/5700"): 21.0} and type(values[P("/3303/0/5700")]) is float
    # No model: the value stays as sent.
    assert (
        type(decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3303/0/5700", "v": 21}))[P("/3303/0/5700")]) is int
    )


def test_an_integer_resource_takes_whole_numbers_only(model: ObjectModel) -> None:
    values = decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/9", "v": 95.0}), model)
    assert values == {P("/3/0/9"): 95} and type(values[P("/3/0/9")]) is int
    with pytest.raises(CodecError, match=r"/3/0/9: 95\.5 is not"):
        decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/9", "v": 95.5}), model)
    with pytest.raises(CodecError, match="/3/0/9"):
        decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/9", "vs": "ninety"}), model)


def test_times_from_numbers_and_their_limits(model: ObjectModel) -> None:
    values = decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/13", "v": 1_700_000_000}), model)
    assert values == {P("/3/0/13"): EPOCH_1700}
    for bad in (math.nan, math.inf):
        payload = cbor2.dumps({3: {0: {13: bad}}})
        with pytest.raises(CodecError, match=r"/3/0/13: .*(nan|inf)"):
            decode_values(ContentFormat.LWM2M_CBOR, payload, model)
    with pytest.raises(CodecError, match="out of range"):
        decode_values(ContentFormat.LWM2M_CBOR, cbor2.dumps({3: {0: {13: 10**20}}}), model)


def test_object_links_and_opaque_sent_as_text(model: ObjectModel) -> None:
    """Some devices send an Objlnk or Opaque resource as a string ("vs"); the model types it."""
    links = decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/22", "vs": "4:0"}), model)
    assert links == {P("/3/0/22"): ObjLnk(4, 0)}
    with pytest.raises(CodecError, match="/3/0/22"):
        decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/22", "vs": "4"}), model)
    # base64, with or without padding, standard or URL-safe alphabet
    for text, raw in (("AQI=", b"\x01\x02"), ("AQI", b"\x01\x02"), ("-_8", b"\xfb\xff"), ("+/8=", b"\xfb\xff")):
        opaque = decode_values(ContentFormat.SENML_JSON, _senml({"n": "/6/0/4", "vs": text}), model)
        assert opaque == {P("/6/0/4"): raw}, text
    with pytest.raises(CodecError, match=r"/6/0/4: .* is not a valid Opaque"):
        decode_values(ContentFormat.SENML_JSON, _senml({"n": "/6/0/4", "vs": "A"}), model)


def test_text_sent_as_bytes_for_a_string_resource(model: ObjectModel) -> None:
    values = decode_values(ContentFormat.SENML_CBOR, cbor2.dumps([{0: "/3/0/0", 8: b"Acme"}]), model)
    assert values == {P("/3/0/0"): "Acme"}
    with pytest.raises(CodecError, match="/3/0/0"):
        decode_values(ContentFormat.SENML_CBOR, cbor2.dumps([{0: "/3/0/0", 8: b"\xff\xfe"}]), model)


def test_executable_resources_keep_what_was_sent(model: ObjectModel) -> None:
    """/3/0/4 (Reboot) has no type: a value there (a confused device) is kept, not refused."""
    assert decode_values(ContentFormat.SENML_JSON, _senml({"n": "/3/0/4", "vs": "x"}), model) == {P("/3/0/4"): "x"}


# -- a device's answer checked against the path that was asked for -----------------------------


def _answer(payload: bytes, path: Path) -> dict[Path, object]:
    """The leaf values decode() finds in a SenML JSON answer about path."""
    return dict(decode(ContentFormat.SENML_JSON, payload, path))


def test_an_answer_that_mixes_single_and_multiple_resource_is_refused() -> None:
    for records in (
        ({"n": "/3/0/7", "v": 1}, {"n": "/3/0/7/0", "v": 2}),
        ({"n": "/3/0/7/0", "v": 2}, {"n": "/3/0/7", "v": 1}),
    ):
        with pytest.raises(CodecError, match=r"/3/0/7 .*single and (a )?multiple resource"):
            _answer(_senml(*records), P("/3/0"))


def test_an_answer_without_the_value_asked_for_is_refused() -> None:
    payload = _senml({"n": "/3/0/7/0", "v": 3800})
    assert _answer(payload, P("/3/0/7")) == {P("/3/0/7/0"): 3800}
    with pytest.raises(CodecError, match=r"value path /3/0/7/0 is not a resource below /3/0/7/1"):
        _answer(payload, P("/3/0/7/1"))
    with pytest.raises(CodecError, match=r"not a resource below /3/0/9"):
        _answer(payload, P("/3/0/9"))
    with pytest.raises(CodecError, match="not a resource below /3/0"):
        _answer(_senml({"n": "/4/0/0", "v": 1}), P("/3/0"))
    assert _answer(_senml({"n": "/3/0/9", "v": 95}), P("/3/0/9")) == {P("/3/0/9"): 95}
    for path in ("/3/0/9", "/3/0/7/1"):
        with pytest.raises(CodecError, match=f"no value for {path}"):
            _answer(b"[]", P(path))  # an empty answer


def test_no_answer_about_the_root() -> None:
    with pytest.raises(CodecError, match="needs an object path"):
        _answer(_senml({"n": "/3/0/9", "v": 95}), ROOT)


def test_url_safe_base64_with_only_one_of_its_two_characters() -> None:
    assert coerce("-w", DataType.OPAQUE) == b"\xfb"
    assert coerce("__A", DataType.OPAQUE) == b"\xff\xf0"
    assert coerce("--8=", DataType.OPAQUE) == b"\xfb\xef"
