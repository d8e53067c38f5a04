"""First round trip: a simulated device registers and is read."""

from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path


async def test_register_and_read(server, make_client) -> None:
    events = []
    server.events.subscribe(events.append)
    client = await make_client("sim-1")
    assert client.location[0] == "rd"
    assert [e.type for e in events] == [EventType.REGISTERED]
    ep = server.endpoint("sim-1")
    result = await ep.read("/3303/0/5700")
    assert result.code == "2.05"
    assert result.values == {Path.parse("/3303/0/5700"): 21.5}
