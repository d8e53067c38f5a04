"""The EMQX bridge (emqx/bridge.py): each command reaches the device operation it names, with
its arguments, and comes back as EMQX's response; core errors become EMQX's codes and texts;
events become the up messages EMQX publishes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.api import Response
from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects
from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxSettings, Translator
from custom_components.lwm2m.lwm2m.emqx.codec import Command
from custom_components.lwm2m.lwm2m.errors import (
    CodecError,
    DeviceTimeout,
    LwM2MError,
    ModelError,
    NotRegistered,
    OperationError,
    QueueFull,
)
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration

P = Path.parse


class Device:
    """Device operations that record each call and answer with a prepared response or error."""

    def __init__(self, response: Response | None = None, error: LwM2MError | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.response = response or Response(code="2.04")
        self.error = error

    def _answer(self, *call: Any) -> Response:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        return self.response

    async def read(self, path: Any) -> Response:
        return self._answer("read", path)

    async def discover(self, path: Any) -> Response:
        return self._answer("discover", path)

    async def write(self, path: Any, value: Any, *, replace: bool = True) -> Response:
        return self._answer("write", path, value, replace)

    async def write_composite(self, values: Any) -> Response:
        return self._answer("write-composite", values)

    async def write_attributes(self, path: Any, attributes: Any) -> Response:
        return self._answer("write-attr", path, attributes)

    async def execute(self, path: Any, args: Any = None) -> Response:
        return self._answer("execute", path, args)

    async def create(self, path: Any, values: Any, *, instance_id: Any = None) -> Response:
        return self._answer("create", path, values, instance_id)

    async def delete(self, path: Any) -> Response:
        return self._answer("delete", path)

    async def observe(self, path: Any) -> Response:
        return self._answer("observe", path)

    async def cancel_observe(self, path: Any) -> Response:
        return self._answer("cancel-observe", path)


def _bridge(device: Device, settings: EmqxSettings | None = None) -> EmqxBridge:
    def endpoint_for(name: str) -> Any:
        if name != "dev":
            raise NotRegistered(f"{name} is not registered")
        return device

    return EmqxBridge(settings or EmqxSettings(), endpoint_for)


def _command(bridge: EmqxBridge, doc: dict[str, Any], endpoint: str = "dev") -> Command:
    parsed = bridge.parse(f"lwm2m/{endpoint}/dn/cmd", json.dumps(doc))
    assert parsed is not None
    name, command = parsed
    assert name == endpoint and isinstance(command, Command)
    return command


async def _run(bridge: EmqxBridge, doc: dict[str, Any], endpoint: str = "dev") -> tuple[str, dict[str, Any], int]:
    return await bridge.execute(endpoint, _command(bridge, doc, endpoint))


def _content(values: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    return [{"path": p, "type": t, "value": v} for p, t, v in values]


async def test_a_single_write() -> None:
    device = Device()
    bridge = _bridge(device)
    doc = {"reqID": 3, "msgType": "write", "data": {"path": "/3/0/14", "type": "String", "value": "+02:00"}}
    topic, response, qos = await _run(bridge, doc)
    assert device.calls == [("write", P("/3/0/14"), "+02:00", True)]
    assert (topic, qos) == ("lwm2m/dev/up/resp", 0)
    assert response == {
        "reqID": 3,
        "msgType": "write",
        "data": {"reqPath": "/3/0/14", "code": "2.04", "codeMsg": "changed"},
    }


async def test_a_write_of_resources_of_one_instance_is_a_partial_update() -> None:
    device = Device()
    doc = {
        "reqID": 4,
        "msgType": "write",
        "data": {"basePath": "/3311/0/", "content": _content([("5850", "Boolean", True), ("5851", "Integer", 80)])},
    }
    await _run(_bridge(device), doc)
    assert device.calls == [("write", P("/3311/0"), {5850: True, 5851: 80}, False)]


async def test_a_write_of_resources_elsewhere_is_a_write_composite() -> None:
    device = Device()
    doc = {
        "reqID": 5,
        "msgType": "write",
        "data": {"basePath": "/", "content": _content([("/3311/0/5851", "Integer", 10), ("/1/0/1", "Integer", 120)])},
    }
    await _run(_bridge(device), doc)
    assert device.calls == [("write-composite", {P("/3311/0/5851"): 10, P("/1/0/1"): 120})]


async def test_a_write_below_an_instance_with_resource_instances_is_a_write_composite() -> None:
    device = Device()
    doc = {
        "reqID": 6,
        "msgType": "write",
        "data": {"basePath": "/3/0/", "content": _content([("14", "String", "Z"), ("7/0", "Integer", 5)])},
    }
    await _run(_bridge(device), doc)
    assert device.calls == [("write-composite", {P("/3/0/14"): "Z", P("/3/0/7/0"): 5})]


async def test_the_other_commands_reach_their_operations() -> None:
    device = Device()
    bridge = _bridge(device)
    commands = [
        {"reqID": 10, "msgType": "write-attr", "data": {"path": "/3/0/9", "pmin": 5, "gt": 1.5}},
        {"reqID": 11, "msgType": "execute", "data": {"path": "/3/0/4", "args": "0='now'"}},
        {
            "reqID": 12,
            "msgType": "create",
            "data": {"basePath": "/3303", "content": _content([("2/5700", "Float", 18.5), ("2/5701", "String", "C")])},
        },
        {"reqID": 13, "msgType": "delete", "data": {"path": "/3303/2"}},
        {"reqID": 14, "msgType": "observe", "data": {"path": "/3303/0/5700"}},
        {"reqID": 15, "msgType": "cancel-observe", "data": {"path": "/3303/0/5700"}},
    ]
    for doc in commands:
        await _run(bridge, doc)
    assert device.calls == [
        ("write-attr", P("/3/0/9"), {"pmin": 5.0, "gt": 1.5}),
        ("execute", P("/3/0/4"), "0='now'"),
        ("create", P("/3303"), {5700: 18.5, 5701: "C"}, 2),
        ("delete", P("/3303/2")),
        ("observe", P("/3303/0/5700")),
        ("cancel-observe", P("/3303/0/5700")),
    ]


async def test_read_and_discover_answer_with_content() -> None:
    values = {P("/3/0/1"): "Model", P("/3/0/0"): "ACME"}
    device = Device(Response(code="2.05", values=values, attributes={P("/3/0"): {"pmin": 10}, P("/3/0/1"): {}}))
    bridge = _bridge(device)
    _topic, read, _qos = await _run(bridge, {"reqID": 1, "msgType": "read", "data": {"path": "/3/0"}})
    assert read["data"] == {
        "reqPath": "/3/0",
        "code": "2.05",
        "codeMsg": "content",
        "content": [{"path": "/3/0/0", "value": "ACME"}, {"path": "/3/0/1", "value": "Model"}],
    }
    _topic, discover, _qos = await _run(bridge, {"reqID": 2, "msgType": "discover", "data": {"path": "/3/0"}})
    assert discover["data"]["content"] == ["</3/0>;pmin=10", "</3/0/1>"]
    assert device.calls == [("read", P("/3/0")), ("discover", P("/3/0"))]


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (NotRegistered("whatever the core says"), "4.04", "dev is not registered"),
        (DeviceTimeout("dev did not answer read /3/0/0 in time"), "5.04", "dev did not answer read /3/0/0 in time"),
        (DeviceTimeout("queued too long", "4.08"), "5.04", "queued too long"),
        (
            OperationError("dev answered 4.05 Method Not Allowed", "4.05"),
            "4.05",
            "dev answered 4.05 Method Not Allowed",
        ),
        (OperationError("no answer"), "5.00", "no answer"),
        (
            QueueFull("dev is asleep and already has 4 queued requests"),
            "5.00",
            "dev is asleep and already has 4 queued requests",
        ),
        (CodecError("/3/0/0: cannot encode list in TLV"), "4.00", "/3/0/0: cannot encode list in TLV"),
        (ModelError("bad XML"), "5.00", "bad XML"),
    ],
)
async def test_core_errors_become_emqx_codes(error: LwM2MError, code: str, text: str) -> None:
    bridge = _bridge(Device(error=error))
    topic, response, _qos = await _run(bridge, {"reqID": 21, "msgType": "read", "data": {"path": "/3/0/0"}})
    assert topic == "lwm2m/dev/up/resp"
    assert response["reqID"] == 21 and response["msgType"] == "read"
    assert response["data"]["reqPath"] == "/3/0/0"
    assert (response["data"]["code"], response["data"]["content"]) == (code, text)


async def test_a_command_for_an_unknown_endpoint_is_answered_4_04() -> None:
    bridge = _bridge(Device())
    _topic, response, _qos = await _run(bridge, {"reqID": 22, "msgType": "read", "data": {"path": "/3/0/0"}}, "ghost")
    assert (response["data"]["code"], response["data"]["content"]) == ("4.04", "ghost is not registered")


def test_a_bad_command_is_answered_at_once_and_other_topics_are_ignored() -> None:
    bridge = _bridge(Device(), EmqxSettings(response=Translator("up/r", 1)))
    parsed = bridge.parse("lwm2m/dev/dn/cmd", b'{"reqID": 9, "msgType": "reboot", "data": {}}')
    assert parsed is not None
    endpoint, (topic, response, qos) = parsed  # type: ignore[misc]
    assert (endpoint, topic, qos) == ("dev", "lwm2m/dev/up/r", 1)
    assert response["reqID"] == 9 and response["data"]["code"] == "4.00"
    assert bridge.parse("lwm2m/dev/up/resp", b"{}") is None


# -- events up -------------------------------------------------------------------------------------


def _info(**kwargs: Any) -> Any:
    reg = Registration(reg_id="r", endpoint="dev", lifetime=60, objects=RegisteredObjects(objects={3: None}))
    return reg.info(**kwargs)


def test_registrations_and_updates_are_published() -> None:
    settings = EmqxSettings(register=Translator("up/reg", 1), update=Translator("up/upd", 2))
    bridge = _bridge(Device(), settings)
    (registered,) = bridge.messages_for(Event(type=EventType.REGISTERED, endpoint="dev", details=_info()))
    assert registered[0] == "lwm2m/dev/up/reg" and registered[2] == 1
    assert registered[1]["msgType"] == "register" and registered[1]["data"]["ep"] == "dev"
    unchanged = Event(type=EventType.UPDATED, endpoint="dev", details=_info())
    assert list(bridge.messages_for(unchanged)) == []
    changed = Event(type=EventType.UPDATED, endpoint="dev", details=_info(objects_changed=True))
    (update,) = bridge.messages_for(changed)
    assert update[0] == "lwm2m/dev/up/upd" and update[2] == 2 and update[1]["msgType"] == "update"
    always = _bridge(Device(), EmqxSettings(update_msg_publish_condition="always"))
    assert len(list(always.messages_for(unchanged))) == 1
    # events without a registration, or of other kinds, publish nothing
    assert list(bridge.messages_for(Event(type=EventType.REGISTERED, endpoint="dev"))) == []
    assert list(bridge.messages_for(Event(type=EventType.SEND, endpoint="dev", values={P("/3/0/9"): 1}))) == []


async def test_notifications_carry_the_req_id_of_their_observe_until_the_device_leaves() -> None:
    bridge = _bridge(Device(Response(code="2.05", values={P("/3/0/9"): 80})))
    await _run(bridge, {"reqID": 31, "msgType": "observe", "data": {"path": "/3/0/9"}})
    note = Event(type=EventType.NOTIFICATION, endpoint="dev", path=P("/3/0/9"), values={P("/3/0/9"): 70}, sequence=4)
    ((topic, message, qos),) = bridge.messages_for(note)
    assert (topic, qos) == ("lwm2m/dev/up/notify", 0)
    assert message == {
        "reqID": 31,
        "msgType": "notify",
        "seqNum": 4,
        "data": {
            "code": "2.05",
            "codeMsg": "content",
            "reqPath": "/3/0/9",
            "content": [{"path": "/3/0/9", "value": 70}],
        },
    }
    # an observation nobody asked for over MQTT (auto-observe) is numbered 0
    other = Event(type=EventType.NOTIFICATION, endpoint="dev", path=P("/3/0/7"), values={P("/3/0/7/0"): 1}, code="2.03")
    ((_t, unasked, _q),) = bridge.messages_for(other)
    assert unasked["reqID"] == 0 and unasked["data"]["code"] == "2.03"
    # after the device deregistered, its observations' numbers are forgotten
    assert list(bridge.messages_for(Event(type=EventType.DEREGISTERED, endpoint="dev"))) == []
    ((_t, after, _q),) = bridge.messages_for(note)
    assert after["reqID"] == 0


async def test_cancel_observe_forgets_the_req_id_of_that_path_only() -> None:
    bridge = _bridge(Device(Response(code="2.05")))
    await _run(bridge, {"reqID": 41, "msgType": "observe", "data": {"path": "/3/0/9"}})
    await _run(bridge, {"reqID": 42, "msgType": "observe", "data": {"path": "/3/0/10"}})
    await _run(bridge, {"reqID": 43, "msgType": "cancel-observe", "data": {"path": "/3/0/9"}})

    def req_id(path: str) -> int:
        event = Event(type=EventType.NOTIFICATION, endpoint="dev", path=P(path), values={P(path): 1})
        ((_t, message, _q),) = bridge.messages_for(event)
        return int(message["reqID"])

    assert (req_id("/3/0/9"), req_id("/3/0/10")) == (0, 42)
    assert list(bridge.messages_for(Event(type=EventType.EXPIRED, endpoint="other"))) == []
    assert req_id("/3/0/10") == 42  # another device's expiry leaves this one's alone
    assert list(bridge.messages_for(Event(type=EventType.EXPIRED, endpoint="dev"))) == []
    assert req_id("/3/0/10") == 0
