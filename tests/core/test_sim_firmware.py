"""The simulated device's Firmware Update (object 5, tests/sim/firmware.py): its image format, push, pull, install.

The "server" side is plain aiocoap (Block1 pushes sent block by block, a small file server
for pulls); the LwM2M server fixture only takes the registrations, and reads in TLV.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path as FilePath
from typing import Any

import aiocoap
import pytest
from aiocoap import Message
from aiocoap import resource as coap_resource
from aiocoap.numbers.codes import Code
from aiocoap.optiontypes import BlockOption
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.lwm2m.lwm2m.coap_internals import on_notifications, prepare_context
from custom_components.lwm2m.lwm2m.codecs import ContentFormat
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import credentials, psk_device, until
from tests.sim import SimClient
from tests.sim.firmware import DIGEST_SIZE, MAGIC, ImageCheck, make_image, write_image

P = Path.parse
VERSIONS = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20)


def _check(image: bytes, cuts: list[int]) -> tuple[int, str | None]:
    check = ImageCheck()
    bounds = [0, *sorted(cuts), len(image)]
    for start, end in itertools.pairwise(bounds):
        check.feed(image[start:end])
    assert check.received == len(image)
    return check.finish()


def _cuts(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=12)


# -- the image format ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(version=VERSIONS, extra=st.integers(0, 3000), seed=st.integers(0, 5), data=st.data())
def test_an_image_checks_good_in_any_chunks(version: str, extra: int, seed: int, data: st.DataObject) -> None:
    size = len(MAGIC) + len(version.encode()) + 1 + DIGEST_SIZE + extra
    image = make_image(version, size, seed=seed)
    assert len(image) == size
    assert _check(image, data.draw(_cuts(size))) == (1, version)


@settings(max_examples=60, deadline=None)
@given(version=VERSIONS, extra=st.integers(0, 3000), data=st.data())
def test_a_corrupt_image_fails_the_integrity_check(version: str, extra: int, data: st.DataObject) -> None:
    size = len(MAGIC) + len(version.encode()) + 1 + DIGEST_SIZE + extra
    image = make_image(version, size, corrupt=True)
    assert image != make_image(version, size)
    assert _check(image, data.draw(_cuts(size))) == (5, None)


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=2000), data=st.data())
def test_a_foreign_package_is_unsupported(payload: bytes, data: st.DataObject) -> None:
    if payload.startswith(MAGIC):
        payload = b"X" + payload
    assert _check(payload, data.draw(_cuts(len(payload)))) == (6, None)


@settings(max_examples=60, deadline=None)
@given(version=VERSIONS, extra=st.integers(0, 2000), data=st.data())
def test_a_truncated_image_never_checks_good(version: str, extra: int, data: st.DataObject) -> None:
    size = len(MAGIC) + len(version.encode()) + 1 + DIGEST_SIZE + extra
    image = make_image(version, size)
    cut = data.draw(st.integers(0, size - 1))
    result, found = _check(image[:cut], data.draw(_cuts(cut)))
    assert result in (5, 6) and found is None


def test_image_sizes_and_files(tmp_path: FilePath) -> None:
    with pytest.raises(ValueError):
        make_image("1.0", len(MAGIC) + 4 + DIGEST_SIZE - 1)
    with pytest.raises(ValueError):
        make_image("a\nb", 1000)
    smallest = make_image("1.0", len(MAGIC) + 4 + DIGEST_SIZE)
    assert _check(smallest, []) == (1, "1.0")
    assert make_image("2", 500, seed=3) == make_image("2", 500, seed=3) != make_image("2", 500, seed=4)
    path = tmp_path / "fw.bin"
    write_image(path, "3.1", 1_000_000, seed=7)
    assert path.read_bytes() == make_image("3.1", 1_000_000, seed=7)
    check = ImageCheck()
    with path.open("rb") as file:
        while chunk := file.read(65536):
            check.feed(chunk)
    assert check.finish() == (1, "3.1")


# -- on the device ----------------------------------------------------------------------------


@pytest.fixture
async def coap(udp: None) -> AsyncIterator[aiocoap.Context]:
    """A plain aiocoap client: the "server" that pushes and executes."""
    context = await aiocoap.Context.create_client_context(transports=["udp6"])
    yield context
    await context.shutdown()


class _Image(coap_resource.Resource):
    """A file, served in the Block2 blocks asked for (at most max_szx; aiocoap's own Block2 cache keeps a timer)."""

    def __init__(self, body: bytes, *, max_szx: int = 6) -> None:
        super().__init__()
        self.body, self.max_szx = body, max_szx
        self.blocks: list[int] = []  # the Block2 sizes asked for

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return False

    async def render_get(self, request: Message) -> Message:
        asked = request.opt.block2 or BlockOption.BlockwiseTuple(0, False, 6)
        self.blocks.append(asked.size)
        block = asked.reduced_to(self.max_szx)
        chunk = self.body[block.start : block.start + block.size]
        answer = Message(payload=chunk, content_format=ContentFormat.OPAQUE)
        answer.opt.block2 = (block.block_number, block.start + len(chunk) < len(self.body), block.size_exponent)
        if request.opt.size2 is not None:
            answer.opt.size2 = len(self.body)
        return answer


class _Silent(asyncio.DatagramProtocol):
    """A file server that never answers: it counts the requests."""

    def __init__(self) -> None:
        self.requests = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.requests += 1


@pytest.fixture
async def silent(udp: None) -> AsyncIterator[tuple[str, _Silent]]:
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        _Silent, local_addr=("127.0.0.1", 0)
    )
    yield f"coap://127.0.0.1:{transport.get_extra_info('sockname')[1]}/fw/slow.bin", protocol
    transport.close()


