"""The EMQX codec, message by message: decode(encode(x)) == x, and encode(decode(example)) ==
example with the manual's JSON examples verbatim (its templates filled in where it has no
example), compared as JSON text so that 5 and 5.0 stay apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxSettings
from custom_components.lwm2m.lwm2m.emqx.codec import (
    COMMANDS,
    Command,
    NotifyMessage,
    RegisterMessage,
    ResponseMessage,
    decode_command,
    decode_links,
    decode_up,
    decode_values,
    encode_links,
    encode_values,
)
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

P = Path.parse


def same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def through_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc)


# -- the manual's examples -----------------------------------------------------------------------

MANUAL_REGISTER = """{
  "msgType": "register",
  "data": {
    "objectList": ["/1/0", "/2/0", "/3/0", "/4/0", "/5/0", "/6/0", "/7/0"],
    "lwm2m": "1.0",
    "lt": 300,
    "ep": "testlwm2mclient",
    "b": "U"
  }
}"""
MANUAL_UPDATE = """{
  "msgType": "update",
  "data": {
    "objectList": ["/7/0"],
    "lwm2m": "1.0",
    "lt": 300,
    "ep": "testlwm2mclient",
    "b": "U"
  }
}"""
MANUAL_READ = """{
  "reqID": 1,
  "msgType": "read",
  "data": {
    "path": "/3/0/1"
  }
}"""
MANUAL_READ_RESPONSE = """{
  "reqID": 1,
  "msgType": "read",
  "data": {
    "reqPath": "/3/0/1",
    "code": "2.05",
    "codeMsg": "content",
    "content": [
      {
        "value": "Lightweight M2M Client",
        "path": "/3/0/1"
      }
    ]
  }
}"""
MANUAL_DISCOVER = """{
  "reqID": 2,
  "msgType": "discover",
  "data": {
    "path": "/3/0"
  }
}"""
MANUAL_DISCOVER_RESPONSE = """{
  "reqID": 123,
  "msgType": "discover",
  "data": {
    "reqPath": "/3/0",
    "code": "2.05",
    "codeMsg": "content",
    "content": [
      "</3/0>;pmin=10",
      "</3/0/0>", "</3/0/1>", "</3/0/2>", "</3/0/3>", "</3/0/4>", "</3/0/5>",
      "</3/0/6>", "</3/0/7>", "</3/0/8>", "</3/0/9>", "</3/0/10>", "</3/0/11>",
      "</3/0/12>", "</3/0/13>", "</3/0/14>", "</3/0/15>", "</3/0/16>"
    ]
  }
}"""
MANUAL_WRITE = """{
  "reqID": 3,
  "msgType": "write",
  "data": {
    "path": "/31024/11/1",
    "type": "String",
    "value": "write_an_example_value"
  }
}"""
MANUAL_WRITE_BASE_PATH = """{
  "reqID": 3,
  "msgType": "write",
  "data": {
    "basePath": "/31024/11/",
    "content": [
      {
        "path": "1",
        "type": "String",
        "value": "write_the_1st_value"
      },
      {
        "path": "2",
        "type": "String",
        "value": "write_the_2nd_value"
      }
    ]
  }
}"""
MANUAL_OBSERVE = """{
  "reqID": 10,
  "msgType": "observe",
  "data": {
    "path": "/31024/0/1"
  }
}"""
# The manual gives only the shape of these; its variables filled in.
WRITE_ATTR = """{"reqID": 4, "msgType": "write-attr",
  "data": {"path": "/3303/0/5700", "pmin": 5, "pmax": 60, "gt": 30.5, "lt": 10.5, "st": 0.5}}"""
EXECUTE = """{"reqID": 5, "msgType": "execute", "data": {"path": "/3/0/4", "args": "0='now',1"}}"""
CREATE = """{"reqID": 6, "msgType": "create",
  "data": {"basePath": "/3303", "content": [{"path": "0/5700", "type": "Float", "value": 18.5}]}}"""
DELETE = """{"reqID": 7, "msgType": "delete", "data": {"path": "3303/0"}}"""  # "{?ObjectID}/{?InstanceID}"
CANCEL_OBSERVE = """{"reqID": 11, "msgType": "cancel-observe", "data": {"path": "/31024/0/1"}}"""
OBSERVE_RESPONSE = """{"reqID": 10, "msgType": "observe", "data": {"reqPath": "/31024/0/1", "code": "2.05",
  "codeMsg": "content", "content": [{"path": "/31024/0/1", "value": 21.5}]}}"""
NOTIFY = """{"reqID": 10, "msgType": "notify", "seqNum": 3, "data": {"code": "2.05", "codeMsg": "content",
  "reqPath": "/31024/0/1", "content": [{"path": "/31024/0/1", "value": 23.5}]}}"""
WRITE_RESPONSE = """{"reqID": 3, "msgType": "write", "data": {"reqPath": "/31024/11/1", "code": "2.04",
  "codeMsg": "changed"}}"""
ERROR_RESPONSE = """{"reqID": 3, "msgType": "write", "data": {"reqPath": "", "code": "4.00",
  "codeMsg": "bad_request", "content": "/31024/11/1: type must be one of Time, String, Integer, Float, Boolean, Opaque, Objlnk"}}"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MANUAL_READ,
            Command(req_id=1, msg_type="read", path=P("/3/0/1")),
        ),
        (
            MANUAL_DISCOVER,
            Command(req_id=2, msg_type="discover", path=P("/3/0")),
        ),
        (
            MANUAL_WRITE,
            Command(
                req_id=3, msg_type="write", path=P("/31024/11/1"), values={P("/31024/11/1"): "write_an_example_value"}
            ),
        ),
        (
            MANUAL_WRITE_BASE_PATH,
            Command(
                req_id=3,
                msg_type="write",
                path=P("/31024/11"),
                values={P("/31024/11/1"): "write_the_1st_value", P("/31024/11/2"): "write_the_2nd_value"},
                req_path="/31024/11/",
            ),
        ),
        (
            WRITE_ATTR,
            Command(
                req_id=4,
                msg_type="write-attr",
                path=P("/3303/0/5700"),
                attributes={"pmin": 5, "pmax": 60, "gt": 30.5, "lt": 10.5, "st": 0.5},
            ),
        ),
        (EXECUTE, Command(req_id=5, msg_type="execute", path=P("/3/0/4"), args="0='now',1")),
        (CREATE, Command(req_id=6, msg_type="create", path=P("/3303"), values={P("/3303/0/5700"): 18.5})),
        (DELETE, Command(req_id=7, msg_type="delete", path=P("/3303/0"), req_path="3303/0")),
        (MANUAL_OBSERVE, Command(req_id=10, msg_type="observe", path=P("/31024/0/1"))),
        (CANCEL_OBSERVE, Command(req_id=11, msg_type="cancel-observe", path=P("/31024/0/1"))),
    ],
)
def test_every_command_both_ways(text: str, expected: Command) -> None:
    command = decode_command(text)
    assert command == expected
    assert same_json(command.encode(), json.loads(text))
    assert decode_command(through_json(expected.encode())) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MANUAL_REGISTER,
            RegisterMessage(
                msg_type="register",
                endpoint="testlwm2mclient",
                lifetime=300,
                lwm2m="1.0",
                binding="U",
                objects=tuple(P(f"/{oid}/0") for oid in range(1, 8)),
            ),
        ),
        (
            MANUAL_UPDATE,
            RegisterMessage(
                msg_type="update",
                endpoint="testlwm2mclient",
                lifetime=300,
                lwm2m="1.0",
                binding="U",
                objects=(P("/7/0"),),
            ),
        ),
        (
            MANUAL_READ_RESPONSE,
            ResponseMessage(
                req_id=1,
                msg_type="read",
                req_path="/3/0/1",
                code="2.05",
                content=[{"value": "Lightweight M2M Client", "path": "/3/0/1"}],
            ),
        ),
        (
            OBSERVE_RESPONSE,
            ResponseMessage(
                req_id=10,
                msg_type="observe",
                req_path="/31024/0/1",
                code="2.05",
                content=[{"path": "/31024/0/1", "value": 21.5}],
            ),
        ),
        (
            NOTIFY,
            NotifyMessage(req_id=10, seq_num=3, code="2.05", path=P("/31024/0/1"), values={P("/31024/0/1"): 23.5}),
        ),
        (WRITE_RESPONSE, ResponseMessage(req_id=3, msg_type="write", req_path="/31024/11/1", code="2.04")),
        (
            ERROR_RESPONSE,
            ResponseMessage(
                req_id=3,
                msg_type="write",
                code="4.00",
                content="/31024/11/1: type must be one of Time, String, Integer, Float, Boolean, Opaque, Objlnk",
            ),
        ),
    ],
)
def test_every_message_of_the_gateway_both_ways(text: str, expected: Any) -> None:
    message = decode_up(text)
    assert message == expected
    assert same_json(message.encode(), json.loads(text))
    assert decode_up(through_json(expected.encode())) == expected


