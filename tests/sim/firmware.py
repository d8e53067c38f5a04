"""Firmware Update (LwM2M object 5) on the simulated device, and the sim's firmware image format.

An image is ``SIMFW1\\n`` + version + ``\\n`` + deterministic filler, ending in the SHA-256 of
everything before it. The device takes one pushed to /5/0/0 block by block (RFC 7959
Block1), or pulls one from the coap:// or coaps:// URI written to /5/0/1 (Block2),
checking it as it streams; Execute /5/0/2 installs it: /3/0/3 becomes its version and
the device registers again, as after a reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiocoap
import aiocoap.error
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.constants import TransportTuning
from aiocoap.optiontypes import BlockOption

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.path import Path

if TYPE_CHECKING:
    from .client import SimClient

MAGIC = b"SIMFW1\n"
DIGEST_SIZE = 32
MAX_VERSION = 255  # bytes of the version in the header (PkgVersion is 0..255)
PACKAGE_NAME = "sim-firmware"

P = Path.parse
PACKAGE, PACKAGE_URI, UPDATE, STATE, RESULT = P("/5/0/0"), P("/5/0/1"), P("/5/0/2"), P("/5/0/3"), P("/5/0/5")
PKG_NAME, PKG_VERSION, DELIVERY = P("/5/0/6"), P("/5/0/7"), P("/5/0/9")
FIRMWARE_VERSION = P("/3/0/3")

# State (/5/0/3)
IDLE, DOWNLOADING, DOWNLOADED, UPDATING = 0, 1, 2, 3
# Update Result (/5/0/5)
RESULTS = {
    0: "initial value",
    1: "firmware updated successfully",
    2: "not enough flash memory",
    3: "out of RAM",
    4: "connection lost during download",
    5: "integrity check failure",
    6: "unsupported package type",
    7: "invalid URI",
    8: "firmware update failed",
    9: "unsupported protocol",
    10: "firmware update cancelled",
    11: "firmware update deferred",
}
# Delivery method (/5/0/9)
PULL_ONLY, PUSH_ONLY, BOTH = 0, 1, 2


def make_image(version: str, size: int, *, seed: int = 0, corrupt: bool = False) -> bytes:
    """Return an image of size bytes (its SHA-256 digest included); corrupt flips one filler byte."""
    header = MAGIC + version.encode() + b"\n"
    if b"\n" in version.encode() or len(version.encode()) > MAX_VERSION:
        raise ValueError(f"unusable version {version!r}")
    filler_size = size - len(header) - DIGEST_SIZE
    if filler_size < 0:
        raise ValueError(f"an image of version {version!r} needs at least {len(header) + DIGEST_SIZE} bytes")
    filler = bytearray(random.Random(seed).randbytes(filler_size))
    digest = hashlib.sha256(header + filler).digest()
    if corrupt:
        if filler:
            filler[filler_size // 2] ^= 0xFF
        else:  # nothing to flip but the digest
            digest = bytes([digest[0] ^ 0xFF]) + digest[1:]
    return header + bytes(filler) + digest


def write_image(path: str | os.PathLike[str], version: str, size: int, *, seed: int = 0, corrupt: bool = False) -> None:
    """Write make_image(version, size, ...) to a file."""
    with open(path, "wb") as file:
        file.write(make_image(version, size, seed=seed, corrupt=corrupt))


class ImageCheck:
    """Verify an image as it streams in: hashes as it goes, holds back only the last 32 bytes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._hash = hashlib.sha256()
        self._tail = b""  # the last DIGEST_SIZE bytes seen: the digest, when the image ends here
        self._head = bytearray()  # the first bytes, for the header
        self.received = 0

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        room = len(MAGIC) + MAX_VERSION + 1 - len(self._head)
        if room > 0:
            self._head += chunk[:room]
        if len(chunk) >= DIGEST_SIZE:
            self._hash.update(self._tail)
            self._hash.update(memoryview(chunk)[:-DIGEST_SIZE])
            self._tail = bytes(chunk[-DIGEST_SIZE:])
        else:
            data = self._tail + chunk
            self._hash.update(data[:-DIGEST_SIZE])
            self._tail = data[-DIGEST_SIZE:]

    def finish(self) -> tuple[int, str | None]:
        """Return the Update Result (1 good, 5 integrity failure, 6 no sim image) and the version (when 1)."""
        head = bytes(self._head)
        if not head.startswith(MAGIC):
            return 6, None
        end = head.find(b"\n", len(MAGIC))
        if end < 0:
            return 6, None
        try:
            version = head[len(MAGIC) : end].decode()
        except UnicodeDecodeError:
            return 6, None
        if self.received < end + 1 + DIGEST_SIZE or self._hash.digest() != self._tail:
            return 5, None
        return 1, version


