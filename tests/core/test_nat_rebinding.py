"""A device behind a NAT whose mapping changes keeps its observations (issue #13 item 6)."""

import asyncio

from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim import SimClient
from tests.sim.nat import Nat

P = Path.parse
TEMPERATURE = P("/3303/0/5700")


async def _next_value(notes: asyncio.Queue, path: Path, value: float) -> EventType:
    """Wait for an event carrying value at path (earlier ones are skipped)."""
    async with asyncio.timeout(10):
        while True:
            event = await notes.get()
            if event.values.get(path) == value:
                return event.type


async def test_observations_follow_a_device_whose_nat_mapping_changed(server: LwM2MServer) -> None:
    nat = Nat(server.port)
    await nat.start()
    client = SimClient("behind-nat", nat.inside_port)
    notes: asyncio.Queue = asyncio.Queue()
    updates = []
    # a value reaches the server in a notification, or in the answer to an Observe made again
    server.events.subscribe(
        lambda e: notes.put_nowait(e) if e.type in (EventType.NOTIFICATION, EventType.RESPONSE) else None
    )
    server.events.subscribe(lambda e: updates.append(e) if e.type is EventType.UPDATED else None)
    try:
        await client.start()
        endpoint = server.endpoint("behind-nat")
        await endpoint.observe(TEMPERATURE)
        await endpoint.observe_composite([P("/3/0/9"), P("/3/0/20")])
        client.set_value(TEMPERATURE, 22.5)
        await _next_value(notes, TEMPERATURE, 22.5)

        await nat.rebind()
        assert (await client.update()).code == Code.CHANGED
        assert updates[-1].details.moved is True
        reg = server.registrations.by_endpoint("behind-nat")
        assert reg.address == f"127.0.0.1:{nat.outside_port}"

        # the device never knew: its next notification comes from the new outside port
        client.set_value(TEMPERATURE, 23.5)
        await _next_value(notes, TEMPERATURE, 23.5)
        client.set_value(P("/3/0/9"), 42)
        await _next_value(notes, P("/3/0/9"), 42)
        client.set_value(TEMPERATURE, 24.5)  # by now certainly a notification of the new observation
        assert await _next_value(notes, TEMPERATURE, 24.5) is EventType.NOTIFICATION
        # the list shows the truth: one observation per path set
        observations = server.observations.of("behind-nat")
        assert sorted(o.paths for o in observations) == [(P("/3/0/9"), P("/3/0/20")), (TEMPERATURE,)]
        assert next(o for o in observations if o.paths == (TEMPERATURE,)).composite is False
    finally:
        await client.stop()
        await nat.stop()
