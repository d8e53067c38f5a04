"""The operations on a device behind an EMQX gateway (emqx/device.py) as their listeners and
callers see them: the response event of each, the commands published, and the messages of what
fails. The gateway's side is played by the test, answering each command it publishes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.emqx import EmqxGateway, EmqxSettings, GatewayConfig
from custom_components.lwm2m.lwm2m.errors import CodecError, OperationError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse
CODES = {"create": "2.01", "delete": "2.02", "read": "2.05", "observe": "2.05", "discover": "2.05"}


class Gateway:
    """EMQX's side: answers every command the consumer publishes, as told."""

    def __init__(self) -> None:
        self.settings = EmqxSettings()
        self.gateway = EmqxGateway(self.settings, ObjectModel(), self._publish, GatewayConfig(request_timeout=2))
        self.commands: list[dict[str, Any]] = []
        self.events: list[Event] = []
        self.gateway.events.subscribe(self.events.append)
        self.failure: tuple[str, Any] | None = None  # (code, content) of the next answers

    async def _publish(self, topic: str, payload: str, qos: int) -> None:
        command = json.loads(payload)
        self.commands.append(command)
        asyncio.get_running_loop().call_soon(self._answer, topic.split("/")[1], command)

    def _answer(self, endpoint: str, command: dict[str, Any]) -> None:
        msg_type = command["msgType"]
        data: dict[str, Any] = {"code": CODES.get(msg_type, "2.04"), "codeMsg": "ok"}
        if msg_type in ("read", "observe"):
            path = command["data"]["path"]
            data["content"] = [{"path": path if path.count("/") == 3 else "/3/0/9", "value": 80}]
        if msg_type == "discover":
            data["content"] = ["</3/0>;pmin=10", "</3/0/9>"]
        if self.failure is not None:
            data = {"code": self.failure[0], "codeMsg": "x"}
            if self.failure[1] is not None:
                data["content"] = self.failure[1]
        message = {"reqID": command["reqID"], "msgType": msg_type, "data": data}
        self.gateway.handle(self.settings.topic(endpoint, self.settings.response), json.dumps(message))

    def register(self, endpoint: str = "dev") -> None:
        data = {"ep": endpoint, "lt": 300, "lwm2m": "1.1", "b": "U", "objectList": ["/3/0", "/3303/0", "/3303/1"]}
        self.gateway.handle(
            self.settings.topic(endpoint, self.settings.register), json.dumps({"msgType": "register", "data": data})
        )

    def responses(self) -> list[tuple[Any, ...]]:
        out = []
        for e in self.events:
            if e.type is EventType.RESPONSE:
                assert e.response is not None
                out.append((e.response.operation, str(e.path), e.code))
        return out


async def test_every_operation_emits_its_response() -> None:
    far = Gateway()
    far.register()
    ep = far.gateway.endpoint("dev")
    assert (await ep.read("/3/0/9")).values == {P("/3/0/9"): 80}
    discovered = await ep.discover("/3/0")
    assert discovered.attributes == {P("/3/0"): {"pmin": 10}, P("/3/0/9"): {}}
    await ep.write("/3/0/14", "+01:00")
    await ep.write_attributes("/3/0/9", {"pmin": 5})
    await ep.execute("/3/0/4")
    created = await ep.create("/3303", {5700: 1.0})
    assert created.location == P("/3303/2")  # the first instance id the device did not announce
    await ep.delete("/3303/2")
    await ep.read_composite(["/3/0/9"])
    await ep.write_composite({"/3/0/14": "Z", "/3303/0/5701": "K"})
    await ep.observe("/3/0/9")
    assert [o["paths"] for o in ep.observations()] == [["/3/0/9"]]
    await ep.cancel_observe("/3/0/9")
    assert ep.observations() == []
    assert far.responses() == [
        ("read", "/3/0/9", "2.05"),
        ("discover", "/3/0", "2.05"),
        ("write", "/3/0/14", "2.04"),
        ("write-attributes", "/3/0/9", "2.04"),
        ("execute", "/3/0/4", "2.04"),
        ("create", "/3303", "2.01"),
        ("delete", "/3303/2", "2.02"),
        ("read", "/3/0/9", "2.05"),
        ("read-composite", "/", "2.05"),
        ("write-composite", "/", "2.04"),
        ("observe", "/3/0/9", "2.05"),
        ("cancel-observe", "/3/0/9", "2.04"),
    ]
    assert [c["msgType"] for c in far.commands] == [
        "read",
        "discover",
        "write",
        "write-attr",
        "execute",
        "create",
        "delete",
        "read",
        "write",  # one write per object instance
        "write",
        "observe",
        "cancel-observe",
    ]
    assert far.gateway.queued("dev") == 0


async def test_an_error_answer_is_explained() -> None:
    far = Gateway()
    far.register()
    ep = far.gateway.endpoint("dev")
    far.failure = ("4.04", None)
    with pytest.raises(OperationError) as err:
        await ep.delete("/3303/0")
    assert (str(err.value), err.value.code) == ("dev answered delete /3303/0 with 4.04 (not found)", "4.04")
    far.failure = ("4.00", "the gateway's own words")
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0/9")
    assert (str(err.value), err.value.code) == ("the gateway's own words", "4.00")
    assert far.responses() == [("delete", "/3303/0", "4.04"), ("read", "/3/0/9", "4.00")]
    reg = far.gateway.registrations.by_endpoint("dev")
    assert reg is not None and reg.stats.errors == 2


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda ep: ep.execute("/3/0"), "Execute needs a resource path, not /3/0"),
        (lambda ep: ep.create("/3303/0", {}), "Create needs an object path, not /3303/0"),
        (lambda ep: ep.write_composite({"/3/0": 1}), "Write-Composite needs resource paths, not /3/0"),
        (lambda ep: ep.cancel_observe([P("/3/0/9"), P("/3/0/10")]), "EMQX's gateway cancels one path at a time"),
    ],
)
async def test_refused_before_publishing(operation: Any, message: str) -> None:
    far = Gateway()
    far.register()
    with pytest.raises(CodecError) as err:
        await operation(far.gateway.endpoint("dev"))
    assert str(err.value) == message
    assert far.commands == []
