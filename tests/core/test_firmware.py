"""Firmware updates end to end: the real server updates the simulated device's object 5.

Push (Block1 writes of /5/0/0) and pull (the device GETs /fw/<token> by Block2), over coap://
and coaps://, a 1 MB image, a device that asks for smaller blocks, failures with their
result's meaning, a sleeping device, cancel, and what the download links refuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path as FilePath
from typing import Any

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType, FirmwareInfo, Step
from custom_components.lwm2m.lwm2m.firmware.image import FirmwareImage
from custom_components.lwm2m.lwm2m.firmware.update import FirmwareError, FirmwareSettings, FirmwareUpdates
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import credentials, psk_device, until
from tests.sim import SimClient
from tests.sim.firmware import PULL_ONLY, PUSH_ONLY, write_image

SETTINGS = FirmwareSettings(poll_interval=1.0, download_stall=10.0, update_timeout=10.0)


@pytest.fixture
async def fw_server(udp: None) -> AsyncIterator[LwM2MServer]:
    config = ServerConfig(
        host="::",
        port=0,
        dtls_port=0,
        credentials=credentials(),
        request_timeout=5,
        expiry_check_interval=0.2,
        firmware=SETTINGS,
    )
    server = LwM2MServer(config)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def device(fw_server: LwM2MServer) -> AsyncIterator[Callable[..., Awaitable[SimClient]]]:
    clients: list[SimClient] = []

    async def make(endpoint: str = "fw-dev", *, dtls: Any = None, **kwargs: Any) -> SimClient:
        port = fw_server.dtls_port if dtls is not None else fw_server.port
        client = SimClient(endpoint, port, dtls=dtls, firmware=True, **kwargs)
        clients.append(client)
        await client.start()
        return client

    yield make
    for client in clients:
        await client.stop()


def image(tmp_path: FilePath, version: str = "2.0.0", size: int = 20_000, **kwargs: Any) -> FirmwareImage:
    file = tmp_path / f"fw-{version}-{size}.bin"
    write_image(file, version, size, **kwargs)
    return FirmwareImage.from_file(file, version)


def steps(server: LwM2MServer) -> list[FirmwareInfo]:
    seen: list[FirmwareInfo] = []

    def listen(event: Event) -> None:
        if event.type is EventType.FIRMWARE:
            assert isinstance(event.details, FirmwareInfo)
            seen.append(event.details)

    server.events.subscribe(listen)
    return seen


async def update(server: LwM2MServer, endpoint: str, img: FirmwareImage, method: str = "auto") -> FirmwareInfo:
    job = server.firmware.start(endpoint, img, method)
    async with asyncio.timeout(30):
        return await job.wait()


@pytest.mark.parametrize("method", ["push", "pull"])
async def test_an_update_installs_the_image_and_the_device_runs_it(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath, method: str
) -> None:
    client = await device()
    seen = steps(fw_server)
    img = image(tmp_path, size=1_000_000)
    info = await update(fw_server, "fw-dev", img, method)
    assert info.step is Step.SUCCEEDED, info
    assert (info.method, info.state, info.result, info.error) == (method, 0, 1, "")
    assert client.firmware is not None and client.firmware.installed == ["2.0.0"]
    assert client.values[Path.parse("/3/0/3")] == "2.0.0"
    assert client.firmware.bytes_received == 1_000_000
    if method == "push":
        assert set(client.firmware.received_blocks[:-1]) == {1024}
    else:
        assert client.firmware.pulled_from and "/fw/" in client.firmware.pulled_from[0]
    names = [s.step for s in seen]
    assert names[0] is Step.STARTED and names[-3:] == [Step.DOWNLOADED, Step.UPDATING, Step.SUCCEEDED]
    percents = [s.percent for s in seen if s.step is Step.DOWNLOADING]
    assert percents[0] == 0 and percents[-1] == 100 and percents == sorted(percents) and len(percents) > 50
    # the device registered again with the new version, and the link is gone
    assert fw_server.registrations.by_endpoint("fw-dev") is not None
    assert len(fw_server.downloads) == 0


async def test_auto_pulls_when_the_device_can_and_pushes_otherwise(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath
) -> None:
    both = await device("both")
    push_only = await device("push-only")
    assert push_only.firmware is not None
    push_only.firmware.delivery = PUSH_ONLY
    img = image(tmp_path)
    assert (await update(fw_server, "both", img)).method == "pull"
    assert (await update(fw_server, "push-only", img)).method == "push"
    assert both.firmware is not None and both.firmware.pulled_from
    assert push_only.firmware.pulled_from == [] and push_only.firmware.received_blocks


async def test_a_method_the_device_does_not_take_fails_before_anything_is_sent(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath
) -> None:
    client = await device()
    assert client.firmware is not None
    client.firmware.delivery = PULL_ONLY
    info = await update(fw_server, "fw-dev", image(tmp_path), "push")
    assert info.step is Step.FAILED and "pull only" in info.error
    assert client.firmware.received_blocks == [] and client.firmware.updates == 0


@pytest.mark.parametrize("refusal", ["2.31", "4.13"])
async def test_a_device_that_takes_smaller_blocks_gets_them(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath, refusal: str
) -> None:
    client = await device()
    assert client.firmware is not None
    client.firmware.max_block_size = 256
    client.firmware.block_refusal = refusal
    info = await update(fw_server, "fw-dev", image(tmp_path, size=5000), "push")
    assert info.step is Step.SUCCEEDED, info
    blocks = client.firmware.received_blocks
    # 2.31: the device takes the first block whole and asks for smaller ones after it;
    # 4.13: it refuses the first, and the push starts again with its size
    later = blocks[1:] if refusal == "2.31" else blocks
    assert set(later) <= {256, (5000 - (1024 if refusal == "2.31" else 0)) % 256}, blocks
    assert sum(blocks) == 5000 and client.firmware.bytes_received == 5000


@pytest.mark.parametrize("method", ["push", "pull"])
async def test_an_image_that_fails_the_integrity_check_says_so(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath, method: str
) -> None:
    client = await device()
    info = await update(fw_server, "fw-dev", image(tmp_path, corrupt=True), method)
    assert info.step is Step.FAILED and info.result == 5
    assert "integrity check failure" in info.error
    assert client.firmware is not None and client.firmware.updates == 0  # never executed
    assert info.to_json()["result_key"] == "integrity_check_failure"


async def test_a_failed_update_says_what_the_device_reports(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath
) -> None:
    client = await device()
    assert client.firmware is not None
    client.firmware.fail_result = 8
    info = await update(fw_server, "fw-dev", image(tmp_path), "push")
    assert info.step is Step.FAILED and info.result == 8 and "firmware update failed" in info.error
    assert client.firmware.updates == 1 and client.firmware.installed == []


@pytest.mark.parametrize("method", ["push", "pull"])
async def test_over_coaps(fw_server: LwM2MServer, device: Any, tmp_path: FilePath, method: str) -> None:
    client = await device("psk-dev", dtls=psk_device())
    info = await update(fw_server, "psk-dev", image(tmp_path, size=50_000), method)
    assert info.step is Step.SUCCEEDED, info
    assert client.firmware is not None and client.firmware.installed == ["2.0.0"]
    if method == "pull":
        assert client.firmware.pulled_from[0].startswith("coaps://")


async def test_a_sleeping_device_gets_each_step_when_it_wakes(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath
) -> None:
    client = await device(queue_mode=True)
    await client.sleep()
    seen = steps(fw_server)
    job = fw_server.firmware.start("fw-dev", image(tmp_path), "push")
    await asyncio.sleep(0.5)
    assert [s.step for s in seen] == [Step.STARTED]  # waiting for the device
    await client.wake()
    async with asyncio.timeout(30):
        info = await job.wait()
    assert info.step is Step.SUCCEEDED, info


@pytest.mark.parametrize("method", ["push", "pull"])
async def test_a_device_that_sleeps_between_the_download_and_the_update(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath, method: str
) -> None:
    client = await device(queue_mode=True)
    assert client.firmware is not None
    naps: list[asyncio.Task[None]] = []

    def on_event(text: str) -> None:
        if text.startswith("downloaded"):  # asleep before the server executes Update
            naps.append(asyncio.get_running_loop().create_task(client.sleep()))

    client.firmware.on_event = on_event
    seen = steps(fw_server)
    job = fw_server.firmware.start("fw-dev", image(tmp_path), method)
    await until(lambda: bool(naps) and naps[0].done(), 15)
    await asyncio.sleep(1.5)
    assert client.firmware.updates == 0 and not job.done  # Update waits for the device
    await client.wake()
    async with asyncio.timeout(30):
        info = await job.wait()
    assert info.step is Step.SUCCEEDED, info
    assert client.firmware.updates == 1 and client.firmware.installed == ["2.0.0"]
    assert [s.step for s in seen][-3:] == [Step.DOWNLOADED, Step.UPDATING, Step.SUCCEEDED]


async def test_cancel_tells_the_device(fw_server: LwM2MServer, device: Any, tmp_path: FilePath) -> None:
    client = await device()
    assert client.firmware is not None
    client.firmware.pull_block_size = 16  # a slow download, to cancel in the middle of
    job = fw_server.firmware.start("fw-dev", image(tmp_path, size=200_000), "pull")
    await until(lambda: (job.info.percent or 0) >= 2, 30)
    with pytest.raises(FirmwareError, match="already being updated"):
        fw_server.firmware.start("fw-dev", job.image)
    assert fw_server.firmware.cancel("fw-dev")
    info = await job.wait()
    assert info.step is Step.CANCELLED and info.percent is None
    assert client.values[Path.parse("/5/0/1")] == ""  # the empty Package URI reset the device
    await until(lambda: client.firmware is not None and client.firmware.result == 10)
    assert client.firmware.state == 0 and client.firmware.updates == 0
    assert len(fw_server.downloads) == 0  # the link is gone
    assert not fw_server.firmware.cancel("fw-dev")


async def test_a_device_without_object_5_cannot_be_updated(fw_server: LwM2MServer, tmp_path: FilePath) -> None:
    client = SimClient("plain", fw_server.port)
    await client.start()
    try:
        with pytest.raises(FirmwareError, match="no Firmware Update object"):
            fw_server.firmware.start("plain", image(tmp_path))
    finally:
        await client.stop()


async def test_download_links_are_unguessable_single_use_and_bound_to_the_identity(
    fw_server: LwM2MServer, device: Any, tmp_path: FilePath
) -> None:
    img = image(tmp_path, size=3000)
    plain = fw_server.downloads.offer(img)
    secure = fw_server.downloads.offer(img, identity="psk:psk-id")
    other = await device(
        "other-dev", dtls=psk_device("other-id", bytes.fromhex("000102030405060708090a0b0c0d0e0f")[::-1])
    )
    mine = await device("psk-dev", dtls=psk_device())

    async def get(client: SimClient, path: str, block: tuple[int, bool, int] | None = None) -> Message:
        port = fw_server.dtls_port if client.dtls else fw_server.port
        scheme = "coaps" if client.dtls else "coap"
        message = Message(code=Code.GET, uri=f"{scheme}://127.0.0.1:{port}/{path}")
        if block is not None:
            message.opt.block2 = block
        assert client.context is not None
        return await client.context.request(message, handle_blockwise=False).response

    first = await get(mine, secure.path)
    assert first.code == Code.CONTENT and len(first.payload) == 1024 and first.opt.size2 == 3000
    assert first.opt.block2.more and first.opt.etag == bytes.fromhex(img.sha256[:16])
    last = await get(mine, secure.path, (5, False, 5))  # 512-byte blocks: block 5 ends the image
    assert last.payload == (await image_bytes(img))[2560:] and not last.opt.block2.more
    assert (await get(other, secure.path)).code == Code.NOT_FOUND  # another identity
    assert (await get(mine, secure.path, (3, False, 6))).code == Code.BAD_OPTION  # past the end
    assert (await get(mine, "fw/" + "A" * 22)).code == Code.NOT_FOUND
    plain_answer = await get(mine, plain.path)
    assert plain_answer.code == Code.CONTENT  # a plain offer serves whoever has the link
    fw_server.downloads.withdraw(secure)
    assert (await get(mine, secure.path)).code == Code.NOT_FOUND
    assert len(fw_server.downloads) == 1


async def image_bytes(img: FirmwareImage) -> bytes:
    return await asyncio.to_thread(img.path.read_bytes)


async def test_an_image_changed_on_disk_stops_the_push(fw_server: LwM2MServer, device: Any, tmp_path: FilePath) -> None:
    await device()
    img = image(tmp_path, size=200_000)
    img.path.write_bytes(b"short")
    info = await update(fw_server, "fw-dev", img, "push")
    assert info.step is Step.FAILED and "changed on disk" in info.error


async def test_updates_stop_with_the_server(udp: None, tmp_path: FilePath) -> None:
    server = LwM2MServer(ServerConfig(host="::", port=0, firmware=SETTINGS))
    await server.start()
    client = SimClient("fw-dev", server.port, firmware=True, queue_mode=True)
    await client.start()
    await client.sleep()
    job = server.firmware.start("fw-dev", image(tmp_path))
    await server.stop()
    assert job.done and job.info.step is Step.CANCELLED
    assert isinstance(server.firmware, FirmwareUpdates) and server.firmware.stopping
    await client.stop()
