"""Every operation on a registered endpoint, against the simulated client over real UDP."""

import asyncio
from datetime import UTC, datetime

import pytest

from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.errors import CodecError, DeviceTimeout, OperationError
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

P = Path.parse


@pytest.mark.parametrize(
    ("version", "announce", "accept"),
    [
        ("1.0", False, ContentFormat.TLV),
        ("1.1", False, ContentFormat.SENML_CBOR),
        ("1.1", True, ContentFormat.SENML_CBOR),
    ],
)
async def test_read_every_level(server, make_client, version, announce, accept) -> None:
    client = await make_client("dev", version=version, announce_formats=announce)
    ep = server.endpoint("dev")
    obj = await ep.read("/3303")
    assert obj.values == {P("/3303/0/5700"): 21.5, P("/3303/0/5701"): "Cel"}
    inst = await ep.read("/3/0")
    assert inst.values[P("/3/0/13")] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert inst.values[P("/3/0/7/1")] == 5000 and inst.values[P("/3/0/0")] == "Simulated Devices Inc."
    assert (await ep.read("/3/0/7")).values == {P("/3/0/7/0"): 3800, P("/3/0/7/1"): 5000}
    assert (await ep.read(P("/3/0/7/1"))).values == {P("/3/0/7/1"): 5000}
    single = await ep.read("/3/0/9")
    assert single.code == "2.05" and single.value("/3/0/9") == 95 and single.content_format == accept
    assert {a for _m, _p, a in client.requests} == {accept}
    text = await ep.read("/3/0/9", content_format=ContentFormat.TEXT)
    assert text.values == {P("/3/0/9"): 95} and text.payload == b"95"


