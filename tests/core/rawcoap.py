"""A device made of one plain UDP socket, for what aiocoap's own client never sends: every
message id, token and Observe number is the test's choice (notifications out of order,
Observe numbers that wrap at 2**24). And a recorder of the Observe numbers a simulated
device (tests/sim, aiocoap) really puts on the wire."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiocoap import ACK, CON, NON, Message
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.codecs import ContentFormat


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, device: RawDevice) -> None:
        self.device = device

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.device.received(Message.decode(data))


class RawDevice:
    """An LwM2M device on a bare socket: it registers, then the test answers each request
    the server sends (next_request, answer) and pushes notifications (notify) by hand."""

    def __init__(self, server_port: int, endpoint: str, *, lifetime: int = 60, query: tuple[str, ...] = ()) -> None:
        self.server = ("127.0.0.1", server_port)
        self.endpoint = endpoint
        self.lifetime = lifetime
        self.query = query
        self.transport: asyncio.DatagramTransport | None = None
        self.requests: asyncio.Queue[Message] = asyncio.Queue()  # requests from the server
        self.others: asyncio.Queue[Message] = asyncio.Queue()  # the rest: ACKs and RSTs no one waits for
        self._waiting: dict[int, asyncio.Future[Message]] = {}  # our CON message id -> its ACK
        self._mids = itertools.count(0x1000)
        self.location: tuple[str, ...] = ()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=("127.0.0.1", 0))

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def received(self, message: Message) -> None:
        if message.code.is_request():
            self.requests.put_nowait(message)
        elif message.mtype is ACK and message.mid in self._waiting:
            future = self._waiting.pop(message.mid)
            if not future.done():
                future.set_result(message)
        else:
            self.others.put_nowait(message)

    def send(self, message: Message) -> None:
        assert self.transport is not None, "start the device first"
        self.transport.sendto(message.encode(), self.server)

    async def register(self) -> Message:
        response = await self.request(
            Message(
                code=Code.POST,
                uri_path=("rd",),
                uri_query=(f"ep={self.endpoint}", f"lt={self.lifetime}", "lwm2m=1.0", *self.query),
                content_format=ContentFormat.LINK_FORMAT,
                payload=b"</1/0>,</3/0>,</3303/0>",
            )
        )
        assert response.code == Code.CREATED, response
        self.location = tuple(response.opt.location_path)
        return response

    async def request(self, message: Message, token: bytes = b"RE") -> Message:
        """Send message as a confirmable request; return the server's piggybacked answer."""
        message.mtype, message.mid, message.token = CON, next(self._mids), token
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[message.mid] = future
        self.send(message)
        async with asyncio.timeout(5):
            return await future

    async def next_request(self, timeout: float = 5.0) -> Message:
        async with asyncio.timeout(timeout):
            return await self.requests.get()

    def answer(
        self, request: Message, payload: bytes, *, observe: int | None = None, code: Code = Code.CONTENT
    ) -> None:
        """A piggybacked answer to a confirmable request of the server, in plain text."""
        response = Message(code=code, payload=payload)
        response.mtype, response.mid, response.token = ACK, request.mid, request.token
        if payload:
            response.opt.content_format = ContentFormat.TEXT
        if observe is not None:
            response.opt.observe = observe
        self.send(response)

    def notify(
        self, observe_request: Message, sequence: int, payload: bytes, content_format: int = ContentFormat.TEXT
    ) -> None:
        """A non-confirmable notification for the observation observe_request started."""
        message = Message(code=Code.CONTENT, observe=sequence, content_format=content_format, payload=payload)
        message.mtype, message.mid, message.token = NON, next(self._mids), observe_request.token
        self.send(message)


def record_observe_numbers(client: Any) -> list[tuple[bytes, int]]:
    """(token, Observe number) of every observe answer and notification a started SimClient
    sends from now on, as they leave its socket; retransmissions are not repeated."""
    sent: list[tuple[bytes, int]] = []
    seen: set[tuple[bytes, int]] = set()
    manager = client.context.request_interfaces[0].token_interface
    original = manager._send_via_transport

    def recording(message: Message) -> None:
        if message.code.is_response() and message.opt.observe is not None:
            key = (message.token, message.mid)
            if key not in seen:
                seen.add(key)
                sent.append((message.token, message.opt.observe))
        original(message)

    manager._send_via_transport = recording
    return sent
