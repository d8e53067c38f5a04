"""The rest of a block-wise answer (RFC 7959 Block2) to a Read, asked for block by block, bounded.

aiocoap reassembles an answer by copying the whole body for every block (quadratic time) and
without a bound: a device that kept sending `more` would fill the server's memory. Reads
(GET and FETCH) take the first block as aiocoap's answer and come here for the rest: each
next block asked for in the size the device chose, checked to continue the body (its
position, size and ETag), the body kept in one bytearray up to `limit` bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiocoap import Message

from .errors import OperationError

MAX_ANSWER = 1024 * 1024  # bytes of one answer to a Read (a firmware image is pushed, not read)


async def rest_of_answer(
    send: Callable[[Message], Awaitable[Message]], request: Message, first: Message, limit: int = MAX_ANSWER
) -> Message:
    """Ask for the blocks after first (an answer to request with Block2 more); return the whole answer.

    OperationError says what was wrong with a block, or that the answer passed limit bytes.
    """
    body = bytearray(first.payload)
    block = first.opt.block2
    etag = first.opt.etag
    if block is not None and block.block_number != 0:
        raise OperationError(f"the device answered with block {block.block_number}, not the first")
    answer = first
    while block is not None and block.more:
        size = block.size if block.size_exponent < 7 else 1024
        if len(body) % size:
            raise OperationError(f"a block of {len(answer.payload)} bytes does not fit the Block2 size {size}")
        if len(body) >= limit:
            raise OperationError(f"the answer is larger than {limit} bytes")
        number = len(body) // size
        following = request.copy(mid=None, token=None, block2=(number, False, min(block.size_exponent, 6)))
        answer = await send(following)
        if not answer.code.is_successful():
            raise OperationError(f"the device answered block {number} with {answer.code.dotted}", answer.code.dotted)
        block = answer.opt.block2
        if block is None or block.start != len(body):
            raise OperationError(f"the device answered block {number} with another part of its answer")
        if etag is not None and answer.opt.etag is not None and answer.opt.etag != etag:
            raise OperationError("the answer changed while it was read block by block (its ETag)")
        body += answer.payload
    whole = first.copy(payload=bytes(body))
    whole.opt.block2 = None
    return whole
