"""Notifications that arrive out of order: an older one after a newer one is dropped
(RFC 7641 section 3.4, Observe numbers wrapping at 2**24), from a device on a bare socket
that picks its own Observe numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.observe import Observation, older
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import OBSERVE_FRESHNESS, LwM2MServer, _stale
from tests.core.rawcoap import RawDevice

P = Path.parse
WRAP = 2**24


def _count_arrivals(server: LwM2MServer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The Observe numbers that reach the server's own notification handler.

    A plain notification is taken off the socket by fast_notify, past aiocoap's own check of
    Observe numbers: only the server's check stands between a stale value and an event.
    """
    arrived: list[int] = []
    handler = server.notified

    def counting(observation: Any, sequence: int, *args: Any, **kwargs: Any) -> None:
        arrived.append(sequence)
        handler(observation, sequence, *args, **kwargs)

    monkeypatch.setattr(server, "notified", counting)
    return arrived


async def _observed(server: LwM2MServer, first: int) -> tuple[RawDevice, object, list[Event]]:
    device = RawDevice(server.port, "raw-order")
    await device.start()
    await device.register()
    notes: list[Event] = []
    server.events.subscribe(lambda e: notes.append(e) if e.type is EventType.NOTIFICATION else None)
    observing = asyncio.create_task(server.endpoint("raw-order").observe("/3303/0/5700"))
    request = await device.next_request()
    assert request.opt.observe == 0 and request.opt.uri_path == ("3303", "0", "5700")
    device.answer(request, b"20.0", observe=first)
    assert (await observing).value("/3303/0/5700") == 20.0
    return device, request, notes


async def _until_value(notes: list[Event], value: float) -> None:
    async with asyncio.timeout(5):
        while not any(e.values.get(P("/3303/0/5700")) == value for e in notes):
            await asyncio.sleep(0.01)


def _delivered(notes: list[Event]) -> list[tuple[int | None, float]]:
    return [(e.sequence, e.values[P("/3303/0/5700")]) for e in notes]


async def test_an_older_notification_after_a_newer_one_is_dropped(
    server: LwM2MServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrived = _count_arrivals(server, monkeypatch)
    device, request, notes = await _observed(server, first=5)
    try:
        for sequence, value in [(7, b"21.0"), (6, b"99.0"), (5, b"98.0"), (9, b"22.0")]:
            device.notify(request, sequence, value)
        await _until_value(notes, 22.0)  # the last one sent: everything before it was handled
        assert _delivered(notes) == [(7, 21.0), (9, 22.0)]
        # all four arrived in one read (no coalescing below the overload mark); the server dropped two
        assert arrived == [7, 6, 5, 9]
        (observation,) = server.observations.of("raw-order")
        assert observation.last_sequence == 9 and observation.notifications == 2
    finally:
        await device.stop()


async def test_observe_numbers_wrap_at_24_bits(server: LwM2MServer, monkeypatch: pytest.MonkeyPatch) -> None:
    arrived = _count_arrivals(server, monkeypatch)
    device, request, notes = await _observed(server, first=WRAP - 2)
    try:
        sent = [
            (WRAP - 1, b"21.0"),  # newer
            (1, b"22.0"),  # newer: the number wrapped
            (WRAP - 1, b"99.0"),  # older than 1 now
            (WRAP - 3, b"98.0"),  # older still
            (2, b"23.0"),
            (2**23 + 1, b"24.0"),  # 2**23 - 1 ahead of 2: still newer
        ]
        for sequence, value in sent:
            device.notify(request, sequence, value)
        await _until_value(notes, 24.0)
        assert _delivered(notes) == [(WRAP - 1, 21.0), (1, 22.0), (2, 23.0), (2**23 + 1, 24.0)]
        assert len(arrived) == 6
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("sequence", "last", "is_older"),
    [
        (5, 6, True),
        (6, 5, False),
        (5, 5, False),
        (0, WRAP - 1, False),  # wrapped: 0 follows 2**24 - 1
        (WRAP - 1, 0, True),
        (2**23 + 5, 5, True),  # exactly 2**23 apart: not within the window of newer numbers
        (2**23 + 4, 5, False),
        (5, 2**23 + 6, False),  # more than 2**23 behind: it wrapped, so newer
        (5, 2**23 + 5, True),
    ],
)
def test_which_numbers_are_older(sequence: int, last: int, is_older: bool) -> None:
    assert older(sequence, last) is is_older


class FakeClock:
    """The server's clock for notification arrivals, moved by hand: no real 128 s wait."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_far_ahead_number_freezes_an_observation_for_128_s_only(
    server: LwM2MServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One notification numbered 2**23 - 1 ahead (a forged one, or a device whose counter
    jumped) makes every later real number look older; RFC 7641 section 3.4 takes a
    notification that comes more than 128 s after the last one as fresh whatever its number."""
    clock = FakeClock()
    monkeypatch.setattr(server, "clock", clock)
    arrived = _count_arrivals(server, monkeypatch)
    device, request, notes = await _observed(server, first=5)

    async def notify(sequence: int, value: bytes) -> None:
        """One notification, handled by the server before the clock moves on."""
        device.notify(request, sequence, value)
        async with asyncio.timeout(5):
            while not arrived or arrived[-1] != sequence:
                await asyncio.sleep(0.01)

    try:
        await notify(5 + 2**23 - 1, b"50.0")  # far ahead, still newer by number
        clock.now += 10
        await notify(6, b"99.0")  # the device goes on counting: older by number, dropped
        clock.now += OBSERVE_FRESHNESS - 10  # exactly 128 s after the far-ahead one: still dropped
        await notify(7, b"98.0")
        clock.now += 0.5  # now more than 128 s
        await notify(8, b"21.0")
        clock.now += 1
        await notify(9, b"22.0")  # and numbers count from 8 again
        assert arrived == [5 + 2**23 - 1, 6, 7, 8, 9]
        assert _delivered(notes) == [(5 + 2**23 - 1, 50.0), (8, 21.0), (9, 22.0)]
        (observation,) = server.observations.of("raw-order")
        assert observation.last_sequence == 9 and observation.last_arrival == clock.now
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("after", "stale"),
    [(0.0, True), (100.0, True), (OBSERVE_FRESHNESS, True), (OBSERVE_FRESHNESS + 0.001, False), (10_000.0, False)],
)
def test_an_older_number_is_fresh_more_than_128_s_later(after: float, stale: bool) -> None:
    observation = Observation(endpoint="e", paths=(P("/3/0/9"),), token=b"t", request=None)
    observation.last_sequence, observation.last_arrival = 9, 500.0
    assert _stale(observation, 8, 500.0 + after) is stale
    assert _stale(observation, 10, 500.0 + after) is False  # newer by number: always fresh
