"""The fuzz campaign in CI: a bounded, seeded run of both campaigns (a few seconds), which
fails listing what it found, and a reproducer of each product bug the campaigns found (a
bug not fixed yet is listed in known.py, its reproducer marked xfail(strict=True) so that it
flips when the bug is fixed). scripts/fuzz runs the long one."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket

import cbor2
import pytest
from aiocoap import ACK, CON, Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode_values
from custom_components.lwm2m.lwm2m.codecs.link_format import parse
from custom_components.lwm2m.lwm2m.emqx import codec as emqx
from custom_components.lwm2m.lwm2m.errors import CodecError, LwM2MError
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer

from . import datagrams, decoders
from .coap import DeviceMessages, datagram
from .known import known

SEED = 13
DECODER_INPUTS = 20_000
DATAGRAMS = 3_000
MAX_MESSAGE = decoders.MAX_MESSAGE


def test_decoder_campaign_finds_nothing_new() -> None:
    report = decoders.run(DECODER_INPUTS, SEED)
    assert report.inputs == DECODER_INPUTS and all(n == DECODER_INPUTS for n in report.calls.values())
    new = [
        f"{f.kind}: {f.error} at {f.where} ({f.count} inputs, {', '.join(sorted(f.targets))}): {f.message[:200]}\n"
        f"    {f.reproducer()[:600]}"
        for f in report.findings.values()
        if known(f.kind, f"{f.error} {f.where}") is None
    ]
    assert not new, "\n".join(new)


async def test_datagram_campaign_finds_nothing_new(udp: None) -> None:
    report = await datagrams.run(DATAGRAMS, SEED, sockets=32)
    assert report.datagrams == DATAGRAMS and report.ports > 32
    assert report.legit.registered and report.legit.reads_ok and report.legit.notifications_ok
    new = [
        f"{f.kind}: {f.key} ({f.count} times)\n    {f.example[-1200:]}\n    sent before: {f.reproducer[:400]}"
        for f in report.findings.values()
        if known(f.kind, f"{f.key} {f.example}") is None
    ]
    assert not new, "\n".join(new)


def test_the_campaigns_are_reproducible() -> None:
    first = decoders.run(300, SEED)
    second = decoders.run(300, SEED)
    assert first.outcomes == second.outcomes and first.by_kind == second.by_kind


# -- reproducers of the known product bugs (known.py) ---------------------------------------------


def _message_length(call: object) -> int:
    try:
        call()  # type: ignore[operator]
    except (CodecError, emqx.EmqxError) as err:
        return len(str(err))
    raise AssertionError("no error")


def test_path_error_message_is_bounded() -> None:
    """custom_components/lwm2m/lwm2m/path.py _parse: PathError(f"invalid path {text!r}: {part!r} ...")."""
    assert _message_length(lambda: Path.parse("/3/" + "9" * 2000)) < MAX_MESSAGE
    senml = json.dumps([{"n": "/3/0/" + "1" * 2000, "v": 1}]).encode()
    assert _message_length(lambda: decode_values(ContentFormat.SENML_JSON, senml)) < MAX_MESSAGE


def test_a_huge_senml_cbor_label_raises_codec_error() -> None:
    """custom_components/lwm2m/lwm2m/codecs/senml_cbor.py _from_cbor: {key!r} of the unknown label."""
    huge_key = cbor2.dumps([{10**5000: 1}])  # repr() of the key raises ValueError
    assert _message_length(lambda: decode_values(ContentFormat.SENML_CBOR, huge_key)) < MAX_MESSAGE
    long_key = cbor2.dumps([{b"k" * 3000: 1}])
    assert _message_length(lambda: decode_values(ContentFormat.SENML_CBOR, long_key)) < MAX_MESSAGE


def test_emqx_error_messages_are_bounded() -> None:
    """custom_components/lwm2m/lwm2m/emqx/codec.py: Command.decode's unknown msgType, _path, _lifetime."""
    command = json.dumps({"reqID": 1, "msgType": "A" * 3000, "data": {}})
    assert _message_length(lambda: emqx.decode_command(command)) < MAX_MESSAGE
    command = json.dumps({"reqID": 1, "msgType": "read", "data": {"path": "A" * 3000}})
    assert _message_length(lambda: emqx.decode_command(command)) < MAX_MESSAGE
    register = json.dumps({"msgType": "register", "data": {"ep": "x", "lt": "A" * 3000}})
    assert _message_length(lambda: emqx.decode_up(register)) < MAX_MESSAGE