def test_the_contents_of_responses_both_ways() -> None:
    doc = json.loads(MANUAL_DISCOVER_RESPONSE)
    response = decode_up(MANUAL_DISCOVER_RESPONSE)
    assert isinstance(response, ResponseMessage) and same_json(response.encode(), doc)
    links = decode_links(response.content)
    assert links == {P("/3/0"): {"pmin": 10}, **{P(f"/3/0/{i}"): {} for i in range(17)}}
    assert encode_links(links) == doc["data"]["content"]

    read = decode_up(MANUAL_READ_RESPONSE)
    assert isinstance(read, ResponseMessage)
    values = decode_values(read.content)
    assert values == {P("/3/0/1"): "Lightweight M2M Client"}
    assert same_json(encode_values(values), read.content)


def test_a_gateway_error_keeps_its_own_code_name() -> None:
    odd = decode_up('{"reqID": 1, "msgType": "read", "data": {"code": "4.99", "codeMsg": "odd_one"}}')
    assert isinstance(odd, ResponseMessage) and odd.code_msg == "odd_one"
    assert odd.encode()["data"]["codeMsg"] == "odd_one"
    plain = decode_up('{"reqID": 1, "msgType": "read", "data": {"code": "4.04", "codeMsg": "not_found"}}')
    assert isinstance(plain, ResponseMessage) and plain.code_msg == ""  # the standard name
    nothing = decode_up('{"reqID": 1, "msgType": "read", "data": {}}')
    assert isinstance(nothing, ResponseMessage) and nothing.code == "5.00"


