"""The firmware update of one device, from the first read of object 5 to the new firmware running.

    prepare   read /5/0 (state, result, delivery method, protocols); reset a leftover state
    deliver   push (Block1 writes of /5/0/0) or pull (write /5/0/1 with a link the device GETs)
    wait      until /5/0/3 says Downloaded (2); a failure result (or a stall) ends it
    update    Execute /5/0/2
    wait      until /5/0/5 says success (1) or a failure, or the device registers again and
              reports the new version

The device's values come from every notification and answer of it (the event bus), and from a
read every poll_interval when nothing comes: observed or not, asleep (queue mode, each request
waits for it to wake) or not. Each step is an event (EventType.FIRMWARE, FirmwareInfo); the
last says succeeded, failed (with the result's meaning) or cancelled. Cancel writes an empty
Package URI, which resets the device's update state machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from aiocoap import Message

from ..errors import DeviceTimeout, LwM2MError, NotRegistered, OperationError
from ..events import Event, EventType, FirmwareInfo, Step
from ..path import Path
from ..values import Value
from .image import FirmwareImage, ImageReader
from .push import DEFAULT_BLOCK_SIZE, BlockWriter, push
from .states import (
    DEFERRED,
    DELIVERY,
    DEVICE_VERSION,
    INSTANCE,
    PACKAGE,
    PACKAGE_URI,
    PKG_VERSION,
    PROTOCOLS,
    RESULT,
    STATE,
    SUCCESS,
    UPDATE,
    Delivery,
    PullProtocol,
    State,
    result_key,
    result_text,
    state_name,
)

if TYPE_CHECKING:
    from ..api import DeviceOperations, DeviceSource
    from ..registration import Registration

_LOGGER = logging.getLogger(__name__)


MAX_SLEEPS = 5  # a sleeping device's request is tried again when it wakes, this many times in all


class Method(StrEnum):
    """How the image reaches the device."""

    AUTO = "auto"
    PUSH = "push"
    PULL = "pull"


class FirmwareError(LwM2MError):
    """An update cannot start or went wrong; key names the reason for translations."""

    def __init__(self, message: str, key: str = "failed", result: int | None = None) -> None:
        """Say what went wrong (key: "busy", "no_object", "unsupported", "failed", "timeout", ...)."""
        super().__init__(message)
        self.key = key
        self.result = result


@dataclass(slots=True, kw_only=True)
class FirmwareSettings:
    """How long an update waits, and how it pushes."""

    block_size: int = DEFAULT_BLOCK_SIZE  # the first Block1 size of a push (the device may ask less)
    poll_interval: float = 30.0  # a read of /5/0 when nothing came from the device for this long
    download_stall: float = 300.0  # seconds a download may go without progress
    update_timeout: float = 900.0  # seconds from Execute Update to the outcome


class Links(Protocol):
    """Makes pull links: the server's CoAP(S) downloads, or Home Assistant's HTTP(S) view."""

    protocols: frozenset[int]  # /5/0/8 values it can serve

    def link(
        self, reg: Registration, image: FirmwareImage, protocols: frozenset[int], on_progress: Callable[[int], None]
    ) -> tuple[str, Callable[[], None]] | None:
        """Return a link the device can pull image from (and what ends the offer), or None."""


class FirmwareUpdates:
    """The updates of one device source: at most one a device."""

    def __init__(self, source: DeviceSource, settings: FirmwareSettings | None = None) -> None:
        """Run updates on source's devices; links are added by whoever serves downloads."""
        self.source = source
        self.settings = settings or FirmwareSettings()
        self.links: list[Links] = []
        self.jobs: dict[str, FirmwareJob] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self.stopping = False

    def _listen(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.source.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        job = self.jobs.get(event.endpoint)
        if job is None:
            return
        if event.values:
            job.seen(event.values)
        if event.type is EventType.REGISTERED:
            job.registered()

    def start(
        self, endpoint: str, image: FirmwareImage, method: Method | str = Method.AUTO, *, version: str | None = None
    ) -> FirmwareJob:
        """Start updating endpoint with image; FirmwareError when it already updates (or cannot)."""
        if self.stopping:
            raise FirmwareError("the server is stopping", "stopped")
        running = self.jobs.get(endpoint)
        if running is not None and not running.done:
            raise FirmwareError(f"{endpoint} is already being updated", "busy")
        device = self.source.endpoint(endpoint)  # NotRegistered for an unknown device
        if INSTANCE not in device.registration.objects.instances:
            raise FirmwareError(f"{endpoint} has no Firmware Update object (5)", "no_object")
        self._listen()
        job = FirmwareJob(self, device, image, Method(method), version or image.version)
        self.jobs[endpoint] = job
        job.task = asyncio.get_running_loop().create_task(job.run(), name=f"lwm2m firmware {endpoint}")
        job.task.add_done_callback(job.ended)
        return job

    def job(self, endpoint: str) -> FirmwareJob | None:
        """Return the device's update (running or the last one)."""
        return self.jobs.get(endpoint)

    def cancel(self, endpoint: str) -> bool:
        """Cancel the device's running update; return whether it was cancelled.

        Not once Update was executed: the device is installing, and nothing stops that.
        """
        job = self.jobs.get(endpoint)
        if job is None or job.done or job.installing:
            return False
        job.cancel()
        return True

    async def stop(self) -> None:
        """Cancel every running update (without telling the devices: the server is going away)."""
        self.stopping = True
        jobs = [job for job in self.jobs.values() if not job.done]
        for job in jobs:
            job.cancel()
        await asyncio.gather(*(job.task for job in jobs if job.task is not None), return_exceptions=True)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def emit(self, endpoint: str, info: FirmwareInfo) -> None:
        """Tell every listener of the source how an update goes."""
        self.source.events.emit(Event(type=EventType.FIRMWARE, endpoint=endpoint, details=info))


class _Writer:
    """A device's block writes, each tried again when a sleeping device wakes."""

    def __init__(
        self, device: BlockWriter, retry: Callable[[Callable[[], Awaitable[Message]]], Awaitable[Message]]
    ) -> None:
        self._device = device
        self._retry = retry

    async def write_block(
        self, path: Path | str, payload: bytes, block1: tuple[int, bool, int], **kwargs: Any
    ) -> Message:
        return await self._retry(lambda: self._device.write_block(path, payload, block1, **kwargs))


@dataclass(slots=True, eq=False)
class _Progress:
    sent: int = 0
    percent: int = -1
    at: float = 0.0


class FirmwareJob:
    """One device's update; await wait() for its last step."""

    def __init__(
        self,
        updates: FirmwareUpdates,
        device: DeviceOperations,
        image: FirmwareImage,
        method: Method,
        version: str | None,
    ) -> None:
        """Prepare to update device with image."""
        self._updates = updates
        self.device = device
        self.endpoint = device.name
        self.image = image
        self.method = method
        self.version = version
        self.settings = updates.settings
        self.task: asyncio.Task[FirmwareInfo] | None = None
        self.info = FirmwareInfo(step=Step.STARTED, method=method.value, version=version)
        self.values: dict[Path, Value] = {}
        self._changed = asyncio.Event()
        self._progress = _Progress()
        self._executed = False  # Execute Update was sent (answered or not)
        self._execute_answered = False
        self._resend = False  # Execute to send again (the device is still Downloaded, unanswered)
        self._resends = 0
        self._fresh_result = False  # a result came after Execute Update
        self._version_before: Value | None = None  # what the device ran before the update
        self._registered_again = False
        self._reread = False  # what the device says after it came back was read
        self._cancel_asked = False
        self._delivered = False  # the download is over (progress no longer counts)
        self._whole_instance = True  # the device answers a Read of /5/0 (else: its resources)
        self._closers: list[Callable[[], None]] = []

    # -- what the device says -----------------------------------------------------------

    @property
    def state(self) -> int | None:
        """Return the device's last known /5/0/3."""
        value = self.values.get(STATE)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def result(self) -> int | None:
        """Return the device's last known /5/0/5."""
        value = self.values.get(RESULT)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def seen(self, values: Mapping[Path, Value]) -> None:
        """Take the object 5 and firmware version values of a notification or an answer."""
        taken = False
        for path, value in values.items():
            if path.ids[:2] == (5, 0) or path == DEVICE_VERSION:
                self.values[path] = value
                taken = True
                if path == RESULT and self._executed:
                    self._fresh_result = True
        if taken:
            self._changed.set()

    def registered(self) -> None:
        """Note that the device registered again (after an update, it restarted)."""
        if self._executed:
            self._registered_again = True
            self._changed.set()

    # -- life ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Return whether the update ended."""
        return self.info.final

    @property
    def installing(self) -> bool:
        """Return whether Update was executed (the update can no longer be cancelled)."""
        return self._executed and not self.done

    def cancel(self) -> None:
        """Stop the update; the device is told (an empty Package URI) unless the server stops.

        Asked again while the device is being told, it changes nothing (that would abandon the
        telling); the server stopping still ends it.
        """
        if self._cancel_asked and not self._updates.stopping:
            return
        self._cancel_asked = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def ended(self, task: asyncio.Task[FirmwareInfo]) -> None:
        """Make sure an update that ended says so (one cancelled before it began never ran its steps)."""
        if not self.info.final:
            self._close()
            self._emit(Step.CANCELLED, error="cancelled")

    async def wait(self) -> FirmwareInfo:
        """Wait for the update to end; return its last step (a cancelled waiter leaves it running)."""
        if self.task is not None and not self.task.done():
            await asyncio.wait([self.task])
        return self.info

    def _emit(self, step: Step, *, percent: float | None = None, error: str = "") -> FirmwareInfo:
        self.info = FirmwareInfo(
            step=step,
            method=self.method.value,
            percent=percent,
            state=self.state,
            result=self.result,
            version=self.version,
            error=error,
        )
        self._updates.emit(self.endpoint, self.info)
        return self.info

    def _on_sent(self, sent: int) -> None:
        if self._delivered or self._cancel_asked or self.info.final:
            return  # a block served after the download ended or was cancelled (one in flight, a late HTTP chunk)
        progress = self._progress
        progress.sent = sent
        progress.at = asyncio.get_running_loop().time()
        percent = int(sent * 100 / self.image.size)
        if percent != progress.percent:
            progress.percent = percent
            self._emit(Step.DOWNLOADING, percent=min(percent, 100))
        self._changed.set()

    async def run(self) -> FirmwareInfo:
        """Update the device; return the last step (the error is in it, never raised)."""
        self._emit(Step.STARTED)
        try:
            await self._prepare()
            method, link = self._choose()
            self.method = method
            # what the device said before the download is stale: only its next word counts
            self.values.pop(STATE, None)
            self.values.pop(RESULT, None)
            self._on_sent(0)
            if link is None:
                await self._push()
            else:
                await self._pull(link)
            await self._wait(self._downloaded, self.settings.download_stall, "to finish the download", stall=True)
            self._delivered = True
            self._close()
            self._emit(Step.DOWNLOADED, percent=100.0)
            await self._execute()
            self._emit(Step.UPDATING, percent=100.0)
            await self._wait(self._updated, self.settings.update_timeout, "to report the update's outcome")
            return self._emit(Step.SUCCEEDED, percent=100.0)
        except asyncio.CancelledError:
            if not self._cancel_asked:
                self._close()
                raise
            try:
                if not self._updates.stopping:
                    # the device is told first: with its link gone first, its next block would
                    # fail the download (Idle, a failure result) before the empty URI said cancelled
                    await self._reset()
            finally:
                self._close()
            return self._emit(Step.CANCELLED, error="cancelled")
        except (FirmwareError, LwM2MError) as err:
            self._close()
            return self._emit(Step.FAILED, error=str(err))
        except Exception as err:  # a bug must still end the update, said
            _LOGGER.exception("Updating the firmware of %s failed", self.endpoint)
            self._close()
            return self._emit(Step.FAILED, error=f"{type(err).__name__}: {err}")

    def _close(self) -> None:
        closers, self._closers = self._closers, []
        for close in closers:
            close()

    # -- steps ------------------------------------------------------------------------

    async def _asleep_retry[T](self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a request; a device in queue mode that fell asleep before answering gets it again when it wakes.

        (Its failed request marked it asleep: the next one waits in the queue for it.)
        """
        for attempt in range(MAX_SLEEPS):
            try:
                return await operation()
            except DeviceTimeout:
                reg = self.device.registration
                if not reg.queue_mode or attempt == MAX_SLEEPS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _read_status(self) -> None:
        with contextlib.suppress(OperationError):
            self.seen((await self._asleep_retry(lambda: self.device.read(DEVICE_VERSION))).values)
        await self._asleep_retry(lambda: self._read_object(None))

    async def _read_object(self, timeout: float | None) -> dict[Path, Value]:
        """Read /5/0 (or, from a device that refuses that, its State and Result one by one)."""
        if self._whole_instance:
            try:
                values = dict((await self.device.read(INSTANCE, timeout=timeout)).values)
            except OperationError as err:
                if isinstance(err, NotRegistered) or err.code is None:
                    raise
                self._whole_instance = False  # it answered, with a refusal: resources, from now on
            else:
                self.seen(values)
                return values
        values = {}
        for path in (STATE, RESULT):
            with contextlib.suppress(OperationError):
                values.update((await self.device.read(path, timeout=timeout)).values)
        self.seen(values)
        return values

    async def _read_version(self) -> dict[Path, Value]:
        return dict((await self.device.read(DEVICE_VERSION)).values)

    async def _execute(self) -> None:
        """Execute Update. Unanswered, it may still have started: its outcome (or a read) tells."""
        self._executed = True
        try:
            await self.device.execute(UPDATE)
        except (DeviceTimeout, NotRegistered):
            _LOGGER.debug("%s did not answer Execute Update; waiting for the outcome", self.endpoint)
        else:
            self._execute_answered = True

    async def _prepare(self) -> None:
        await self._read_status()
        self._version_before = self.values.get(DEVICE_VERSION)
        if self.state not in (None, State.IDLE):
            # left over from an update that never ended: an empty Package URI resets it
            await self._reset()
            await self._read_status()
            if self.state not in (None, State.IDLE):
                name = state_name(self.state) or str(self.state)
                raise FirmwareError(f"{self.endpoint} is busy with another update (state {name})", "busy")

    async def _reset(self) -> None:
        with contextlib.suppress(LwM2MError, TimeoutError):
            async with asyncio.timeout(self.settings.poll_interval):
                await self.device.write(PACKAGE_URI, "")

    def _device_protocols(self) -> frozenset[int]:
        found = {v for p, v in self.values.items() if p.startswith(PROTOCOLS) and isinstance(v, int)}
        return frozenset(found) if found else frozenset({PullProtocol.COAP, PullProtocol.COAPS})

    def _choose(self) -> tuple[Method, str | None]:
        """Pick push or pull; for a pull, make its link (no link reaching the device: push, if it may)."""
        delivery = self.values.get(DELIVERY)
        can_push = hasattr(self.device, "write_block") and delivery in (None, Delivery.PUSH, Delivery.BOTH)
        may_pull = delivery in (None, Delivery.PULL, Delivery.BOTH)
        if self.method is Method.PUSH and not can_push:
            why = "its delivery method is pull only" if delivery == Delivery.PULL else "this source cannot push"
            raise FirmwareError(f"{self.endpoint} does not take a pushed image ({why})", "unsupported")
        if self.method is Method.PULL and not may_pull:
            raise FirmwareError(
                f"{self.endpoint} cannot pull the image (its delivery method is push only)", "unsupported"
            )
        wants_pull = self.method is Method.PULL or (
            self.method is Method.AUTO and may_pull and (delivery in (Delivery.PULL, Delivery.BOTH) or not can_push)
        )
        if wants_pull:
            link = self._link()
            if link is not None:
                return Method.PULL, link  # the device paces its own download
            if self.method is Method.PULL or not can_push:
                raise FirmwareError(
                    f"no download link reaches {self.endpoint} (it pulls with none we serve)", "unsupported"
                )
        if can_push:
            return Method.PUSH, None
        raise FirmwareError(f"{self.endpoint} can neither take a pushed image nor pull one from here", "unsupported")

    def _link(self) -> str | None:
        """Make a link the device can pull the image from (its offer ends with the download)."""
        reg = self.device.registration
        protocols = self._device_protocols()
        for links in self._updates.links:
            if not links.protocols & protocols:
                continue
            made = links.link(reg, self.image, protocols, self._on_sent)
            if made is not None:
                uri, close = made
                self._closers.append(close)
                return uri
        return None

    async def _push(self) -> None:
        reader = ImageReader(self.image)
        self._closers.append(reader.close)
        writer = _Writer(self.device, self._asleep_retry)  # type: ignore[arg-type]  # _choose checked write_block
        await push(writer, PACKAGE, reader, block_size=self.settings.block_size, progress=self._on_sent)

    async def _pull(self, uri: str) -> None:
        self._progress.at = asyncio.get_running_loop().time()
        await self._asleep_retry(lambda: self.device.write(PACKAGE_URI, uri))

    def _downloaded(self) -> bool:
        state, result = self.state, self.result
        if state == State.DOWNLOADED:
            return True
        if state == State.IDLE and result not in (None, 0, SUCCESS):
            raise FirmwareError(
                f"{self.endpoint} did not take the image: {result_text(result)}", result_key(result), result
            )
        return False

    def _updated(self) -> bool:
        """Whether the device runs the new firmware; FirmwareError when it reports a failure."""
        result, state = self.result, self.state
        # A success is the device back in Idle (a 1 beside Downloaded or Updating is an old one);
        # a failure may leave it Downloaded (update failed, 8), not still Updating.
        if self._fresh_result and state in (None, State.IDLE) and result == SUCCESS:
            return True
        if self._fresh_result and state != State.UPDATING and result not in (None, 0, SUCCESS, DEFERRED):
            raise FirmwareError(f"{self.endpoint} did not update: {result_text(result)}", result_key(result), result)
        if self._registered_again and self._reread:
            running = self.values.get(DEVICE_VERSION) or self.values.get(PKG_VERSION)
            if self.version is not None:
                if running == self.version:
                    return True
            elif running is not None and running != self._version_before:
                return True  # no version was named: another one than before will do
            elif result in (None, 0):
                self._registered_again = self._reread = False  # no word yet: wait for its result
                return False
            raise FirmwareError(
                f"{self.endpoint} restarted without reporting the update's success (it runs {running!r})",
                "not_installed",
                result,
            )
        if (
            not self._execute_answered
            and self._fresh_result
            and state == State.DOWNLOADED
            and result in (None, 0, SUCCESS)  # (no failure: an old 1 or nothing)
            and self._resends < MAX_SLEEPS
        ):
            self._resend = True  # Execute never reached it (it slept): send it again
        return False

    async def _wait(self, done: Callable[[], bool], limit: float, what: str, *, stall: bool = False) -> None:
        """Wait until done() (which raises on a failure), reading /5/0 when nothing comes."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.state is None:
            await self._poll(self.settings.poll_interval)
        delay = 1.0  # between reads when nothing comes: 1, 2, 4 ... poll_interval seconds
        while not done():
            last = max(self._progress.at, started) if stall else started
            remaining = last + limit - loop.time()
            if remaining <= 0:
                raise FirmwareError(f"{self.endpoint} took longer than {limit:g} s {what}", "timeout")
            self._changed.clear()
            if self._registered_again and not self._reread:
                await self._reread_after_restart()
                continue
            if self._resend:
                self._resend, self._resends = False, self._resends + 1
                await self._execute()
                continue
            try:
                async with asyncio.timeout(min(delay, self.settings.poll_interval, remaining)):
                    await self._changed.wait()
                delay = 1.0
            except TimeoutError:
                await self._poll(min(self.settings.poll_interval, max(remaining, 1.0)))
                delay *= 2

    async def _poll(self, timeout: float) -> None:
        with contextlib.suppress(OperationError, TimeoutError):
            async with asyncio.timeout(timeout):
                await self._read_object(timeout)

    async def _reread_after_restart(self) -> None:
        """Read the update's outcome and the running version once the device is back."""
        for read in (functools.partial(self._read_object, None), self._read_version):
            try:
                values = await read()
            except OperationError as err:
                if isinstance(err, NotRegistered):
                    self._registered_again = False  # gone again (another restart): wait for its Register
                    return
                continue
            self.values.update({p: v for p, v in values.items() if p.ids[:2] == (5, 0) or p == DEVICE_VERSION})
            if RESULT in values:
                self._fresh_result = True
        self._reread = True
