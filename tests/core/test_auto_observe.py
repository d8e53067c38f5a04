"""Auto-observe: configured paths (or everything announced) are observed after each registration."""

import asyncio

from custom_components.lwm2m.lwm2m.config import AUTO_OBSERVE_ALL, ServerConfig
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim import SimClient

P = Path.parse


async def _wait_observers(client: SimClient, count: int) -> None:
    async with asyncio.timeout(5):
        while len(client.root.observers) < count:
            await asyncio.sleep(0.02)


async def test_configured_paths(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, auto_observe=("/3303/0/5700", "/3/0/9", "/9999/0/1")))
    await server.start()
    notes: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)
    client = SimClient("auto", server.port)
    try:
        await client.start()
        await _wait_observers(client, 2)
        assert sorted(p for (p,), _o in client.root.observers) == [P("/3/0/9"), P("/3303/0/5700")]
        client.set_value("/3303/0/5700", 30.5)
        event = await asyncio.wait_for(notes.get(), 5)
        assert event.values == {P("/3303/0/5700"): 30.5}
        client.root.observers.clear()
        await client.register()  # re-registration: observed again
        await _wait_observers(client, 2)
        assert len(server.endpoint("auto").observations()) == 2
    finally:
        await client.stop()
        await server.stop()


async def test_everything_announced(udp: None) -> None:
    server = LwM2MServer(ServerConfig(port=0, auto_observe=AUTO_OBSERVE_ALL))
    await server.start()
    client = SimClient("auto-all", server.port)
    try:
        await client.start()
        await _wait_observers(client, 4)
        assert sorted(p for (p,), _o in client.root.observers) == [P("/1/0"), P("/3/0"), P("/3303/0"), P("/3311/0")]
    finally:
        await client.stop()
        await server.stop()
