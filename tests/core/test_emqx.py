"""EMQX LwM2M gateway JSON: messages compared field by field with the manual's examples."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.codecs.link_format import parse_registration
from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxError, EmqxSettings, Translator
from custom_components.lwm2m.lwm2m.emqx.codec import (
    NotifyMessage,
    RegisterMessage,
    ResponseMessage,
    decode_command,
    encode_links,
    encode_values,
)
from custom_components.lwm2m.lwm2m.events import RegistrationInfo
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration
from custom_components.lwm2m.lwm2m.values import ObjLnk
from tests.core.rawcoap import RawDevice

P = Path.parse


def _registration(payload: bytes, **kwargs) -> RegistrationInfo:
    return Registration(reg_id="x", objects=parse_registration(payload), **kwargs).info()


def registration_message(msg_type: str, info: RegistrationInfo) -> dict:
    return RegisterMessage.of(msg_type, info).encode()


def response_message(req_id: object, msg_type: str, req_path: str, code: str, content: object = None) -> dict:
    return ResponseMessage(req_id=req_id, msg_type=msg_type, req_path=req_path, code=code, content=content).encode()


def notify_message(req_id: object, sequence: int | None, code: str, req_path: str, values: dict) -> dict:
    return NotifyMessage(req_id=req_id, seq_num=sequence, code=code, path=P(req_path), values=values).encode()


def test_register_and_update_messages_match_the_manual() -> None:
    reg = _registration(b"</1/0>,</2/0>,</3/0>,</4/0>,</5/0>,</6/0>,</7/0>", endpoint="testlwm2mclient", lifetime=300)
    assert registration_message("register", reg) == {
        "msgType": "register",
        "data": {
            "objectList": ["/1/0", "/2/0", "/3/0", "/4/0", "/5/0", "/6/0", "/7/0"],
            "lwm2m": "1.0",
            "lt": 300,
            "ep": "testlwm2mclient",
            "b": "U",
            "alternatePath": "/",  # EMQX always sends it (its gateway's README), "/" by default
        },
    }
    update = _registration(b"</7/0>", endpoint="testlwm2mclient", lifetime=300)
    assert registration_message("update", update) == {
        "msgType": "update",
        "data": {
            "objectList": ["/7/0"],
            "lwm2m": "1.0",
            "lt": 300,
            "ep": "testlwm2mclient",
            "b": "U",
            "alternatePath": "/",
        },
    }
    rooted = _registration(b'</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>', endpoint="r", lifetime=60)
    assert registration_message("register", rooted)["data"]["alternatePath"] == "/lwm2m"
    assert EmqxSettings().publishes_update(objects_changed=True)
    assert not EmqxSettings().publishes_update(objects_changed=False)
    assert EmqxSettings(update_msg_publish_condition="always").publishes_update(objects_changed=False)


def test_topics() -> None:
    settings = EmqxSettings()
    assert settings.topic("dev", settings.register) == "lwm2m/dev/up/resp"
    assert settings.topic("dev", settings.update) == "lwm2m/dev/up/update"
    assert settings.topic("dev", settings.notify) == "lwm2m/dev/up/notify"
    assert settings.command_filter() == "lwm2m/+/dn/#"
    assert settings.endpoint_of("lwm2m/dev/dn/cmd") == "dev" and settings.endpoint_of("lwm2m/dev/dn") == "dev"
    assert settings.endpoint_of("lwm2m/dev/up/resp") is None and settings.endpoint_of("lwm2m/dev/dnx") is None
    custom = EmqxSettings(mountpoint="gw/${endpoint_name}/", command=Translator("cmd", 1))
    assert custom.endpoint_of("gw/a/cmd") == "a" and custom.endpoint_of("gw/a/cmd/x") is None


def test_read_command_and_response() -> None:
    command = decode_command(b'{"reqID": 1, "msgType": "read", "data": {"path": "/3/0/1"}}')
    assert (command.req_id, command.msg_type, command.path, command.req_path) == (1, "read", P("/3/0/1"), "/3/0/1")
    response = response_message(1, "read", "/3/0/1", "2.05", encode_values({P("/3/0/1"): "Lightweight M2M Client"}))
    assert response == json.loads("""{"reqID": 1, "msgType": "read", "data": {"reqPath": "/3/0/1", "code": "2.05",
        "codeMsg": "content", "content": [{"value": "Lightweight M2M Client", "path": "/3/0/1"}]}}""")


def test_discover_response() -> None:
    command = decode_command(b'{"reqID": 2, "msgType": "discover", "data": {"path": "/3/0"}}')
    assert command.path == P("/3/0")
    attributes = {P("/3/0"): {"pmin": 10}, **{P(f"/3/0/{i}"): {} for i in range(17)}}
    response = response_message(123, "discover", "/3/0", "2.05", encode_links(attributes))
    assert response["data"]["content"] == ["</3/0>;pmin=10", *[f"</3/0/{i}>" for i in range(17)]]
    assert response["data"]["codeMsg"] == "content"


def test_write_commands() -> None:
    single = decode_command(
        b'{"reqID": 3, "msgType": "write", "data": {"path": "/31024/11/1", "type": "String",'
        b' "value": "write_an_example_value"}}'
    )
    assert single.values == {P("/31024/11/1"): "write_an_example_value"}
    many = decode_command(
        json.dumps(
            {
                "reqID": 3,
                "msgType": "write",
                "data": {
                    "basePath": "/31024/11/",
                    "content": [
                        {"path": "1", "type": "String", "value": "write_the_1st_value"},
                        {"path": "2", "type": "String", "value": "write_the_2nd_value"},
                    ],
                },
            }
        )
    )
    assert many.path == P("/31024/11") and many.values == {
        P("/31024/11/1"): "write_the_1st_value",
        P("/31024/11/2"): "write_the_2nd_value",
    }


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("Integer", 42, 42),
        ("Integer", "42", 42),
        ("Float", 21.5, 21.5),
        ("Boolean", True, True),
        ("Boolean", "false", False),
        ("String", "x", "x"),
        ("Opaque", "AQI=", b"\x01\x02"),
        ("Objlnk", "3:0", ObjLnk(3, 0)),
        ("Time", 1700000000, datetime.fromtimestamp(1700000000, UTC)),
    ],
)
def test_values_are_typed_by_type(type_name: str, value: object, expected: object) -> None:
    command = decode_command(
        json.dumps({"reqID": 9, "msgType": "write", "data": {"path": "/1/0/1", "type": type_name, "value": value}})
    )
    assert command.values[P("/1/0/1")] == expected


def test_other_commands() -> None:
    attr = decode_command(
        b'{"reqID": 4, "msgType": "write-attr", "data": {"path": "/3/0/9", "pmin": 5, "pmax": "60",'
        b' "gt": 1.5, "st": ""}}'
    )
    assert attr.attributes == {"pmin": 5.0, "pmax": 60.0, "gt": 1.5, "st": None}
    execute = decode_command(b'{"reqID": 5, "msgType": "execute", "data": {"path": "/3/0/4", "args": "0=\'now\'"}}')
    assert execute.path == P("/3/0/4") and execute.args == "0='now'"
    create = decode_command(
        b'{"reqID": 6, "msgType": "create", "data": {"basePath": "/3303", "content": ['
        b'{"path": "0/5700", "type": "Float", "value": 18.5}]}}'
    )
    assert create.path == P("/3303") and create.values == {P("/3303/0/5700"): 18.5}
    delete = decode_command(b'{"reqID": 7, "msgType": "delete", "data": {"path": "3303/0"}}')
    assert delete.path == P("/3303/0")
    observe = decode_command(b'{"reqID": 8, "msgType": "observe", "data": {"path": "/3303/0/5700"}}')
    cancel = decode_command(b'{"reqID": 8, "msgType": "cancel-observe", "data": {"path": "/3303/0/5700"}}')
    assert observe.path == cancel.path == P("/3303/0/5700")


def test_notify_message() -> None:
    message = notify_message(8, 3, "2.05", "/3303/0/5700", {P("/3303/0/5700"): 22.5})
    assert message == {
        "reqID": 8,
        "msgType": "notify",
        "seqNum": 3,
        "data": {
            "code": "2.05",
            "codeMsg": "content",
            "reqPath": "/3303/0/5700",
            "content": [{"path": "/3303/0/5700", "value": 22.5}],
        },
    }


async def test_the_bridge_numbers_notifications_with_the_devices_observe_numbers(server) -> None:
    """seqNum is the Observe option of the CoAP notification (the manual's {?ObserveSeqNum}),
    here from a device that numbers its notifications far from any reqID."""
    bridge = EmqxBridge(EmqxSettings(), server.endpoint)
    published: list = []
    server.events.subscribe(lambda event: published.extend(bridge.messages_for(event)))
    device = RawDevice(server.port, "raw-emqx")
    await device.start()
    try:
        await device.register()
        endpoint, command = bridge.parse(
            "lwm2m/raw-emqx/dn/cmd", b'{"reqID": 77, "msgType": "observe", "data": {"path": "/3303/0/5700"}}'
        )
        answering = asyncio.create_task(bridge.execute(endpoint, command))
        request = await device.next_request()
        device.answer(request, b"20.5", observe=5000)
        topic, response, _qos = await answering
        assert topic == "lwm2m/raw-emqx/up/resp" and response["reqID"] == 77 and response["data"]["code"] == "2.05"
        for sequence, value in [(5001, b"21.0"), (5009, b"21.5"), (70000, b"22.0")]:
            device.notify(request, sequence, value)
        async with asyncio.timeout(5):
            while len([m for m in published if m[0].endswith("/up/notify")]) < 3:
                await asyncio.sleep(0.01)
        notes = [payload for topic, payload, _qos in published if topic == "lwm2m/raw-emqx/up/notify"]
        assert [(n["reqID"], n["seqNum"]) for n in notes] == [(77, 5001), (77, 5009), (77, 70000)]
        assert [n["data"]["content"] for n in notes] == [
            [{"path": "/3303/0/5700", "value": v}] for v in (21.0, 21.5, 22.0)
        ]
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("payload", "req_id", "text"),
    [
        (b"not json", None, "not JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"reqID": 1, "msgType": "reboot", "data": {}}', 1, "unknown msgType"),
        (b'{"reqID": 2, "data": {"path": "/3/0"}}', 2, "unknown msgType"),
        (b'{"reqID": 3, "msgType": "read"}', 3, "data must be"),
        (b'{"reqID": 4, "msgType": "read", "data": {}}', 4, "path"),
        (b'{"reqID": 5, "msgType": "read", "data": {"path": "/3/x"}}', 5, "bad path"),
        (b'{"reqID": 6, "msgType": "write", "data": {"path": "/3/0/1", "type": "Weird", "value": 1}}', 6, "type"),
        (
            b'{"reqID": 7, "msgType": "write", "data": {"path": "/3/0/1", "type": "Integer", "value": "x"}}',
            7,
            "Integer",
        ),
        (b'{"reqID": 8, "msgType": "write", "data": {"path": "/3/0", "type": "Integer", "value": 1}}', 8, "resource"),
        (b'{"reqID": 9, "msgType": "write", "data": {"basePath": "/3/0", "content": []}}', 9, "content"),
        (b'{"reqID": 10, "msgType": "write-attr", "data": {"path": "/3/0/9"}}', 10, "at least one"),
        (b'{"reqID": 11, "msgType": "write-attr", "data": {"path": "/3/0/9", "pmin": "soon"}}', 11, "number"),
        (b'{"reqID": 12, "msgType": "execute", "data": {"path": "/3/0"}}', 12, "resource path"),
        (b'{"reqID": 13, "msgType": "delete", "data": {"path": "/3"}}', 13, "instance"),
        (b'{"reqID": 14, "msgType": "create", "data": {"path": "/3303"}}', 14, "basePath"),
        (
            b'{"reqID": 15, "msgType": "create", "data": {"basePath": "/3303/0", "content": [{"path": "1", "type": "Float", "value": 1}]}}',
            15,
            "ObjectID",
        ),
        (
            b'{"reqID": 16, "msgType": "write", "data": {"basePath": "/3/0", "content": [{"type": "String"}]}}',
            16,
            "path",
        ),
    ],
)
def test_bad_commands(payload: bytes, req_id: object, text: str) -> None:
    with pytest.raises(EmqxError) as err:
        decode_command(payload)
    assert err.value.req_id == req_id and err.value.code == "4.00" and text in str(err.value)
    response = ResponseMessage.error(err.value).encode()
    assert response["reqID"] == req_id and response["data"]["code"] == "4.00"
    assert response["data"]["codeMsg"] == "bad_request" and text in response["data"]["content"]


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["read", "write", "create", "/3/0/1", "String", "Objlnk", "basePath", "1"]),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["reqID", "msgType", "data", "path", "basePath", "content", "type", "value", "args", "pmin"]
            ),
            kids,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(JSONISH)
def test_random_commands_only_raise_emqx_error(doc: object) -> None:
    with contextlib.suppress(EmqxError):
        decode_command(json.dumps(doc))


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_emqx_error(data: bytes) -> None:
    with contextlib.suppress(EmqxError):
        decode_command(data)
