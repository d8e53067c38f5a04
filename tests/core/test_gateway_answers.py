"""What the consumer makes of a gateway's answers, and what our EMQX bridge answers a command.

The consumer side (GatewayEndpoint) talks to a scripted gateway here: each command gets the
answer the test wrote for it, so error codes, unreadable content and refused commands can be
produced at will. The bridge side (EmqxBridge) works on a real server and simulated devices.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxGateway, EmqxSettings, GatewayConfig
from custom_components.lwm2m.lwm2m.errors import CodecError, DeviceTimeout, OperationError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer, ServerConfig
from tests.sim import SimClient

P = Path.parse
Answer = Callable[[dict[str, Any]], dict[str, Any] | None]  # command -> the data of its response, or none


class ScriptedGateway:
    """An EMQX gateway on the far side of MQTT that answers each command as the test says."""

    def __init__(self) -> None:
        self.settings = EmqxSettings()
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (endpoint, command)
        self.answer: Answer = lambda command: {"code": "2.05", "codeMsg": "content"}
        self.gateway = EmqxGateway(self.settings, ObjectModel(), self._publish, GatewayConfig(request_timeout=0.5))
        self.events: list[Event] = []
        self.gateway.events.subscribe(self.events.append)

    async def _publish(self, topic: str, payload: str, qos: int) -> None:
        endpoint = topic.split("/")[1]
        assert topic == self.settings.command_topic(endpoint)
        command = json.loads(payload)
        self.sent.append((endpoint, command))
        data = self.answer(command)
        if data is not None:
            response = {"reqID": command["reqID"], "msgType": command["msgType"], "data": data}
            asyncio.get_running_loop().call_soon(
                self.gateway.handle, self.settings.topic(endpoint, self.settings.response), json.dumps(response)
            )

    def register(self, endpoint: str, objects: list[str]) -> None:
        message = {"msgType": "register", "data": {"ep": endpoint, "lt": 60, "lwm2m": "1.1", "objectList": objects}}
        self.gateway.handle(self.settings.topic(endpoint, self.settings.register), json.dumps(message))
        assert self.gateway.registrations.by_endpoint(endpoint) is not None

    def responses(self) -> list[tuple[str, str | None]]:
        return [(str(e.path), e.code) for e in self.events if e.type is EventType.RESPONSE]


@pytest.fixture
def far() -> ScriptedGateway:
    gateway = ScriptedGateway()
    gateway.register("far", ["/1/0", "/3/0", "/3303/0", "/3303/1"])
    return gateway


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ({"code": "4.04", "codeMsg": "not_found"}, "4.04", "far answered read /3/0/0 with 4.04 (not found)"),
        ({"code": "4.03", "codeMsg": "forbidden"}, "4.03", "far answered read /3/0/0 with 4.03 (forbidden)"),
        # a code this side has no words for: the gateway's codeMsg, or just "error"
        ({"code": "4.99", "codeMsg": "odd_one"}, "4.99", "far answered read /3/0/0 with 4.99 (odd_one)"),
        ({"code": "4.99"}, "4.99", "far answered read /3/0/0 with 4.99 (error)"),
        ({"codeMsg": "whatever"}, "5.00", "far answered read /3/0/0 with 5.00 (internal server error)"),
        # the gateway's own explanation wins
        ({"code": "5.03", "content": "far is asleep"}, "5.03", "far is asleep"),
    ],
)
async def test_error_answers_carry_the_code(
    far: ScriptedGateway, data: dict[str, Any], code: str, message: str
) -> None:
    far.answer = lambda command: data
    endpoint = far.gateway.endpoint("far")
    with pytest.raises(OperationError) as info:
        await endpoint.read("/3/0/0")
    assert type(info.value) is OperationError
    assert info.value.code == code and str(info.value) == message
    assert endpoint.registration.stats.errors == 1
    assert far.responses() == [("/3/0/0", code)]  # the failure is an event like any answer


@pytest.mark.parametrize(
    "content",
    [
        {"path": "/3/0/0", "value": "Acme"},  # not a list
        [{"path": "/3/0/0"}],  # no value
        [{"path": "/3/x", "value": 1}],  # no path
        [{"value": 1}],
    ],
)
async def test_an_unreadable_read_answer(far: ScriptedGateway, content: Any) -> None:
    far.answer = lambda command: {"code": "2.05", "content": content}
    endpoint = far.gateway.endpoint("far")
    with pytest.raises(OperationError, match=r"the gateway sent an unreadable answer for /3/0/0") as info:
        await endpoint.read("/3/0/0")
    assert info.value.code == "2.05"  # what the gateway said, though nothing came of it
    with pytest.raises(OperationError, match="unreadable answer for /3303/0/5700"):
        await endpoint.observe("/3303/0/5700")


async def test_discover_answers(far: ScriptedGateway) -> None:
    far.answer = lambda command: {"code": "2.05", "content": ["</3303/0/5700>;pmin=5;gt=20", "</3303/0/5701>"]}
    endpoint = far.gateway.endpoint("far")
    response = await endpoint.discover("/3303/0")
    assert response.attributes == {P("/3303/0/5700"): {"pmin": 5, "gt": 20.0}, P("/3303/0/5701"): {}}
    far.answer = lambda command: {"code": "2.05", "content": "</3/0/9>"}  # one link as text
    assert list((await endpoint.discover("/3/0/9")).attributes) == [P("/3/0/9")]
    far.answer = lambda command: {"code": "2.05", "content": ["</3/x/9>"]}
    with pytest.raises(OperationError, match="far sent an unreadable Discover answer") as info:
        await endpoint.discover("/3/0")
    assert info.value.code == "2.05"


async def test_requests_the_gateway_cannot_carry_are_refused_unsent(far: ScriptedGateway) -> None:
    endpoint = far.gateway.endpoint("far")
    with pytest.raises(CodecError, match="Execute needs a resource path, not /3/0"):
        await endpoint.execute("/3/0")
    with pytest.raises(CodecError, match="Create needs an object path, not /3303/0"):
        await endpoint.create("/3303/0", {5700: 1.0})
    with pytest.raises(CodecError, match="Write-Composite needs resource paths, not /3311/0"):
        await endpoint.write_composite({"/3303/0/5700": 1.0, "/3311/0": True})
    with pytest.raises(CodecError, match=r"/3311/0: .* is not a value this resource can take"):
        await endpoint.write_composite({"/3311/0": {5850: True}})
    with pytest.raises(CodecError, match="cancels one path at a time"):
        await endpoint.cancel_observe(["/3303/0/5700", "/3/0/9"])
    assert far.sent == []


async def test_create_takes_the_first_free_instance(far: ScriptedGateway) -> None:
    far.answer = lambda command: {"code": "2.01", "codeMsg": "created"}
    response = await far.gateway.endpoint("far").create("/3303", {5700: 20.5, 5701: "Cel"})
    assert response.code == "2.01" and response.location == P("/3303/2")  # /3303/0 and /3303/1 exist
    (endpoint, command), *_ = far.sent
    assert endpoint == "far" and command["msgType"] == "create"
    assert command["data"] == {
        "basePath": "/3303",
        "content": [
            {"path": "2/5700", "type": "Float", "value": 20.5},
            {"path": "2/5701", "type": "String", "value": "Cel"},
        ],
    }


async def test_cancel_all_observations_of_one_device(far: ScriptedGateway) -> None:
    far.register("near", ["/3303/0"])
    content = [{"path": "/3303/0/5700", "value": 21.5}]
    far.answer = lambda command: {"code": "2.05", "content": content}
    mine, theirs = far.gateway.endpoint("far"), far.gateway.endpoint("near")
    await mine.observe("/3303/0/5700")
    await mine.observe("/3/0/9")
    await theirs.observe("/3303/0/5700")
    assert [o["paths"] for o in mine.observations()] == [["/3303/0/5700"], ["/3/0/9"]]

    def answer(command: dict[str, Any]) -> dict[str, Any]:
        if command["data"]["path"] == "/3/0/9":
            return {"code": "4.04", "codeMsg": "not_found"}  # the gateway forgot it already
        return {"code": "2.05", "codeMsg": "content"}

    far.answer = answer
    far.sent.clear()
    assert await mine.cancel_all_observations() == 2
    assert sorted((ep, c["msgType"], c["data"]["path"]) for ep, c in far.sent) == [
        ("far", "cancel-observe", "/3/0/9"),
        ("far", "cancel-observe", "/3303/0/5700"),
    ]
    assert mine.observations() == []
    assert [o["paths"] for o in theirs.observations()] == [["/3303/0/5700"]]
    assert await mine.cancel_all_observations() == 0


async def test_a_gateway_that_never_answers(far: ScriptedGateway) -> None:
    far.answer = lambda command: None
    endpoint = far.gateway.endpoint("far")
    with pytest.raises(DeviceTimeout, match="the gateway did not answer read /3/0/0 for far in time"):
        await endpoint.read("/3/0/0", timeout=0.05)
    assert far.gateway.stats.errors == 1 and endpoint.registration.stats.errors == 1


# -- our bridge answering commands as EMQX's gateway does -------------------------------------------


class Bridge:
    """EmqxBridge on a real server: commands in, the response and every up message recorded."""

    def __init__(self, server: LwM2MServer) -> None:
        self.settings = EmqxSettings()
        self.core = EmqxBridge(self.settings, server.endpoint)
        self.up: list[tuple[str, dict[str, Any], int]] = []
        server.events.subscribe(lambda event: self.up.extend(self.core.messages_for(event)))

    async def command(self, endpoint: str, command: dict[str, Any]) -> dict[str, Any]:
        parsed = self.core.parse(self.settings.command_topic(endpoint), json.dumps(command))
        assert parsed is not None
        name, cmd = parsed
        assert name == endpoint
        # as MqttBridge does: a command refused on sight is answered at once, the rest carried out
        topic, payload, _qos = cmd if isinstance(cmd, tuple) else await self.core.execute(endpoint, cmd)
        assert topic == f"lwm2m/{endpoint}/up/resp"
        return payload

    def notifications(self) -> list[dict[str, Any]]:
        return [payload for topic, payload, _ in self.up if topic.endswith("/up/notify")]


async def test_bridge_writes_across_paths_as_one_composite_write(server: LwM2MServer, make_client: Any) -> None:
    client = await make_client("dev1")
    bridge = Bridge(server)
    answer = await bridge.command(
        "dev1",
        {
            "reqID": 5,
            "msgType": "write",
            "data": {
                "basePath": "/3311",
                "content": [
                    {"path": "0/5850", "type": "Boolean", "value": True},
                    {"path": "0/5851", "type": "Integer", "value": 33},
                ],
            },
        },
    )
    assert answer["reqID"] == 5 and answer["data"]["code"] == "2.04" and answer["data"]["reqPath"] == "/3311"
    assert client.values[P("/3311/0/5850")] is True and client.values[P("/3311/0/5851")] == 33
    assert client.written[-1][0] == "composite"


async def test_bridge_refusals(server: LwM2MServer, make_client: Any) -> None:
    client = await make_client("dev1")
    bridge = Bridge(server)
    assert bridge.core.parse("lwm2m/dev1/up/resp", "{}") is None  # not a command topic
    two = await bridge.command(
        "dev1",
        {
            "reqID": 6,
            "msgType": "create",
            "data": {
                "basePath": "/3303",
                "content": [
                    {"path": "1/5700", "type": "Float", "value": 1.0},
                    {"path": "2/5700", "type": "Float", "value": 2.0},
                ],
            },
        },
    )
    assert two["data"]["code"] == "4.00" and two["data"]["codeMsg"] == "bad_request"
    assert two["data"]["content"] == "create content must be resources of one instance, such as 0/5700"
    assert client.created == []
    # typed as the command says, but not what the resource takes: the device is never asked
    wrong = await bridge.command(
        "dev1", {"reqID": 7, "msgType": "write", "data": {"path": "/3311/0/5851", "type": "String", "value": "lots"}}
    )
    assert wrong["data"]["code"] == "4.00" and "not a valid Integer" in wrong["data"]["content"]
    assert client.values[P("/3311/0/5851")] == 50 and client.written == []


async def test_bridge_answers_504_for_a_silent_device(udp: None) -> None:
    server = LwM2MServer(ServerConfig(host="::", port=0, request_timeout=0.3, expiry_check_interval=0.2))
    await server.start()
    silent = SimClient("silent", server.port, misbehave="silent")
    try:
        await silent.start()
        answer = await Bridge(server).command("silent", {"reqID": 8, "msgType": "read", "data": {"path": "/3/0/0"}})
        assert answer["data"]["code"] == "5.04" and answer["data"]["codeMsg"] == "gateway_timeout"
        assert answer["data"]["content"] == "silent did not answer read /3/0/0 within 0.3 s"
    finally:
        await silent.stop()
        await server.stop()


async def test_a_new_registration_does_not_inherit_the_old_observe_req_id(
    server: LwM2MServer, make_client: Any
) -> None:
    """Notifications carry the reqID of the observe command that asked for them; once the
    device deregistered, an observation made by someone else carries 0, not that old reqID."""
    client = await make_client("dev1")
    bridge = Bridge(server)
    observed = await bridge.command("dev1", {"reqID": 77, "msgType": "observe", "data": {"path": "/3303/0/5700"}})
    assert observed["data"]["content"] == [{"path": "/3303/0/5700", "value": 21.5}]
    client.set_value("/3303/0/5700", 22.0)
    await _until(bridge.notifications)
    assert bridge.notifications()[-1]["reqID"] == 77

    await client.deregister()
    await client.register()
    await _until(lambda: server.registrations.by_endpoint("dev1") is not None)
    await server.endpoint("dev1").observe("/3303/0/5700")  # not through the bridge (Home Assistant's own)
    bridge.up.clear()
    client.set_value("/3303/0/5700", 23.0)
    await _until(bridge.notifications)
    note = bridge.notifications()[-1]
    assert note["reqID"] == 0 and note["data"]["content"] == [{"path": "/3303/0/5700", "value": 23.0}]


async def _until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := condition()):
            await asyncio.sleep(0.01)
    return result
