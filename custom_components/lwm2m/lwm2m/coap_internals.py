"""Where this project reaches into aiocoap (0.4.17) beyond its documented API, in one place.

tests/core/test_coap_internals.py fails loudly when an aiocoap release moves any of it.

- Duplicate detection: aiocoap keeps every received request about 247 s, each with its own
  event-loop timer that shutdown() never cancels: unbounded memory under a flood and a timer
  that outlives the server. A bounded, timer-free window replaces it; the answers it keeps
  for duplicates hold at most ANSWER_BUDGET bytes of large payloads (firmware downloads).
- Malformed datagrams: aiocoap logs each one at warning level (an unparsable one, or one
  whose type and code do not fit together) and lets a few bad options escape its receive
  callback; all of them are counted instead, with one summary line per minute at most.
- ICMP errors: aiocoap fails every request to the remote an ICMP error names, all in one loop
  that stops at the first request that already ended (InvalidStateError, logged as an ERROR
  with a traceback); the loop is redone here with each request on its own.
- A device's broken answers: aiocoap logs a Block2 answer that does not fit at ERROR, and an
  RST to a request as a WARNING asking to report an aiocoap bug (it hands on the MessageError
  class, not an instance). The caller gets an OperationError for either; the lines are debug.
- ICMP errors and the next send: Linux keeps an ICMP error (a device's port closed) both in
  the socket's error queue, with the address it came from, and as the socket's pending error,
  which the next sendmsg() raises whatever its destination. aiocoap blames that send's remote
  and fails every request to a healthy device that happened to come next. With IPV6_RECVERR
  the error queue names the right remote, so a send that meets such a pending error is simply
  made again (the error was consumed by the first try).
- Block-wise transfers: a resource reassembles Block1 requests in its `_block1` spool and
  splits answers in its `_block2` cache; use_blockwise puts block1.py's bounded spool and its
  WholeResponses (which keeps nothing, and starts no timer) in their place.
- Tokens: cancelling an observation needs a GET with the observation's own token, which the
  public API never lets a caller choose. aiocoap's own tokens are a counter (2 bytes at first,
  `bbc0`, `bbc1`, ...), so anyone who saw one can forge answers to the next requests; every
  request gets 8 random bytes instead, as Californium does.
- Observations: notifications are taken with register_callback. aiocoap's `async for` is a
  lossy one-slot queue (two notifications in one loop iteration keep only the last) and a
  task per observation; a notification is an event here (button presses, Send counters,
  seqNum in the MQTT bridge) and each one must reach the server (which may then coalesce a
  device's notifications past its budget, limits.py; it never drops one). Caveat: requests go
  through aiocoap's BlockwiseRequest, which forwards its inner observation's notifications
  with that same `async for`; it loses none only because aiocoap is handed at most one
  datagram per event-loop round (fast_notify ends its round there) and the forwarding task
  runs in between (a notification that needs Block2 requests to complete can lose the ones
  that come meanwhile). Plain notifications over coap:// never take this path: fast_notify
  takes them off the socket first.
- Notifications: fast_notify.NotificationReader replaces the udp6 transport's read callback
  (`_read_ready`, which aiocoap's add_reader callback looks up on every read event) and
  takes plain notifications of known observations before aiocoap decodes them.
- Exchanges in flight: after every answered CON, aiocoap's message manager looks for
  another exchange to the same remote (NSTART=1) by scanning every exchange in flight, to
  every device: quadratic in a registration storm that auto-observes (a quarter of the
  time at 1,500 registrations/s). Its exchanges are kept counted per remote here, and
  `_continue_backlog` asks the count.
- Addresses as text: aiocoap names a task after every request it sends or renders, with the
  message's repr, which parses the address with ipaddress and asks the kernel for the
  interface's name: about a tenth of a registration's time. Both are cached (a pure
  function of the address, and of the interface index).
- A second transport (coaps://): add_message_interface appends it under its own token and
  message managers, as aiocoap does for udp6; request_with_token picks the manager whose
  transport serves the remote, and fail_request fails one outgoing request found by its
  (token, remote) key, where aiocoap's dispatch_error would fail every request to the remote
  (observations included). tests/core/test_dtls_internals.py guards these.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import secrets
import socket
import time
import types
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import aiocoap
from aiocoap.message import Message
from aiocoap.numbers.types import CON
from aiocoap.pipe import Pipe
from aiocoap.protocol import Request
from aiocoap.transports.udp6 import UDP6EndpointAddress
from aiocoap.util import socknumbers

_LOGGER = logging.getLogger(__name__)
# Room for a registration storm, and for the notifications of a Home Assistant stall: 1.5 s at
# 5,000 a second overflowed 4 MiB (README, Benchmarks). The kernel charges only what waits in
# it; without the right to force it (root, CAP_NET_ADMIN), net.core.rmem_max caps it.
RECEIVE_BUFFER = 16 * 1024 * 1024
# the errors an ICMP message leaves pending on a UDP socket (port, host or network unreachable)
ICMP_ERRNOS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})
TOKEN_LENGTH = 8  # bytes; CoAP allows up to 8
MALFORMED_SUMMARY_INTERVAL = 60.0  # seconds between two summary lines about malformed datagrams
# aiocoap's warnings about one malformed datagram (the message templates, as logged), and how a
# summary names them; the address they came from is always the last argument.
_MALFORMED_WARNINGS = {
    "Ignoring unparsable message from %s": "unparsable",
    "Received a message with code %s and type %s (those don't fit) from %s, ignoring it.": "type and code do not fit",
}
# aiocoap's lines about one broken answer of a device (the request fails with an OperationError)
_DEVICE_ANSWER_LINES = frozenset(
    {
        "Error assembling blockwise response (expected first block)",
        "Error assembling blockwise response, passing on error %r",
        "Server sent non-blockwise response after having started a blockwise transfer. "
        "Blockwise transfer cancelled, accepting single response.",
    }
)
_NOT_AN_AIOCOAP_ERROR = (
    "An exception that is not an aiocoap Error was raised from a transport; please report this as a bug in aiocoap: %r"
)
BLOCKWISE_LOGGER = "blockwise-requester"  # the child of a context's logger that asks for Block2 blocks
# aiocoap's info lines about one stray datagram (an ACK or RST for no exchange, a ping, a
# response to no request): anyone can send them by the thousand, so they count as debug lines.
_PER_DATAGRAM_INFO = frozenset(
    {
        "Received %s from %s, but could not match it to a running exchange.",
        "Response not recognized - sending RST.",
        "Ignoring unknown response (which is not a unicast CON)",
        "Received CoAP Ping from %s, replying with RST.",
        "Response %r could not be matched to any request",
        # each 2.31 Continue of a block-wise upload, and each refusal (4.08, 4.13, 5.03, ...)
        "Render request raised a renderable error (%s), responding accordingly.",
    }
)


LARGE_ANSWER = 256  # bytes of payload past which a kept answer counts against the budget
ANSWER_BUDGET = 4 * 1024 * 1024  # bytes of large answers kept for duplicates
ANSWER_OVERHEAD = 3 * 1024  # what a kept answer holds besides its payload (its options, its request)


class _Answers(dict[Any, Any]):
    """aiocoap's answers kept for duplicates, at most `budget` bytes of their payloads.

    A firmware download answers every block with up to 1 KiB, kept for the whole window
    (247 s) with its options and its request, about 4 KiB in all: a 10 MB pull would hold
    about 40 MB. Past the budget (each counted with ANSWER_OVERHEAD) the oldest large answer is
    forgotten with its request, so that a retransmission of that request (an idempotent GET:
    only downloads answer this much) is answered anew.
    """

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.held = 0
        self._sizes: dict[Any, int] = {}  # key -> what its large answer counts
        self._large: deque[Any] = deque()  # keys of large answers, oldest first

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._sizes:
            self._release(key)
        super().__setitem__(key, value)
        if value is None:  # a request just arrived (every datagram passes here): nothing to count
            return
        size = len(getattr(value, "payload", b""))
        if size < LARGE_ANSWER:
            return
        self._sizes[key] = size + ANSWER_OVERHEAD
        self.held += size + ANSWER_OVERHEAD
        self._large.append(key)
        while self.held > self.budget and self._large:
            old = self._large.popleft()
            if old in self._sizes:
                del self[old]

    def __delitem__(self, key: Any) -> None:
        self._release(key)
        super().__delitem__(key)

    def pop(self, key: Any, *default: Any) -> Any:
        """Forget a request (its window ended), and what its answer counted."""
        self._release(key)
        return super().pop(key, *default)

    def _release(self, key: Any) -> None:
        self.held -= self._sizes.pop(key, 0)


class _Exchanges(dict[Any, Any]):
    """aiocoap's active exchanges by (remote, message ID), counted per remote as well."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.remotes: dict[Any, int] = {}
        for remote, _mid in self:
            self.remotes[remote] = self.remotes.get(remote, 0) + 1

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            self.remotes[key[0]] = self.remotes.get(key[0], 0) + 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._uncount(key[0])

    def pop(self, key: Any, *default: Any) -> Any:
        """Remove an exchange (and its count), as dict.pop."""
        if key in self:
            self._uncount(key[0])
        return super().pop(key, *default)

    def _uncount(self, remote: Any) -> None:
        left = self.remotes[remote] - 1
        if left:
            self.remotes[remote] = left
        else:
            del self.remotes[remote]


