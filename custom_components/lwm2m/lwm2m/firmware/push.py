"""Push: a block-wise Write (RFC 7959 Block1) of an image to /5/0/0, block by block from disk.

The device's answers steer it: a 2.31 Continue with a smaller Block1 size makes the next blocks
that size; a 4.13 with a smaller Block1 size starts again at block 0 with it (a device that
cannot take the first block); a 4.13 without one (or with Size1) means the image is too large
for the device; a 4.08 (the device lost the transfer, e.g. it slept) starts again from the
beginning, a bounded number of times. Each block is a confirmable request, retransmitted by
aiocoap, and awaited: progress is what the device has acknowledged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiocoap import Message
from aiocoap.numbers.codes import Code

from ..codecs import ContentFormat
from ..errors import OperationError
from ..path import Path
from .image import ImageReader

DEFAULT_BLOCK_SIZE = 1024
MAX_RESTARTS = 6  # a device that keeps refusing or losing the transfer stops it


class BlockWriter(Protocol):
    """What a push needs of a device: one block of a Write (client.Endpoint.write_block)."""

    async def write_block(
        self,
        path: Path | str,
        payload: bytes,
        block1: tuple[int, bool, int],
        *,
        size1: int | None = None,
        content_format: int = ContentFormat.OPAQUE,
        timeout: float | None = None,
    ) -> Message:
        """Send one block; return the answer (2.31, 2.04 or 4.13)."""


class PushError(OperationError):
    """The device refused the pushed image (too large), or its answers make no block-wise sense."""


def size_exponent(block_size: int) -> int:
    """Return the SZX of a block size of 16 ... 1024 bytes (a power of two)."""
    if block_size not in (16, 32, 64, 128, 256, 512, 1024):
        raise ValueError(f"a block is 16, 32, 64, 128, 256, 512 or 1024 bytes, not {block_size}")
    return block_size.bit_length() - 5


async def push(
    device: BlockWriter,
    path: Path,
    reader: ImageReader,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
    timeout: float | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Write the image block by block to path; return the block size the device took in the end.

    progress(n) is called with the bytes acknowledged so far; ready() is awaited before a
    restart (the caller's chance to reset the device).
    """
    szx = size_exponent(block_size)
    total = reader.size
    offset = restarts = 0
    while True:
        size = 1 << (szx + 4)
        chunk = await reader.read(offset, size)
        more = offset + len(chunk) < total
        block = (offset // size, more, szx)
        try:
            answer = await device.write_block(path, chunk, block, size1=total if offset == 0 else None, timeout=timeout)
        except OperationError as err:
            if err.code != "4.08" or restarts >= MAX_RESTARTS:
                raise
            restarts, offset = restarts + 1, 0  # the device lost the transfer: from the beginning
            if ready is not None:
                await ready()
            continue
        told = answer.opt.block1
        if answer.code == Code.REQUEST_ENTITY_TOO_LARGE:
            if told is not None and told.size_exponent < szx and restarts < MAX_RESTARTS:
                szx, offset, restarts = told.size_exponent, 0, restarts + 1
                if progress is not None:
                    progress(0)
                continue
            limit = answer.opt.size1
            detail = f" (it takes at most {limit} bytes)" if limit else ""
            raise PushError(f"the device refused an image of {total} bytes as too large{detail}", "4.13")
        if more and answer.code != Code.CONTINUE:
            raise PushError(f"the device answered block {block[0]} with {answer.code.dotted}, not 2.31 Continue")
        offset += len(chunk)
        if progress is not None:
            progress(offset)
        if not more:
            return size
        if told is not None and told.size_exponent < szx:
            szx = told.size_exponent  # smaller blocks from now on (offset is a multiple of them)
