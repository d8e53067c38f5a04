"""What each device operation (client.py's Endpoint) tells its listeners and its caller: the
response event with the operation's name, path, code and content format, the counters, the
formats it sends in, and the messages of what it refuses before sending anything."""

from __future__ import annotations

from typing import Any

import pytest
from aiocoap import Message

from custom_components.lwm2m.lwm2m.client import format_name
from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.errors import CodecError, DeviceTimeout, NotRegistered, OperationError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim.client import DEFAULT_VALUES

P = Path.parse


def _responses(server: LwM2MServer) -> list[Event]:
    events: list[Event] = []
    server.events.subscribe(lambda e: events.append(e) if e.type is EventType.RESPONSE else None)
    return events


def _summary(events: list[Event]) -> list[tuple[Any, ...]]:
    out = []
    for e in events:
        assert e.response is not None
        out.append((e.response.operation, str(e.path), e.code, e.response.content_format))
    return out


def _formats_received(client: Any) -> list[tuple[str, int | None]]:
    """Record the Content-Format of each request the simulated device gets."""
    seen: list[tuple[str, int | None]] = []
    render = client.root.render

    async def recording(request: Message) -> Message:
        fmt = request.opt.content_format
        seen.append((str(request.code), None if fmt is None else int(fmt)))
        return await render(request)

    client.root.render = recording
    return seen


async def test_every_operation_emits_its_response(server: LwM2MServer, make_client: Any) -> None:
    client = await make_client("dev", version="1.1")
    ep = server.endpoint("dev")
    events = _responses(server)
    await ep.read("/3/0/9")
    await ep.discover("/3/0")
    await ep.write("/3303/0/5701", "+01:00")
    await ep.write_attributes("/3/0/9", {"pmin": 5})
    await ep.execute("/3/0/4")
    await ep.create("/3303", {5700: 1.0}, instance_id=4)
    await ep.delete("/3303/4")
    await ep.read_composite(["/3/0/9"])
    await ep.write_composite({"/3303/0/5701": "Z"})
    await ep.observe("/3303/0/5700")
    await ep.cancel_observe("/3303/0/5700")
    await ep.observe_composite(["/3/0/9"])
    await ep.cancel_observe([P("/3/0/9")])
    assert _summary(events) == [
        ("read", "/3/0/9", "2.05", ContentFormat.SENML_CBOR),
        ("discover", "/3/0", "2.05", ContentFormat.LINK_FORMAT),
        ("write", "/3303/0/5701", "2.04", None),
        ("write-attributes", "/3/0/9", "2.04", None),
        ("execute", "/3/0/4", "2.04", None),
        ("create", "/3303", "2.01", None),
        ("delete", "/3303/4", "2.02", None),
        ("read-composite", "/", "2.05", ContentFormat.SENML_CBOR),
        ("write-composite", "/", "2.04", None),
        ("observe", "/3303/0/5700", "2.05", ContentFormat.SENML_CBOR),
        ("cancel-observe", "/3303/0/5700", "2.05", ContentFormat.SENML_CBOR),
        ("observe-composite", "/", "2.05", ContentFormat.SENML_CBOR),
        ("cancel-observe", "/3/0/9", "2.05", ContentFormat.SENML_CBOR),
    ]
    # a write's event carries the values written; a read's the values read
    assert events[0].values == {P("/3/0/9"): client.values[P("/3/0/9")]}
    assert events[2].values == {P("/3303/0/5701"): "+01:00"}
    assert events[8].values == {P("/3303/0/5701"): "Z"}
    reg = server.registrations.by_endpoint("dev")
    assert reg is not None
    assert reg.stats.messages_out == 13 and reg.stats.errors == 0


async def test_an_error_answer_emits_its_response_and_counts(server: LwM2MServer, make_client: Any) -> None:
    await make_client("dev", misbehave="error")
    ep = server.endpoint("dev")
    events = _responses(server)
    with pytest.raises(OperationError) as err:
        await ep.delete("/3303/0")
    assert str(err.value) == "dev answered delete /3303/0 with 5.00 (internal server error): simulated failure"
    assert err.value.code == "5.00"
    assert _summary(events) == [("delete", "/3303/0", "5.00", None)]
    reg = server.registrations.by_endpoint("dev")
    assert reg is not None and reg.stats.errors == 1
    assert server.stats.errors == 0  # the device answered: no transport failure


