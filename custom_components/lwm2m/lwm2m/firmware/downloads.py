"""Pull: images offered for download by Block2 (RFC 7959) under unguessable, single-use paths.

An offer is one device's download of one image: /fw/<token> on the server's own CoAP(S) port,
the token 128 random bits. It answers GET with the block asked for (Block2 number and size;
1024 bytes when the device asks no size), read from disk; Size2 on the first block; an ETag of
the image, so a device can tell the image did not change under it. Over coaps:// only the
identity the offer was made for gets it. An offer ends when its update ends (withdraw), or
after `idle` seconds without a request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiocoap import Message
from aiocoap.numbers.codes import Code

from ..codecs import ContentFormat
from .image import FirmwareImage, ImageError, ImageReader

PREFIX = "fw"  # the first segment of a download's path
DEFAULT_SZX = 6  # 1024 bytes
IDLE = 600.0  # seconds an offer waits for the device's next request


@dataclass(slots=True, eq=False)
class Offer:
    """One device's download of one image."""

    token: str
    reader: ImageReader
    identity: str | None  # the coaps:// identity allowed to download (None: plain CoAP, anyone with the link)
    on_progress: Callable[[int], None] | None
    expires: float
    served: int = 0  # the furthest byte served
    requests: int = 0
    block_sizes: set[int] = field(default_factory=set)

    @property
    def path(self) -> str:
        """Return the offer's path ("fw/<token>")."""
        return f"{PREFIX}/{self.token}"


class Downloads:
    """The images on offer, by token."""

    def __init__(self, idle: float = IDLE, clock: Callable[[], float] = time.monotonic) -> None:
        """Keep offers for idle seconds after their last request."""
        self.idle = idle
        self.clock = clock
        self._offers: dict[str, Offer] = {}

    def __len__(self) -> int:
        """Return how many offers are open."""
        return len(self._offers)

    def offer(
        self,
        image: FirmwareImage,
        *,
        identity: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Offer:
        """Offer image for one download; its path is new and unguessable."""
        self._expire()
        token = secrets.token_urlsafe(16)
        offer = Offer(token, ImageReader(image), identity, on_progress, self.clock() + self.idle)
        self._offers[token] = offer
        return offer

    def withdraw(self, offer: Offer) -> None:
        """End an offer: its path answers 4.04 from now on."""
        if self._offers.get(offer.token) is offer:
            del self._offers[offer.token]
        offer.reader.close()

    def clear(self) -> None:
        """End every offer."""
        for offer in list(self._offers.values()):
            self.withdraw(offer)

    def _expire(self) -> None:
        now = self.clock()
        for offer in [o for o in self._offers.values() if o.expires <= now]:
            self.withdraw(offer)

    async def serve(self, request: Message, token: str, identity: str | None) -> Message:
        """Answer a GET of /fw/<token> with the block it asks for."""
        self._expire()
        offer = self._offers.get(token)
        if offer is None or offer.identity not in (None, identity):
            return _error(Code.NOT_FOUND, "no such download (each link serves one update)")
        if request.code != Code.GET:
            return _error(Code.METHOD_NOT_ALLOWED, "use GET")
        asked = request.opt.block2
        # (a BERT size, 7, counts 1 KiB blocks over UDP too)
        szx = min(asked.size_exponent, DEFAULT_SZX) if asked is not None else DEFAULT_SZX
        number = asked.block_number if asked is not None else 0
        size = 1 << (szx + 4)
        start = number * size
        total = offer.reader.size
        if start >= total:
            return _error(Code.BAD_OPTION, f"block {number} of {size} bytes is past the image's {total} bytes")
        try:
            data = await offer.reader.read(start, size)
        except ImageError as err:
            return _error(Code.INTERNAL_SERVER_ERROR, str(err))
        end = start + len(data)
        offer.requests += 1
        offer.block_sizes.add(size)
        offer.expires = self.clock() + self.idle
        if end > offer.served:
            offer.served = end
            if offer.on_progress is not None:
                offer.on_progress(end)
        answer = Message(code=Code.CONTENT, payload=data, content_format=ContentFormat.OPAQUE)
        answer.opt.block2 = (number, end < total, szx)
        answer.opt.etag = bytes.fromhex(offer.reader.image.sha256[:16])
        if number == 0:
            answer.opt.size2 = total
        return answer


def _error(code: Code, text: str) -> Message:
    return Message(code=code, payload=text.encode(), content_format=ContentFormat.TEXT)
