"""Caps and rate limits (issue #13): what one host or one device may cost, and what it is told."""

import asyncio
import logging

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.limits import EventBudget, TokenBucket
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LIMIT_RETRY, LwM2MServer
from tests.core.rawcoap import RawDevice

TEMPERATURE = Path.parse("/3303/0/5700")


@pytest.fixture
async def limited(udp: None, request: pytest.FixtureRequest):
    srv = LwM2MServer(ServerConfig(host="::", port=0, **getattr(request, "param", {})))
    await srv.start()
    yield srv
    await srv.stop()


def _register(endpoint: str, lifetime: int = 60) -> Message:
    return Message(
        code=Code.POST,
        uri_path=("rd",),
        uri_query=(f"ep={endpoint}", f"lt={lifetime}", "lwm2m=1.1"),
        content_format=ContentFormat.LINK_FORMAT,
        payload=b"</3/0>,</3303/0>",
    )


async def _devices(server: LwM2MServer, count: int) -> list[RawDevice]:
    devices = [RawDevice(server.port, f"d{n}") for n in range(count)]
    for device in devices:
        await device.start()
    return devices


@pytest.mark.parametrize("limited", [{"max_registrations_per_host": 3}], indirect=True)
async def test_registrations_per_host_are_capped_and_the_host_is_told_when_to_come_back(
    limited: LwM2MServer, caplog: pytest.LogCaptureFixture
) -> None:
    devices = await _devices(limited, 5)  # five ports of one host
    try:
        for n in range(3):
            assert (await devices[n].request(_register(f"d{n}"))).code == Code.CREATED
        caplog.set_level(logging.DEBUG, "custom_components.lwm2m.lwm2m.server")
        for n in (3, 4):
            refused = await devices[n].request(_register(f"d{n}"))
            assert refused.code == Code.SERVICE_UNAVAILABLE
            assert refused.opt.max_age == LIMIT_RETRY
            assert b"holds its maximum of 3 registrations" in refused.payload
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "Refusing" in r.getMessage()]
        assert len(warnings) == 1, warnings  # logged once, not per Register
        assert limited.stats.refused == 2 and limited.diagnostics()["refused_registrations"] == 2
        # a registered device registering again is not a new one
        assert (await devices[0].request(_register("d0"))).code == Code.CREATED
        # one leaves: there is room again
        reg = limited.registrations.by_endpoint("d1")
        gone = await devices[1].request(Message(code=Code.DELETE, uri_path=("rd", reg.reg_id)))
        assert gone.code == Code.DELETED
        assert (await devices[3].request(_register("d3"))).code == Code.CREATED
        assert sorted(r.endpoint for r in limited.registrations) == ["d0", "d2", "d3"]
    finally:
        for device in devices:
            await device.stop()


@pytest.mark.parametrize("limited", [{"registration_rate": 2.0}], indirect=True)
async def test_the_registration_rate_refuses_a_storm_with_max_age(limited: LwM2MServer) -> None:
    devices = await _devices(limited, 4)
    try:
        answers = await asyncio.gather(*(d.request(_register(f"d{n}")) for n, d in enumerate(devices)))
        codes = [a.code for a in answers]
        assert codes.count(Code.CREATED) == 2 and codes.count(Code.SERVICE_UNAVAILABLE) == 2
        refused = next(a for a in answers if a.code == Code.SERVICE_UNAVAILABLE)
        assert refused.opt.max_age == 1 and b"more than 2 registrations a second" in refused.payload
        assert len(limited.registrations) == 2
    finally:
        for device in devices:
            await device.stop()


@pytest.mark.parametrize("limited", [{"max_registrations": 1, "max_registrations_per_host": 0}], indirect=True)
async def test_the_servers_maximum_is_a_5_03_with_max_age(limited: LwM2MServer) -> None:
    devices = await _devices(limited, 2)
    try:
        assert (await devices[0].request(_register("first"))).code == Code.CREATED
        full = await devices[1].request(_register("second"))
        assert full.code == Code.SERVICE_UNAVAILABLE and full.opt.max_age == LIMIT_RETRY
        assert b"maximum of 1 registrations" in full.payload
    finally:
        for device in devices:
            await device.stop()


async def test_the_longest_lifetime_is_one_day_by_default(limited: LwM2MServer) -> None:
    (device,) = await _devices(limited, 1)
    try:
        assert (await device.request(_register("long", lifetime=604_800))).code == Code.CREATED
        assert limited.registrations.by_endpoint("long").lifetime == 86_400
    finally:
        await device.stop()


