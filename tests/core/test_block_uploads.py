"""Block-wise uploads (RFC 7959 Block1) to the server: reassembled, and bounded (issue #13 item 2)."""

import logging

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.optiontypes import BlockOption

from custom_components.lwm2m.lwm2m.block1 import Block1Spool, Busy
from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.rawcoap import RawDevice

SZX_64 = 2  # block size 16 * 2**2 = 64 bytes


def _objects(count: int) -> bytes:
    return ",".join(f"</3303/{i}>" for i in range(count)).encode()


def _block(endpoint: str, payload: bytes, number: int, *, more: bool, size1: int | None = None) -> Message:
    message = Message(
        code=Code.POST,
        uri_path=("rd",),
        uri_query=(f"ep={endpoint}", "lt=60", "lwm2m=1.1"),
        content_format=ContentFormat.LINK_FORMAT,
        payload=payload,
    )
    message.opt.block1 = BlockOption.BlockwiseTuple(number, more, SZX_64)
    if size1 is not None:
        message.opt.size1 = size1
    return message


async def _upload(device: RawDevice, endpoint: str, body: bytes, *, token: bytes = b"UP") -> list[Message]:
    """Send body in 64-byte blocks; return every answer (it stops at the first that is not 2.31)."""
    answers = []
    chunks = [body[i : i + 64] for i in range(0, len(body), 64)]
    for number, chunk in enumerate(chunks):
        answer = await device.request(_block(endpoint, chunk, number, more=number < len(chunks) - 1), token)
        answers.append(answer)
        if answer.code != Code.CONTINUE:
            break
    return answers


@pytest.fixture
async def device(server: LwM2MServer):
    dev = RawDevice(server.port, "raw")
    await dev.start()
    yield dev
    await dev.stop()


async def test_a_registration_in_blocks_is_reassembled(server: LwM2MServer, device: RawDevice) -> None:
    body = _objects(40)
    answers = await _upload(device, "blocky", body)
    assert [a.code for a in answers[:-1]] == [Code.CONTINUE] * (len(answers) - 1)
    assert answers[-1].code == Code.CREATED, answers[-1]
    assert answers[-1].opt.block1.block_number == len(answers) - 1
    reg = server.registrations.by_endpoint("blocky")
    assert reg is not None and len(reg.objects.instances) == 40
    assert len(server.site.block1) == 0  # nothing left unfinished


