"""What an attacker on the LAN sends (issue #13), over real UDP: a bad payload ends nothing,
a bad name is refused with a reason, and hostile datagrams are counted rather than logged."""

from __future__ import annotations

import asyncio
import itertools
import json

import cbor2
import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.rawcoap import RawDevice

P = Path.parse
# Payloads whose decoding raised something else than CodecError before issue #13: an object
# link with a digit that is not ASCII, a base time past a float's range plus a float time,
# an integer of 5,000 digits for a Float resource.
BAD_SENML = {
    "unicode digit in vlo": (ContentFormat.SENML_JSON, json.dumps([{"n": "/3303/0/5700", "vlo": "²:1"}]).encode()),
    "bt + t overflows": (ContentFormat.SENML_JSON, b'[{"n":"/3303/0/5700","bt":1' + b"0" * 309 + b',"t":0.5,"v":1}]'),
    "5000-digit float": (ContentFormat.SENML_CBOR, cbor2.dumps([{0: "/3303/0/5700", 2: 10**5000}])),
}


@pytest.mark.parametrize("bad", sorted(BAD_SENML))
async def test_a_bad_send_gets_4_00_and_the_next_send_works(server: LwM2MServer, bad: str, caplog) -> None:
    device = RawDevice(server.port, "raw-send")
    await device.start()
    try:
        await device.register()
        sends: list[Event] = []
        server.events.subscribe(lambda e: sends.append(e) if e.type is EventType.SEND else None)
        fmt, payload = BAD_SENML[bad]
        answer = await device.request(Message(code=Code.POST, uri_path=("dp",), content_format=fmt, payload=payload))
        assert answer.code == Code.BAD_REQUEST, answer
        assert b"unreadable Send payload" in answer.payload
        assert server.registrations.by_endpoint("raw-send").stats.errors == 1
        assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback
        good = json.dumps([{"n": "/3303/0/5700", "v": 21.5}]).encode()
        answer = await device.request(
            Message(code=Code.POST, uri_path=("dp",), content_format=ContentFormat.SENML_JSON, payload=good)
        )
        assert answer.code == Code.CHANGED
        assert [e.values for e in sends] == [{P("/3303/0/5700"): 21.5}]
    finally:
        await device.stop()


@pytest.mark.parametrize("bad", sorted(BAD_SENML))
async def test_a_bad_notification_is_counted_and_dropped_and_the_observation_goes_on(
    server: LwM2MServer, bad: str
) -> None:
    device = RawDevice(server.port, "raw-notify")
    await device.start()
    try:
        await device.register()
        notes: list[Event] = []
        server.events.subscribe(lambda e: notes.append(e) if e.type is EventType.NOTIFICATION else None)
        observing = asyncio.create_task(server.endpoint("raw-notify").observe("/3303/0/5700"))
        request = await device.next_request()
        device.answer(request, b"20.0", observe=1)
        await observing
        fmt, payload = BAD_SENML[bad]
        device.notify(request, 2, payload, content_format=fmt)
        device.notify(request, 3, b"22.5")
        device.notify(request, 4, b"23.5")
        async with asyncio.timeout(5):
            while len(notes) < 2:
                await asyncio.sleep(0.01)
        assert [(e.sequence, e.values) for e in notes] == [
            (3, {P("/3303/0/5700"): 22.5}),
            (4, {P("/3303/0/5700"): 23.5}),
        ]
        assert server.registrations.by_endpoint("raw-notify").stats.errors == 1
        (observation,) = server.observations.of("raw-notify")
        assert observation.last_sequence == 4
        # nothing answered a notification with RST: the observation is alive in aiocoap too
        assert not observation.request.observation.cancelled
    finally:
        await device.stop()


