"""Notifications taken straight off the UDP socket: read in batches, decoded apart, coalesced under overload.

aiocoap reads one datagram per event-loop round (two recvmsg calls, one of them for the
error queue) and passes a notification through its message, token and pipe layers and a
block-wise forwarding task: two thirds of the time of a notification here, measured by
tests/bench/bench_server.py. This reader replaces its read callback on the udp6 socket:

- Each round reads up to READ_BATCH datagrams (the error queue once). A datagram that is a
  notification of a known observation (2.05, CON or NON, its token and address those of the
  observation, only Observe, Content-Format, ETag and Max-Age options) is taken here; any
  other datagram goes to aiocoap and ends the round, so that aiocoap sees at most one a
  round, as before (its request tasks and block-wise forwarding run in between).
- A taken notification waits in `queue` until drain() hands it to the server, at most
  DRAIN_BATCH per round, in the order they came. Reading is much cheaper than decoding:
  when the server cannot keep up (OVERLOAD notifications waiting), an observation's next
  notification replaces the one of it still waiting (the latest value wins, and the number
  replaced is counted and carried on), where the kernel would otherwise drop datagrams at
  random once the socket's buffer is full. The queue then holds at most OVERLOAD entries
  plus one per observation.
- A CON notification gets its empty ACK here; a datagram with the message ID and Observe
  number of the observation's previous one is a duplicate (a CON one is acknowledged again).
- Before any datagram of an observation goes to aiocoap (its end, or an unusual
  notification), the notifications of it still waiting are handed over first: none is
  overtaken. Those waiting when the observation is cancelled, replaced or the server stops
  are dropped with it, as aiocoap drops what comes after a cancel.

A notification that needs more (a Block2 option, any other option, another code) goes to
aiocoap, whose observation still stands behind every route.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from aiocoap.util import socknumbers

from .observe import older

_LOGGER = logging.getLogger(__name__)
READ_BATCH = 256  # datagrams read per event-loop round
DRAIN_BATCH = 64  # notifications handed to the server per event-loop round
OVERLOAD = 4096  # notifications waiting past which an observation's next one replaces its waiting one
MAX_DATAGRAM = 4096  # as aiocoap reads
ANCILLARY = 1024
CONTENT = 0x45  # 2.05
# the options a plain notification carries: ETag, Observe, Content-Format, Max-Age
PLAIN_OPTIONS = frozenset({4, 6, 12, 14})
OVERLOAD_LOG_INTERVAL = 60.0  # seconds between two warnings about coalescing under overload


class Route(Protocol):
    """What the reader needs of an observation (observe.Observation)."""

    sockaddr: tuple[str, int] | None
    last_datagram: tuple[int, int | None]


Deliver = Callable[[Any, int | None, int | None, bytes, int], None]


class NotificationReader:
    """The udp6 socket's read callback, taking the notifications of routes (observations by token)."""

    def __init__(self, transport: Any, protocol: Any, routes: dict[bytes, Any]) -> None:
        """Read transport's socket for protocol (aiocoap's udp6 message interface)."""
        self._sock: socket.socket = transport.get_extra_info("socket")
        self.protocol = protocol
        self._transport = transport
        self.routes = routes
        # [observation, Observe, Content-Format, payload, replaced] of each waiting notification
        self.queue: deque[list[Any]] = deque()
        self.waiting: dict[Any, list[list[Any]]] = {}  # observation -> its entries in the queue, oldest first
        self.deliver: Deliver | None = None
        self.coalesced = 0
        self.taken = 0
        self._draining = False
        self._loop = asyncio.get_running_loop()
        self._warned_at = -OVERLOAD_LOG_INTERVAL

    def install(self) -> None:
        """Become the transport's read callback (aiocoap calls transport._read_ready for every read event)."""
        self._transport._read_ready = self.read_ready  # noqa: SLF001 - aiocoap internals, see coap_internals

    def read_ready(self) -> None:
        """Read what the socket holds, up to READ_BATCH datagrams."""
        sock, protocol = self._sock, self.protocol
        if socknumbers.HAS_RECVERR:
            try:
                data, ancdata, flags, address = sock.recvmsg(MAX_DATAGRAM, ANCILLARY, socknumbers.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as err:
                protocol.error_received(err)
            else:
                protocol.datagram_errqueue_received(data, ancdata, flags, address)
        take = self.take
        for _ in range(READ_BATCH):
            try:
                data, ancdata, flags, address = sock.recvmsg(MAX_DATAGRAM, ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                protocol.error_received(err)
                return
            if not take(data, ancdata, address):
                # a response of an observation that aiocoap handles (its end, a block-wise or
                # otherwise unusual notification) comes after the ones of it still waiting
                route = self.routes.get(data[4 : 4 + (data[0] & 0x0F)]) if data else None
                if route is not None and route in self.waiting:
                    self.flush(route)
                # aiocoap's own pace: one datagram a round (its request and block-wise tasks run
                # in between, as they did before this reader)
                protocol.datagram_msg_received(data, ancdata, flags, address)
                return

    def take(self, data: bytes, ancdata: Any, address: Any) -> bool:
        """Take data if it is a plain notification of a route; False leaves it to aiocoap."""
        if len(data) < 5 or data[1] != CONTENT or (data[0] & 0xE0) != 0x40:  # version 1, CON or NON
            return False
        end = 4 + (data[0] & 0x0F)
        route = self.routes.get(data[4:end])
        if route is None or route.sockaddr is None:
            return False
        host, port = route.sockaddr
        if address[1] != port or address[0] != host:
            return False
        parsed = parse_options(data, end)
        if parsed is None:
            return False
        sequence, content_format, payload = parsed
        if sequence is None:
            return False  # not a notification: the observation's end, which aiocoap handles
        if not data[0] & 0x10:  # CON: the empty ACK (again, for a retransmission)
            self._send(bytes((0x60, 0, data[2], data[3])), ancdata, address)
        datagram = ((data[2] << 8) | data[3], sequence)
        if datagram == route.last_datagram:
            return True  # a duplicate: the same message ID and Observe number as the last one
        route.last_datagram = datagram
        self.taken += 1
        entries = self.waiting.get(route)
        if entries is not None and len(self.queue) >= OVERLOAD:
            entry = entries[-1]
            if entry[1] is not None and older(sequence, entry[1]):
                return True  # reordered behind the one waiting: stale
            entry[1:] = sequence, content_format, payload, entry[4] + 1
            self._overloaded()
            return True
        entry = [route, sequence, content_format, payload, 0]
        self.queue.append(entry)
        if entries is None:
            self.waiting[route] = [entry]
        else:
            entries.append(entry)
        if not self._draining:
            self._draining = True
            self._loop.call_soon(self.drain)
        return True

    def drain(self) -> None:
        """Hand up to DRAIN_BATCH waiting notifications to the server, in the order they came."""
        queue, waiting = self.queue, self.waiting
        for _ in range(min(DRAIN_BATCH, len(queue))):
            entry = queue.popleft()
            route = entry[0]
            if route is None:
                continue  # flushed already
            entries = waiting[route]
            del entries[0]  # entry: each route's entries are in the queue's order
            if not entries:
                del waiting[route]
            self._deliver(entry)
        if queue:
            self._loop.call_soon(self.drain)
        else:
            self._draining = False

    def flush(self, route: Any) -> None:
        """Hand every waiting notification of route (it has some) to the server now, before aiocoap's turn."""
        for entry in self.waiting.pop(route):
            self._deliver(entry)
            entry[0] = None  # the queue skips it

    def _deliver(self, entry: list[Any]) -> None:
        if self.deliver is None:
            return
        try:
            self.deliver(entry[0], entry[1], entry[2], entry[3], entry[4])
        except Exception:
            _LOGGER.exception("Handling a notification failed")

    def _overloaded(self) -> None:
        self.coalesced += 1
        now = time.monotonic()
        if now - self._warned_at >= OVERLOAD_LOG_INTERVAL:
            self._warned_at = now
            _LOGGER.warning(
                "Notifications arrive faster than they can be handled: a device's next notification replaces "
                "the one still waiting (the latest value wins; %d coalesced so far)",
                self.coalesced,
            )

    def _send(self, data: bytes, ancdata: Any, address: Any) -> None:
        # the transport's sendmsg: past another remote's pending ICMP error (coap_internals),
        # an error of its own handed to aiocoap's error_received
        self._transport.sendmsg(data, ancdata, 0, address)


def parse_options(data: bytes, pos: int) -> tuple[int | None, int | None, bytes] | None:
    """Return (Observe, Content-Format, payload) of a response whose options start at pos.

    None when the datagram is malformed, carries an option other than PLAIN_OPTIONS, or
    Observe or Content-Format twice.
    """
    size = len(data)
    number = 0
    sequence = content_format = None
    while pos < size:
        head = data[pos]
        if head == 0xFF:
            return (sequence, content_format, data[pos + 1 :]) if pos + 1 < size else None
        pos += 1
        delta, length = head >> 4, head & 0x0F
        if delta >= 13:  # rare in a notification (Observe is 6, Content-Format 12)
            delta, pos = _extended(data, pos, delta)
        if length >= 13:
            length, pos = _extended(data, pos, length)
        if delta < 0 or length < 0:
            return None
        number += delta
        if number not in PLAIN_OPTIONS or pos + length > size:
            return None
        if number == 6:
            if length > 3 or sequence is not None:
                return None  # a repeated one: aiocoap's (the first wins, RFC 7252 section 5.4.5)
            sequence = int.from_bytes(data[pos : pos + length])
        elif number == 12:
            if length > 2 or content_format is not None:
                return None
            content_format = int.from_bytes(data[pos : pos + length])
        pos += length
    return sequence, content_format, b""


def _extended(data: bytes, pos: int, nibble: int) -> tuple[int, int]:
    """Return an option delta or length of 13 or 14 read from its extension bytes at pos, and the next position.

    (-1, pos) for 15 (reserved) or extension bytes past the end.
    """
    if nibble == 15 or pos + nibble - 12 > len(data):
        return -1, pos
    if nibble == 13:
        return data[pos] + 13, pos + 1
    return ((data[pos] << 8) | data[pos + 1]) + 269, pos + 2
