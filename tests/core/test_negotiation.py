"""Content negotiation: a device that answers 4.06 Not Acceptable is asked again with the next
format its LwM2M version allows, and the registration remembers what it refused.

Real server, simulated device, real UDP on 127.0.0.1.
"""

import asyncio
import logging

import pytest

from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.errors import OperationError
from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration

P = Path.parse
CBOR, SJSON, TLV, TEXT = ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV, ContentFormat.TEXT
EVERYTHING = {int(f) for f in ContentFormat}
LOGGER = "custom_components.lwm2m.lwm2m.client"


def accepts(client, start: int = 0) -> list[int | None]:
    """The Accept of every request the device saw since start."""
    return [accept for _method, _path, accept in client.requests[start:]]


def responses(events: list, operation: str) -> list:
    return [e for e in events if e.type is EventType.RESPONSE and e.details.operation == operation]


async def test_read_falls_back_remembers_and_says_so(server, make_client, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    client = await make_client("dev", version="1.1", refuse_formats={CBOR})
    ep = server.endpoint("dev")
    events: list = []
    server.events.subscribe(events.append)

    first = await ep.read("/3/0")
    assert first.values[P("/3/0/0")] == "Simulated Devices Inc." and first.values[P("/3/0/7/1")] == 5000
    assert first.content_format == SJSON and first.fallback_from == (CBOR,)
    assert accepts(client) == [CBOR, SJSON]
    (event,) = responses(events, "read")  # the refused attempt is no event of its own
    assert event.code == "2.05" and event.details.content_format == SJSON
    assert event.details.fallback_from == (CBOR,)
    reg = server.registrations.by_endpoint("dev")
    assert reg.refused_formats == {CBOR} and reg.stats.errors == 0

    second = await ep.read("/3303/0/5700")  # straight to the format that worked
    assert second.value("/3303/0/5700") == 21.5 and second.content_format == SJSON
    assert second.fallback_from == () and accepts(client, 2) == [SJSON]
    assert responses(events, "read")[1].details.fallback_from == ()
    assert responses(events, "read")[1].details.content_format == SJSON

    notes = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert notes == ["device dev cannot produce SenML CBOR; using SenML JSON"]


async def test_observe_falls_back_and_notifications_decode(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats={CBOR, SJSON})
    ep = server.endpoint("dev")
    notes: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)

    first = await ep.observe("/3303/0/5700")
    assert first.value("/3303/0/5700") == 21.5
    assert first.content_format == TLV and first.fallback_from == (CBOR, SJSON)
    assert accepts(client) == [CBOR, SJSON, TLV]
    assert len(client.root.observers) == 1 and len(ep.observations()) == 1  # the refused Observes left none
    for value in (22.0, 23.5):
        client.set_value("/3303/0/5700", value)
        event = await asyncio.wait_for(notes.get(), 5)
        assert event.values == {P("/3303/0/5700"): value}

    start = len(client.requests)  # each notification is one more render, so count from here
    instance = await ep.observe("/3/0")  # remembered: no second round of refusals
    assert instance.content_format == TLV and instance.fallback_from == ()
    assert accepts(client, start) == [TLV]
    client.set_value("/3/0/9", 70)
    event = await asyncio.wait_for(notes.get(), 5)
    assert event.path == P("/3/0") and event.values[P("/3/0/9")] == 70

    assert (await ep.cancel_observe("/3303/0/5700")).code == "2.05"
    assert client.requests[-1][2] == TLV  # the cancellation asks for what the observation used
    assert [paths for paths, _o in client.root.observers] == [(P("/3/0"),)]


async def test_single_resources_fall_back_to_text(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats={CBOR, SJSON, TLV})
    ep = server.endpoint("dev")
    single = await ep.read("/3/0/9")
    assert single.value("/3/0/9") == 95 and single.payload == b"95"
    assert single.content_format == TEXT and single.fallback_from == (CBOR, SJSON, TLV)
    assert accepts(client) == [CBOR, SJSON, TLV, TEXT]
    # An instance cannot be plain text, and everything else was refused: 4.06, asked once.
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0")
    assert err.value.code == "4.06" and accepts(client, 4) == [CBOR]


async def test_a_1_0_device_falls_back_in_its_own_formats(server, make_client) -> None:
    client = await make_client("old", version="1.0", refuse_formats={TLV})
    ep = server.endpoint("old")
    single = await ep.read("/3/0/9")
    assert single.value("/3/0/9") == 95 and single.content_format == TEXT
    assert accepts(client) == [TLV, TEXT]
    instance = await ep.read("/3/0")  # no text for an instance; SenML JSON is no 1.0 format of this device
    assert instance.values[P("/3/0/9")] == 95 and instance.content_format == ContentFormat.LWM2M_JSON
    assert accepts(client, 2) == [SJSON, ContentFormat.LWM2M_JSON]
    assert instance.fallback_from == (SJSON,)
    assert server.registrations.by_endpoint("old").refused_formats == {TLV, SJSON}


