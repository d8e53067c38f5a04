"""Large reads and writes of any resource: Block2 answers put together within a bound, Block1 writes."""

from __future__ import annotations

from typing import Any

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.blockwise import rest_of_answer
from custom_components.lwm2m.lwm2m.errors import OperationError
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.sim.client import DEFAULT_VALUES

P = Path.parse
BIG = bytes(range(256)) * 400  # 100 KiB
# The simulated device's aiocoap keeps its block-wise answers 93 s, with a timer.
lingering = pytest.mark.parametrize("expected_lingering_timers", [True])


@lingering
async def test_a_large_resource_is_read_and_written_block_wise(
    server: LwM2MServer, make_client: Any, expected_lingering_timers: bool
) -> None:
    client = await make_client("big", values={**DEFAULT_VALUES, P("/33000/0/1"): BIG})
    device = server.endpoint("big")
    sent = device.registration.stats.messages_out
    read = await device.read("/33000/0/1")
    assert read.values[P("/33000/0/1")] == BIG
    assert device.registration.stats.messages_out - sent >= 100  # one request a block of 1 KiB
    written = BIG[::-1] * 2  # 200 KiB in Block1 writes
    await device.write("/33000/0/1", written)
    assert client.values[P("/33000/0/1")] == written
    assert (await device.read("/33000/0/1")).values[P("/33000/0/1")] == written


@lingering
async def test_an_answer_past_the_bound_is_refused(
    server: LwM2MServer, make_client: Any, expected_lingering_timers: bool
) -> None:
    await make_client("huge", values={**DEFAULT_VALUES, P("/33000/0/1"): BIG})
    server.config.max_answer = 50_000
    with pytest.raises(OperationError, match="larger than 50000 bytes"):
        await server.endpoint("huge").read("/33000/0/1")
    assert (await server.endpoint("huge").read("/3/0/0")).values  # the device is fine


def _block(number: int, more: bool, payload: bytes, etag: bytes = b"e1", szx: int = 4) -> Message:
    answer = Message(code=Code.CONTENT, payload=payload)
    answer.opt.block2 = (number, more, szx)
    answer.opt.etag = etag
    return answer


async def test_broken_block_wise_answers_say_what_is_wrong() -> None:
    request = Message(code=Code.GET, uri_path=("3", "0"))
    first = _block(0, True, bytes(256))

    async def answers(*blocks: Message) -> Any:
        queue = list(blocks)

        async def send(message: Message) -> Message:
            assert message.opt.block2.block_number == 1 + len(blocks) - len(queue)
            return queue.pop(0)

        return send

    whole = await rest_of_answer(await answers(_block(1, True, bytes(256)), _block(2, False, b"end")), request, first)
    assert whole.payload == bytes(512) + b"end" and whole.opt.block2 is None
    cases = [
        (_block(1, False, b"x", etag=b"e2"), "ETag"),
        (_block(3, False, b"x"), "another part"),
        (Message(code=Code.NOT_FOUND), "4.04"),
    ]
    for bad, text in cases:
        with pytest.raises(OperationError, match=text):
            await rest_of_answer(await answers(bad), request, first)
    with pytest.raises(OperationError, match="does not fit"):
        await rest_of_answer(await answers(), request, _block(0, True, bytes(100)))