@pytest.mark.parametrize("limited", [{"notification_rate": 5.0, "notification_burst": 5.0}], indirect=True)
async def test_notifications_over_the_budget_are_coalesced_never_lost(limited: LwM2MServer) -> None:
    device = RawDevice(limited.port, "chatty")
    await device.start()
    try:
        await device.register()
        notes: list[Event] = []
        arrived = asyncio.Event()

        def take(event: Event) -> None:
            if event.type is EventType.NOTIFICATION:
                notes.append(event)
                if event.values.get(TEMPERATURE) == 49.0:
                    arrived.set()

        limited.events.subscribe(take)
        observing = asyncio.create_task(limited.endpoint("chatty").observe(TEMPERATURE))
        request = await device.next_request()
        device.answer(request, b"0.0", observe=1)
        await observing
        for n in range(50):
            device.notify(request, 2 + n, f"{n}.0".encode())
        async with asyncio.timeout(10):
            await arrived.wait()
        values = [e.values[TEMPERATURE] for e in notes]
        assert values[:5] == [0.0, 1.0, 2.0, 3.0, 4.0]  # the burst goes out at once
        assert values[-1] == 49.0 and values == sorted(values)  # the latest wins; nothing older comes later
        # every notification is accounted for: delivered, or counted in the one that carries its successor
        assert sum(1 + e.coalesced for e in notes) == 50
        assert limited.stats.coalesced == sum(e.coalesced for e in notes) > 0
        assert limited.stats.notifications == 50
    finally:
        await device.stop()


async def test_a_budget_delivers_what_it_holds_when_the_device_goes_away() -> None:
    delivered: list[Event] = []
    budget = EventBudget(1.0, 1.0, delivered.append)
    budget.clock = lambda: 0.0
    path = Path.parse("/3/0/9")
    for n in range(3):
        budget.offer((path,), Event(type=EventType.NOTIFICATION, endpoint="dev", values={path: n}))
    budget.offer(("send",), Event(type=EventType.SEND, endpoint="dev", values={TEMPERATURE: 1.5}))
    assert [e.values for e in delivered] == [{path: 0}]
    assert budget.held("dev") == 2
    budget.forget("dev")
    assert [e.values for e in delivered] == [{path: 0}, {path: 2}, {TEMPERATURE: 1.5}]
    assert delivered[1].coalesced == 1 and budget.held("dev") == 0


def test_no_budget_delivers_everything_at_once() -> None:
    delivered: list[Event] = []
    budget = EventBudget(0, 0, delivered.append)
    for n in range(100):
        assert budget.offer("k", Event(type=EventType.SEND, endpoint="dev", values={TEMPERATURE: n}))
    assert len(delivered) == 100


def test_a_token_bucket_saves_up_to_its_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # refilled to 3, one taken


async def test_a_held_value_never_comes_after_a_newer_one_of_the_same_path() -> None:
    """Held events under different keys may carry one path (a Send and a notification, an
    instance's and a resource's observation): the newest value of each path is the one left."""
    delivered: list[Event] = []
    budget = EventBudget(1.0, 1.0, delivered.append)
    budget.clock = lambda: 0.0
    battery = Path.parse("/3/0/9")
    budget.offer(("first",), Event(type=EventType.SEND, endpoint="dev", values={battery: 1}))  # the burst
    budget.offer(("send",), Event(type=EventType.SEND, endpoint="dev", values={TEMPERATURE: 20.0}))
    budget.offer((TEMPERATURE,), Event(type=EventType.NOTIFICATION, endpoint="dev", values={TEMPERATURE: 21.0}))
    budget.offer(("send",), Event(type=EventType.SEND, endpoint="dev", values={battery: 80}))
    budget.forget("dev")
    latest: dict[Path, object] = {}
    for event in delivered:
        latest.update(event.values)
    assert latest == {TEMPERATURE: 21.0, battery: 80}
    assert all(TEMPERATURE not in e.values for e in delivered if e.type is EventType.SEND)


async def test_a_read_supersedes_the_held_values_of_its_paths() -> None:
    delivered: list[Event] = []
    budget = EventBudget(1.0, 1.0, delivered.append)
    budget.clock = lambda: 0.0
    budget.offer(("x",), Event(type=EventType.SEND, endpoint="dev", values={}))  # the burst
    budget.offer((TEMPERATURE,), Event(type=EventType.NOTIFICATION, endpoint="dev", values={TEMPERATURE: 20.0}))
    budget.supersede("dev", [TEMPERATURE])  # a read answered 21.0, emitted past the budget
    assert budget.held("dev") == 0
    budget.forget("dev")
    assert all(TEMPERATURE not in e.values for e in delivered)


