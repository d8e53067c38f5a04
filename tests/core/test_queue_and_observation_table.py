"""The sleep queue's rules (queue.py) and the table of observations (observe.py), by themselves."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from custom_components.lwm2m.lwm2m.errors import DeviceTimeout, QueueFull
from custom_components.lwm2m.lwm2m.observe import Observation, ObservationTable
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.queue import SleepQueue

P = Path.parse

# -- the sleep queue ---------------------------------------------------------------------------


async def test_an_awake_device_needs_no_queue() -> None:
    queue = SleepQueue(window=60, max_queued=1)
    assert not queue.is_awake("dev") and queue.queued("dev") == 0
    queue.wake("dev")
    assert queue.is_awake("dev")
    await queue.wait_awake("dev", expiry=5)  # at once
    await queue.wait_awake("dev", expiry=5)  # not queued, so no limit either
    assert queue.queued("dev") == 0
    queue.sleep("dev")
    assert not queue.is_awake("dev")
    queue.sleep("never-seen")  # harmless


async def test_queued_requests_are_released_in_order_when_the_device_talks() -> None:
    queue = SleepQueue(window=60, max_queued=3)
    done: list[int] = []

    async def request(n: int) -> None:
        await queue.wait_awake("dev", expiry=30)
        done.append(n)

    tasks = [asyncio.create_task(request(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert queue.queued("dev") == 3 and queue.queued("other") == 0
    with pytest.raises(QueueFull) as err:
        await queue.wait_awake("dev", expiry=30)
    assert str(err.value) == "dev is asleep and already has 3 queued requests"
    queue.wake("other")
    assert queue.queued("dev") == 3
    queue.wake("dev")
    await asyncio.gather(*tasks)
    assert done == [0, 1, 2] and queue.queued("dev") == 0


async def test_the_callers_shorter_timeout_withdraws_the_request() -> None:
    queue = SleepQueue(window=60, max_queued=2)
    with pytest.raises(DeviceTimeout) as err:
        await queue.wait_awake("dev", expiry=30, timeout=0.01)
    assert str(err.value) == (
        "dev is asleep and did not wake up within the request's timeout of 0.01 s; the queued request was withdrawn"
    )
    assert queue.queued("dev") == 0


async def test_a_timeout_no_shorter_than_the_expiry_lets_the_request_expire() -> None:
    queue = SleepQueue(window=60, max_queued=2)
    with pytest.raises(DeviceTimeout) as err:
        await queue.wait_awake("dev", expiry=0.01, timeout=0.01)
    assert str(err.value) == "dev did not wake up within 0.01 s; the queued request expired"
    with pytest.raises(DeviceTimeout) as err:
        await queue.wait_awake("dev", expiry=0.01, timeout=60)
    assert str(err.value) == "dev did not wake up within 0.01 s; the queued request expired"
    assert queue.queued("dev") == 0


async def test_a_cancelled_caller_leaves_the_queue() -> None:
    queue = SleepQueue(window=60, max_queued=1)
    waiting = asyncio.create_task(queue.wait_awake("dev", expiry=30))
    await asyncio.sleep(0)
    assert queue.queued("dev") == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert queue.queued("dev") == 0


async def test_forgetting_a_device_fails_its_requests_with_the_reason() -> None:
    queue = SleepQueue(window=60, max_queued=2)
    queue.wake("other")
    waiting = asyncio.create_task(queue.wait_awake("dev", expiry=30))
    await asyncio.sleep(0)
    queue.forget("dev", "deregistered")
    with pytest.raises(DeviceTimeout) as err:
        await waiting
    assert str(err.value) == "dev deregistered; the queued request was dropped"
    assert queue.queued("dev") == 0 and queue.is_awake("other")


async def test_stopping_fails_the_requests_of_every_device() -> None:
    queue = SleepQueue(window=60, max_queued=2)
    tasks = {ep: asyncio.create_task(queue.wait_awake(ep, expiry=30)) for ep in ("a", "b")}
    await asyncio.sleep(0)
    queue.clear()
    for ep, task in tasks.items():
        with pytest.raises(DeviceTimeout) as err:
            await task
        assert str(err.value) == f"{ep} the server stopped; the queued request was dropped"
    assert queue.queued("a") == queue.queued("b") == 0


# -- the observation table ---------------------------------------------------------------------


def _handle(cancelled: bool = False) -> SimpleNamespace:
    """aiocoap's request handle as far as an observation uses it."""
    observation = SimpleNamespace(cancelled=cancelled, cancels=0)

    def cancel() -> None:
        observation.cancels += 1
        observation.cancelled = True

    observation.cancel = cancel
    return SimpleNamespace(observation=observation)


