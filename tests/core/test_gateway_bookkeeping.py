"""What the consumer of an EMQX gateway keeps track of: running, queued commands, who is awake,
restored devices, observations of a device that registers again, answers that match nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.emqx import EmqxGateway, EmqxSettings, GatewayConfig
from custom_components.lwm2m.lwm2m.errors import DeviceTimeout
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.registration import Registration


class Far:
    """A gateway that records each command; the test answers them (or not) itself."""

    def __init__(self) -> None:
        self.settings = EmqxSettings()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gateway = EmqxGateway(self.settings, ObjectModel(), self._publish, GatewayConfig(request_timeout=2))
        self.events: list[Event] = []
        self.gateway.events.subscribe(self.events.append)
        self.auto_answer = True

    async def _publish(self, topic: str, payload: str, qos: int) -> None:
        command = json.loads(payload)
        endpoint = topic.split("/")[1]
        self.sent.append((endpoint, command))
        if self.auto_answer:
            asyncio.get_running_loop().call_soon(self.answer, endpoint, command["reqID"], command["msgType"])

    def answer(self, endpoint: str, req_id: Any, msg_type: str, code: str = "2.05") -> None:
        data = {"code": code, "codeMsg": "content"}
        if msg_type in ("read", "observe"):
            data["content"] = [{"path": "/3303/0/5700", "value": 21.5}]
        message = {"reqID": req_id, "msgType": msg_type, "data": data}
        self.gateway.handle(self.settings.topic(endpoint, self.settings.response), json.dumps(message))

    def up(self, endpoint: str, msg_type: str, data: dict[str, Any]) -> None:
        translator = self.settings.register if msg_type == "register" else self.settings.update
        self.gateway.handle(self.settings.topic(endpoint, translator), json.dumps({"msgType": msg_type, "data": data}))


def _register(far: Far, endpoint: str, binding: str = "U") -> None:
    far.up(endpoint, "register", {"ep": endpoint, "lt": 300, "lwm2m": "1.1", "b": binding, "objectList": ["/3303/0"]})


async def test_a_gateway_runs_between_start_and_stop() -> None:
    far = Far()
    assert not far.gateway.running
    await far.gateway.start()
    assert far.gateway.running
    await far.gateway.stop()
    assert not far.gateway.running


async def test_queued_counts_the_commands_still_waiting_for_their_answer() -> None:
    far = Far()
    far.auto_answer = False
    _register(far, "dev")
    _register(far, "other")
    endpoint = far.gateway.endpoint("dev")
    first = asyncio.ensure_future(endpoint.read("/3303/0/5700"))
    second = asyncio.ensure_future(endpoint.read("/3303/0/5700"))
    while len(far.sent) < 2:
        await asyncio.sleep(0)
    assert far.gateway.queued("dev") == 2 and far.gateway.queued("other") == 0
    assert far.gateway.diagnostics()["pending_commands"] == 2
    far.answer("dev", far.sent[0][1]["reqID"], "read")
    assert (await first).value("/3303/0/5700") == 21.5
    assert far.gateway.queued("dev") == 1
    far.answer("dev", far.sent[1][1]["reqID"], "read")
    await second
    assert far.gateway.queued("dev") == 0 and far.gateway.diagnostics()["pending_commands"] == 0


async def test_an_answer_whose_req_id_is_not_an_integer_answers_nothing() -> None:
    """reqID 5.0 equals 5 in Python; it must still not answer command 5 (EMQX's reqID is an integer)."""
    far = Far()
    far.auto_answer = False
    _register(far, "dev")
    task = asyncio.ensure_future(far.gateway.endpoint("dev").read("/3303/0/5700", timeout=0.2))
    while not far.sent:
        await asyncio.sleep(0)
    far.answer("dev", float(far.sent[0][1]["reqID"]), "read")
    with pytest.raises(DeviceTimeout):
        await task
    assert far.gateway.unmatched_responses == 1


def test_a_device_not_in_queue_mode_is_always_awake() -> None:
    far = Far()
    _register(far, "always", "U")
    _register(far, "sleepy", "UQ")
    for name in ("always", "sleepy"):
        reg = far.gateway.registrations.by_endpoint(name)
        reg.updated_at = reg.stats.last_seen = 0.0  # last heard of in 1970
    assert far.gateway.is_awake("always")
    assert not far.gateway.is_awake("sleepy")
    assert far.gateway.is_awake("unknown")


def test_restored_devices_are_reached_through_the_gateway() -> None:
    """A store written by the UDP server (transport udp) restored into the gateway mode."""
    saved = Registration(reg_id="r1", endpoint="dev", lifetime=300, lwm2m_version="1.1", binding="U", queue_mode=False)
    far = Far()
    (restored,) = far.gateway.restore([saved.to_dict()])
    assert restored.transport == "emqx"
    assert far.gateway.registrations.by_endpoint("dev").info().transport == "emqx"


def test_an_update_from_a_device_registered_before_we_listened_introduces_it() -> None:
    far = Far()
    far.up("late", "update", {"ep": "late", "lt": 120, "lwm2m": "1.1", "b": "U", "objectList": ["/3/0"]})
    reg = far.gateway.registrations.by_endpoint("late")
    assert reg is not None and reg.endpoint == "late" and reg.lifetime == 120
    (event,) = far.events
    assert event.type is EventType.REGISTERED and event.endpoint == "late"
    assert event.registration.endpoint == "late" and not event.registration.objects_changed


async def test_registering_again_drops_only_that_devices_observations() -> None:
    far = Far()
    _register(far, "dev")
    _register(far, "other")
    await far.gateway.endpoint("dev").observe("/3303/0/5700")
    await far.gateway.endpoint("other").observe("/3303/0/5700")
    assert far.gateway.diagnostics()["observations"] == 2
    _register(far, "dev")
    assert far.gateway.endpoint("dev").observations() == []
    assert [o["paths"] for o in far.gateway.endpoint("other").observations()] == [["/3303/0/5700"]]
