"""Block-wise uploads (RFC 7959 Block1) to the server, reassembled within bounds.

A Register with a long object list, or a large Send, may come in blocks. aiocoap's own spool
has no bound on a body's size or on the number of unfinished uploads, copies the whole body
for every block (quadratic time) and raises ValueError (a 5.00 with a traceback) on a gap.
(Its Block2 cache, for the answers, keeps every answer larger than the block size a request
asks for, each with an event-loop timer, for 93 s: a flood of requests asking for tiny blocks
would fill it. The server's answers are short; WholeResponses sends each whole, as RFC 7959
lets a server that does not split answers do, and keeps none.)

This one keeps each body in a bytearray, answers 4.13 Request Entity Too Large (with Size1,
the largest body taken) past max_body, 4.08 Request Entity Incomplete for a block that does
not continue an upload, and bounds unfinished uploads per peer host and in total.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiocoap import Message
from aiocoap.blockwise import ContinueException, IncompleteException
from aiocoap.error import BadRequest, ConstructionRenderableError
from aiocoap.numbers.codes import Code
from aiocoap.numbers.optionnumbers import OptionNumber

from .registration import host_part
from .transport import address_of

MAX_BODY = 64 * 1024  # bytes of one request body (Californium's MAX_RESOURCE_BODY_SIZE is 8 KiB)
MAX_UPLOADS_PER_HOST = 32  # unfinished uploads of one IP address (devices behind one NAT share it)
MAX_UPLOADS = 500  # unfinished uploads in all
UPLOAD_LIFETIME = 93.0  # seconds an unfinished upload waits for its next block (CoAP's MAX_TRANSMIT_WAIT)
_BLOCK_OPTIONS = (OptionNumber.BLOCK1, OptionNumber.BLOCK2, OptionNumber.OBSERVE)


class TooLarge(ConstructionRenderableError):
    """4.13 Request Entity Too Large, with Size1: the largest body the server takes."""

    code = Code.REQUEST_ENTITY_TOO_LARGE

    def __init__(self, limit: int) -> None:
        """Refuse a body larger than limit bytes."""
        super().__init__(f"a request body may hold at most {limit} bytes")
        self.limit = limit

    def to_message(self) -> Message:
        """Render the refusal with Size1."""
        message = super().to_message()
        message.opt.size1 = self.limit
        return message


class Busy(ConstructionRenderableError):
    """5.03 Service Unavailable with Max-Age: come back in that many seconds."""

    code = Code.SERVICE_UNAVAILABLE

    def __init__(self, message: str, retry_after: int) -> None:
        """Refuse for now, with a reason and the seconds to wait."""
        super().__init__(message)
        self.retry_after = retry_after

    def to_message(self) -> Message:
        """Render the refusal with Max-Age."""
        message = super().to_message()
        message.opt.max_age = self.retry_after
        return message


@dataclass(slots=True)
class _Upload:
    first: Message
    host: str
    body: bytearray = field(default_factory=bytearray)
    expires: float = 0.0


class Block1Spool:
    """Unfinished Block1 uploads, bounded in body size, per host, in number and in age."""

    def __init__(
        self,
        max_body: int = MAX_BODY,
        per_host: int = MAX_UPLOADS_PER_HOST,
        total: int = MAX_UPLOADS,
        lifetime: float = UPLOAD_LIFETIME,
    ) -> None:
        """Bound uploads by max_body bytes, per_host and total unfinished ones, lifetime seconds each."""
        self.max_body = max_body
        self.per_host = per_host
        self.total = total
        self.lifetime = lifetime
        self.clock: Callable[[], float] = time.monotonic  # tests replace it
        self._uploads: OrderedDict[Any, _Upload] = OrderedDict()  # oldest first
        self._per_host: dict[str, int] = {}

    def __len__(self) -> int:
        """Return how many uploads are unfinished."""
        return len(self._uploads)

    def feed_and_take(self, request: Message) -> Message:
        """Take one block: return the whole request once complete; otherwise raise what answers this block.

        A request without Block1 passes through. ContinueException answers 2.31 Continue;
        IncompleteException 4.08; TooLarge 4.13; Busy 5.03; BadRequest 4.00.
        """
        block1 = request.opt.block1
        if block1 is None:
            if request.opt.size1 is not None and request.opt.size1 > self.max_body:
                raise TooLarge(self.max_body)
            return request
        now = self.clock()
        self._expire(now)
        key = (request.remote.blockwise_key, request.code, request.get_cache_key(_BLOCK_OPTIONS))
        if block1.more and len(request.payload) != block1.size:
            self._drop(key)
            raise BadRequest("a block's payload does not match its Block1 size")
        if block1.block_number == 0:
            self._drop(key)
            if request.opt.size1 is not None and request.opt.size1 > self.max_body:
                raise TooLarge(self.max_body)
            if not block1.more:  # the whole body in one block: nothing to keep
                if len(request.payload) > self.max_body:
                    raise TooLarge(self.max_body)
                return request
            upload = self._start(key, request)
        else:
            found = self._uploads.get(key)
            if found is None or block1.start != len(found.body):
                self._drop(key)
                raise IncompleteException("this block does not continue an upload; start again at block 0")
            upload = found
        if len(upload.body) + len(request.payload) > self.max_body:
            self._drop(key)
            raise TooLarge(self.max_body)
        upload.body += request.payload
        if block1.more:
            upload.expires = now + self.lifetime
            self._uploads.move_to_end(key)
            raise ContinueException(block1)
        self._drop(key)
        whole = upload.first.copy(payload=bytes(upload.body), token=request.token, mid=request.mid)
        whole.remote = request.remote
        whole.opt.block1 = block1  # the answer goes to the last block, and carries its Block1
        whole.opt.block2 = request.opt.block2
        return whole

    def _start(self, key: Any, request: Message) -> _Upload:
        host = host_part(address_of(request.remote))
        if 0 < self.per_host <= self._per_host.get(host, 0):
            # the host's oldest unfinished upload makes room: a device starting over is not refused
            oldest = next(k for k, u in self._uploads.items() if u.host == host)
            self._drop(oldest)
        if len(self._uploads) >= self.total:
            raise Busy(f"the server holds its maximum of {self.total} unfinished uploads; try again later", 30)
        upload = _Upload(first=request, host=host)
        self._uploads[key] = upload
        self._per_host[host] = self._per_host.get(host, 0) + 1
        return upload

    def _drop(self, key: Any) -> None:
        upload = self._uploads.pop(key, None)
        if upload is None:
            return
        left = self._per_host[upload.host] - 1
        if left:
            self._per_host[upload.host] = left
        else:
            del self._per_host[upload.host]

    def _expire(self, now: float) -> None:
        # uploads are kept in the order of their last block, so the expired ones come first
        while self._uploads:
            key, upload = next(iter(self._uploads.items()))
            if upload.expires > now:
                return
            self._drop(key)


class WholeResponses:
    """aiocoap's Block2 cache for a resource whose answers are never split: each is sent whole.

    RFC 7959 section 2.4: a server that does not split an answer ignores a request's Block2
    and answers whole (the server's answers, a Location-Path or a diagnostic of at most 512
    bytes, always fit a datagram). Nothing is kept; a request for a later block gets 4.08.
    """

    async def extract_or_insert(self, request: Message, response_builder: Callable[[], Any]) -> Message:
        """Answer request whole (a later block than the first: 4.08)."""
        if request.opt.block2 is not None and request.opt.block2.block_number != 0:
            raise IncompleteException("the server's answers come whole; ask without Block2")
        response: Message = await response_builder()
        return response