async def test_read_errors(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0/99")
    assert err.value.code == "4.04" and "not found" in str(err.value)
    client.misbehave = "error"
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0/9")
    assert err.value.code == "5.00" and "simulated failure" in str(err.value)
    client.misbehave = "garbage"
    with pytest.raises(OperationError, match="unreadable"):
        await ep.read("/3/0")
    client.misbehave = None
    assert (await ep.read("/3/0/9")).value("/3/0/9") == 95
    stats = server.registrations.by_endpoint("dev").stats
    assert stats.errors >= 3
    assert stats.messages_out == 4 and stats.messages_in == 1 + 4  # the Register, then one answer each
    assert stats.last_seen > 0 and server.stats.requests_out == 4 and server.stats.requests_in == 1


async def test_a_dead_device_fails_fast_and_blocks_nobody(server, make_client) -> None:
    dead = await make_client("dead")
    await make_client("alive")
    dead.misbehave = "silent"
    slow = asyncio.create_task(server.endpoint("dead").read("/3/0/9", timeout=1.5))
    for _ in range(5):
        assert (await server.endpoint("alive").read("/3303/0/5700")).value("/3303/0/5700") == 21.5
    assert not slow.done()
    with pytest.raises(DeviceTimeout, match="did not answer"):
        await slow
    await dead.stop()  # its socket is gone: the next request fails by itself, fast
    with pytest.raises(DeviceTimeout):
        await server.endpoint("dead").read("/3/0/9", timeout=1)


async def test_discover(server, make_client) -> None:
    client = await make_client("dev")
    client.attributes[P("/3/0/9")] = {"pmin": "10", "gt": "50"}
    result = await server.endpoint("dev").discover("/3/0")
    assert result.code == "2.05"
    assert P("/3/0/4") in result.attributes and P("/3/0/7") in result.attributes
    assert result.attributes[P("/3/0/9")] == {"pmin": 10, "gt": 50.0}


@pytest.mark.parametrize("version", ["1.0", "1.1"])
async def test_write(server, make_client, version) -> None:
    client = await make_client("dev", version=version)
    ep = server.endpoint("dev")
    events = []
    server.events.subscribe(events.append)
    assert (await ep.write("/3311/0/5850", True)).code == "2.04"
    assert client.values[P("/3311/0/5850")] is True
    await ep.write("/3311/0/5851", "75")  # typed by the model: an integer
    assert client.values[P("/3311/0/5851")] == 75
    await ep.write("/1/0", {1: 300, "7": "UQ"}, replace=False)
    assert client.values[P("/1/0/1")] == 300 and client.values[P("/1/0/7")] == "UQ"
    assert client.written[-1][0] == "update"
    await ep.write("/3/0/7", {0: 1000, 1: 2000, 2: 3000})
    assert [client.values[P(f"/3/0/7/{i}")] for i in range(3)] == [1000, 2000, 3000]
    written = [e for e in events if e.type is EventType.RESPONSE and e.details.operation == "write"]
    assert written[0].values == {P("/3311/0/5850"): True} and written[0].code == "2.04"
    if version == "1.0":
        assert client.written[0][1] == P("/3311/0/5850")


async def test_write_rejects_wrong_types(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    for path, value in [("/3311/0/5850", "maybe"), ("/3311/0/5851", 4.5), ("/3303/0/5700", "warm"), ("/3/0", 5)]:
        with pytest.raises(CodecError):
            await ep.write(path, value)
    assert client.written == []


async def test_write_attributes(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    result = await ep.write_attributes("/3303/0/5700", {"pmin": 5, "pmax": 60, "gt": 25.5, "lt": 10, "st": 0.5})
    assert result.code == "2.04"
    assert client.attributes[P("/3303/0/5700")] == {"pmin": "5", "pmax": "60", "gt": "25.5", "lt": "10", "st": "0.5"}
    await ep.write_attributes("/3303/0/5700", {"pmin": None, "epmin": 1, "epmax": 30})
    assert client.attributes[P("/3303/0/5700")] == {"pmin": None, "epmin": "1", "epmax": "30"}
    for bad in ({"xyz": 1}, {"pmin": -1}, {"pmin": 1.5}, {}, {"gt": True}):
        with pytest.raises(CodecError):
            await ep.write_attributes("/3303/0/5700", bad)


async def test_execute(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    assert (await ep.execute("/3/0/4")).code == "2.04"
    await ep.execute("/3/0/5", "0='now',1")
    assert client.executed == [(P("/3/0/4"), ""), (P("/3/0/5"), "0='now',1")]
    with pytest.raises(CodecError):
        await ep.execute("/3/0")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
async def test_create_and_delete(server, make_client, version) -> None:
    client = await make_client("dev", version=version)
    ep = server.endpoint("dev")
    created = await ep.create("/3303", {5700: 18.0, 5701: "Cel"})
    assert created.code == "2.01" and created.location == P("/3303/1")
    assert client.values[P("/3303/1/5700")] == 18.0
    assert (await ep.create("/3303", {5700: 5}, instance_id=7)).location == P("/3303/7")
    assert (await ep.delete("/3303/1")).code == "2.02"
    assert P("/3303/1/5700") not in client.values and client.deleted == [P("/3303/1")]
    with pytest.raises(OperationError) as err:
        await ep.delete("/3303/1")
    assert err.value.code == "4.04"
    with pytest.raises(CodecError):
        await ep.create("/3303/0", {})


async def test_observe_notify_and_cancel(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    notes: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)
    first = await ep.observe("/3303/0/5700")
    assert first.value("/3303/0/5700") == 21.5
    await ep.observe("/3/0")
    assert len(client.root.observers) == 2
    listed = ep.observations()
    assert sorted(o["paths"][0] for o in listed) == ["/3/0", "/3303/0/5700"]
    for value in (22.0, 22.5, 23.0):
        client.set_value("/3303/0/5700", value)
        event = await asyncio.wait_for(notes.get(), 5)
        assert event.values == {P("/3303/0/5700"): value} and event.path == P("/3303/0/5700")
    assert event.sequence == 3
    client.set_value("/3/0/9", 80)
    event = await asyncio.wait_for(notes.get(), 5)
    assert event.path == P("/3/0") and event.values[P("/3/0/9")] == 80
    assert (await ep.cancel_observe("/3303/0/5700")).code == "2.05"
    assert [p for p, _o in client.root.observers] == [(P("/3/0"),)]
    client.set_value("/3303/0/5700", 30.0)  # no longer observed: no notification
    client.set_value("/3/0/9", 70)  # still observed: its notification comes after any for 5700
    event = await asyncio.wait_for(notes.get(), 5)
    assert event.path == P("/3/0") and event.values[P("/3/0/9")] == 70
    assert notes.empty()
    with pytest.raises(OperationError, match="no observation"):
        await ep.cancel_observe("/3303/0/5700")
    assert await ep.cancel_all_observations() == 1
    assert client.root.observers == [] and ep.observations() == []


async def test_observations_end_with_the_registration(server, make_client) -> None:
    client = await make_client("dev")
    ep = server.endpoint("dev")
    await ep.observe("/3303/0/5700")
    await client.register()  # a new registration: the old observations are gone
    assert server.endpoint("dev").observations() == []


async def test_composite_operations(server, make_client) -> None:
    client = await make_client("dev", version="1.1")
    ep = server.endpoint("dev")
    result = await ep.read_composite(["/3/0/9", "/3303/0"])
    assert result.values == {P("/3/0/9"): 95, P("/3303/0/5700"): 21.5, P("/3303/0/5701"): "Cel"}
    written = await ep.write_composite({"/3311/0/5850": True, "/3311/0/5851": 10})
    assert written.code == "2.04" and client.values[P("/3311/0/5851")] == 10
    notes: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)
    first = await ep.observe_composite(["/3303/0/5700", "/3/0/9"])
    assert first.values == {P("/3303/0/5700"): 21.5, P("/3/0/9"): 95}
    client.set_value("/3/0/9", 50)
    event = await asyncio.wait_for(notes.get(), 5)
    assert event.values[P("/3/0/9")] == 50 and [str(p) for p in event.details.paths] == ["/3303/0/5700", "/3/0/9"]
    await ep.cancel_observe([P("/3303/0/5700"), P("/3/0/9")])
    assert client.root.observers == []
    with pytest.raises(CodecError):
        await ep.write_composite({"/3311/0": 1})


async def test_send(server, make_client) -> None:
    client = await make_client("dev", version="1.1")
    sends: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: sends.put_nowait(e) if e.type is EventType.SEND else None)
    response = await client.send([P("/3303/0/5700"), P("/3/0/9")])
    assert response.code.dotted == "2.04"
    event = await asyncio.wait_for(sends.get(), 5)
    assert event.endpoint == "dev" and event.values == {P("/3303/0/5700"): 21.5, P("/3/0/9"): 95}
    json_send = await client.send([P("/3/0/9")], fmt=ContentFormat.SENML_JSON)
    assert json_send.code.dotted == "2.04"
    client.values[P("/1/0/10")] = ObjLnk(3, 0)
    assert (await client.send([P("/1/0/10")], fmt=ContentFormat.LWM2M_JSON)).code.dotted == "4.15"


async def test_send_from_strangers_and_garbage(server, make_client) -> None:
    from aiocoap import Message
    from aiocoap.numbers.codes import Code

    stranger = await make_client("nobody", register=False)
    message = Message(code=Code.POST, uri=f"{stranger.server}/dp", content_format=110, payload=b"[]")
    assert (await stranger._send(message)).code == Code.NOT_FOUND
    client = await make_client("dev")
    bad = Message(code=Code.POST, uri=f"{client.server}/dp", content_format=110, payload=b"[{")
    response = await client._send(bad)
    assert response.code == Code.BAD_REQUEST and b"Send payload" in response.payload


async def test_operations_on_unknown_endpoints(server) -> None:
    from custom_components.lwm2m.lwm2m.errors import NotRegistered

    with pytest.raises(NotRegistered) as err:
        server.endpoint("ghost")
    assert err.value.code == "4.04"