async def test_a_notification_past_the_budget_warns_only_once_values_coalesce(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivered: list[Event] = []
    budget = EventBudget(1.0, 1.0, delivered.append)
    budget.clock = lambda: 0.0
    paths = [Path.parse(f"/3303/{n}/5700") for n in range(3)]
    for path in paths:  # one each: held past the burst, nothing folded
        budget.offer((path,), Event(type=EventType.NOTIFICATION, endpoint="dev", values={path: 1.0}))
    assert "coalesced" not in caplog.text
    budget.offer((paths[1],), Event(type=EventType.NOTIFICATION, endpoint="dev", values={paths[1]: 2.0}))
    assert caplog.text.count("values in between are coalesced") == 1
    budget.close()
    assert budget.offer(("late",), Event(type=EventType.SEND, endpoint="dev", values={}))  # closed: at once
    assert len(delivered) == 4


@pytest.mark.parametrize("limited", [{"max_lifetime": 3600}], indirect=True)
async def test_a_device_granted_less_lifetime_than_it_asked_is_told_in_its_server_object(
    limited: LwM2MServer,
) -> None:
    from tests.sim import SimClient

    client = SimClient("long-lived", limited.port, lifetime=86_400)
    try:
        await client.start()
        async with asyncio.timeout(5):
            while not client.written:
                await asyncio.sleep(0.02)
        assert client.written[0][1:] == (Path.parse("/1/0/1"), {Path.parse("/1/0/1"): 3600})
        assert limited.registrations.by_endpoint("long-lived").lifetime == 3600
    finally:
        await client.stop()


async def test_held_events_go_out_over_several_refills_in_order_with_their_merged_values() -> None:
    """A composite observation's notifications may each carry some of its paths: merged, the
    held event keeps every path's latest value; what is held goes out as tokens come back."""
    delivered: list[Event] = []
    budget = EventBudget(100.0, 1.0, delivered.append)  # a token every 10 ms
    battery, voltage = Path.parse("/3/0/9"), Path.parse("/3/0/7")
    composite = (battery, voltage)
    budget.offer(("x",), Event(type=EventType.SEND, endpoint="dev", values={}))  # the burst
    budget.offer(composite, Event(type=EventType.NOTIFICATION, endpoint="dev", values={battery: 90, voltage: 3.9}))
    budget.offer(composite, Event(type=EventType.NOTIFICATION, endpoint="dev", values={battery: 80}))
    budget.offer((TEMPERATURE,), Event(type=EventType.NOTIFICATION, endpoint="dev", values={TEMPERATURE: 20.0}))
    budget.offer(("send",), Event(type=EventType.SEND, endpoint="dev", values={Path.parse("/3304/0/5700"): 40.0}))
    assert budget.held("dev") == 3
    async with asyncio.timeout(5):
        while budget.held("dev"):
            await asyncio.sleep(0.005)
    assert [e.values for e in delivered[1:]] == [
        {battery: 80, voltage: 3.9},  # merged: the second notification had no voltage
        {TEMPERATURE: 20.0},
        {Path.parse("/3304/0/5700"): 40.0},
    ]
    assert delivered[1].coalesced == 1


async def test_every_notification_counts_as_a_message_from_the_device(server: LwM2MServer) -> None:
    device = RawDevice(server.port, "counted")
    await device.start()
    try:
        await device.register()
        observing = asyncio.create_task(server.endpoint("counted").observe(TEMPERATURE))
        request = await device.next_request()
        device.answer(request, b"1.0", observe=1)
        await observing
        before = server.registrations.by_endpoint("counted").stats.messages_in
        arrived = asyncio.Event()
        server.events.subscribe(lambda e: arrived.set() if e.values.get(TEMPERATURE) == 3.0 else None)
        for n in (2, 3):
            device.notify(request, n, f"{n}.0".encode())
        async with asyncio.timeout(5):
            await arrived.wait()
        assert server.registrations.by_endpoint("counted").stats.messages_in == before + 2
    finally:
        await device.stop()


def test_once_log_forgets_its_oldest_keys_first(caplog: pytest.LogCaptureFixture) -> None:
    from custom_components.lwm2m.lwm2m.limits import OnceLog

    log = OnceLog(logging.getLogger("test.once"), max_keys=2)
    caplog.set_level(logging.DEBUG, "test.once")
    for key in ("a", "b", "a", "c", "b", "a"):
        log.warn(key, "limit met by %s", key)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # a, b warn; a again is remembered; c pushes out a (the oldest), b is still known, a warns again
    assert warned == ["limit met by a (logged once)", "limit met by b (logged once)", "limit met by c (logged once)",
                      "limit met by a (logged once)"]  # fmt: skip