def test_register_messages_are_what_the_bridge_publishes() -> None:
    """objectList: the instances, and objects that have none; alternatePath always."""
    message = RegisterMessage(
        msg_type="register",
        endpoint="e",
        lifetime=60,
        lwm2m="1.1",
        binding="UQ",
        sms="+123",
        alternate_path="/lwm2m",
        objects=(P("/1/0"), P("/2"), P("/3/0"), P("/3/1")),
    )
    doc = message.encode()
    assert doc["data"]["objectList"] == ["/1/0", "/2", "/3/0", "/3/1"]
    assert decode_up(json.dumps(doc)) == message
    assert decode_up('{"msgType": "update", "data": {}}') == RegisterMessage(msg_type="update")
    assert decode_up('{"msgType": "register", "data": {"lwm2m": 1.1, "objectList": ["</3/0>"]}}') == (
        RegisterMessage(lwm2m="1.1", objects=(P("/3/0"),))
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"msgType": "register", "data": {"lt": 0}}',
        '{"msgType": "register", "data": {"lt": 1e999}}',
        '{"msgType": "register", "data": {"b": ["U"]}}',
        '{"msgType": "update", "data": {"objectList": [3]}}',
        '{"msgType": "notify", "data": {"reqPath": "/3/0", "code": 205}}',
        '{"msgType": "notify", "data": {"reqPath": "/3/0", "content": [{"path": 3, "value": 1}]}}',
        '{"msgType": ["read"], "data": {}}',
        '{"msgType": "read", "data": []}',
        "[]",
        "nope",
    ],
)
def test_messages_without_the_manuals_shape(text: str) -> None:
    with pytest.raises(CodecError):
        decode_up(text)


# -- any message both ways -------------------------------------------------------------------------

