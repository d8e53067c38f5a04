"""Send names no endpoint: it is attributed among the registrations of its address (issue #13 item 7)."""

import asyncio

from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer

P = Path.parse


async def test_two_endpoints_on_one_address_each_get_their_own_sends(server: LwM2MServer, make_client) -> None:
    sends: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: sends.put_nowait(e) if e.type is EventType.SEND else None)
    client = await make_client("thermo", values={P("/3/0/9"): 80, P("/3303/0/5700"): 21.5})
    # a second endpoint on the same socket (a gateway speaking for two devices), with other objects
    other = client.query({"ep": "hygro"})
    answer = await client.register(query=other, payload=b"</3/0>,</3304/0>")
    assert answer.code == Code.CREATED
    hygro_location = client.location
    assert [r.endpoint for r in server.registrations.at_address(f"127.0.0.1:{client.local_port}")] == [
        "thermo",
        "hygro",
    ]

    assert (await client.send([P("/3303/0/5700")])).code == Code.CHANGED
    assert (await sends.get()).endpoint == "thermo"  # only thermo announced 3303
    client.values[P("/3304/0/5700")] = 55.0
    assert (await client.send([P("/3304/0/5700")])).code == Code.CHANGED
    assert (await sends.get()).endpoint == "hygro"
    assert server.registrations.by_endpoint("thermo").stats.messages_in >= 2

    # the last one registered goes away: the other one's Sends still arrive
    client.location = hygro_location
    assert (await client.deregister()).code == Code.DELETED
    assert (await client.send([P("/3304/0/5700")])).code == Code.CHANGED
    assert (await sends.get()).endpoint == "thermo"  # the only one left at the address
    assert [r.endpoint for r in server.registrations.at_address(f"127.0.0.1:{client.local_port}")] == ["thermo"]


async def test_an_unreadable_send_counts_against_every_endpoint_of_its_address(
    server: LwM2MServer, make_client
) -> None:
    client = await make_client("solo")
    from aiocoap import Message

    message = Message(code=Code.POST, uri=f"{client.server}/dp", content_format=110, payload=b"[{")
    answer = await client._send(message)
    assert answer.code == Code.BAD_REQUEST and b"unreadable Send payload" in answer.payload
    assert server.registrations.by_endpoint("solo").stats.errors == 1