def _observation(endpoint: str, *paths: str, request: object = None) -> Observation:
    return Observation(endpoint=endpoint, paths=tuple(P(p) for p in paths), token=b"t", request=request)


def test_a_local_cancel_tells_aiocoap_once() -> None:
    handle = _handle()
    observation = _observation("dev", "/3/0", request=handle)
    observation.cancel_locally()
    observation.cancel_locally()
    assert handle.observation.cancels == 1
    already = _handle(cancelled=True)
    _observation("dev", "/3/0", request=already).cancel_locally()
    assert already.observation.cancels == 0
    _observation("dev", "/3/0", request=SimpleNamespace()).cancel_locally()  # a handle without observation
    _observation("dev", "/3/0", request=SimpleNamespace(observation=None)).cancel_locally()


def test_observations_are_kept_by_endpoint_and_paths() -> None:
    table = ObservationTable()
    first = _observation("dev", "/3/0")
    composite = _observation("dev", "/3/0/9", "/3303/0")
    other = _observation("other", "/3/0")
    assert table.add(first) is None and table.add(composite) is None and table.add(other) is None
    assert first.key == (P("/3/0"),)
    assert len(table) == 3 and list(table) == [first, composite, other]
    assert table.get("dev", (P("/3/0"),)) is first
    assert table.get("dev", (P("/3/0/9"), P("/3303/0"))) is composite
    assert table.get("dev", (P("/3303/0"), P("/3/0/9"))) is None  # the order of the paths counts
    assert table.get("ghost", (P("/3/0"),)) is None
    assert table.of("dev") == [first, composite] and table.of("ghost") == []
    again = _observation("dev", "/3/0")
    assert table.add(again) is first
    assert table.get("dev", (P("/3/0"),)) is again and len(table) == 3


def test_removing_leaves_a_newer_observation_alone() -> None:
    table = ObservationTable()
    old = _observation("dev", "/3/0")
    table.add(old)
    new = _observation("dev", "/3/0")
    table.add(new)
    table.remove(old)
    assert table.get("dev", (P("/3/0"),)) is new
    table.remove(new)
    assert len(table) == 0 and table.of("dev") == []
    table.remove(new)  # twice is harmless
    table.remove(_observation("ghost", "/1"))


def test_dropping_an_endpoint_cancels_its_observations_only() -> None:
    table = ObservationTable()
    mine = [_observation("dev", "/3/0", request=_handle()), _observation("dev", "/4/0", request=_handle())]
    theirs = _observation("other", "/3/0", request=_handle())
    for observation in (*mine, theirs):
        table.add(observation)
    assert table.drop_endpoint("dev") == mine
    assert all(o.request.observation.cancels == 1 for o in mine)
    assert theirs.request.observation.cancels == 0
    assert list(table) == [theirs] and len(table) == 1
    assert table.drop_endpoint("dev") == []


def test_which_observations_stand_and_which_tokens_route() -> None:
    table = ObservationTable()
    routed = Observation(endpoint="dev", paths=(P("/3303/0"),), token=b"r1", request=None, sockaddr=("::1", 5683))
    unrouted = Observation(endpoint="dev", paths=(P("/3/0"),), token=b"u1", request=None)  # over DTLS
    table.add(routed)
    table.add(unrouted)
    assert table.current(routed) and table.current(unrouted)
    assert table.by_token == {b"r1": routed}
    newer = Observation(endpoint="dev", paths=(P("/3303/0"),), token=b"r2", request=None, sockaddr=("::1", 5683))
    table.add(newer)  # observed again: the old token no longer routes
    assert not table.current(routed) and table.by_token == {b"r2": newer}
    table.remove(routed)  # gone already: leaves the newer alone
    assert table.by_token == {b"r2": newer}
    table.drop_endpoint("dev")
    assert table.by_token == {} and not table.current(newer)
    assert not table.current(_observation("never-registered", "/1/0"))  # an endpoint the table does not know
