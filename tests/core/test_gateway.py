"""The consumer mode (EmqxGateway) driving a real device through our own EMQX bridge.

The bridge side is the core's EmqxBridge over a real server and a simulated client on UDP;
between them sits an in-memory link in place of the broker (the Home Assistant tests put
Mosquitto there). Everything else is what the consumer does in production.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxGateway, EmqxSettings, GatewayConfig, Translator
from custom_components.lwm2m.lwm2m.emqx.codec import RegisterMessage
from custom_components.lwm2m.lwm2m.errors import DeviceTimeout, NotRegistered, OperationError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk
from tests.core.rawcoap import record_observe_numbers

P = Path.parse


class Link:
    """The broker's part, in memory: commands from the consumer reach the bridge, and
    everything the bridge publishes reaches the consumer."""

    def __init__(self, server: Any, settings: EmqxSettings | None = None, deliver: bool = True) -> None:
        self.settings = settings or EmqxSettings()
        self.bridge = EmqxBridge(self.settings, server.endpoint)
        self.gateway = EmqxGateway(self.settings, ObjectModel(), self.command, GatewayConfig(request_timeout=5))
        self.deliver = deliver
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.events: list[Event] = []
        self.tasks: set[asyncio.Task[None]] = set()
        server.events.subscribe(self._on_server_event)
        self.gateway.events.subscribe(self.events.append)

    async def command(self, topic: str, payload: str, qos: int) -> None:
        self.commands.append((topic, json.loads(payload)))
        if not self.deliver:
            return
        parsed = self.bridge.parse(topic, payload)
        assert parsed is not None, topic
        endpoint, command = parsed
        assert not isinstance(command, tuple), command
        task = asyncio.get_running_loop().create_task(self._run(endpoint, command))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, endpoint: str, command: Any) -> None:
        self._up(await self.bridge.execute(endpoint, command))

    def _on_server_event(self, event: Event) -> None:
        for message in self.bridge.messages_for(event):
            self._up(message)

    def _up(self, message: tuple[str, dict[str, Any], int]) -> None:
        topic, payload, _qos = message
        self.gateway.handle(topic, json.dumps(payload, default=str))

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]


async def until(condition: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := condition()):
            await asyncio.sleep(0.01)
    return result


@pytest.fixture
async def link(server: Any, make_client: Any) -> Link:
    link = Link(server)
    await link.gateway.start()
    link.client = await make_client("far-1")
    await until(lambda: link.gateway.registrations.by_endpoint("far-1"))
    return link


async def test_registration_arrives_as_the_gateway_published_it(link: Link) -> None:
    reg = link.gateway.registrations.by_endpoint("far-1")
    assert reg is not None
    assert reg.lwm2m_version == "1.1"
    assert reg.lifetime == 60
    assert reg.transport == "emqx"
    assert {str(p) for p in reg.objects.instances} == {"/1/0", "/3/0", "/3303/0", "/3311/0"}
    assert [e.endpoint for e in link.of(EventType.REGISTERED)] == ["far-1"]
    assert link.gateway.stats.registrations == 1


async def test_read_gives_values_typed_by_the_model(link: Link) -> None:
    ep = link.gateway.endpoint("far-1")
    response = await ep.read("/3/0")
    assert response.code == "2.05"
    assert response.values[P("/3/0/0")] == "Simulated Devices Inc."
    assert response.values[P("/3/0/9")] == 95
    assert response.values[P("/3/0/7/1")] == 5000
    assert response.values[P("/3/0/13")] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert (await ep.read("/3303/0/5700")).values == {P("/3303/0/5700"): 21.5}
    topic, command = link.commands[0]
    assert topic == "lwm2m/far-1/dn/cmd"
    assert command["msgType"] == "read" and command["data"] == {"path": "/3/0"}
    assert isinstance(command["reqID"], int)
    assert [e.details.operation for e in link.of(EventType.RESPONSE)] == ["read", "read"]


async def test_writes_reach_the_device_with_emqx_types(link: Link) -> None:
    ep = link.gateway.endpoint("far-1")
    client = link.client
    assert (await ep.write("/3311/0/5850", True)).code == "2.04"
    assert client.values[P("/3311/0/5850")] is True
    assert link.commands[-1][1]["data"] == {"path": "/3311/0/5850", "type": "Boolean", "value": True}
    await ep.write("/3311/0", {5850: False, 5851: 80}, replace=False)
    assert client.values[P("/3311/0/5851")] == 80
    assert link.commands[-1][1]["data"] == {
        "basePath": "/3311/0",
        "content": [
            {"path": "5850", "type": "Boolean", "value": False},
            {"path": "5851", "type": "Integer", "value": 80},
        ],
    }
    await ep.write_composite({"/3311/0/5851": 10, "/1/0/1": 120})
    assert client.values[P("/3311/0/5851")] == 10
    assert client.values[P("/1/0/1")] == 120


async def test_execute_discover_attributes_create_delete(link: Link) -> None:
    ep = link.gateway.endpoint("far-1")
    client = link.client
    assert (await ep.execute("/3/0/4", "5")).code == "2.04"
    # EMQX's execute command carries the arguments in "args" (the manual's {?Arguments})
    assert link.commands[-1][1]["msgType"] == "execute"
    assert link.commands[-1][1]["data"] == {"path": "/3/0/4", "args": "5"}
    assert client.executed[-1] == (P("/3/0/4"), "5")
    await ep.execute("/3/0/5", "0='now',1")
    assert link.commands[-1][1]["data"] == {"path": "/3/0/5", "args": "0='now',1"}
    assert client.executed[-1] == (P("/3/0/5"), "0='now',1")
    await ep.execute("/3/0/12")
    assert link.commands[-1][1]["data"] == {"path": "/3/0/12"}
    assert client.executed[-1] == (P("/3/0/12"), "")
    discovered = await ep.discover("/3/0")
    assert P("/3/0/9") in discovered.attributes
    await ep.write_attributes("/3303/0/5700", {"pmin": 5, "st": 0.5})
    assert client.attributes[P("/3303/0/5700")]["pmin"] == "5"
    created = await ep.create("/3303", {5700: 18.0, 5701: "Cel"}, instance_id=7)
    assert created.location == P("/3303/7")
    assert client.values[P("/3303/7/5700")] == 18.0
    await ep.delete("/3303/7")
    assert P("/3303/7") in client.deleted
    composite = await ep.read_composite(["/3/0/9", "/3303/0/5700"])
    assert composite.values == {P("/3/0/9"): 95, P("/3303/0/5700"): 21.5}


async def test_observe_notifies_until_cancelled(link: Link, server: Any) -> None:
    ep = link.gateway.endpoint("far-1")
    sent = record_observe_numbers(link.client)  # the Observe options on the device's wire
    first = await ep.observe("/3303/0/5700")
    assert first.values == {P("/3303/0/5700"): 21.5}
    await until(lambda: server.observations.of("far-1"))
    for count, value in enumerate((23.25, 24.5), start=1):
        link.client.set_value("/3303/0/5700", value)
        await until(lambda count=count: len(link.of(EventType.NOTIFICATION)) == count)
    notes = link.of(EventType.NOTIFICATION)
    assert [n.path for n in notes] == [P("/3303/0/5700")] * 2
    assert [n.values for n in notes] == [{P("/3303/0/5700"): 23.25}, {P("/3303/0/5700"): 24.5}]
    # EMQX's seqNum, as the consumer reads it: the device's own Observe numbers
    (observation,) = server.observations.of("far-1")
    numbers = [number for token, number in sent if token == observation.token]
    assert len(sent) == 3 and [n.sequence for n in notes] == numbers[1:]
    assert ep.observations()[0]["notifications"] == 2
    assert ep.observations()[0]["last_sequence"] == numbers[-1]
    await ep.cancel_observe("/3303/0/5700")
    assert ep.observations() == []
    await until(lambda: not server.observations.of("far-1"))


async def test_refusals_timeouts_and_unknown_devices(link: Link, server: Any) -> None:
    ep = link.gateway.endpoint("far-1")
    with pytest.raises(OperationError) as refused:
        await ep.read("/9999/0")
    assert refused.value.code == "4.04"
    with pytest.raises(NotRegistered):
        await link.gateway.endpoint("nobody").read("/3/0")
    link.deliver = False
    with pytest.raises(DeviceTimeout):
        await ep.read("/3/0/9", timeout=0.2)
    assert link.gateway.queued("far-1") == 0
    assert link.gateway.stats.errors == 1


async def test_a_device_unknown_to_the_bridge_answers_4_04(server: Any) -> None:
    link = Link(server)
    register = RegisterMessage(lifetime=60, objects=(P("/3/0"),)).encode()
    link.gateway.handle("lwm2m/ghost/up/resp", json.dumps(register))  # known here, not there
    assert link.gateway.registrations.by_endpoint("ghost") is not None
    with pytest.raises(OperationError) as refused:
        await link.gateway.endpoint("ghost").read("/3/0")
    assert refused.value.code == "4.04"


async def test_update_and_deregistration(link: Link, server: Any) -> None:
    client = link.client
    server_updates: list[Event] = []
    server.events.subscribe(lambda e: server_updates.append(e) if e.type is EventType.UPDATED else None)
    assert (await client.update(objects=True)).code.dotted == "2.04"  # the same objects
    # The server took the Update; EMQX's default condition publishes none for it.
    assert [e.details.objects_changed for e in server_updates] == [False]
    client.values[P("/3304/0/5700")] = 40.0
    assert (await client.update(lifetime=120, objects=True)).code.dotted == "2.04"  # a new object
    (updated,) = await until(lambda: link.of(EventType.UPDATED))  # only this one was published
    assert updated.endpoint == "far-1"
    assert updated.details.objects_changed is True and updated.details.moved is False
    assert updated.details.lifetime == 120 and updated.details.binding == "U"
    reg = link.gateway.registrations.by_endpoint("far-1")
    assert updated.details.reg_id == reg.reg_id and reg.lifetime == 120
    assert {str(p) for p in reg.objects.instances} == {"/1/0", "/3/0", "/3303/0", "/3304/0", "/3311/0"}
    link.gateway.handle("lwm2m/far-1/up/update", json.dumps({"msgType": "update", "data": {"objectList": ["/3/0"]}}))
    assert len(link.of(EventType.UPDATED)) == 2 and link.of(EventType.UPDATED)[-1].details.objects_changed
    assert [str(p) for p in link.gateway.registrations.by_endpoint("far-1").objects.instances] == ["/3/0"]

    # De-registration: the server forgets the device and says so. EMQX publishes nothing
    # when a device leaves, so the consumer keeps it, and a command finds it gone.
    gone: list[Event] = []
    server.events.subscribe(lambda e: gone.append(e) if e.type is EventType.DEREGISTERED else None)
    assert (await client.deregister()).code.dotted == "2.02"
    (deregistered,) = gone
    assert deregistered.endpoint == "far-1" and deregistered.details.reg_id == client.location[1]
    assert "far-1" not in server.registrations
    with pytest.raises(NotRegistered):
        server.endpoint("far-1")
    assert link.of(EventType.DEREGISTERED) == [] and link.gateway.registrations.by_endpoint("far-1") is not None
    with pytest.raises(OperationError) as refused:
        await link.gateway.endpoint("far-1").read("/3/0/9")
    assert refused.value.code == "4.04" and "not registered" in str(refused.value)


def test_expiry_needs_a_gateway_that_publishes_every_update() -> None:
    async def publish(topic: str, payload: str, qos: int) -> None:
        return None

    quiet = EmqxGateway(EmqxSettings(), ObjectModel(), publish)
    assert not quiet.expires
    gateway = EmqxGateway(EmqxSettings(update_msg_publish_condition="always"), ObjectModel(), publish)
    assert gateway.expires
    events: list[Event] = []
    gateway.events.subscribe(events.append)
    gateway.handle("lwm2m/e/up/resp", json.dumps({"msgType": "register", "data": {"ep": "e", "lt": 30}}))
    reg = gateway.registrations.by_endpoint("e")
    assert gateway.expire_now(reg.updated_at + 30) == []
    assert [r.endpoint for r in gateway.expire_now(reg.updated_at + 46)] == ["e"]
    assert [e.type for e in events] == [EventType.REGISTERED, EventType.EXPIRED]
    restored = gateway.restore([reg.to_dict(), {"bad": 1}])
    assert [r.endpoint for r in restored] == ["e"]


def test_topics_of_the_consumer() -> None:
    default = EmqxSettings()
    assert default.command_topic("dev") == "lwm2m/dev/dn/cmd"
    assert default.up_filters() == {"lwm2m/+/up/resp": 0, "lwm2m/+/up/notify": 0, "lwm2m/+/up/update": 0}
    custom = EmqxSettings(
        mountpoint="gw/${endpoint_name}/",
        command=Translator("down/cmd", 1),
        register=Translator("up/register", 1),
    )
    assert custom.command_topic("a") == "gw/a/down/cmd"
    assert custom.up_filters()["gw/+/up/register"] == 1
    assert custom.endpoint_of_up("gw/a/up/register") == "a"
    assert custom.endpoint_of_up("gw/a/down/cmd") is None


def _gateway() -> tuple[EmqxGateway, list[Event]]:
    async def publish(topic: str, payload: str, qos: int) -> None:
        return None

    gateway = EmqxGateway(EmqxSettings(), ObjectModel(), publish)
    events: list[Event] = []
    gateway.events.subscribe(events.append)
    register = {"msgType": "register", "data": {"ep": "d", "lt": 300, "lwm2m": "1.0", "b": "UQ", "objectList": []}}
    gateway.handle("lwm2m/d/up/resp", json.dumps(register))
    return gateway, events


def test_values_are_typed_by_the_model_and_kept_as_sent_otherwise() -> None:
    gateway, events = _gateway()
    assert gateway.registrations.by_endpoint("d").queue_mode
    notify = {
        "reqID": 3,
        "msgType": "notify",
        "seqNum": 4,
        "data": {
            "code": "2.05",
            "reqPath": "/3/0",
            "content": [
                {"path": "/3/0/9", "value": "88"},  # text where the model says Integer
                {"path": "/3/0/13", "value": 1_700_000_000},
                {"path": "/6/0/0", "value": 45.5},
                {"path": "/3/0/22", "value": "0:1"},
                {"path": "/3/0/3", "value": {"odd": True}},  # not a String: kept as JSON text
                {"path": "/40000/0/1", "value": 7},  # no model: as sent
            ],
        },
    }
    gateway.handle("lwm2m/d/up/notify", json.dumps(notify))
    values = events[-1].values
    assert values[P("/3/0/9")] == 88
    assert values[P("/3/0/13")] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert values[P("/6/0/0")] == 45.5
    assert values[P("/3/0/22")] in ("0:1", ObjLnk(0, 1))
    assert values[P("/3/0/3")] == '{"odd": true}'
    assert values[P("/40000/0/1")] == 7
    assert events[-1].sequence == 4


BAD = [
    b"",
    b"not json",
    b"[]",
    b'{"msgType": "notify"}',
    b'{"msgType": "notify", "data": {"reqPath": 5}}',
    b'{"msgType": "notify", "data": {"reqPath": "/3/0", "content": "x"}}',
    b'{"msgType": "notify", "data": {"reqPath": "/3/0", "content": [{"path": "/a"}]}}',
    b'{"msgType": "register", "data": {"lt": "soon"}}',
    b'{"msgType": "register", "data": {"lt": -5}}',
    b'{"msgType": "update", "data": {"lt": 1e999}}',
    b'{"msgType": "register", "data": {"objectList": "/3/0"}}',
    b'{"msgType": "register", "data": {"objectList": ["/x/y"]}}',
    b'{"msgType": 7, "data": {}}',
    b"{" * 100_000,
    b'{"msgType": "read", "reqID": 99, "data": {}}',  # a response to nobody
]


@pytest.mark.parametrize("payload", BAD)
def test_unusable_messages_are_counted_and_lose_nothing(payload: bytes) -> None:
    gateway, events = _gateway()
    before = len(events)
    gateway.handle("lwm2m/d/up/notify", payload)
    gateway.handle("lwm2m/other/up/resp", payload)
    gateway.handle("unrelated/topic", payload)
    assert gateway.registrations.by_endpoint("d") is not None
    assert len(events) == before or payload.startswith(b'{"msgType": "register"')
    assert gateway.malformed >= (0 if b"reqID" in payload else 1)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    ),
    st.sampled_from(["register", "update", "notify", "read", "observe"]),
)
def test_any_json_from_the_gateway_is_handled_without_raising(data: Any, msg_type: str) -> None:
    gateway, _events = _gateway()
    gateway.handle("lwm2m/d/up/resp", json.dumps({"msgType": msg_type, "reqID": 1, "seqNum": data, "data": data}))
    gateway.handle("lwm2m/d/up/notify", json.dumps({"msgType": msg_type, "data": {"content": data, "reqPath": data}}))
    gateway.handle("lwm2m/d/up/update", json.dumps({"msgType": msg_type, "data": {"objectList": data, "lt": data}}))
