"""Queue mode: requests for a sleeping device wait and go out when it wakes."""

import asyncio

import pytest

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.errors import DeviceTimeout, QueueFull
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim import SimClient

P = Path.parse


@pytest.fixture
async def qserver(udp: None):
    server = LwM2MServer(ServerConfig(port=0, queue_window=0.3, queue_expiry=5, max_queued=3, request_timeout=3))
    await server.start()
    yield server
    await server.stop()


async def test_requests_wait_for_the_device(qserver: LwM2MServer) -> None:
    client = SimClient("sleepy", qserver.port, version="1.1", queue_mode=True)
    await client.start()
    try:
        ep = qserver.endpoint("sleepy")
        assert (await ep.read("/3/0/9")).value("/3/0/9") == 95  # awake right after registering
        await client.sleep()
        await asyncio.sleep(0.4)  # the queue window has passed
        assert not qserver.queue.is_awake("sleepy")
        pending = [asyncio.create_task(ep.read("/3303/0/5700")), asyncio.create_task(ep.write("/3311/0/5850", True))]
        async with asyncio.timeout(2):
            while qserver.queue.queued("sleepy") != 2:  # both held back, none sent
                await asyncio.sleep(0.01)
        assert not any(t.done() for t in pending)
        await client.wake()  # an Update: the device is listening again
        read, write = await asyncio.gather(*pending)
        assert read.value("/3303/0/5700") == 21.5 and write.code == "2.04"
        assert client.values[P("/3311/0/5850")] is True  # the queued write reached the device
    finally:
        await client.stop()


async def test_a_notification_wakes_the_device(qserver: LwM2MServer) -> None:
    """A sleeping device that sends a notification is listening: what waits for it goes out."""
    client = SimClient("sleepy", qserver.port, version="1.1", queue_mode=True)
    notes: asyncio.Queue = asyncio.Queue()
    qserver.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)
    await client.start()
    try:
        ep = qserver.endpoint("sleepy")
        await ep.observe("/3303/0/5700")  # while awake, right after registering
        async with asyncio.timeout(2):
            while qserver.queue.is_awake("sleepy"):  # the queue window (0.3 s) passes
                await asyncio.sleep(0.02)
        requests_before = len(client.requests)
        waiting = asyncio.create_task(ep.read("/3/0/9"))
        async with asyncio.timeout(2):
            while qserver.queue.queued("sleepy") != 1:
                await asyncio.sleep(0.01)
        assert len(client.requests) == requests_before and not waiting.done()  # held back: asleep
        client.set_value("/3303/0/5700", 25.0)  # the device wakes and notifies
        note = await asyncio.wait_for(notes.get(), 2)
        assert note.values == {P("/3303/0/5700"): 25.0}
        async with asyncio.timeout(2):  # far less than the queue expiry (5 s)
            read = await waiting
        assert read.value("/3/0/9") == 95
        assert client.requests[-1][:2] == ("GET", "/3/0/9") and qserver.queue.queued("sleepy") == 0
    finally:
        await client.stop()


async def test_queue_is_bounded_and_expires(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, queue_window=0.1, queue_expiry=0.5, max_queued=2))
    await server.start()
    client = SimClient("sleepy", server.port, binding="UQ", version="1.0")
    await client.start()
    try:
        await client.sleep()
        await asyncio.sleep(0.2)
        ep = server.endpoint("sleepy")
        waiting = [asyncio.create_task(ep.read("/3/0/9")) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull):
            await ep.read("/3/0/9")
        for task in waiting:
            with pytest.raises(DeviceTimeout, match="queued request expired"):
                await task
    finally:
        await client.stop()
        await server.stop()


async def test_deregistration_drops_the_queue(qserver: LwM2MServer) -> None:
    client = SimClient("sleepy", qserver.port, version="1.1", queue_mode=True)
    await client.start()
    try:
        await client.sleep()
        await asyncio.sleep(0.4)
        task = asyncio.create_task(qserver.endpoint("sleepy").read("/3/0/9"))
        await asyncio.sleep(0.05)
        await client._open(client.local_port)
        await client.deregister()
        with pytest.raises(DeviceTimeout, match="no longer registered"):
            await task
    finally:
        await client.stop()


async def test_a_callers_timeout_bounds_the_wait_in_the_queue(udp: None) -> None:
    """A read with a short timeout to a sleeping device fails after that timeout (issue #13:
    it waited until the registration expired, or up to the queue's hour), says why, and leaves
    the queue; a device that wakes within the timeout is read as usual."""
    server = LwM2MServer(ServerConfig(port=0, queue_window=0.1, queue_expiry=3600, request_timeout=3))
    await server.start()
    client = SimClient("sleepy", server.port, version="1.1", queue_mode=True)
    await client.start()
    try:
        await client.sleep()
        async with asyncio.timeout(2):
            while server.queue.is_awake("sleepy"):
                await asyncio.sleep(0.02)
        ep = server.endpoint("sleepy")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceTimeout, match=r"asleep and did not wake up within the request's timeout of 0.3 s"):
            await ep.read("/3/0/9", timeout=0.3)
        assert 0.25 <= loop.time() - started < 2
        assert server.queue.queued("sleepy") == 0  # withdrawn from the queue
        assert not client.requests or client.requests[-1][:2] != ("GET", "/3/0/9")  # never sent

        waiting = asyncio.create_task(ep.read("/3/0/9", timeout=5))
        async with asyncio.timeout(2):
            while server.queue.queued("sleepy") != 1:
                await asyncio.sleep(0.01)
        await client.wake()
        assert (await waiting).value("/3/0/9") == 95
    finally:
        await client.stop()
        await server.stop()


async def test_a_cancelled_queued_request_leaves_the_queue(qserver: LwM2MServer) -> None:
    client = SimClient("sleepy", qserver.port, version="1.1", queue_mode=True)
    await client.start()
    try:
        await client.sleep()
        await asyncio.sleep(0.4)
        waiting = asyncio.create_task(qserver.endpoint("sleepy").read("/3/0/9"))
        async with asyncio.timeout(2):
            while qserver.queue.queued("sleepy") != 1:
                await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert qserver.queue.queued("sleepy") == 0
    finally:
        await client.stop()
