"""What an attacker on the LAN sends (issue #13), over real UDP: a bad payload ends nothing,
a bad name is refused with a reason, and hostile datagrams are counted rather than logged."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket

import cbor2
import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.config import ServerConfig
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


async def test_a_decoder_bug_in_a_send_gets_4_00_and_a_warning(
    server: LwM2MServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import custom_components.lwm2m.lwm2m.server as server_module

    device = RawDevice(server.port, "raw-send-bug")
    await device.start()
    try:
        await device.register()

        def buggy(*args: object) -> object:
            raise RuntimeError("a decoder bug")

        monkeypatch.setattr(server_module, "decode_values", buggy)
        answer = await device.request(
            Message(code=Code.POST, uri_path=("dp",), content_format=ContentFormat.SENML_JSON, payload=b"[]")
        )
        assert answer.code == Code.BAD_REQUEST and answer.payload == b"unreadable Send payload"
        assert server.registrations.by_endpoint("raw-send-bug").stats.errors == 1
        assert "Decoding a Send from 127.0.0.1" in caplog.text and "a decoder bug" in caplog.text
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


def test_saved_registrations_and_gateway_devices_follow_the_same_name_rule(caplog: pytest.LogCaptureFixture) -> None:
    """A name the Register refuses is refused as well when a saved registration or an EMQX gateway brings it."""
    from custom_components.lwm2m.lwm2m.emqx import EmqxGateway, EmqxSettings
    from custom_components.lwm2m.lwm2m.model import ObjectModel
    from custom_components.lwm2m.lwm2m.registration import Registration, readable_registrations

    good = Registration(reg_id="r1", endpoint="plant-1", lifetime=60).to_dict()
    bad = Registration(reg_id="r2", endpoint="plant\x1b[31m", lifetime=60).to_dict()
    assert [r.endpoint for r in readable_registrations([bad, good])] == ["plant-1"]
    assert "an endpoint name must not contain control characters" in caplog.text

    async def publish(topic: str, payload: str, qos: int) -> None:
        return None

    gateway = EmqxGateway(EmqxSettings(), ObjectModel(), publish)
    register = json.dumps({"msgType": "register", "data": {"ep": "x", "lt": 30}})
    gateway.handle("lwm2m/bell\x07/up/resp", register)
    gateway.handle("lwm2m/ plant/up/resp", register)
    assert len(gateway.registrations) == 0 and gateway.malformed == 2
    gateway.handle("lwm2m/plant 1/up/resp", register)
    assert [r.endpoint for r in gateway.registrations] == ["plant 1"]


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


def _misfits(count: int) -> list[bytes]:
    """4-byte datagrams whose type and code do not fit together: an ACK or RST carrying a
    request code, a NON carrying no code, a reserved 1.xx code on a CON."""
    heads = [(0x60, 0x01), (0x70, 0x02), (0x50, 0x00), (0x40, 0x21)]
    return [bytes(heads[n % 4]) + (0x2000 + n).to_bytes(2, "big") for n in range(count)]


async def test_a_flood_of_misfit_datagrams_is_counted_and_summed_up_once(
    server: LwM2MServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of these gave aiocoap's ~170-byte WARNING line; now they are counted, and one line
    per interval (60 s) sums them up."""
    counter = server.transport.malformed
    now = [5000.0]
    counter.clock = lambda: now[0]
    before = counter.count
    caplog.set_level(logging.INFO)  # as someone who looks closer: aiocoap's info lines too
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n, datagram in enumerate(_misfits(1000)):
            sock.sendto(datagram, ("127.0.0.1", server.port))
            if n % 100 == 99:
                await asyncio.sleep(0.01)  # let the server drain its socket
        try:
            async with asyncio.timeout(10):
                while counter.count - before < 1000:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError(f"count {counter.count - before}, {server.stats}") from None
    finally:
        sock.close()
    assert counter.count - before == 1000
    assert len(caplog.records) <= 2, [r.getMessage()[:80] for r in caplog.records]
    assert not [r for r in caplog.records if "don't fit" in r.getMessage() or "could not match" in r.getMessage()]
    # the interval passes: the server's periodic check writes one summary line, and only one
    caplog.clear()
    now[0] += 61
    async with asyncio.timeout(5):
        while not caplog.records:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a few more periodic checks (every 0.2 s here)
    (summary,) = caplog.records
    assert summary.levelno == logging.WARNING
    assert "1000 malformed datagrams in the last 61 s" in summary.getMessage()
    # a healthy device is served all along
    device = RawDevice(server.port, "after-misfits")
    await device.start()
    try:
        await device.register()
    finally:
        await device.stop()


def test_malformed_datagrams_get_one_summary_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    from custom_components.lwm2m.lwm2m.coap_internals import MalformedCounter

    counter = MalformedCounter(interval=60)
    now = [0.0]
    counter.clock = lambda: now[0]
    caplog.set_level(logging.INFO)
    for second in range(0, 60, 3):
        now[0] = second
        counter.counted("unparsable", "peer")
    counter.summarize()
    assert counter.count == 20 and not caplog.records  # within the first minute: counted only
    now[0] = 60.0
    counter.summarize()
    counter.summarize()
    assert [r.getMessage() for r in caplog.records] == [
        "20 malformed datagrams in the last 60 s, ignored (the latest: unparsable, from peer)"
    ]
    now[0] = 61.0
    counter.counted("type and code do not fit", "other")  # starts the next interval
    now[0] = 120.0
    counter.summarize()
    assert len(caplog.records) == 1
    now[0] = 121.0
    counter.summarize()
    assert caplog.records[-1].getMessage().startswith("1 malformed datagram in the last 60 s")
    now[0] = 122.0
    counter.counted("unparsable", "peer")
    counter.summarize(final=True)  # the server stops: what is left gets its line
    assert len(caplog.records) == 3 and counter.count == 22


async def test_a_stopped_server_takes_its_counter_off_aiocoaps_logger(udp: None) -> None:
    """aiocoap logs for every context with one logger name (one per port here): a filter left
    behind by a stopped server (a reload) would take, and count, the next server's lines."""
    from custom_components.lwm2m.lwm2m.config import ServerConfig

    first = LwM2MServer(ServerConfig(port=0))
    await first.start()
    assert first.transport.context is not None
    log = first.transport.context.log
    assert first.transport.malformed in log.filters
    await first.stop()
    assert first.transport.malformed not in log.filters


async def test_two_servers_on_free_ports_count_their_own_malformed_datagrams(udp: None) -> None:
    """Both were bound to port 0 and shared the logger coap-server.0: the first one's counter took
    (and counted) the second one's malformed datagrams."""
    first, second = LwM2MServer(ServerConfig(port=0)), LwM2MServer(ServerConfig(port=0))
    await first.start()
    await second.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert first.transport.context.log.name != second.transport.context.log.name
        sender.sendto(b"\xff\xff\xff", ("127.0.0.1", second.port))
        async with asyncio.timeout(5):
            while second.transport.malformed.count == 0:
                await asyncio.sleep(0.01)
        assert (first.transport.malformed.count, second.transport.malformed.count) == (0, 1)
    finally:
        sender.close()
        await second.stop()
        await first.stop()
