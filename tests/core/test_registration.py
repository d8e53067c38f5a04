"""The registration interface: Register, Update, De-register, expiry, bad input."""

import asyncio
import re

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.errors import NotRegistered
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim import SimClient


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
async def test_register(server: LwM2MServer, make_client, version: str) -> None:
    events = []
    server.events.subscribe(events.append)
    client = await make_client("dev-a", version=version, lifetime=120)
    assert client.location[0] == "rd" and re.fullmatch(r"[0-9a-f]{16}", client.location[1])
    reg = server.registrations.by_endpoint("dev-a")
    assert reg is not None
    assert (reg.lifetime, reg.lwm2m_version, reg.binding, reg.queue_mode) == (120, version, "U", False)
    assert reg.address == f"127.0.0.1:{client.local_port}"
    assert reg.objects.instance_ids(3303) == [0] and set(reg.objects.objects) == {1, 3, 3303, 3311}
    (event,) = events
    assert event.type is EventType.REGISTERED and event.endpoint == "dev-a"
    assert event.details.lifetime == 120 and str(event.details.instances[0]) == "/1/0"


async def test_registration_ids_are_unique(server: LwM2MServer, make_client) -> None:
    clients = [await make_client(f"dev-{i}") for i in range(5)]
    assert len({c.location for c in clients}) == 5
    assert len(server.registrations) == 5


async def test_queue_mode_and_alternate_root(server: LwM2MServer, make_client) -> None:
    client = await make_client("q1", version="1.1", queue_mode=True)
    assert server.registrations.by_endpoint("q1").queue_mode
    legacy = await make_client("q0", version="1.0", binding="UQ")
    assert server.registrations.by_endpoint("q0").queue_mode
    payload = b'</lwm2m>;rt="oma.lwm2m";ct=110,</lwm2m/3/0>,</lwm2m/3303/0>'
    response = await client.register(query=["ep=rooted", "lwm2m=1.1"], payload=payload)
    assert response.code == Code.CREATED
    reg = server.registrations.by_endpoint("rooted")
    assert reg.root_path == ("lwm2m",) and reg.objects.content_formats == (110,)
    assert reg.uri_path(Path.parse("/3/0/9")) == ("lwm2m", "3", "0", "9")
    await legacy.stop()


@pytest.mark.parametrize(
    ("query", "payload", "code", "text"),
    [
        (["lt=60"], None, Code.BAD_REQUEST, "ep"),
        (["ep="], None, Code.BAD_REQUEST, "ep"),
        (["ep=x", "lt=abc"], None, Code.BAD_REQUEST, "lt"),
        (["ep=x", "lt=0"], None, Code.BAD_REQUEST, "lt"),
        (["ep=x", "lt=-5"], None, Code.BAD_REQUEST, "lt"),
        (["ep=x", "b=XYZ"], None, Code.BAD_REQUEST, "binding"),
        (["ep=x", "ep=y"], None, Code.BAD_REQUEST, "twice"),
        (["ep=x", "Q=1"], None, Code.BAD_REQUEST, "Q"),
        (["ep=x", "lwm2m=2.0"], None, Code.PRECONDITION_FAILED, "2.0"),
        (["ep=x", "lwm2m=0.9"], None, Code.PRECONDITION_FAILED, "not supported"),
        (["ep=x"], b"</3/0", Code.BAD_REQUEST, "object list"),
        (["ep=x"], b"</a/b>", Code.BAD_REQUEST, "object list"),
        (["ep=x"], b"\xff\xfe", Code.BAD_REQUEST, "object list"),
        (["ep=" + "x" * 300], None, Code.BAD_REQUEST, "255"),
    ],
)
async def test_register_refusals(server: LwM2MServer, make_client, query, payload, code, text) -> None:
    client = await make_client("probe", register=False)
    response = await client.register(query=query, payload=payload)
    assert response.code == code
    assert text in response.payload.decode()
    assert len(server.registrations) == 0


async def test_register_wrong_content_format(server: LwM2MServer, make_client) -> None:
    client = await make_client("probe", register=False)
    message = Message(code=Code.POST, uri=f"{client.server}/rd", payload=b"{}", content_format=50)
    message.opt.uri_query = ("ep=x",)
    response = await client._send(message)
    assert response.code == Code.UNSUPPORTED_CONTENT_FORMAT