PATH_IDS = st.integers(0, 65534)
RESOURCES = st.tuples(PATH_IDS, PATH_IDS, PATH_IDS).map(Path)
INSTANCES = st.tuples(PATH_IDS, PATH_IDS).map(Path)
ANY_PATH = st.lists(PATH_IDS, max_size=4).map(lambda ids: Path(tuple(ids)))
VALUES = st.one_of(
    st.text(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.binary(),
    st.builds(ObjLnk, st.integers(0, 65535), st.integers(0, 65535)),
    st.integers(0, 4_000_000_000).map(lambda s: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=s)),
)
REQ_IDS = st.none() | st.integers() | st.text(max_size=10)
NUMBERS = st.none() | st.integers(0, 10**6) | st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    req_id = draw(REQ_IDS)
    msg_type = draw(st.sampled_from(COMMANDS))
    if msg_type == "write":
        if draw(st.booleans()):
            path = draw(RESOURCES)
            return Command(req_id=req_id, msg_type=msg_type, path=path, values={path: draw(VALUES)})
        base = draw(INSTANCES)
        values = draw(st.dictionaries(PATH_IDS.map(base.child), VALUES, min_size=2, max_size=4))
        return Command(req_id=req_id, msg_type=msg_type, path=base, values=values)
    if msg_type == "create":
        instance = draw(INSTANCES)
        values = draw(st.dictionaries(PATH_IDS.map(instance.child), VALUES, min_size=1, max_size=4))
        return Command(req_id=req_id, msg_type=msg_type, path=instance.parent, values=values)
    if msg_type == "write-attr":
        names = st.sampled_from(["pmin", "pmax", "gt", "lt", "st", "epmin", "epmax"])
        attributes = draw(st.dictionaries(names, NUMBERS, min_size=1))
        return Command(req_id=req_id, msg_type=msg_type, path=draw(ANY_PATH), attributes=attributes)
    if msg_type == "execute":
        args = draw(st.none() | st.text(min_size=1))
        return Command(req_id=req_id, msg_type=msg_type, path=draw(RESOURCES), args=args)
    return Command(req_id=req_id, msg_type=msg_type, path=draw(INSTANCES if msg_type == "delete" else ANY_PATH))


@given(commands())
@example(  # base64 of an opaque value may begin with "0x" (hypothesis found it)
    Command(req_id=None, msg_type="write", path=Path.parse("/0/0"), values={Path.parse("/0/0/1"): b"\xd3\x10"})
)
def test_any_command_both_ways(command: Command) -> None:
    assert decode_command(through_json(command.encode())) == command


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=8,
)


@given(
    REQ_IDS,
    st.none() | st.integers(0, 2**24),
    st.sampled_from(["2.05", "2.04", "4.04", "5.00"]),
    ANY_PATH,
    st.dictionaries(ANY_PATH, JSON_VALUES, max_size=4),
)
def test_any_notification_both_ways(
    req_id: Any, sequence: int | None, code: str, path: Path, values: dict[Path, Any]
) -> None:
    message = NotifyMessage(req_id=req_id, seq_num=sequence, code=code, path=path, values=values)
    assert decode_up(through_json(message.encode())) == message


@given(
    st.sampled_from(["register", "update"]),
    st.none() | st.text(max_size=10),
    st.none() | st.integers(1, 2**31),
    st.none() | st.sampled_from(["1.0", "1.1", "1.2"]),
    st.none() | st.sampled_from(["U", "UQ", "S", "US"]),
    st.none() | st.sampled_from(["/", "/lwm2m"]),
    st.none() | st.lists(ANY_PATH, max_size=5).map(tuple),
)
def test_any_registration_both_ways(
    msg_type: str,
    endpoint: str | None,
    lifetime: int | None,
    version: str | None,
    binding: str | None,
    root: str | None,
    objects: tuple[Path, ...] | None,
) -> None:
    message = RegisterMessage(
        msg_type=msg_type,
        endpoint=endpoint,
        lifetime=lifetime,
        lwm2m=version,
        binding=binding,
        alternate_path=root,
        objects=objects,
    )
    assert decode_up(through_json(message.encode())) == message


@given(REQ_IDS, st.sampled_from(COMMANDS), st.text(max_size=10), st.sampled_from(["2.05", "4.00", "4.99"]), JSON_VALUES)
def test_any_response_both_ways(req_id: Any, msg_type: str, req_path: str, code: str, content: Any) -> None:
    message = ResponseMessage(req_id=req_id, msg_type=msg_type, req_path=req_path, code=code, content=content)
    assert decode_up(through_json(message.encode())) == message


# -- bad commands: an error response, never an exception ---------------------------------------


