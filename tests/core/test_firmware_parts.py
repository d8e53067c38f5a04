"""The firmware update's parts alone: the push loop, the image reader, download offers, links,
and the procedure against a scripted device (lost answers, stale results, restarts)."""

from __future__ import annotations

import asyncio
from pathlib import Path as FilePath
from types import SimpleNamespace
from typing import Any

import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.api import Response
from custom_components.lwm2m.lwm2m.errors import DeviceTimeout, NotRegistered, OperationError
from custom_components.lwm2m.lwm2m.events import Event, EventBus, EventType, Step
from custom_components.lwm2m.lwm2m.firmware.downloads import Downloads
from custom_components.lwm2m.lwm2m.firmware.image import FirmwareImage, ImageError, ImageReader
from custom_components.lwm2m.lwm2m.firmware.links import CoapLinks, download_host
from custom_components.lwm2m.lwm2m.firmware.push import MAX_RESTARTS, PushError, push, size_exponent
from custom_components.lwm2m.lwm2m.firmware.states import (
    DELIVERY,
    DEVICE_VERSION,
    INSTANCE,
    RESULT,
    STATE,
    PullProtocol,
    result_key,
    result_text,
)
from custom_components.lwm2m.lwm2m.firmware.update import FirmwareSettings, FirmwareUpdates
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse


def _file(tmp_path: FilePath, data: bytes, version: str | None = "2.0") -> FirmwareImage:
    file = tmp_path / "img.bin"
    file.write_bytes(data)
    return FirmwareImage.from_file(file, version)


# -- push ----------------------------------------------------------------------------------