@pytest.fixture
async def files(udp: None) -> AsyncIterator[Callable[[str, _Image], str]]:
    """A CoAP file server on a free port; files(name, resource) returns the resource's coap:// URI."""
    site = coap_resource.Site()
    context = await aiocoap.Context.create_server_context(site, bind=("::", 0), transports=["udp6"])
    _dedup, port = prepare_context(context)

    def add(name: str, image: _Image) -> str:
        site.add_resource(("fw", name), image)
        return f"coap://127.0.0.1:{port}/fw/{name}"

    yield add
    await context.shutdown()


def _uri(device: SimClient, path: str) -> str:
    return f"coap://127.0.0.1:{device.local_port}{path}"


async def _ask(coap: aiocoap.Context, message: Message) -> Message:
    async with asyncio.timeout(5):
        return await coap.request(message, handle_blockwise=False).response


async def _push(coap: aiocoap.Context, device: SimClient, image: bytes, size: int = 512) -> list[Message]:
    """PUT image to /5/0/0 in Block1 blocks, taking smaller sizes as the device asks (2.31 or 4.13)."""
    answers, offset, szx = [], 0, size.bit_length() - 5
    while True:
        length = 2 ** (szx + 4)
        chunk = image[offset : offset + length]
        more = offset + len(chunk) < len(image)
        message = Message(code=Code.PUT, uri=_uri(device, "/5/0/0"), content_format=ContentFormat.OPAQUE, payload=chunk)
        message.opt.block1 = BlockOption.BlockwiseTuple(offset // length, more, szx)
        if offset == 0:
            message.opt.size1 = len(image)
        answer = await _ask(coap, message)
        answers.append(answer)
        block = answer.opt.block1
        if answer.code == Code.REQUEST_ENTITY_TOO_LARGE and block is not None and block.size_exponent < szx:
            szx = block.size_exponent  # start again with the size the device takes
            continue
        if answer.code != Code.CONTINUE:
            return answers
        offset += len(chunk)
        szx = min(szx, block.size_exponent)


async def _write_uri(coap: aiocoap.Context, device: SimClient, uri: str) -> Message:
    message = Message(
        code=Code.PUT, uri=_uri(device, "/5/0/1"), content_format=ContentFormat.TEXT, payload=uri.encode()
    )
    return await _ask(coap, message)


async def _execute(coap: aiocoap.Context, device: SimClient) -> Message:
    return await _ask(coap, Message(code=Code.POST, uri=_uri(device, "/5/0/2")))


def _state(device: SimClient) -> tuple[Any, Any]:
    return device.values[P("/5/0/3")], device.values[P("/5/0/5")]


async def test_a_pushed_image_is_installed_and_the_device_registers_again(
    server: LwM2MServer, make_client: Any, coap: aiocoap.Context
) -> None:
    device = await make_client("fw-push", firmware=True)
    firmware = device.firmware
    firmware.update_delay = 0.05
    first = server.registrations.by_endpoint("fw-push")
    assert P("/5/0") in first.objects.instances
    discover = await server.endpoint("fw-push").discover("/5/0")
    assert P("/5/0/2") in discover.attributes and P("/5/0/8") in discover.attributes

    # an observer of the State sees Downloading, Downloaded, Updating, Idle, then the reboot ends it
    states: list[Message] = []
    ended: list[BaseException] = []
    observe = Message(code=Code.GET, uri=_uri(device, "/5/0/3"), observe=0, accept=ContentFormat.TEXT)
    observation = coap.request(observe)
    on_notifications(observation, states.append, ended.append)
    first_state = await observation.response
    assert first_state.payload == b"0"

    image = make_image("2.0.0", 20_000, seed=1)
    answers = await _push(coap, device, image, 512)
    count = -(-20_000 // 512)
    assert [a.code for a in answers] == [Code.CONTINUE] * (count - 1) + [Code.CHANGED]
    assert answers[-1].opt.block1 == (count - 1, False, 5)
    assert firmware.received_blocks == [512] * (count - 1) + [20_000 - 512 * (count - 1)]
    assert firmware.bytes_received == 20_000
    assert _state(device) == (2, 0)

    assert (await _execute(coap, device)).code == Code.CHANGED
    assert _state(device) == (3, 0)
    await until(lambda: server.registrations.by_endpoint("fw-push") is not first, timeout=3)
    assert firmware.installed == ["2.0.0"] and firmware.updates == 1
    assert _state(device) == (0, 1)
    assert device.values[P("/3/0/3")] == "2.0.0"
    assert device.values[P("/5/0/7")] == "2.0.0" and device.values[P("/5/0/6")] == "sim-firmware"
    assert (await server.endpoint("fw-push").read("/3/0/3")).value("/3/0/3") == "2.0.0"
    await until(lambda: ended)
    # Idle came after the reboot: the observation ended with 5.03 before
    assert [(m.code, m.payload) for m in states] == [
        (Code.CONTENT, b"1"),
        (Code.CONTENT, b"2"),
        (Code.CONTENT, b"3"),
        (Code.SERVICE_UNAVAILABLE, b""),
    ]

    # nothing downloaded any more: another Update is refused
    again = await _execute(coap, device)
    assert again.code == Code.BAD_REQUEST and again.payload == b"no firmware downloaded"
    assert firmware.updates == 2


@pytest.mark.parametrize("refusal", ["2.31", "4.13"])
async def test_a_device_takes_smaller_blocks_than_the_server_sends(
    make_client: Any, coap: aiocoap.Context, refusal: str
) -> None:
    device = await make_client("fw-small", firmware=True)
    device.firmware.max_block_size, device.firmware.block_refusal = 256, refusal
    image = make_image("2.1", 5000, seed=2)
    answers = await _push(coap, device, image, 1024)
    first = answers[0]
    assert first.code == (Code.CONTINUE if refusal == "2.31" else Code.REQUEST_ENTITY_TOO_LARGE)
    assert first.opt.block1.size_exponent == 4
    assert answers[-1].code == Code.CHANGED
    sizes = device.firmware.received_blocks
    assert sizes[0] == (1024 if refusal == "2.31" else 256) and set(sizes[1:-1]) == {256}
    assert sum(sizes) == 5000
    assert _state(device) == (2, 0)


async def test_broken_pushes(make_client: Any, coap: aiocoap.Context) -> None:
    device = await make_client("fw-broken", version="1.0", firmware=True)
    firmware = device.firmware
    image = make_image("3.0", 3000)

    # a block that does not continue the upload
    first = Message(code=Code.PUT, uri=_uri(device, "/5/0/0"), content_format=ContentFormat.OPAQUE, payload=image[:512])
    first.opt.block1 = (0, True, 5)
    assert (await _ask(coap, first)).code == Code.CONTINUE
    gap = Message(
        code=Code.PUT, uri=_uri(device, "/5/0/0"), content_format=ContentFormat.OPAQUE, payload=image[1024:1536]
    )
    gap.opt.block1 = (2, True, 5)
    assert (await _ask(coap, gap)).code == Code.REQUEST_ENTITY_INCOMPLETE
    assert _state(device) == (1, 0)

    # a corrupt and a foreign image: Idle with Update Result 5 and 6
    assert (await _push(coap, device, make_image("3.0", 3000, corrupt=True)))[-1].code == Code.CHANGED
    assert _state(device) == (0, 5)
    assert (await _push(coap, device, b"PK\x03\x04" + bytes(2000)))[-1].code == Code.CHANGED
    assert _state(device) == (0, 6)

    # a small package in one message, then a NULL one resets
    whole = Message(code=Code.PUT, uri=_uri(device, "/5/0/0"), content_format=ContentFormat.OPAQUE, payload=image)
    assert (await _ask(coap, whole)).code == Code.CHANGED
    assert _state(device) == (2, 0)
    reset = Message(code=Code.PUT, uri=_uri(device, "/5/0/0"), content_format=ContentFormat.OPAQUE, payload=b"\0")
    assert (await _ask(coap, reset)).code == Code.CHANGED
    assert _state(device) == (0, 0)
    assert (await _execute(coap, device)).code == Code.BAD_REQUEST

    # a pull-only device refuses pushes
    firmware.delivery = 0
    assert device.values[P("/5/0/9")] == 0
    assert (await _push(coap, device, image))[0].code == Code.METHOD_NOT_ALLOWED


async def test_a_failed_update_keeps_or_drops_the_image(make_client: Any, coap: aiocoap.Context) -> None:
    device = await make_client("fw-fail", firmware=True)
    firmware = device.firmware
    firmware.update_delay, firmware.fail_result = 0.01, 8
    await _push(coap, device, make_image("4.0", 2000))
    assert (await _execute(coap, device)).code == Code.CHANGED
    await until(lambda: _state(device) != (3, 0))
    assert _state(device) == (2, 8)  # update failed: the image stays, Update may be executed again
    firmware.fail_result = 5
    assert (await _execute(coap, device)).code == Code.CHANGED
    await until(lambda: _state(device) != (3, 0))
    assert _state(device) == (0, 5)  # integrity: the image is gone
    assert firmware.installed == [] and device.values[P("/3/0/3")] == "1.2.3"


async def test_a_pulled_image_is_installed(
    server: LwM2MServer,
    make_client: Any,
    coap: aiocoap.Context,
    files: Callable[[str, _Image], str],
    silent: tuple[str, _Silent],
) -> None:
    # LwM2M 1.0: the server reads object 5 in TLV and writes the Package URI itself
    device = await make_client("fw-pull", version="1.0", firmware=True)
    firmware = device.firmware
    firmware.update_delay, firmware.pull_block_size = 0.01, 256
    endpoint = server.endpoint("fw-pull")
    read = await endpoint.read("/5/0")
    assert read.content_format == ContentFormat.TLV
    assert read.value("/5/0/8/0") == 0 and read.value("/5/0/8/1") == 1 and read.value("/5/0/9") == 2

    served = _Image(make_image("5.0", 10_000, seed=5))
    uri = files("good.bin", served)
    assert (await endpoint.write("/5/0/1", uri)).code == "2.04"
    await until(lambda: _state(device)[0] != 1)
    assert _state(device) == (2, 0)
    assert firmware.pulled_from == [uri] and firmware.bytes_received == 10_000
    assert set(served.blocks) == {256}
    assert device.values[P("/5/0/1")] == uri
    assert (await endpoint.execute("/5/0/2")).code == "2.04"
    await until(lambda: firmware.installed == ["5.0"] and server.registrations.by_endpoint("fw-pull") is not None)
    assert device.values[P("/3/0/3")] == "5.0"

    # what fails, and with which Update Result
    files("corrupt.bin", _Image(make_image("5.1", 3000, corrupt=True)))
    for target, result in [
        (uri.replace("good", "missing"), 7),
        (uri.replace("good", "corrupt"), 5),
        ("http://127.0.0.1/fw.bin", 9),
        ("coaps://127.0.0.1/fw.bin", 9),  # no DTLS credentials on this device
        ("coap://[::1/fw.bin", 7),
        ("no uri", 7),
    ]:
        assert (await _write_uri(coap, device, target)).code == Code.CHANGED
        await until(lambda: _state(device)[0] == 0)
        assert _state(device) == (0, result), target

    # a download that does not get anywhere: cancelled by an empty Package URI
    assert (await _write_uri(coap, device, silent[0])).code == Code.CHANGED
    assert _state(device) == (1, 0)
    assert (await _write_uri(coap, device, "")).code == Code.CHANGED
    assert _state(device) == (0, 10) and device.values[P("/5/0/1")] == ""
    assert (await _write_uri(coap, device, "")).code == Code.CHANGED
    assert _state(device) == (0, 0)


async def test_a_pull_that_gets_no_answer_fails_with_result_4(
    make_client: Any, coap: aiocoap.Context, silent: tuple[str, _Silent]
) -> None:
    device = await make_client("fw-lost", firmware=True)
    device.firmware.pull_timeout, device.firmware.pull_tries = 0.2, 2
    await _write_uri(coap, device, silent[0])
    await until(lambda: _state(device)[0] == 0, timeout=3)
    assert _state(device) == (0, 4)
    assert silent[1].requests == 2 * 3  # two tries of a CON sent three times


@pytest.fixture
async def dtls_files(udp: None) -> AsyncIterator[Callable[[str, _Image], str]]:
    """A coaps:// file server (the devices of tests/core/dtls_peers.py)."""
    from custom_components.lwm2m.lwm2m.transport import CoapTransport, DtlsSettings

    site = coap_resource.Site()
    transport = CoapTransport(site, "::", None, dtls=DtlsSettings(0, credentials))
    await transport.start()

    def add(name: str, image: _Image) -> str:
        site.add_resource(("fw", name), image)
        return f"coaps://127.0.0.1:{transport.dtls_port}/fw/{name}"

    yield add
    assert transport.context is not None
    with contextlib.suppress(Exception):
        await transport.context.shutdown()


async def test_over_dtls(dtls_server: LwM2MServer, dtls_device: Any, dtls_files: Callable[[str, _Image], str]) -> None:
    device = await dtls_device("psk-dev", psk_device(), firmware=True)
    firmware = device.firmware
    firmware.update_delay = 0.01
    endpoint = dtls_server.endpoint("psk-dev")
    first = dtls_server.registrations.by_endpoint("psk-dev")
    assert (await endpoint.read("/5/0/3")).value("/5/0/3") == 0

    uri = dtls_files("secure.bin", _Image(make_image("6.0", 6000, seed=6)))
    assert (await endpoint.write("/5/0/1", uri)).code == "2.04"
    await until(lambda: _state(device)[0] != 1)
    assert _state(device) == (2, 0)
    assert (await endpoint.execute("/5/0/2")).code == "2.04"
    await until(lambda: dtls_server.registrations.by_endpoint("psk-dev") not in (None, first))
    assert firmware.installed == ["6.0"]
    assert (await endpoint.read("/3/0/3")).value("/3/0/3") == "6.0"

    write_block = getattr(endpoint, "write_block", None)
    if write_block is None:
        return  # the server cannot push block-wise (yet)
    image = make_image("6.1", 3000, seed=7)
    for number in range(6):
        chunk = image[number * 512 : (number + 1) * 512]
        answer = await write_block("/5/0/0", chunk, (number, number < 5, 5))
        assert answer.code == (Code.CONTINUE if number < 5 else Code.CHANGED)
    assert _state(device) == (2, 0)


async def test_a_pull_follows_the_file_servers_smaller_blocks(
    make_client: Any, files: Callable[[str, _Image], str]
) -> None:
    device = await make_client("fw-blocks", firmware=True)
    served = _Image(make_image("7.0", 3000), max_szx=4)
    coap_uri = files("small-blocks.bin", served)
    answer = await device.firmware.render(P("/5/0/1"), Message(code=Code.PUT, payload=coap_uri.encode()))
    assert answer is not None and answer.code == Code.CHANGED
    await until(lambda: _state(device)[0] != 1)
    assert _state(device) == (2, 0)
    assert served.blocks[0] == 1024 and set(served.blocks[1:]) == {256}
    assert len(served.blocks) == -(-3000 // 256)