async def test_a_decoder_bug_still_ends_no_observation(server: LwM2MServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoders raise only CodecError; should one ever raise something else, the notification
    is counted and dropped all the same (aiocoap would end the observation otherwise)."""
    import custom_components.lwm2m.lwm2m.server as server_module

    device = RawDevice(server.port, "raw-bug")
    await device.start()
    try:
        await device.register()
        notes: list[Event] = []
        server.events.subscribe(lambda e: notes.append(e) if e.type is EventType.NOTIFICATION else None)
        observing = asyncio.create_task(server.endpoint("raw-bug").observe("/3303/0/5700"))
        request = await device.next_request()
        device.answer(request, b"20.0", observe=1)
        await observing
        decode = server_module.decode

        def buggy(fmt: int, payload: bytes, *args: object) -> object:
            if payload == b"bug":
                raise RuntimeError("a decoder bug")
            return decode(fmt, payload, *args)

        monkeypatch.setattr(server_module, "decode", buggy)
        device.notify(request, 2, b"bug")
        device.notify(request, 3, b"22.5")
        async with asyncio.timeout(5):
            while not notes:
                await asyncio.sleep(0.01)
        assert [e.sequence for e in notes] == [3]
        assert server.registrations.by_endpoint("raw-bug").stats.errors == 1
    finally:
        await device.stop()


async def test_request_tokens_are_random_and_8_bytes(server: LwM2MServer) -> None:
    """aiocoap's tokens count up (bbc0, bbc1, ...): whoever saw one could answer the next
    request before the device does. Every request now carries 8 random bytes; the GET that
    cancels an observation carries the observation's token, and later requests are random again."""
    device = RawDevice(server.port, "raw-tokens")
    await device.start()
    try:
        await device.register()
        ep = server.endpoint("raw-tokens")
        tokens: list[bytes] = []
        for _ in range(40):
            reading = asyncio.create_task(ep.read("/3/0/9"))
            request = await device.next_request()
            tokens.append(request.token)
            device.answer(request, b"95")
            assert (await reading).value("/3/0/9") == 95
        observing = asyncio.create_task(ep.observe("/3303/0/5700"))
        request = await device.next_request()
        device.answer(request, b"20.0", observe=1)
        await observing
        cancelling = asyncio.create_task(ep.cancel_observe("/3303/0/5700"))
        cancel = await device.next_request()
        assert cancel.opt.observe == 1 and cancel.token == request.token
        device.answer(cancel, b"20.0")
        await cancelling
        tokens.append(request.token)
        for _ in range(5):
            reading = asyncio.create_task(ep.read("/3/0/9"))
            request = await device.next_request()
            tokens.append(request.token)
            device.answer(request, b"95")
            await reading
    finally:
        await device.stop()
    assert all(len(token) == 8 for token in tokens), {len(t) for t in tokens}
    assert len(set(tokens)) == len(tokens)  # none repeated
    numbers = [int.from_bytes(token, "big") for token in tokens]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    assert len(steps) > len(numbers) // 2  # no counter: hardly two steps alike
    assert not {1, -1} & steps


def _register(endpoint: str) -> Message:
    return Message(
        code=Code.POST,
        uri_path=("rd",),
        uri_query=(f"ep={endpoint}", "lt=60", "lwm2m=1.1"),
        content_format=ContentFormat.LINK_FORMAT,
        payload=b"</3/0>",
    )


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("plant/1", "must not contain '/'"),
        ("plant+1", "must not contain '+'"),
        ("plant#1", "must not contain '#'"),
        ("+", "must not contain '+'"),
        (" plant", "must not begin or end with whitespace"),
        ("plant ", "must not begin or end with whitespace"),
        ("plant\n1", "control characters"),
        ("plant\t1", "control characters"),
        ("\x1b[31mred", "control characters"),
        ("plant\x7f", "control characters"),
        ("plant\u200b1", "control characters"),  # zero-width space: prints as nothing
        ("plant\u00a0", "control characters"),  # no-break space at the end
        ("", "1 to 255 characters"),
        ("x" * 256, "1 to 255 characters"),
    ],
)
async def test_register_refuses_endpoint_names_that_do_not_fit_topics_and_logs(
    server: LwM2MServer, endpoint: str, reason: str
) -> None:
    device = RawDevice(server.port, "unused")
    await device.start()
    try:
        answer = await device.request(_register(endpoint))
    finally:
        await device.stop()
    assert answer.code == Code.BAD_REQUEST, answer
    assert reason in answer.payload.decode()
    assert len(server.registrations) == 0


@pytest.mark.parametrize("endpoint", ["urn:imei:490154203237518", "plant 1", "Gerät-ä_1.2", "x" * 255, "a:b@c;d"])
async def test_register_takes_ordinary_endpoint_names(server: LwM2MServer, endpoint: str) -> None:
    device = RawDevice(server.port, "unused")
    await device.start()
    try:
        answer = await device.request(_register(endpoint))
    finally:
        await device.stop()
    assert answer.code == Code.CREATED, answer.payload
    assert server.registrations.by_endpoint(endpoint) is not None