def _bridge() -> EmqxBridge:
    return EmqxBridge(EmqxSettings(), lambda name: pytest.fail("no command reaches a device here"))


def _answer(payload: str | bytes) -> Command | dict[str, Any]:
    parsed = _bridge().parse("lwm2m/dev/dn/cmd", payload)
    assert parsed is not None and parsed[0] == "dev"
    result = parsed[1]
    if isinstance(result, Command):
        return result
    topic, response, _qos = result
    assert topic == "lwm2m/dev/up/resp"
    return response


def _is_an_error_response(response: dict[str, Any], req_id: Any) -> bool:
    data = response["data"]
    assert response["reqID"] == req_id and isinstance(response["msgType"], str)
    assert data["code"] == "4.00" and data["codeMsg"] == "bad_request"
    assert isinstance(data["content"], str) and data["content"]
    return True


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"path": "/3/0/1", "type": ["String"], "value": "x"}, "type must be one of"),
        ({"path": "/3/0/1", "type": {"name": "String"}, "value": "x"}, "type must be one of"),
        ({"basePath": "/3/0", "content": [{"path": "1", "type": [], "value": 1}]}, "type must be one of"),
    ],
)
def test_a_type_that_is_no_name(data: dict[str, Any], text: str) -> None:
    response = _answer(json.dumps({"reqID": 31, "msgType": "write", "data": data}))
    assert isinstance(response, dict) and _is_an_error_response(response, 31)
    assert response["msgType"] == "write" and text in response["data"]["content"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10**309, "pmin is out of range"),
        ("1" * 400, "pmin is out of range"),
        ("1e400", "pmin must be a finite number"),
        ("Infinity", "pmin must be a finite number"),
        (True, "pmin must be a number"),
        ([5], "pmin must be a number"),
    ],
)
def test_write_attr_numbers_out_of_range(value: Any, text: str) -> None:
    response = _answer(json.dumps({"reqID": 32, "msgType": "write-attr", "data": {"path": "/3/0/9", "pmin": value}}))
    assert isinstance(response, dict) and _is_an_error_response(response, 32)
    assert response["data"]["content"] == text


def test_infinity_in_json_is_refused() -> None:
    payload = '{"reqID": 33, "msgType": "write-attr", "data": {"path": "/3/0/9", "gt": Infinity}}'
    response = _answer(payload)
    assert isinstance(response, dict) and _is_an_error_response(response, 33)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(10**309)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from([*COMMANDS, "/3/0/1", "/3/0", "/3", "0/1", "String", "Float", "Objlnk", "Opaque", "Time", "1"]),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(["path", "basePath", "content", "type", "value", "args", "pmin", "gt", "st"]),
            kids,
            max_size=5,
        )
    ),
    max_leaves=25,
)
COMMAND_SHAPED = st.fixed_dictionaries(
    {"reqID": JSONISH, "msgType": st.sampled_from(COMMANDS) | JSONISH, "data": JSONISH}
) | st.dictionaries(st.sampled_from(["reqID", "msgType", "data"]), JSONISH)


@given(COMMAND_SHAPED | JSONISH)
def test_any_json_command_gives_a_command_or_an_error_response(doc: Any) -> None:
    result = _answer(json.dumps(doc))
    if isinstance(result, Command):
        assert result.msg_type in COMMANDS
        assert decode_command(through_json(result.encode())) == result  # a valid command, as it reads
    else:
        req_id = doc.get("reqID") if isinstance(doc, dict) else None
        assert _is_an_error_response(result, req_id)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_command_or_an_error_response(payload: bytes) -> None:
    result = _answer(payload)
    assert isinstance(result, Command) or _is_an_error_response(result, result["reqID"])


def test_too_large_and_empty_messages_are_named() -> None:
    from custom_components.lwm2m.lwm2m.emqx.codec import MAX_MESSAGE, EmqxError

    with pytest.raises(CodecError) as err:
        decode_up(b" " * (MAX_MESSAGE + 1))
    assert str(err.value) == "too large"
    with pytest.raises(EmqxError) as bad:
        decode_command(b'{"reqID": 9, "msgType": "write", "data": {"basePath": "/3/0", "content": []}}')
    assert str(bad.value) == "content must be a non-empty list of {path, type, value}"