def _continue_backlog(manager: Any, remote: Any) -> None:
    """Start the backlog of remote, as aiocoap's MessageManager._continue_backlog, asking the count of its exchanges."""
    backlogs = manager._backlogs  # noqa: SLF001 - aiocoap internals, see the module docstring
    if remote not in backlogs:
        raise AssertionError("backlogs/active_exchange relation violated (implementation error)")
    exchanges = manager._active_exchanges  # noqa: SLF001 - aiocoap internals, see the module docstring
    while exchanges is not None and not exchanges.remotes.get(remote):
        if backlogs[remote]:
            next_message, messageerror_monitor = backlogs[remote].pop(0)
            manager._send_initially(next_message, messageerror_monitor)  # noqa: SLF001 - aiocoap internals
        else:
            del backlogs[remote]
            break


def count_exchanges(manager: Any) -> None:
    """Keep manager's exchanges in flight counted per remote (see the module docstring)."""
    manager._active_exchanges = _Exchanges(manager._active_exchanges)  # noqa: SLF001 - aiocoap internals
    manager._continue_backlog = functools.partial(_continue_backlog, manager)  # noqa: SLF001 - aiocoap internals


class BoundedDeduplication:
    """Duplicate detection of incoming requests, bounded in count and age, without timers."""

    def __init__(self, manager: Any, lifetime: float, max_entries: int, answer_budget: int = ANSWER_BUDGET) -> None:
        """Take over manager's duplicate detection."""
        self._manager = manager
        self._lifetime = lifetime
        self._max = max_entries
        self._expiry: OrderedDict[Any, float] = OrderedDict()
        manager._recent_messages = _Answers(answer_budget)  # noqa: SLF001 - aiocoap internals, see the module docstring

    def __len__(self) -> int:
        """Return how many requests the window holds."""
        return len(self._expiry)

    def __call__(self, message: Message) -> bool:
        """Return whether message is a duplicate; answer a duplicate CON request again."""
        recent = self._manager._recent_messages  # noqa: SLF001 - aiocoap internals, see the module docstring
        now = time.monotonic()
        expiry = self._expiry
        while expiry:
            key, until = next(iter(expiry.items()))
            if until > now and len(expiry) < self._max:
                break
            expiry.popitem(last=False)
            recent.pop(key, None)
        key = (message.remote, message.mid)
        if key in recent:
            stored = recent[key]
            if message.mtype is CON and stored is not None:
                self._manager._send_initially(stored)  # noqa: SLF001 - aiocoap internals, see the module docstring
            return True
        recent[key] = None
        expiry[key] = now + self._lifetime
        return False