async def test_unknown_resources_and_methods(server: LwM2MServer, make_client) -> None:
    client = await make_client("probe", register=False)
    for method, path, code in [
        (Code.GET, "rd", Code.METHOD_NOT_ALLOWED),
        (Code.GET, "nothing", Code.NOT_FOUND),
        (Code.PUT, "rd/abc", Code.METHOD_NOT_ALLOWED),
        (Code.POST, "rd/unknown", Code.NOT_FOUND),
        (Code.DELETE, "rd/unknown", Code.NOT_FOUND),
        (Code.GET, "dp", Code.METHOD_NOT_ALLOWED),
    ]:
        response = await client._send(Message(code=method, uri=f"{client.server}/{path}"))
        assert response.code == code, (method, path)
        assert response.payload


async def test_update(server: LwM2MServer, make_client) -> None:
    events = []
    server.events.subscribe(events.append)
    client = await make_client("dev-u", lifetime=60)
    reg = server.registrations.by_endpoint("dev-u")
    before = reg.updated_at
    await asyncio.sleep(0.01)
    response = await client.update(lifetime=300, binding="UQ")
    assert response.code == Code.CHANGED
    assert reg.lifetime == 300 and reg.binding == "UQ" and reg.queue_mode and reg.updated_at > before
    client.values[Path.parse("/3304/0/5700")] = 40.0
    await client.update(objects=True)
    assert 3304 in reg.objects.objects
    updates = [e for e in events if e.type is EventType.UPDATED]
    assert [e.details.objects_changed for e in updates] == [False, True]
    first, second = (u.details for u in updates)
    assert all(u.endpoint == "dev-u" for u in updates)
    assert (first.reg_id, first.endpoint, first.address) == (
        client.location[1],
        "dev-u",
        f"127.0.0.1:{client.local_port}",
    )
    assert (first.lifetime, first.binding, first.queue_mode, first.moved) == (300, "UQ", True, False)
    assert Path.parse("/3304/0") not in first.instances
    # the second Update sent only the object list: lifetime and binding stay as they were
    assert (second.lifetime, second.binding, second.queue_mode, second.moved) == (300, "UQ", True, False)
    assert second.reg_id == client.location[1] and Path.parse("/3304/0") in second.instances
    assert second.updated_at >= first.updated_at > before
    assert server.stats.updates == 2
    bad = Message(code=Code.POST, uri=f"{client.server}/{'/'.join(client.location)}")
    bad.opt.uri_query = ("ep=other",)
    assert (await client._send(bad)).code == Code.BAD_REQUEST


async def test_nat_rebinding_moves_the_device(server: LwM2MServer, make_client) -> None:
    events = []
    server.events.subscribe(events.append)
    client = await make_client("dev-nat")
    old_port = client.local_port
    response = await client.move()
    assert response.code == Code.CHANGED
    assert client.local_port != old_port
    reg = server.registrations.by_endpoint("dev-nat")
    assert reg.address == f"127.0.0.1:{client.local_port}"
    assert events[-1].details.moved is True
    result = await server.endpoint("dev-nat").read("/3/0/9")
    assert result.value("/3/0/9") == 95
    assert client.requests[-1] == ("GET", "/3/0/9", 112)


async def test_deregister(server: LwM2MServer, make_client) -> None:
    events = []
    server.events.subscribe(events.append)
    client = await make_client("dev-d")
    assert (await client.deregister()).code == Code.DELETED
    assert "dev-d" not in server.registrations
    assert events[-1].type is EventType.DEREGISTERED and events[-1].endpoint == "dev-d"
    assert events[-1].details.reg_id == client.location[1] and server.stats.deregistrations == 1
    assert (await client.deregister()).code == Code.NOT_FOUND
    with pytest.raises(NotRegistered):
        server.endpoint("dev-d")


async def test_register_again_replaces(server: LwM2MServer, make_client) -> None:
    client = await make_client("dev-r")
    first = client.location
    await client.register()
    assert client.location != first
    assert len(server.registrations) == 1
    assert server.registrations.by_endpoint("dev-r").reg_id == client.location[1]
    stale = Message(code=Code.POST, uri=f"{client.server}/{'/'.join(first)}")
    assert (await client._send(stale)).code == Code.NOT_FOUND