async def test_a_block_that_does_not_continue_an_upload_gets_4_08_and_a_new_upload_works(
    server: LwM2MServer, device: RawDevice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = _objects(40)
    first = await device.request(_block("gappy", body[:64], 0, more=True))
    assert first.code == Code.CONTINUE
    gap = await device.request(_block("gappy", body[128:192], 2, more=True))
    assert gap.code == Code.REQUEST_ENTITY_INCOMPLETE, gap
    assert b"start again" in gap.payload
    orphan = await device.request(_block("nobody", body[64:128], 1, more=True))
    assert orphan.code == Code.REQUEST_ENTITY_INCOMPLETE
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    answers = await _upload(device, "gappy", body)
    assert answers[-1].code == Code.CREATED
    assert "gappy" in server.registrations


async def test_a_wrong_block_size_gets_4_00(server: LwM2MServer, device: RawDevice) -> None:
    answer = await device.request(_block("odd", b"x" * 50, 0, more=True))  # 50 bytes in a 64-byte block
    assert answer.code == Code.BAD_REQUEST and b"Block1 size" in answer.payload


@pytest.fixture
async def small_server(udp: None):
    srv = LwM2MServer(ServerConfig(host="::", port=0, max_body=256))
    await srv.start()
    yield srv
    await srv.stop()


async def test_a_body_past_the_limit_gets_4_13_with_size1(small_server: LwM2MServer) -> None:
    device = RawDevice(small_server.port, "raw")
    await device.start()
    try:
        answers = await _upload(device, "big", _objects(60))
        assert [a.code for a in answers] == [Code.CONTINUE] * 4 + [Code.REQUEST_ENTITY_TOO_LARGE]
        assert answers[-1].opt.size1 == 256
        assert b"at most 256 bytes" in answers[-1].payload
        # announced up front with Size1: refused at the first block
        early = await device.request(_block("big", b"x" * 64, 0, more=True, size1=10_000))
        assert early.code == Code.REQUEST_ENTITY_TOO_LARGE and early.opt.size1 == 256
        assert "big" not in small_server.registrations
        fits = await _upload(device, "small", _objects(10))
        assert fits[-1].code == Code.CREATED
    finally:
        await device.stop()


async def test_unfinished_uploads_are_bounded_per_host(server: LwM2MServer, device: RawDevice) -> None:
    spool = server.site.block1
    for n in range(3 * spool.per_host):
        answer = await device.request(_block(f"slow-{n}", b"<" * 64, 0, more=True), token=n.to_bytes(2, "big"))
        assert answer.code == Code.CONTINUE
    assert len(spool) == spool.per_host
    # the newest ones are kept: the last upload can finish
    last = 3 * spool.per_host - 1
    answers = await _upload(device, f"slow-{last}", _objects(30))
    assert answers[-1].code == Code.CREATED


class _Remote:
    def __init__(self, host: str, port: int) -> None:
        self.sockaddr = (host, port)
        self.blockwise_key = (host, port)


def test_unfinished_uploads_are_bounded_in_total_and_expire() -> None:
    spool = Block1Spool(total=4, lifetime=10)
    now = [0.0]
    spool.clock = lambda: now[0]

    def first_block(host: str) -> Message:
        message = _block(host, b"<" * 64, 0, more=True)
        message.remote = _Remote(host, 5683)
        return message

    from aiocoap.blockwise import ContinueException

    for n in range(4):
        with pytest.raises(ContinueException):
            spool.feed_and_take(first_block(f"10.0.0.{n}"))
    with pytest.raises(Busy) as busy:
        spool.feed_and_take(first_block("10.0.0.9"))
    refusal = busy.value.to_message()
    assert refusal.code == Code.SERVICE_UNAVAILABLE and refusal.opt.max_age == 30
    assert b"4 unfinished uploads" in refusal.payload
    now[0] = 11.0  # the unfinished ones waited longer than their lifetime
    with pytest.raises(ContinueException):
        spool.feed_and_take(first_block("10.0.0.9"))
    assert len(spool) == 1


async def test_a_registration_may_list_at_most_2000_links(server: LwM2MServer, device: RawDevice) -> None:
    from custom_components.lwm2m.lwm2m.codecs.link_format import MAX_REGISTRATION_LINKS

    body = _objects(MAX_REGISTRATION_LINKS + 1)
    assert len(body) < server.config.max_body
    answers = await _upload(device, "many", body)
    assert answers[-1].code == Code.BAD_REQUEST
    assert f"at most {MAX_REGISTRATION_LINKS}".encode() in answers[-1].payload
    assert "many" not in server.registrations


async def test_answers_come_whole_and_nothing_is_kept_for_later_blocks(server: LwM2MServer, device: RawDevice) -> None:
    """aiocoap's Block2 cache kept every answer longer than a request's tiny Block2, with a timer
    each, for 93 s; the server's answers are short and now always go whole."""
    refused = _block("bad/name", b"</3/0>", 0, more=False)
    refused.opt.block1 = None
    refused.opt.block2 = BlockOption.BlockwiseTuple(0, False, 0)  # 16-byte blocks, please
    answer = await device.request(refused)
    assert answer.code == Code.BAD_REQUEST and answer.opt.block2 is None
    assert answer.payload.startswith(b"ep must not contain '/'") and len(answer.payload) > 16
    later = _block("x", b"", 0, more=False)
    later.opt.block1 = None
    later.opt.block2 = BlockOption.BlockwiseTuple(1, False, 0)
    assert (await device.request(later)).code == Code.REQUEST_ENTITY_INCOMPLETE
    assert not hasattr(server.site._block2, "_completes")


def test_a_body_in_one_block_keeps_no_upload_and_needs_no_room() -> None:
    spool = Block1Spool(total=1, per_host=0)  # per_host 0: no per-host bound
    from aiocoap.blockwise import ContinueException

    started = _block("a", b"<" * 64, 0, more=True)
    started.remote = _Remote("10.0.0.1", 1)
    with pytest.raises(ContinueException):
        spool.feed_and_take(started)
    whole = _block("b", b"</3/0>", 0, more=False)
    whole.remote = _Remote("10.0.0.1", 2)
    assert spool.feed_and_take(whole) is whole  # the spool is full, and it does not matter
    assert len(spool) == 1