class MalformedCounter(logging.Filter):
    """Counts the datagrams aiocoap could not use, instead of one warning for each.

    aiocoap logs every unparsable datagram, and every one whose type and code do not fit, at
    warning level, and lets a few kinds of bad option (invalid UTF-8 in a Uri-Path) escape
    as exceptions from its receive callback; under a flood of garbage any of them would fill
    the log. All end up counted here, and summarize() writes one line per interval at most.
    """

    def __init__(self, interval: float = MALFORMED_SUMMARY_INTERVAL) -> None:
        """Start counting at zero."""
        super().__init__()
        self.count = 0
        self.interval = interval
        self.clock: Callable[[], float] = time.monotonic  # tests replace it
        self._pending = 0  # counted since the last summary
        self._since = 0.0  # when the first of those came
        self._latest = ""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop and count aiocoap's warning about a malformed datagram; its info about a stray one is debug."""
        if not isinstance(record.msg, str):
            return True
        if (record.msg in _PER_DATAGRAM_INFO and record.levelno == logging.INFO) or _device_answer(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        reason = _MALFORMED_WARNINGS.get(record.msg)
        if reason is None:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        self.counted(reason, args[-1] if args else "?")
        return False

    def counted(self, reason: str, source: object) -> None:
        """Count one malformed datagram; sum up, if the interval has passed."""
        now = self.clock()
        self.count += 1
        if not self._pending:
            self._since = now
        self._pending += 1
        self._latest = f"{reason}, from {source}"
        self.summarize(now)

    def summarize(self, now: float | None = None, *, final: bool = False) -> None:
        """Log how many malformed datagrams came since the last summary, once the interval passed (or final)."""
        now = self.clock() if now is None else now
        if not self._pending or (now - self._since < self.interval and not final):
            return
        _LOGGER.warning(
            "%d malformed datagram%s in the last %.0f s, ignored (the latest: %s)",
            self._pending,
            "" if self._pending == 1 else "s",
            now - self._since,
            self._latest,
        )
        self._pending = 0

    def attach(self, log: logging.Logger) -> None:
        """Take the lines of a context's logger and of its block-wise requester."""
        log.addFilter(self)
        log.getChild(BLOCKWISE_LOGGER).addFilter(self)

    def detach(self, log: logging.Logger) -> None:
        """Leave a stopped context's loggers (the next context on the port has its own counter)."""
        log.removeFilter(self)
        log.getChild(BLOCKWISE_LOGGER).removeFilter(self)

    def guard(self, receive: Any) -> Any:
        """Wrap aiocoap's receive callback so that an exception from it counts as malformed."""

        def guarded(data: bytes, ancdata: Any, flags: int, address: Any) -> None:
            try:
                receive(data, ancdata, flags, address)
            except Exception as err:  # noqa: BLE001 - whatever a bad option makes aiocoap raise is counted
                self.counted("undecodable options", address)
                _LOGGER.debug("Ignoring an undecodable datagram from %s: %s", address, err)

        return guarded


def prepare_context(
    context: aiocoap.Context,
    dedup_lifetime: float = 247.0,
    dedup_max: int = 20_000,
    malformed: MalformedCounter | None = None,
) -> tuple[BoundedDeduplication | None, int]:
    """Bound duplicate detection, count malformed datagrams, enlarge the receive buffer.

    Returns the deduplication window and the bound UDP port.
    """
    dedup, port = None, 0
    cache_address_texts()
    malformed = malformed or MalformedCounter()
    malformed.attach(context.log)
    for interface in context.request_interfaces:
        interface.next_token = random_token  # the token manager takes every request's token from it
        manager = getattr(interface, "token_interface", None)
        message_interface = getattr(manager, "message_interface", None)
        if manager is None or message_interface is None:
            continue
        interface.dispatch_error = _each_request_on_its_own(interface)  # the token manager
        count_exchanges(manager)
        window = BoundedDeduplication(manager, dedup_lifetime, dedup_max)
        manager._deduplicate_message = window  # noqa: SLF001 - aiocoap internals, see the module docstring
        transport = getattr(message_interface, "transport", None)
        if transport is None:  # not udp6 (DTLS has its own socket, and its own sizes)
            continue
        dedup = window
        message_interface.datagram_msg_received = malformed.guard(message_interface.datagram_msg_received)
        if socknumbers.HAS_RECVERR:
            transport.sendmsg = _resend_past_pending_errors(transport.sendmsg, transport.get_extra_info("socket"))
        sock: socket.socket = transport.get_extra_info("socket")
        enlarge_receive_buffer(sock)
        port = sock.getsockname()[1]
    return dedup, port


@functools.lru_cache(maxsize=4096)
def _address_text(address: str | bytes) -> str:
    """Aiocoap's UDP6EndpointAddress._strip_v4mapped, cached: the address as text, IPv4 without ::ffff:."""
    return str(_STRIP_V4MAPPED(address))


@functools.lru_cache(maxsize=1024)
def _pktinfo_text(pktinfo: bytes) -> str:
    """Aiocoap's UDP6EndpointAddress._repr_pktinfo, cached: the local address and interface name."""
    return str(_REPR_PKTINFO(types.SimpleNamespace(pktinfo=pktinfo, _strip_v4mapped=_address_text)))


def _repr_pktinfo(address: Any) -> str:
    return _pktinfo_text(address.pktinfo)


_STRIP_V4MAPPED = UDP6EndpointAddress._strip_v4mapped  # noqa: SLF001 - aiocoap internals, see the module docstring
_REPR_PKTINFO = UDP6EndpointAddress._repr_pktinfo  # noqa: SLF001 - aiocoap internals, see the module docstring


def cache_address_texts() -> None:
    """Make aiocoap's address texts cached (its task names repr every request's address)."""
    UDP6EndpointAddress._strip_v4mapped = staticmethod(_address_text)  # noqa: SLF001
    UDP6EndpointAddress._repr_pktinfo = _repr_pktinfo  # noqa: SLF001


def udp_message_interface(context: aiocoap.Context) -> Any | None:
    """Return context's udp6 message interface (the one with a datagram transport of its own), if any."""
    for interface in context.request_interfaces:
        message_interface = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        if getattr(message_interface, "transport", None) is not None:
            return message_interface
    return None


def _device_answer(record: logging.LogRecord) -> bool:
    """Return whether record is aiocoap's line about one device's broken answer."""
    if record.msg in _DEVICE_ANSWER_LINES:
        return True
    args = record.args if isinstance(record.args, tuple) else ()
    return record.msg == _NOT_AN_AIOCOAP_ERROR and args == (aiocoap.error.MessageError,)


def _each_request_on_its_own(manager: Any) -> Callable[[BaseException, Any], None]:
    """Return aiocoap's TokenManager.dispatch_error with a request that already ended skipped, not fatal.

    It fails the requests to remote (and ends the ones from it) after an ICMP error: its own
    loop stops at the first that already ended, with an ERROR and a traceback in the log.
    """
    original = manager.dispatch_error

    def dispatch_error(exception: BaseException, remote: Any) -> None:
        if manager.outgoing_requests is None:  # shut down: aiocoap's own warning
            original(exception, remote)
            return
        if not isinstance(exception, aiocoap.error.NetworkError):
            cause, exception = exception, aiocoap.error.NetworkError(str(exception))
            exception.__cause__ = cause
        stoppers: list[Callable[[], None]] = [
            functools.partial(request.add_exception, exception)
            for (_token, to), request in manager.outgoing_requests.items()
            if to == remote
        ]
        stoppers += [stop for (_token, source), (_pipe, stop) in manager.incoming_requests.items() if source == remote]
        for stop in stoppers:
            try:
                stop()
            except asyncio.InvalidStateError:
                _LOGGER.debug("ICMP error from %s for a request that already ended", remote)

    return dispatch_error


def _resend_past_pending_errors(sendmsg: Any, sock: socket.socket) -> Any:
    """Wrap the transport's sendmsg so that another remote's pending ICMP error is not this send's.

    The pending error (SO_ERROR) is the copy of an ICMP error that the error queue also holds,
    with its true source; the queue's copy fails the requests to that remote. A send that
    raises it was not made (the kernel checks the pending error first), so it is made again;
    any failed send gets its second try through aiocoap's own sendmsg, which reports an error
    of that try as it always does.
    """

    def send(data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        try:
            sock.sendmsg((data,), ancdata, flags, address)
        except OSError as err:
            if err.errno in ICMP_ERRNOS:
                _LOGGER.debug("A pending ICMP error (%s) met a send to %s; sending again", err.strerror, address)
            sendmsg(data, ancdata, flags, address)

    return send


def enlarge_receive_buffer(sock: socket.socket) -> int:
    """Room for bursts: SO_RCVBUFFORCE where allowed (root), else up to the kernel's rmem_max."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            break
        except OSError:
            continue
    size: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    _LOGGER.debug("UDP receive buffer: %d bytes", size)
    return size


def use_blockwise(resource: Any, spool: Any, answers: Any) -> None:
    """Make resource reassemble Block1 uploads in spool and answer through answers (its _block1, _block2)."""
    resource._block1 = spool  # noqa: SLF001 - aiocoap internals, see the module docstring
    resource._block2 = answers  # noqa: SLF001 - aiocoap internals, see the module docstring


def random_token() -> bytes:
    """Return a token for a new request: TOKEN_LENGTH random bytes, which no one can guess."""
    return secrets.token_bytes(TOKEN_LENGTH)


def request_with_token(context: aiocoap.Context, message: Message, token: bytes) -> Any:
    """Send message with a chosen token.

    The request goes straight into the token layer with a one-off token source; the usual
    one (random_token) is back for the next request.
    """
    interface = _interface_of(context, message.remote)
    pipe = Pipe(message, context.log)
    result = Request(pipe, context.loop, context.log)
    usual = interface.__dict__.get("next_token")
    interface.next_token = lambda: token
    try:
        interface.request(pipe)
    finally:
        if usual is None:
            del interface.next_token
        else:
            interface.next_token = usual
    return result


def _interface_of(context: aiocoap.Context, remote: Any) -> Any:
    """Return the token manager whose transport serves remote (udp6's, the first, for a plain one)."""
    for interface in context.request_interfaces:
        message_interface = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        serves = getattr(message_interface, "serves", None)
        if serves is not None and serves(remote):
            return interface
    return context.request_interfaces[0]


def on_notifications(
    request: Any, on_message: Callable[[Message], None], on_error: Callable[[BaseException], None]
) -> None:
    """Call on_message for every notification of an observing request.

    on_error is called once, when the observation ends.
    """
    request.observation.register_callback(on_message, _suppress_deprecation=True)
    request.observation.register_errback(on_error, _suppress_deprecation=True)


async def add_message_interface(context: aiocoap.Context, constructor: Callable[[Any], Any]) -> Any:
    """Give context another transport under its own token and message managers (as udp6 has).

    constructor gets the message manager and returns the (awaitable) message interface;
    the interface is returned.
    """
    await context._append_tokenmanaged_messagemanaged_transport(constructor)  # noqa: SLF001 - aiocoap internals
    return context.request_interfaces[-1].token_interface.message_interface


def fail_request(message_manager: Any, message: Message, exception: BaseException) -> None:
    """Fail the one outgoing request message belongs to (not every request to its remote, as dispatch_error does).

    A request that cannot go out over its DTLS session fails at once; the observations of the
    same device live on, for the device's next session.
    """
    requests = getattr(message_manager.token_manager, "outgoing_requests", None) or {}
    request = requests.get((message.token, message.remote))
    if request is not None:
        with contextlib.suppress(asyncio.InvalidStateError):
            request.add_exception(exception)