async def test_lifetime_is_clamped(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, min_lifetime=30, max_lifetime=3600, default_lifetime=600))
    await server.start()
    try:
        clients = [SimClient(f"c{lt}", server.port, lifetime=lt) for lt in (1, 100, 999999)]
        for client in clients:
            await client.start()
        lifetimes = [server.registrations.by_endpoint(c.endpoint).lifetime for c in clients]
        assert lifetimes == [30, 100, 3600]
        bare = SimClient("bare", server.port)
        await bare.start(register=False)
        await bare.register(query=["ep=bare"])
        assert server.registrations.by_endpoint("bare").lifetime == 600
        clients.append(bare)
    finally:
        for client in clients:
            await client.stop()
        await server.stop()


async def test_update_lifetime_is_clamped(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, min_lifetime=30, max_lifetime=3600))
    await server.start()
    updates = []
    server.events.subscribe(lambda e: updates.append(e) if e.type is EventType.UPDATED else None)
    client = SimClient("upd-lt", server.port, lifetime=100)
    try:
        await client.start()
        reg = server.registrations.by_endpoint("upd-lt")
        for requested, kept in [(1, 30), (999999, 3600), (29, 30), (3601, 3600), (30, 30), (3600, 3600), (200, 200)]:
            assert (await client.update(lifetime=requested)).code == Code.CHANGED
            assert reg.lifetime == kept, requested
            assert updates[-1].details.lifetime == kept, requested
        assert len(updates) == 7
    finally:
        await client.stop()
        await server.stop()


async def test_expiry(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, min_lifetime=1, grace_period=0.2, expiry_check_interval=0.05))
    await server.start()
    expired = asyncio.Event()
    events = []

    def listen(event) -> None:
        events.append(event)
        if event.type is EventType.EXPIRED:
            expired.set()

    server.events.subscribe(listen)
    short = SimClient("short", server.port, lifetime=1)
    long = SimClient("long", server.port, lifetime=60)
    try:
        await short.start()
        await long.start()
        async with asyncio.timeout(5):
            await expired.wait()
        (gone,) = [e for e in events if e.type is EventType.EXPIRED]
        assert gone.endpoint == "short"
        assert (gone.details.reg_id, gone.details.endpoint, gone.details.lifetime) == (
            short.location[1],
            "short",
            1,
        )
        assert gone.details.binding == "U" and gone.details.address == f"127.0.0.1:{short.local_port}"
        assert "short" not in server.registrations and "long" in server.registrations
        with pytest.raises(NotRegistered):
            await server.endpoint("short").read("/3/0/9")
        assert (await short.update()).code == Code.NOT_FOUND  # it must register again
        assert server.stats.expirations == 1
    finally:
        await short.stop()
        await long.stop()
        await server.stop()


async def test_registration_cap(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, max_registrations=2))
    await server.start()
    clients = [SimClient(f"cap{i}", server.port) for i in range(3)]
    try:
        codes = []
        for client in clients:
            await client.start(register=False)
            codes.append((await client.register()).code)
        assert codes == [Code.CREATED, Code.CREATED, Code.SERVICE_UNAVAILABLE]
        assert (await clients[0].register()).code == Code.CREATED  # a known endpoint may re-register
    finally:
        for client in clients:
            await client.stop()
        await server.stop()


async def test_listener_failure_hurts_nobody(server: LwM2MServer, make_client, caplog) -> None:
    seen = []

    def broken(event) -> None:
        raise RuntimeError("boom")

    server.events.subscribe(broken)
    unsubscribe = server.events.subscribe(seen.append)
    await make_client("dev-l")
    assert [e.endpoint for e in seen] == ["dev-l"]
    assert "boom" in caplog.text
    unsubscribe()
    await make_client("dev-m")
    assert len(seen) == 1 and "dev-m" in server.registrations


async def test_restart_on_the_same_port(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0))
    await server.start()
    port = server.port
    await server.stop()
    again = LwM2MServer(ServerConfig(port=port))
    await again.start()
    client = SimClient("after-restart", port)
    try:
        await client.start()
        assert "after-restart" in again.registrations
    finally:
        await client.stop()
        await again.stop()


async def test_restore_saved_registrations(server: LwM2MServer, make_client) -> None:
    client = await make_client("dev-s")
    saved = [reg.to_dict() for reg in server.registrations]
    other = LwM2MServer(ServerConfig(port=0))
    restored = other.restore([*saved, {"bad": 1}])
    assert [r.endpoint for r in restored] == ["dev-s"]
    reg = other.registrations.by_endpoint("dev-s")
    assert reg.reg_id == client.location[1] and reg.address == f"127.0.0.1:{client.local_port}"
    assert reg.objects == server.registrations.by_endpoint("dev-s").objects
