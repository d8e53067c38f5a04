"""The notification reader (fast_notify): plain notifications taken off the socket in batches,
CON ones acknowledged, duplicates and strangers left out, the rest handed to aiocoap, and
coalescing only past the overload mark, counted. Real UDP on loopback, a device on a bare
socket (every message ID, type and option the test's choice)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiocoap import ACK, CON, NON, RST, Message
from aiocoap.numbers.codes import Code
from hypothesis import given
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m import fast_notify
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.fast_notify import PLAIN_OPTIONS, parse_options
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.rawcoap import RawDevice

TEMPERATURE = Path.parse("/3303/0/5700")

# -- the option parser, against aiocoap's encoder ------------------------------------------

OPTION_NUMBERS = st.sampled_from([1, 4, 6, 8, 11, 12, 14, 15, 17, 23, 27, 28, 35, 60, 258, 2049])


@given(
    options=st.lists(st.tuples(OPTION_NUMBERS, st.binary(max_size=300)), max_size=5),
    payload=st.binary(max_size=40),
)
def test_the_parser_reads_what_aiocoap_writes_or_declines(options: list[tuple[int, bytes]], payload: bytes) -> None:
    message = Message(code=Code.CONTENT, payload=payload)
    message.mtype, message.mid, message.token = NON, 1, b"12345678"
    for number, value in options:
        message.opt.add_option(_opaque(number, value))
    data = message.encode()
    parsed = parse_options(data, 4 + 8)
    plain = all(number in PLAIN_OPTIONS for number, _ in options)
    observe = [value for number, value in options if number == 6]
    formats = [value for number, value in options if number == 12]
    repeated = len(observe) > 1 or len(formats) > 1  # aiocoap's to read (the first wins, RFC 7252 5.4.5)
    if not plain or repeated or any(len(v) > 3 for v in observe) or any(len(v) > 2 for v in formats):
        assert parsed is None
        return
    assert parsed is not None
    sequence, content_format, body = parsed
    assert body == payload
    assert (sequence, content_format) == (
        int.from_bytes(observe[0]) if observe else None,
        int.from_bytes(formats[0]) if formats else None,
    )


def _opaque(number: int, value: bytes) -> Any:
    from aiocoap.optiontypes import OpaqueOption

    return OpaqueOption(number, value)


@given(st.binary(max_size=64))
def test_the_parser_never_raises_on_garbage(data: bytes) -> None:
    parsed = parse_options(data, 0)
    assert parsed is None or isinstance(parsed[2], bytes)


@pytest.mark.parametrize(
    "tail",
    [
        b"\xff",  # a payload marker with no payload
        b"\xd1",  # delta 13 with no extension byte
        b"\x6d",  # Observe, length 13 with no extension byte
        b"\xf0",  # delta 15 without being the marker
        b"\x64\x00\x00\x00\x01",  # Observe of 4 bytes
        b"\x63\x01",  # Observe of 3 bytes, 1 there
    ],
)
def test_the_parser_declines_a_broken_datagram(tail: bytes) -> None:
    assert parse_options(b"\x51\x45\x00\x01\x07" + tail, 5) is None


# -- real UDP -----------------------------------------------------------------------------


@pytest.fixture
async def server(udp: None):  # type: ignore[no-untyped-def]
    """A server without a notification budget: each event is one notification (or its coalesced ones)."""
    srv = LwM2MServer(ServerConfig(port=0, request_timeout=5, notification_rate=0))
    await srv.start()
    yield srv
    await srv.stop()


async def _observed(server: LwM2MServer, name: str) -> tuple[RawDevice, Message, list[Event]]:
    device = RawDevice(server.port, name)
    await device.start()
    await device.register()
    notes: list[Event] = []
    server.events.subscribe(
        lambda e: notes.append(e) if e.type is EventType.NOTIFICATION and e.endpoint == name else None
    )
    observing = asyncio.create_task(server.endpoint(name).observe(TEMPERATURE))
    request = await device.next_request()
    device.answer(request, b"20.0", observe=1)
    await observing
    (observation,) = server.observations.of(name)
    assert observation.sockaddr is not None  # the reader takes this one's notifications
    return device, request, notes


def _notification(request: Message, mid: int, sequence: int, payload: bytes, mtype: Any = NON) -> Message:
    message = Message(code=Code.CONTENT, observe=sequence, content_format=0, payload=payload)
    message.mtype, message.mid, message.token = mtype, mid, request.token
    return message


async def _until(condition: Any, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def _values(notes: list[Event]) -> list[float]:
    return [e.values[TEMPERATURE] for e in notes]


async def test_a_con_notification_is_acknowledged_and_its_retransmission_delivered_once(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "con-1")
    try:
        note = _notification(request, 0x2000, 2, b"21.5", CON)
        device.send(note)
        ack = await asyncio.wait_for(device.others.get(), 5)
        assert (ack.mtype, ack.code, ack.mid, ack.token, ack.payload) == (ACK, Code.EMPTY, 0x2000, b"", b"")
        device.send(note)  # the ACK was lost, says the device: sent again
        again = await asyncio.wait_for(device.others.get(), 5)
        assert (again.mtype, again.mid) == (ACK, 0x2000)
        device.send(_notification(request, 0x2001, 3, b"22.5", NON))
        await _until(lambda: 22.5 in _values(notes))
        assert _values(notes) == [21.5, 22.5]
        assert server.transport.reader is not None and server.transport.reader.taken == 2
    finally:
        await device.stop()


async def test_a_duplicated_non_notification_is_delivered_once(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "dup-1")
    try:
        device.send(_notification(request, 0x3000, 2, b"21.0"))
        device.send(_notification(request, 0x3000, 2, b"21.0"))
        device.send(_notification(request, 0x3001, 3, b"23.0"))
        await _until(lambda: 23.0 in _values(notes))
        assert _values(notes) == [21.0, 23.0]
        assert device.others.empty()  # a NON is not acknowledged
    finally:
        await device.stop()


async def test_many_notifications_in_one_read_are_each_an_event_in_order(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "burst-1")
    try:
        for n in range(300):  # more than one read batch, all in the socket before the server reads
            device.send(_notification(request, 0x4000 + n, n + 2, f"{n}.5".encode()))
        await _until(lambda: len(notes) == 300)
        assert _values(notes) == [n + 0.5 for n in range(300)]
        assert all(e.coalesced == 0 for e in notes)
        assert server.stats.coalesced == 0 and server.diagnostics()["notifications_coalesced_on_arrival"] == 0
    finally:
        await device.stop()


async def test_past_the_overload_mark_each_observation_keeps_its_latest_value_counted(
    server: LwM2MServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fast_notify, "OVERLOAD", 4)
    devices = [await _observed(server, f"over-{i}") for i in range(2)]
    try:
        for n in range(60):
            for device, request, _notes in devices:
                device.send(_notification(request, 0x5000 + n, n + 2, f"{n}.5".encode()))
        for _device, _request, notes in devices:
            await _until(lambda notes=notes: notes and _values(notes)[-1] == 59.5)
        for _device, _request, notes in devices:
            values = _values(notes)
            assert values == sorted(values)  # replaced by later ones only, never by an older one
            assert sum(1 + e.coalesced for e in notes) == 60  # every notification delivered or counted
        reader = server.transport.reader
        assert reader is not None
        assert reader.coalesced > 0 and reader.coalesced == server.stats.coalesced
        assert server.diagnostics()["notifications_coalesced_on_arrival"] == reader.coalesced
        warnings = [r for r in caplog.records if "faster than they can be handled" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        (observation,) = server.observations.of("over-0")
        assert observation.notifications == 60  # each counted, delivered or coalesced
    finally:
        for device, _request, _notes in devices:
            await device.stop()


async def test_a_stale_notification_never_replaces_a_waiting_newer_one(
    server: LwM2MServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast_notify, "OVERLOAD", 0)  # every notification past the first replaces
    device, request, notes = await _observed(server, "stale-1")
    try:
        for mid, sequence, value in [(1, 5, b"5.0"), (2, 9, b"9.0"), (3, 7, b"7.0")]:
            device.send(_notification(request, 0x6000 + mid, sequence, value))
        await _until(lambda: 9.0 in _values(notes))
        await asyncio.sleep(0.1)
        assert 7.0 not in _values(notes)
    finally:
        await device.stop()


async def test_a_stranger_with_the_token_is_not_taken(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "owner-1")
    stranger = RawDevice(server.port, "stranger")
    await stranger.start()
    try:
        stranger.send(_notification(request, 0x7000, 2, b"66.0", CON))
        reset = await asyncio.wait_for(stranger.others.get(), 5)
        assert reset.mtype is RST  # aiocoap's answer to a response it cannot match
        device.send(_notification(request, 0x7001, 3, b"21.0"))
        await _until(lambda: 21.0 in _values(notes))
        assert 66.0 not in _values(notes)
    finally:
        await stranger.stop()
        await device.stop()


async def test_a_notification_with_another_option_goes_through_aiocoap(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "other-1")
    reader = server.transport.reader
    assert reader is not None
    try:
        note = _notification(request, 0x7100, 2, b"24.0")
        note.opt.size2 = 4  # not a plain notification's option
        device.send(note)
        await _until(lambda: 24.0 in _values(notes))
        assert reader.taken == 0  # aiocoap's observation delivered it
        device.send(_notification(request, 0x7101, 3, b"25.0"))
        await _until(lambda: 25.0 in _values(notes))
        assert reader.taken == 1
    finally:
        await device.stop()


async def test_after_a_cancel_the_token_is_no_longer_taken(server: LwM2MServer) -> None:
    device, request, notes = await _observed(server, "cancel-1")
    try:
        cancelling = asyncio.create_task(server.endpoint("cancel-1").cancel_observe(TEMPERATURE))
        cancel = await device.next_request()
        assert cancel.opt.observe == 1 and cancel.token == request.token
        device.answer(cancel, b"20.5")
        await cancelling
        assert server.transport.routes == {}
        device.send(_notification(request, 0x7200, 5, b"30.0", CON))
        reset = await asyncio.wait_for(device.others.get(), 5)
        assert reset.mtype is RST
        assert 30.0 not in _values(notes)
    finally:
        await device.stop()


async def test_a_failing_listener_loses_the_reader_nothing(
    server: LwM2MServer, caplog: pytest.LogCaptureFixture
) -> None:
    device, request, notes = await _observed(server, "fail-1")

    def failing(event: Event) -> None:
        if event.type is EventType.NOTIFICATION and event.values.get(TEMPERATURE) == 1.0:
            raise RuntimeError("a listener's bug")

    server.events.subscribe(failing)
    try:
        device.send(_notification(request, 0x7300, 2, b"1.0"))
        device.send(_notification(request, 0x7301, 3, b"2.0"))
        await _until(lambda: 2.0 in _values(notes))
    finally:
        await device.stop()


# -- what aiocoap handles comes after the waiting notifications of the same observation ----


def _burst(device: RawDevice, request: Message, count: int) -> None:
    for n in range(count):  # all in the socket before the server reads: more than a drain's worth
        device.send(_notification(request, 0x100 + n, n + 2, f"{n}.5".encode()))


@pytest.mark.parametrize("end", ["4.04", "2.05 without Observe", "a notification with Size2"])
async def test_nothing_aiocoap_takes_overtakes_the_waiting_notifications(server: LwM2MServer, end: str) -> None:
    device, request, notes = await _observed(server, "overtake-1")
    try:
        _burst(device, request, 200)
        if end == "4.04":
            last = Message(code=Code.NOT_FOUND)
        elif end == "2.05 without Observe":
            last = Message(code=Code.CONTENT, content_format=0, payload=b"99.0")
        else:
            last = _notification(request, 0, 202, b"99.0")
            last.opt.size2 = 4
        last.mtype, last.mid, last.token = NON, 0x100 + 200, request.token
        device.send(last)
        expected = [n + 0.5 for n in range(200)] + ([] if end == "4.04" else [99.0])
        await _until(lambda: len(notes) >= len(expected))
        await asyncio.sleep(0.1)
        assert _values(notes) == expected
        if end == "4.04":
            assert server.observations.of("overtake-1") == [] and server.transport.routes == {}
    finally:
        await device.stop()


async def test_a_separate_answer_sent_again_is_no_notification(server: LwM2MServer) -> None:
    """The device acknowledged the Observe and answered in a CON of its own; our ACK was lost."""
    device = RawDevice(server.port, "separate-1")
    await device.start()
    await device.register()
    notes: list[Event] = []
    server.events.subscribe(lambda e: notes.append(e) if e.type is EventType.NOTIFICATION else None)
    try:
        observing = asyncio.create_task(server.endpoint("separate-1").observe(TEMPERATURE))
        request = await device.next_request()
        empty = Message(code=Code.EMPTY)
        empty.mtype, empty.mid, empty.token = ACK, request.mid, b""
        device.send(empty)
        answer = _notification(request, 0x5555, 1, b"20.0", CON)
        device.send(answer)
        assert (await observing).value(TEMPERATURE) == 20.0
        device.send(answer)  # again
        ack = await asyncio.wait_for(device.others.get(), 5)
        assert (ack.mtype, ack.mid) == (ACK, 0x5555)
        ack = await asyncio.wait_for(device.others.get(), 5)
        assert (ack.mtype, ack.mid) == (ACK, 0x5555)
        device.send(_notification(request, 0x5556, 2, b"21.0"))
        await _until(lambda: 21.0 in _values(notes))
        assert _values(notes) == [21.0]
    finally:
        await device.stop()


async def test_a_device_that_repeats_its_message_id_is_still_heard(server: LwM2MServer) -> None:
    """A device that starts its message IDs anew at every wake: same ID, a newer Observe number."""
    device, request, notes = await _observed(server, "same-mid-1")
    try:
        for sequence in range(2, 6):
            device.send(_notification(request, 0x0007, sequence, f"{sequence}.0".encode()))
            await _until(lambda sequence=sequence: float(sequence) in _values(notes))
        assert _values(notes) == [2.0, 3.0, 4.0, 5.0]
    finally:
        await device.stop()


async def test_what_the_reader_coalesced_is_still_counted_past_the_budget(
    udp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast_notify, "OVERLOAD", 0)
    server = LwM2MServer(ServerConfig(port=0, request_timeout=5, notification_rate=1, notification_burst=1))
    await server.start()
    try:
        device, request, notes = await _observed(server, "budget-1")
        for burst in range(4):
            for n in range(25):
                index = burst * 25 + n
                device.send(_notification(request, 0x100 + index, index + 2, f"{index}.5".encode()))
            await asyncio.sleep(0.05)
        await _until(lambda: bool(notes) and _values(notes)[-1] == 99.5)
        assert sum(1 + e.coalesced for e in notes) == 100  # each delivered, or counted in a later one
        await device.stop()
    finally:
        await server.stop()