class _Failed(Exception):
    """A pull that ends with this Update Result."""

    def __init__(self, result: int) -> None:
        super().__init__(RESULTS.get(result, str(result)))
        self.result = result


class _PullTuning(TransportTuning):
    """Retransmissions (3 sends of a CON) that give up within timeout.

    aiocoap sends one CON at a time to a peer (NSTART 1): the next try of a block must not
    wait behind the retransmissions of the last one.
    """

    def __init__(self, timeout: float) -> None:
        self.ACK_TIMEOUT = timeout / 7
        self.ACK_RANDOM_FACTOR = 1.0
        self.MAX_RETRANSMIT = 2


def _szx(size: int) -> int:
    """The block size exponent of the largest block size (16..1024) not above size."""
    return max(0, min(6, size.bit_length() - 5))


class SimFirmware:
    """Object 5 on a SimClient: push (Block1 to /5/0/0), pull (Package URI), Execute Update.

    Options (attributes, set them any time): delivery (0 pull only, 1 push only, 2 both),
    max_block_size (largest Block1 block taken; None: any), block_refusal ("2.31": take a
    larger block and ask for smaller ones in the 2.31 Continue; "4.13": refuse it with 4.13
    and the size it takes), max_size (largest image: 4.13 with Size1 and Update Result 2
    beyond it), pull_block_size, pull_timeout and pull_tries (per Block2 request),
    fail_result (Execute Update fails with this Update Result), update_delay (seconds from
    Execute to the outcome), reregister (register again after an install, as after a reboot).
    on_event, when set, is called with a line of text on every step.
    """

    def __init__(self, client: SimClient, *, delivery: int = BOTH) -> None:
        self.client = client
        self.max_block_size: int | None = None
        self.block_refusal = "2.31"
        self.max_size: int | None = None
        self.pull_block_size = 1024
        self.pull_timeout = 10.0
        self.pull_tries = 3
        self.fail_result: int | None = None
        self.update_delay = 0.2
        self.reregister = True
        self.on_event: Callable[[str], None] | None = None
        # records
        self.received_blocks: list[int] = []
        self.pulled_from: list[str] = []
        self.bytes_received = 0
        self.updates = 0
        self.installed: list[str] = []

        self.check = ImageCheck()
        self._version: str | None = None  # of the image downloaded (State 2)
        self._pushing = False  # a Block1 push is under way (its next block continues at check.received)
        self._total: int | None = None  # the image size announced (Size1, Size2), for progress
        self._reported = 0  # the last progress step reported (tenths, or 64 KiB steps)
        self._pull: asyncio.Task[None] | None = None
        self._update: asyncio.Task[None] | None = None
        client.values.update(
            {
                PACKAGE_URI: "",
                STATE: IDLE,
                RESULT: 0,
                PKG_NAME: "",
                PKG_VERSION: "",
                P("/5/0/8/0"): 0,  # CoAP
                P("/5/0/8/1"): 1,  # CoAPS
                DELIVERY: delivery,
            }
        )
        client.executables.add(UPDATE)

    # -- state ---------------------------------------------------------------------------------

    def _int(self, path: Path) -> int:
        value = self.client.values.get(path)
        return value if isinstance(value, int) else 0

    @property
    def state(self) -> int:
        return self._int(STATE)

    @property
    def result(self) -> int:
        return self._int(RESULT)

    @property
    def delivery(self) -> int:
        return self._int(DELIVERY)

    @delivery.setter
    def delivery(self, value: int) -> None:
        self.client.set_value(DELIVERY, value)

    def _set(self, state: int, result: int) -> None:
        """Change State and Update Result (the result first: a server told of the State reads the right one)."""
        self.client.set_value(RESULT, result)
        self.client.set_value(STATE, state)

    def _event(self, text: str) -> None:
        if self.on_event is not None:
            self.on_event(text)

    async def stop(self) -> None:
        """End a pull or an update under way (the device is switched off)."""
        for task in (self._pull, self._update):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _cancel_pull(self) -> None:
        pull = self._pull
        if pull is not None and not pull.done() and pull is not asyncio.current_task():
            pull.cancel()
        self._pull = None

    def _discard(self) -> None:
        """Drop what was downloaded."""
        self._cancel_pull()
        self.check.reset()
        self._version, self._pushing, self._total = None, False, None

    # -- requests ----------------------------------------------------------------------------

    @staticmethod
    def takes_blocks(request: Message) -> bool:
        """Whether the request is one the device takes block by block itself (a PUT of /5/0/0)."""
        return request.code == Code.PUT and tuple(request.opt.uri_path) == ("5", "0", "0")

    async def render(self, path: Path, request: Message) -> Message | None:
        """Answer a request to /5/0/0, /5/0/1 (a Write) or /5/0/2; None for what the device answers as usual."""
        code = request.code
        if path == PACKAGE:
            return self._push(request) if code == Code.PUT else Message(code=Code.METHOD_NOT_ALLOWED)
        if path == PACKAGE_URI and code == Code.PUT and (request.payload or not request.opt.uri_query):
            return self._write_uri(request)
        if path == UPDATE:
            return self._execute(request) if code == Code.POST else Message(code=Code.METHOD_NOT_ALLOWED)
        return None

    # -- push ------------------------------------------------------------------------------------

    def _push(self, request: Message) -> Message:
        if self.delivery == PULL_ONLY:
            return Message(code=Code.METHOD_NOT_ALLOWED, payload=b"this device pulls firmware from a Package URI only")
        if self.state == UPDATING:
            return Message(code=Code.METHOD_NOT_ALLOWED, payload=b"updating")
        block = request.opt.block1
        fmt = request.opt.content_format
        if block is None:
            return self._push_whole(request)
        if fmt is not None and int(fmt) != ContentFormat.OPAQUE:
            return Message(code=Code.UNSUPPORTED_CONTENT_FORMAT, payload=b"a block-wise package is opaque (42)")
        if block.is_bert:
            return Message(code=Code.BAD_REQUEST, payload=b"BERT blocks need CoAP over TCP")
        payload = request.payload
        if not block.is_valid_for_payload_size(len(payload)):
            return Message(code=Code.BAD_REQUEST, payload=b"the payload does not fit the Block1 size")
        taken = (
            block.size_exponent if self.max_block_size is None else min(block.size_exponent, _szx(self.max_block_size))
        )
        if taken < block.size_exponent and self.block_refusal == "4.13":
            # RFC 7959 2.9.3: refuse the block, its Block1 telling the size the device takes
            answer = Message(code=Code.REQUEST_ENTITY_TOO_LARGE, payload=b"blocks too large")
            answer.opt.block1 = BlockOption.BlockwiseTuple(0, False, taken)
            if self.max_size is not None:
                answer.opt.size1 = self.max_size
            return answer
        if block.block_number == 0:
            self._begin(request.opt.size1, "push")
            if self.max_size is not None and (request.opt.size1 or 0) > self.max_size:
                return self._too_large()
        elif not self._pushing or self.state != DOWNLOADING or block.start != self.check.received:
            return Message(
                code=Code.REQUEST_ENTITY_INCOMPLETE,
                payload=f"block {block.block_number} does not continue the upload; start again with block 0".encode(),
            )
        if self.max_size is not None and self.check.received + len(payload) > self.max_size:
            return self._too_large()
        self.received_blocks.append(len(payload))
        self._take(payload)
        # 2.31 with a smaller size than the block's (RFC 7959 2.3): the server continues at
        # the block number of the same offset in the smaller size
        if block.more:
            answer = Message(code=Code.CONTINUE)
            answer.opt.block1 = BlockOption.BlockwiseTuple(block.block_number, True, taken)
            return answer
        self._pushing = False
        self._complete()
        answer = Message(code=Code.CHANGED)
        answer.opt.block1 = BlockOption.BlockwiseTuple(block.block_number, False, taken)
        return answer

    def _push_whole(self, request: Message) -> Message:
        """A Write of /5/0/0 in one message: NULL resets, anything else is a one-block push."""
        payload, fmt = request.payload, request.opt.content_format
        if fmt is not None and int(fmt) != ContentFormat.OPAQUE and payload:
            try:
                value = decode(int(fmt), payload, PACKAGE, self.client.model).get(PACKAGE)
            except CodecError as err:
                return Message(code=Code.BAD_REQUEST, payload=str(err).encode())
            if not isinstance(value, bytes):
                return Message(code=Code.BAD_REQUEST, payload=b"the package is opaque")
            payload = value
        if payload in (b"", b"\0"):
            self._discard()
            self._set(IDLE, 0)
            self._event("reset")
            return Message(code=Code.CHANGED)
        self._begin(len(payload), "push")
        if self.max_size is not None and len(payload) > self.max_size:
            return self._too_large()
        self.received_blocks.append(len(payload))
        self._take(payload)
        self._pushing = False
        self._complete()
        return Message(code=Code.CHANGED)

    def _too_large(self) -> Message:
        self._discard()
        self._set(IDLE, 2)
        self._event(f"download failed: result 2 ({RESULTS[2]})")
        answer = Message(code=Code.REQUEST_ENTITY_TOO_LARGE, payload=b"the package does not fit")
        answer.opt.size1 = self.max_size
        return answer

    # -- both ------------------------------------------------------------------------------------

    def _begin(self, total: int | None, how: str) -> None:
        self._discard()
        self._pushing = how == "push"
        self._total, self._reported = total or None, 0
        self._set(DOWNLOADING, 0)
        self._event(f"download started ({how}{f', {total} bytes' if total else ''})")

    def _take(self, chunk: bytes) -> None:
        self.check.feed(chunk)
        self.bytes_received += len(chunk)
        received = self.check.received
        step = received * 10 // self._total if self._total else received // 65536
        if step > self._reported:
            self._reported = step
            share = f" ({min(100, received * 100 // self._total)} %)" if self._total else ""
            self._event(f"received {received} bytes{share}")

    def _complete(self) -> None:
        result, version = self.check.finish()
        if result == 1:
            self._version = version
            self.client.set_value(STATE, DOWNLOADED)
            self._event(f"downloaded version {version} ({self.check.received} bytes)")
        else:
            self._discard()
            self._set(IDLE, result)
            self._event(f"download failed: result {result} ({RESULTS[result]})")

    def _fail(self, result: int) -> None:
        self._discard()
        self._set(IDLE, result)
        self._event(f"download failed: result {result} ({RESULTS.get(result, '')})")

    # -- pull ------------------------------------------------------------------------------------

    def _write_uri(self, request: Message) -> Message:
        client = self.client
        fmt = request.opt.content_format
        try:
            values = decode(ContentFormat.TEXT if fmt is None else int(fmt), request.payload, PACKAGE_URI, client.model)
        except CodecError as err:
            return Message(code=Code.BAD_REQUEST, payload=str(err).encode())
        uri = values.get(PACKAGE_URI)
        if not isinstance(uri, str):
            return Message(code=Code.BAD_REQUEST, payload=b"the Package URI is a string")
        if self.state == UPDATING:
            return Message(code=Code.METHOD_NOT_ALLOWED, payload=b"updating")
        if uri and self.delivery == PUSH_ONLY:
            return Message(code=Code.METHOD_NOT_ALLOWED, payload=b"this device takes firmware pushed to /5/0/0 only")
        client.written.append(("replace", PACKAGE_URI, values))
        busy = self.state in (DOWNLOADING, DOWNLOADED)
        self._discard()
        client.set_value(PACKAGE_URI, uri)
        if not uri:  # cancel (LwM2M 1.1: an empty Package URI resets the state machine)
            self._set(IDLE, 10 if busy else 0)
            self._event("cancelled" if busy else "reset")
            return Message(code=Code.CHANGED)
        result = self._unusable(uri)
        if result is not None:
            self._fail(result)
            return Message(code=Code.CHANGED)
        self.pulled_from.append(uri)
        self._begin(None, f"pull from {uri}")
        self._pull = asyncio.get_running_loop().create_task(self._download(uri), name=f"sim firmware pull {uri}")
        return Message(code=Code.CHANGED)

    def _unusable(self, uri: str) -> int | None:
        """Update Result 7 (invalid URI) or 9 (unsupported protocol) for a URI the device cannot pull; else None."""
        try:
            parts = urlsplit(uri)
            _ = parts.port
            Message(code=Code.GET, uri=uri)
        except (ValueError, aiocoap.error.Error):
            return 7
        if not parts.scheme or not parts.hostname:
            return 7
        if parts.scheme not in ("coap", "coaps"):
            return 9
        # coaps:// needs the device's DTLS credentials (it pulls with its own DTLS context)
        return 9 if parts.scheme == "coaps" and self.client.dtls is None else None

    async def _download(self, uri: str) -> None:
        """Fetch the image, then State 2, or 0 with the Update Result of what went wrong."""
        client = self.client
        own: aiocoap.Context | None = None
        try:
            context = client.context
            if urlsplit(uri).scheme == "coap" and client.dtls is not None:
                # the DTLS context speaks coaps:// only: plain CoAP from a socket of its own
                context = own = await aiocoap.Context.create_client_context(transports=["udp6"])
            await self._fetch(context, uri)
            self._complete()
        except _Failed as failed:
            self._fail(failed.result)
        finally:
            if own is not None:
                await own.shutdown()

    async def _fetch(self, context: aiocoap.Context | None, uri: str) -> None:
        """Feed the check block by block (Block2), following the server's sizes and More flag."""
        if context is None:
            raise _Failed(4)  # asleep
        number, szx = 0, _szx(self.pull_block_size)
        while True:
            response = await self._get_block(context, uri, number, szx)
            if response.code == Code.NOT_FOUND:
                raise _Failed(7)
            if not response.code.is_successful():
                raise _Failed(4)
            block, payload = response.opt.block2, response.payload
            if number == 0 and response.opt.size2:
                self._total = response.opt.size2
            if block is None:  # the whole image in one answer
                if number:
                    raise _Failed(4)
                self._take_pulled(payload)
                return
            if block.start != self.check.received or not block.is_valid_for_payload_size(len(payload)):
                raise _Failed(4)
            self._take_pulled(payload)
            if not block.more:
                return
            # the server may answer with smaller blocks than asked: go on from the offset
            szx, number = block.size_exponent, self.check.received // block.size

    def _take_pulled(self, chunk: bytes) -> None:
        if self.max_size is not None and self.check.received + len(chunk) > self.max_size:
            raise _Failed(2)
        self._take(chunk)

    async def _get_block(self, context: aiocoap.Context, uri: str, number: int, szx: int) -> Message:
        """GET one block, up to pull_tries times, each bounded by pull_timeout; _Failed(4) when none answers."""
        tuning = _PullTuning(self.pull_timeout)
        for _attempt in range(self.pull_tries):
            message = Message(code=Code.GET, uri=uri, transport_tuning=tuning)
            message.opt.block2 = BlockOption.BlockwiseTuple(number, False, szx)
            if number == 0:
                message.opt.size2 = 0  # ask for the image size
            request = context.request(message, handle_blockwise=False)
            try:
                # aiocoap gives up after pull_timeout; this bounds a separate answer that never comes
                async with asyncio.timeout(2 * self.pull_timeout):
                    return await request.response
            except (TimeoutError, OSError, aiocoap.error.Error):
                request.response.cancel()
        raise _Failed(4)

    # -- update ------------------------------------------------------------------------------------

    def _execute(self, request: Message) -> Message:
        self.updates += 1
        self.client.executed.append((UPDATE, request.payload.decode("utf-8", "replace")))
        if self.state != DOWNLOADED or self._version is None:
            return Message(code=Code.BAD_REQUEST, payload=b"no firmware downloaded")
        self._set(UPDATING, 0)
        self._event(f"updating to {self._version}")
        self._update = asyncio.get_running_loop().create_task(self._install(self._version), name="sim firmware update")
        return Message(code=Code.CHANGED)

    async def _install(self, version: str) -> None:
        client = self.client
        await asyncio.sleep(self.update_delay)
        if self.fail_result is not None:
            # LwM2M 1.1 (5.xml, State): a failed update returns to Downloaded or Idle "depending on
            # the underlying reason"; integrity failure goes to Idle. So 5 (integrity) and 6
            # (unsupported package) discard the image and go Idle; any other result (2 flash,
            # 3 RAM, 8 update failed, ...) keeps the image in Downloaded, where Update may be
            # executed again.
            result = self.fail_result
            if result in (5, 6):
                self._discard()
                self._set(IDLE, result)
            else:
                self._set(DOWNLOADED, result)
            self._event(f"update failed: result {result} ({RESULTS.get(result, '')})")
            return
        if self.reregister:  # the reboot: the server's observations end with it
            client.root.end_observations()
        if FIRMWARE_VERSION in client.values:
            client.set_value(FIRMWARE_VERSION, version)
        client.set_value(PKG_NAME, PACKAGE_NAME)
        client.set_value(PKG_VERSION, version)
        self._discard()
        self._set(IDLE, 1)
        self.installed.append(version)
        self._event(f"installed version {version}")
        if self.reregister and client.context is not None:
            try:
                response = await client.register()
            except Exception as err:
                self._event(f"could not register again: {err!r}")
            else:
                self._event(f"registered again ({response.code})")