async def test_write_formats(server: LwM2MServer, make_client: Any) -> None:
    client = await make_client("new", version="1.1")
    seen = _formats_received(client)
    ep = server.endpoint("new")
    await ep.write("/3303/0/5701", "+01:00")
    await ep.write("/3303/0/5701", "+02:00", content_format=ContentFormat.TEXT)
    await ep.write_composite({"/3303/0/5701": "Z"})
    await ep.write_composite({"/3303/0/5701": "Y"}, content_format=ContentFormat.SENML_JSON)
    await ep.write_composite({"/3303/0/5701": "X"}, content_format=ContentFormat.SENML_JSON, timeout=5)
    assert seen == [
        ("PUT", ContentFormat.SENML_CBOR),
        ("PUT", ContentFormat.TEXT),
        ("iPATCH", ContentFormat.SENML_CBOR),
        ("iPATCH", ContentFormat.SENML_JSON),
        ("iPATCH", ContentFormat.SENML_JSON),
    ]
    assert client.values[P("/3303/0/5701")] == "X"
    old = await make_client("old", version="1.0", values={**DEFAULT_VALUES, P("/5/0/0"): b""})
    seen_old = _formats_received(old)
    old_ep = server.endpoint("old")
    await old_ep.write("/3303/0/5701", "+03:00")
    await old_ep.write("/5/0/0", b"\x01")
    await old_ep.write("/3311/0", {5850: True}, replace=False)
    await old_ep.create("/3303", {5700: 2.0})
    await old_ep.write_composite({"/3303/0/5701": "W"})  # composite needs SenML, whatever the device prefers
    assert seen_old == [
        ("PUT", ContentFormat.TEXT),
        ("PUT", ContentFormat.OPAQUE),
        ("POST", ContentFormat.TLV),
        ("POST", ContentFormat.TLV),
        ("iPATCH", ContentFormat.SENML_JSON),
    ]


async def test_the_preferred_format_follows_what_the_device_announced(server: LwM2MServer, make_client: Any) -> None:
    await make_client("plain-1.0", version="1.0")
    await make_client("plain-1.1", version="1.1")
    await make_client("plain-1.2", version="1.2")
    await make_client("announcing", version="1.0", announce_formats=True)
    assert server.endpoint("plain-1.0").preferred_format() == ContentFormat.TLV
    assert server.endpoint("plain-1.1").preferred_format() == ContentFormat.SENML_CBOR
    assert server.endpoint("plain-1.2").preferred_format() == ContentFormat.SENML_CBOR
    announced = server.registrations.by_endpoint("announcing")
    assert announced is not None and announced.objects.content_formats
    assert server.endpoint("announcing").preferred_format() in announced.objects.content_formats


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda ep: ep.execute("/3/0"), "Execute needs a resource path, not /3/0"),
        (lambda ep: ep.execute("/3/0/4/1"), "Execute needs a resource path, not /3/0/4/1"),
        (lambda ep: ep.create("/3303/0", {}), "Create needs an object path, not /3303/0"),
        (lambda ep: ep.write_composite({"/3311/0": 1}), "Write-Composite needs resource paths, not /3311/0"),
        (
            lambda ep: ep.write_attributes("/3/0/9", {"every": 5}),
            "unknown attribute 'every'; use pmin, pmax, gt, lt, st, epmin, epmax",
        ),
    ],
)
async def test_refused_before_sending(server: LwM2MServer, make_client: Any, operation: Any, message: str) -> None:
    client = await make_client("dev", version="1.1")
    with pytest.raises(CodecError) as err:
        await operation(server.endpoint("dev"))
    assert str(err.value) == message
    assert client.requests == []


async def test_a_cancellation_of_nothing_and_an_unknown_device(server: LwM2MServer, make_client: Any) -> None:
    await make_client("dev")
    with pytest.raises(OperationError) as err:
        await server.endpoint("dev").cancel_observe([P("/3/0/9"), P("/3/0/10")])
    assert (str(err.value), err.value.code) == ("dev has no observation of /3/0/9, /3/0/10", "4.04")
    with pytest.raises(NotRegistered) as gone:
        server.endpoint("ghost")
    assert (str(gone.value), gone.value.code) == ("ghost is not registered", "4.04")


def test_format_names() -> None:
    assert format_name(None) == "no content format"
    assert format_name(ContentFormat.SENML_CBOR) == "SenML CBOR"
    assert format_name(4242) == "content format 4242"


async def test_a_silent_device_times_out_and_counts_one_failure(server: LwM2MServer, make_client: Any) -> None:
    await make_client("mute", misbehave="silent")
    ep = server.endpoint("mute")
    errors_before = server.stats.errors
    with pytest.raises(DeviceTimeout) as err:
        await ep.read("/3/0/0", content_format=ContentFormat.TEXT, timeout=0.2)
    assert str(err.value) == "mute did not answer read /3/0/0 within 0.2 s"
    assert err.value.code is None
    reg = server.registrations.by_endpoint("mute")
    assert reg is not None and reg.stats.errors == 1
    assert server.stats.errors == errors_before + 1


async def test_an_unreadable_answer_names_the_path(server: LwM2MServer, make_client: Any) -> None:
    await make_client("noisy", misbehave="garbage")
    with pytest.raises(OperationError) as err:
        await server.endpoint("noisy").read("/3/0/9", content_format=ContentFormat.TEXT)
    assert str(err.value).startswith("noisy sent an unreadable answer for /3/0/9: ")
    assert err.value.code == "2.05"