class Blocks:
    """A device's answers to block writes, scripted: each a function of the block."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.sent: list[tuple[tuple[int, bool, int], int, int | None]] = []

    async def write_block(self, path: Any, payload: bytes, block1: tuple[int, bool, int], **kw: Any) -> Message:
        self.sent.append((block1, len(payload), kw.get("size1")))
        return self.answer(block1, len(self.sent))


def _message(code: Code, block1: tuple[int, bool, int] | None = None, size1: int | None = None) -> Message:
    message = Message(code=code)
    if block1 is not None:
        message.opt.block1 = block1
    if size1 is not None:
        message.opt.size1 = size1
    return message


async def test_a_push_sends_size1_first_and_follows_smaller_sizes(tmp_path: FilePath) -> None:
    reader = ImageReader(_file(tmp_path, bytes(5000)))
    device = Blocks(lambda b, n: _message(Code.CONTINUE if b[1] else Code.CHANGED, (b[0], b[1], min(b[2], 5))))
    progress: list[int] = []
    assert await push(device, P("/5/0/0"), reader, progress=progress.append) == 512
    assert device.sent[0] == ((0, True, 6), 1024, 5000)  # Size1 with the first block only
    assert all(size1 is None for _b, _n, size1 in device.sent[1:])
    assert [b for b, _n, _s in device.sent[1:3]] == [(2, True, 5), (3, True, 5)]  # 1024 bytes = two 512 blocks
    assert progress[-1] == 5000 and sum(n for _b, n, _s in device.sent) == 5000


async def test_a_push_starts_again_smaller_at_most_max_restarts_times(tmp_path: FilePath) -> None:
    data = bytes(100)

    def shrinking(block: tuple[int, bool, int], count: int) -> Message:
        if block[2] > 0:  # refuses until the smallest size: six restarts, 1024 down to 16
            return _message(Code.REQUEST_ENTITY_TOO_LARGE, (0, False, block[2] - 1))
        return _message(Code.CONTINUE if block[1] else Code.CHANGED, block)

    device = Blocks(shrinking)
    assert await push(device, P("/5/0/0"), ImageReader(_file(tmp_path, data))) == 16
    assert [b[2] for b, _n, _s in device.sent[:7]] == [6, 5, 4, 3, 2, 1, 0] and MAX_RESTARTS == 6


async def test_a_push_of_an_image_too_large_says_how_large_it_may_be(tmp_path: FilePath) -> None:
    device = Blocks(lambda b, n: _message(Code.REQUEST_ENTITY_TOO_LARGE, size1=2048))
    with pytest.raises(PushError, match=r"refused an image of 5000 bytes as too large \(it takes at most 2048") as err:
        await push(device, P("/5/0/0"), ImageReader(_file(tmp_path, bytes(5000))))
    assert err.value.code == "4.13"


async def test_a_push_the_device_loses_starts_over_a_bounded_number_of_times(tmp_path: FilePath) -> None:
    lost: list[int] = []

    class Losing(Blocks):
        async def write_block(self, path: Any, payload: bytes, block1: tuple[int, bool, int], **kw: Any) -> Message:
            if block1[0] == 1 and len(lost) < self.losses:
                lost.append(1)
                raise OperationError("incomplete", "4.08")
            return await super().write_block(path, payload, block1, **kw)

    device = Losing(lambda b, n: _message(Code.CONTINUE if b[1] else Code.CHANGED, b))
    device.losses = MAX_RESTARTS
    readies: list[int] = []

    async def ready() -> None:
        readies.append(1)

    await push(device, P("/5/0/0"), ImageReader(_file(tmp_path, bytes(3000))), ready=ready)
    assert len(readies) == MAX_RESTARTS
    lost.clear()
    device.losses = MAX_RESTARTS + 1
    with pytest.raises(OperationError, match="incomplete"):
        await push(device, P("/5/0/0"), ImageReader(_file(tmp_path, bytes(3000))))


async def test_a_push_needs_continue_between_blocks(tmp_path: FilePath) -> None:
    device = Blocks(lambda b, n: _message(Code.CHANGED, b))
    with pytest.raises(PushError, match=r"answered block 0 with 2\.04, not 2\.31 Continue"):
        await push(device, P("/5/0/0"), ImageReader(_file(tmp_path, bytes(3000))))
    assert size_exponent(128) == 3 and size_exponent(1024) == 6
    with pytest.raises(ValueError, match="not 100"):
        size_exponent(100)


# -- images and downloads ------------------------------------------------------------------


async def test_the_image_reader(tmp_path: FilePath) -> None:
    data = bytes(range(256)) * 300
    reader = ImageReader(_file(tmp_path, data))
    assert await reader.read(0, 4) == data[:4]
    assert await reader.read(len(data) - 1, 10) == data[-1:]
    assert await reader.read(len(data), 10) == b"" and await reader.read(5, 0) == b""
    assert await reader.read(70_000, 1000) == data[70_000:71_000]  # past the first window
    file = reader._file
    reader.close()
    assert reader._file is None and file is not None and file.closed
    with pytest.raises(ValueError, match="negative"):
        await reader.read(-1, 1)
    with pytest.raises(ImageError, match=r"cannot read .*no-such\.bin"):
        FirmwareImage.from_file(tmp_path / "no-such.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.bin is empty"):
        FirmwareImage.from_file(tmp_path / "empty.bin")


async def test_a_download_whose_file_went_away(tmp_path: FilePath) -> None:
    image = _file(tmp_path, bytes(3000))
    downloads = Downloads()
    offer = downloads.offer(image)
    image.path.unlink()
    answer = await downloads.serve(Message(code=Code.GET), offer.token, None)
    assert answer.code == Code.INTERNAL_SERVER_ERROR and b"cannot read" in answer.payload
    gone = await downloads.serve(Message(code=Code.GET), "nope", None)
    assert gone.code == Code.NOT_FOUND and gone.payload == b"no such download (each link serves one update)"
    posted = await downloads.serve(Message(code=Code.POST), offer.token, None)
    assert posted.code == Code.METHOD_NOT_ALLOWED


def test_results_and_hosts(udp: None) -> None:
    assert result_text(None) == "no update result" and result_text(99) == "update result 99"
    assert result_key(None) == "unknown" and result_key(99) == "unknown" and result_key(5) == "integrity_check_failure"
    assert download_host("::ffff:10.1.2.3", "203.0.113.9") == "10.1.2.3"  # bound to one address: that one
    assert download_host("192.168.1.5", "::1") == "192.168.1.5"
    assert download_host("::", "::ffff:127.0.0.1") == "127.0.0.1"  # routed toward the device
    assert download_host("", "::1") == "::1"


def test_links(tmp_path: FilePath, udp: None) -> None:
    image = _file(tmp_path, bytes(100))

    def server(port: int | None, dtls: int, host: str = "::") -> Any:
        return SimpleNamespace(
            config=SimpleNamespace(port=port, host=host, download_host=""),
            port=port or 0,
            dtls_port=dtls,
            downloads=Downloads(),
        )

    def reg(transport: str = "udp", address: str = "[::1]:5000", identity: str | None = None) -> Any:
        return SimpleNamespace(transport=transport, address=address, identity=identity)

    both = frozenset({PullProtocol.COAP, PullProtocol.COAPS})
    made = CoapLinks(server(5683, 5684)).link(reg(), image, both, print)
    assert made is not None and made[0].startswith("coap://[::1]:5683/fw/")
    dtls = server(5683, 5684)
    secure = CoapLinks(dtls).link(reg("dtls", "127.0.0.1:9", "psk:a"), image, both, print)
    assert secure is not None and secure[0].startswith("coaps://127.0.0.1:5684/fw/")
    (offer,) = dtls.downloads._offers.values()
    assert offer.identity == "psk:a"  # only the device's own DTLS identity may download it
    assert CoapLinks(server(None, 5684)).link(reg(), image, both, print) is None  # coaps:// only, a udp device
    only_coaps = frozenset({PullProtocol.COAPS})
    assert CoapLinks(server(5683, 5684)).link(reg(), image, only_coaps, print) is None
    # a device on the internet gets no link naming a private address (push then)
    assert CoapLinks(server(5683, 0, "192.168.1.5")).link(reg(address="8.8.8.8:5000"), image, both, print) is None


# -- the procedure against a scripted device -------------------------------------------------


class Scripted:
    """A device whose answers a test scripts; it takes pushes and installs on Execute."""

    def __init__(self, bus: EventBus, **script: Any) -> None:
        self.name = "d"
        self.bus = bus
        self.script = script
        self.state, self.result, self.version = script.get("state", 0), script.get("result", 0), "1.0"
        self.registration = SimpleNamespace(
            objects=SimpleNamespace(instances={INSTANCE}), queue_mode=False, transport="udp", identity=None
        )
        self.executes = 0
        self.written: list[Any] = []

    async def read(self, path: Path, timeout: float | None = None) -> Response:
        if self.script.get("gone_on_read") and self.executes:
            self.script["gone_on_read"] -= 1
            raise NotRegistered("d is not registered", "4.04")
        if path == INSTANCE and self.script.get("instance_refused"):
            raise OperationError("d answered read /5/0 with 4.05", "4.05")
        values = {
            STATE: self.state,
            RESULT: self.result,
            DELIVERY: self.script.get("delivery", 1),
            DEVICE_VERSION: self.version,
        }
        return Response("2.05", {p: v for p, v in values.items() if p.startswith(path) or path == INSTANCE})

    async def write(self, path: Path, value: Any, **kw: Any) -> Response:
        self.written.append(value)
        if self.state == 3 or self.script.get("stuck"):
            raise OperationError("updating", "4.05")
        self.state, self.result = 0, 0
        return Response("2.04")

    async def write_block(self, path: Any, payload: bytes, block1: tuple[int, bool, int], **kw: Any) -> Message:
        self.state = 1
        if not self.script.get("stale_result"):
            self.result = 0
        if not block1[1]:
            self.state = 2
        return _message(Code.CONTINUE if block1[1] else Code.CHANGED, block1)

    async def execute(self, path: Path, arguments: str | None = None, **kw: Any) -> Response:
        self.executes += 1
        if self.script.get("lost_executes", 0) >= self.executes:
            raise DeviceTimeout("d did not answer execute")  # never arrived: still Downloaded
        self.state = 3
        self.timer = asyncio.get_running_loop().call_later(self.script.get("install", 0.3), self.installed)
        if self.script.get("ack_lost"):
            raise DeviceTimeout("d did not answer execute")  # arrived, its answer lost
        return Response("2.04")

    def installed(self) -> None:
        if self.script.get("never_reports"):
            return
        self.state, self.result, self.version = 0, 1, self.script.get("installs", "2.0")
        if self.script.get("no_result"):
            self.result = 0
        if self.script.get("reregister"):
            self.bus.emit(Event(type=EventType.REGISTERED, endpoint="d"))


async def _update(
    tmp_path: FilePath, version: str | None = "2.0", method: str = "push", **script: Any
) -> tuple[Any, Scripted]:
    bus = EventBus()
    device = Scripted(bus, **script)
    source = SimpleNamespace(events=bus, endpoint=lambda name: device)
    updates = FirmwareUpdates(source, FirmwareSettings(poll_interval=0.2, download_stall=5, update_timeout=5))
    job = updates.start("d", _file(tmp_path, bytes(3000), version), method)
    async with asyncio.timeout(10):
        info = await job.wait()
    return (updates, job, info), device


async def test_a_stale_success_result_is_not_taken_while_the_device_installs(tmp_path: FilePath) -> None:
    (_u, _job, info), device = await _update(tmp_path, stale_result=True, result=1, install=0.8)
    assert info.step is Step.SUCCEEDED and device.version == "2.0"  # (the outcome, not the old 1)


async def test_a_stale_success_beside_downloaded_is_not_taken(tmp_path: FilePath) -> None:
    # the device never resets its result: a 1 from before while it still says Downloaded
    (_u, _job, info), device = await _update(tmp_path, stale_result=True, result=1, lost_executes=1)
    assert info.step is Step.SUCCEEDED and device.executes == 2  # Update was sent again, then installed


async def test_a_lost_answer_to_execute_still_waits_for_the_outcome(tmp_path: FilePath) -> None:
    (_u, _job, info), device = await _update(tmp_path, ack_lost=True)
    assert info.step is Step.SUCCEEDED and device.executes == 1  # never sent twice


async def test_an_execute_that_never_arrived_is_sent_again(tmp_path: FilePath) -> None:
    (_u, _job, info), device = await _update(tmp_path, lost_executes=1)
    assert info.step is Step.SUCCEEDED and device.executes == 2


async def test_a_device_that_restarts_twice_does_not_hold_the_loop(tmp_path: FilePath) -> None:
    ticks: list[int] = []

    async def tick() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.05)

    ticker = asyncio.get_running_loop().create_task(tick())
    try:
        (_u, _job, info), _device = await _update(tmp_path, reregister=True, gone_on_read=1)
    finally:
        ticker.cancel()
    assert info.step is Step.SUCCEEDED and len(ticks) > 5


async def test_without_a_version_a_changed_one_is_success(tmp_path: FilePath) -> None:
    (_u, _job, info), _device = await _update(tmp_path, version=None, reregister=True)
    assert info.step is Step.SUCCEEDED


async def test_late_progress_and_cancel_after_execute(tmp_path: FilePath) -> None:
    (updates, job, info), _device = await _update(tmp_path)
    job._on_sent(100)  # a block served after the end
    assert job.done and job.info is info
    bus = EventBus()
    device = Scripted(bus, install=5.0)
    updates = FirmwareUpdates(
        SimpleNamespace(events=bus, endpoint=lambda name: device), FirmwareSettings(poll_interval=0.2)
    )
    job = updates.start("d", _file(tmp_path, bytes(3000)), "push")
    async with asyncio.timeout(5):
        while not job.installing:
            await asyncio.sleep(0.01)
    assert not updates.cancel("d") and not job.done  # installing: nothing stops it
    waiter = asyncio.get_running_loop().create_task(job.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter  # a cancelled waiter is cancelled, whatever the job does
    assert not job.done
    await updates.stop()
    device.timer.cancel()
    assert job.done and job.info.step is Step.CANCELLED


async def test_a_leftover_update_is_reset_first(tmp_path: FilePath) -> None:
    (_u, _job, info), device = await _update(tmp_path, state=1)  # an abandoned download
    assert info.step is Step.SUCCEEDED and device.written[0] == ""


async def test_a_device_busy_with_another_update(tmp_path: FilePath) -> None:
    (_u, _job, info), _device = await _update(tmp_path, state=3, stuck=True)
    assert info.step is Step.FAILED and "busy with another update (state updating)" in info.error


async def test_a_device_that_reads_only_resources(tmp_path: FilePath) -> None:
    (_u, _job, info), _device = await _update(tmp_path, instance_refused=True)
    assert info.step is Step.SUCCEEDED  # its state and result read one by one


async def test_a_pull_from_a_push_only_device_fails_at_once(tmp_path: FilePath) -> None:
    (_u, _job, info), device = await _update(tmp_path, method="pull")
    assert info.step is Step.FAILED and "push only" in info.error and device.executes == 0


async def test_a_device_that_never_reports_the_outcome(tmp_path: FilePath) -> None:
    bus = EventBus()
    device = Scripted(bus, never_reports=True)
    source = SimpleNamespace(events=bus, endpoint=lambda name: device)
    updates = FirmwareUpdates(source, FirmwareSettings(poll_interval=0.2, update_timeout=1.0))
    info = await updates.start("d", _file(tmp_path, bytes(3000)), "push").wait()
    assert info.step is Step.FAILED and "took longer than 1 s to report the update's outcome" in info.error
    assert info.to_json()["state"] == "updating"


async def test_a_device_that_restarts_with_another_version(tmp_path: FilePath) -> None:
    (_u, _job, info), _device = await _update(tmp_path, reregister=True, no_result=True, installs="1.9")
    assert info.step is Step.FAILED and "restarted without reporting the update's success (it runs '1.9')" in info.error


class SlowReset(Scripted):
    """A device slow to take the empty Package URI that tells it to stop."""

    async def write(self, path: Path, value: Any, **kw: Any) -> Response:
        if value == "":
            self.reset_started.set()
            await asyncio.sleep(0.3)
        return await super().write(path, value, **kw)


class FakeLinks:
    protocols = frozenset({0, 1})

    def __init__(self) -> None:
        self.closed = 0
        self.on_progress: Any = None

    def link(self, reg: Any, image: Any, protocols: Any, on_progress: Any) -> tuple[str, Any]:
        self.on_progress = on_progress
        return "coap://x/fw", self.close

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("meanwhile", ["nothing", "a second cancel", "the server stops"])
async def test_a_cancel_tells_the_device_before_the_link_goes(tmp_path: FilePath, meanwhile: str) -> None:
    bus = EventBus()
    steps: list[tuple[str, int | None]] = []
    bus.subscribe(
        lambda e: steps.append((e.details.step.name, e.details.percent)) if e.type is EventType.FIRMWARE else None
    )
    device = SlowReset(bus, delivery=2)
    device.reset_started = asyncio.Event()
    updates = FirmwareUpdates(
        SimpleNamespace(events=bus, endpoint=lambda name: device), FirmwareSettings(poll_interval=2.0)
    )
    links = FakeLinks()
    updates.links.append(links)
    job = updates.start("d", _file(tmp_path, bytes(3000)), "pull")
    async with asyncio.timeout(5):
        while "coap://x/fw" not in device.written:
            await asyncio.sleep(0.01)
    links.on_progress(1000)
    assert updates.cancel("d")
    await device.reset_started.wait()
    assert links.closed == 0  # the link stays while the device is told
    links.on_progress(2000)  # a block the device fetches meanwhile: no progress after the cancel
    if meanwhile == "a second cancel":
        assert updates.cancel("d")  # still being cancelled; the telling goes on
    elif meanwhile == "the server stops":
        await updates.stop()  # the server going away ends the telling
    info = await job.wait()
    assert info.step is Step.CANCELLED and links.closed == 1
    told = meanwhile != "the server stops"
    assert device.written.count("") == (1 if told else 0)  # Scripted records a write it completed
    assert [s for s in steps if s[0] == "DOWNLOADING"] == [("DOWNLOADING", 0), ("DOWNLOADING", 33)]
    assert steps[-1] == ("CANCELLED", None)