async def test_a_device_that_refuses_everything_gets_4_06(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats=EVERYTHING)
    ep = server.endpoint("dev")
    events: list = []
    server.events.subscribe(events.append)
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0/9")
    assert err.value.code == "4.06" and "not acceptable" in str(err.value)
    assert "tried SenML CBOR, SenML JSON, TLV, plain text" in str(err.value)
    assert accepts(client) == [CBOR, SJSON, TLV, TEXT]
    assert [e.code for e in responses(events, "read")] == ["4.06"]
    reg = server.registrations.by_endpoint("dev")
    assert reg.refused_formats == set()  # nothing worked, so nothing is learnt
    assert reg.stats.errors == 1

    with pytest.raises(OperationError) as err:
        await ep.observe("/3/0")
    assert err.value.code == "4.06" and accepts(client, 4) == [CBOR, SJSON, TLV]
    assert ep.observations() == [] and client.root.observers == []

    with pytest.raises(OperationError) as err:
        await ep.read_composite(["/3/0/9"])
    assert err.value.code == "4.06" and accepts(client, 7) == [CBOR, SJSON]


async def test_an_explicit_format_is_not_retried(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats={CBOR})
    ep = server.endpoint("dev")
    with pytest.raises(OperationError) as err:
        await ep.read("/3/0/9", content_format=CBOR)
    assert err.value.code == "4.06" and "tried" not in str(err.value)
    with pytest.raises(OperationError) as err:
        await ep.observe("/3/0/9", content_format=CBOR)
    assert err.value.code == "4.06"
    with pytest.raises(OperationError) as err:
        await ep.observe_composite(["/3/0/9"], content_format=CBOR)
    assert err.value.code == "4.06"
    assert accepts(client) == [CBOR, CBOR, CBOR]
    assert server.registrations.by_endpoint("dev").refused_formats == set()
    explicit = await ep.read("/3/0/9", content_format=TLV)
    assert explicit.content_format == TLV and explicit.fallback_from == ()
    assert server.registrations.by_endpoint("dev").refused_formats == set()


async def test_composite_operations_fall_back_between_senml_formats(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats={CBOR})
    ep = server.endpoint("dev")
    result = await ep.read_composite(["/3/0/9", "/3303/0"])
    assert result.values == {P("/3/0/9"): 95, P("/3303/0/5700"): 21.5, P("/3303/0/5701"): "Cel"}
    assert result.content_format == SJSON and result.fallback_from == (CBOR,)
    assert accepts(client) == [CBOR, SJSON]

    notes: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(lambda e: notes.put_nowait(e) if e.type is EventType.NOTIFICATION else None)
    first = await ep.observe_composite(["/3303/0/5700", "/3/0/9"])
    assert first.values == {P("/3303/0/5700"): 21.5, P("/3/0/9"): 95} and first.fallback_from == ()
    assert accepts(client, 2) == [SJSON]
    client.set_value("/3/0/9", 50)
    event = await asyncio.wait_for(notes.get(), 5)
    assert event.values[P("/3/0/9")] == 50
    await ep.cancel_observe([P("/3303/0/5700"), P("/3/0/9")])
    assert client.root.observers == []

    reg = server.registrations.by_endpoint("dev")
    assert ep.accept_candidates(Path(), composite=True) == [SJSON]
    reg.lwm2m_version = "1.2"  # LwM2M CBOR is one more composite format from 1.2 on
    assert ep.accept_candidates(Path(), composite=True) == [SJSON, ContentFormat.LWM2M_CBOR]
    assert ep.accept_candidates(P("/3/0/9")) == [SJSON, TLV, TEXT]
    assert ep.accept_candidates(P("/3/0")) == [SJSON, TLV]


async def test_a_new_register_forgets_an_update_keeps(server, make_client) -> None:
    client = await make_client("dev", version="1.1", refuse_formats={CBOR})
    ep = server.endpoint("dev")
    assert (await ep.read("/3/0/9")).fallback_from == (CBOR,)
    await client.update(lifetime=120)
    assert server.registrations.by_endpoint("dev").refused_formats == {CBOR}
    start = len(client.requests)
    assert (await ep.read("/3/0/9")).fallback_from == ()
    assert accepts(client, start) == [SJSON]

    await client.register()
    reg = server.registrations.by_endpoint("dev")
    assert reg.refused_formats == set()
    start = len(client.requests)
    again = await ep.read("/3/0/9")
    assert again.fallback_from == (CBOR,) and accepts(client, start) == [CBOR, SJSON]
    assert reg.refused_formats == {CBOR}


def test_refused_formats_are_saved_and_older_data_still_loads() -> None:
    reg = Registration(reg_id="r1", endpoint="dev", lifetime=60, lwm2m_version="1.1")
    reg.refused_formats.update({CBOR, SJSON})
    data = reg.to_dict()
    assert data["refused_formats"] == [SJSON, CBOR]
    assert Registration.from_dict(data).refused_formats == {CBOR, SJSON}
    older = {k: v for k, v in data.items() if k != "refused_formats"}
    assert Registration.from_dict(older).refused_formats == set()
    for garbage in (None, "112", {"a": 1}, [True, "x", -1, 70000, 11542]):
        assert Registration.from_dict(data | {"refused_formats": garbage}).refused_formats == (
            {TLV} if isinstance(garbage, list) else set()
        )