def test_link_attribute_error_message_is_bounded() -> None:
    """custom_components/lwm2m/lwm2m/codecs/link_format.py _attr_value: {raw!r} of any length."""
    assert _message_length(lambda: parse(b"</3/0>;pmin=" + b"9" * 3000 + b"x")) < MAX_MESSAGE


async def _raw_device(server: LwM2MServer, endpoint: str) -> socket.socket:
    """A device on a bare socket, registered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    register = datagram(
        Code.POST,
        mtype=CON,
        mid=1,
        token=b"r",
        path=("rd",),
        query=(f"ep={endpoint}", "lt=60", "b=U"),
        payload=b"</3/0>",
        content_format=40,
    )
    sock.sendto(register, ("127.0.0.1", server.port))
    async with asyncio.timeout(5):
        answer = Message.decode(await asyncio.get_running_loop().sock_recv(sock, 2048))
    assert answer.code == Code.CREATED
    return sock


async def test_a_broken_block2_answer_raises_operation_error(udp: None) -> None:
    """custom_components/lwm2m/lwm2m/client.py Endpoint._request: only TimeoutError and aiocoap's
    Error are caught around `await request.response`; a first Block2 block shorter than its
    block size makes aiocoap fail an assert, and AssertionError escapes Endpoint.read."""
    from custom_components.lwm2m.lwm2m.config import ServerConfig

    server = LwM2MServer(ServerConfig(host="::", port=0, request_timeout=5))
    await server.start()
    sock = await _raw_device(server, "block2")
    try:
        reading = asyncio.create_task(server.endpoint("block2").read("/3/0/0", timeout=3))
        async with asyncio.timeout(5):
            request = Message.decode(await asyncio.get_running_loop().sock_recv(sock, 2048))
        # the first of 64-byte blocks, with 5 bytes in it
        answer = datagram(
            Code.CONTENT,
            mtype=ACK,
            mid=request.mid,
            token=request.token,
            payload=b"short",
            content_format=0,
            block2=(0, True, 2),
        )
        sock.sendto(answer, ("127.0.0.1", server.port))
        with pytest.raises(LwM2MError):
            await reading
    finally:
        sock.close()
        await server.stop()


async def test_a_broken_block2_answer_logs_no_error(udp: None, caplog: pytest.LogCaptureFixture) -> None:
    """aiocoap's protocol.py logs ERROR for a Block2 answer that does not fit (a second block of
    the wrong size, a first block numbered 1); the read fails, and that is all it should do."""
    from custom_components.lwm2m.lwm2m.config import ServerConfig

    server = LwM2MServer(ServerConfig(host="::", port=0, request_timeout=5))
    await server.start()
    sock = await _raw_device(server, "block2-log")
    loop = asyncio.get_running_loop()
    try:
        for first, second in (((0, True, 2), (1, True, 2)), ((1, True, 2), None)):
            reading = asyncio.create_task(server.endpoint("block2-log").read("/3/0/0", timeout=3))
            for block, size in ((first, 64), (second, 10)):
                if block is None:
                    break
                async with asyncio.timeout(5):
                    request = Message.decode(await loop.sock_recv(sock, 2048))
                answer = datagram(
                    Code.CONTENT,
                    mtype=ACK,
                    mid=request.mid,
                    token=request.token,
                    payload=b"x" * size,
                    content_format=0,
                    block2=block,
                )
                sock.sendto(answer, ("127.0.0.1", server.port))
            with pytest.raises(LwM2MError):
                await reading
    finally:
        sock.close()
        await server.stop()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- what the campaign checked once and the product now does right ---------------------------------


async def test_an_endless_block1_upload_is_cut_off(udp: None) -> None:
    """A Register sent in 1 KiB blocks, every one with More set: the server stops taking it
    (4.13, or a rate limit's 4.29/5.03) well before 1 MiB."""
    from custom_components.lwm2m.lwm2m.config import ServerConfig

    server = LwM2MServer(ServerConfig(host="::", port=0))
    await server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    accepted = 0
    try:
        for block in DeviceMessages(random.Random(1)).endless_block1(1024):
            sock.sendto(block, ("127.0.0.1", server.port))
            async with asyncio.timeout(5):
                answer = Message.decode(await loop.sock_recv(sock, 2048))
            if answer.code != Code.CONTINUE:
                break
            accepted += 1
        assert accepted < 1024, "all of 1 MiB was taken"
        assert answer.code in (Code.REQUEST_ENTITY_TOO_LARGE, Code.TOO_MANY_REQUESTS, Code.SERVICE_UNAVAILABLE)
    finally:
        sock.close()
        await server.stop()
