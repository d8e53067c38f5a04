"""A NAT between a device and the server, on loopback: the server sees the NAT's outside port.

rebind() gives the mapping a new outside port, as a home router or a mobile network does
when a mapping times out: the device keeps its own socket (and its observations) and does
not know; the server sees the same device talk from another port.
"""

from __future__ import annotations

import asyncio
from typing import Any


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on_datagram(data, addr)


class Nat:
    """Forward datagrams between one device (on the inside port) and the server (from the outside port)."""

    def __init__(self, server_port: int) -> None:
        self.server = ("127.0.0.1", server_port)
        self.inside: asyncio.DatagramTransport | None = None
        self.outside: asyncio.DatagramTransport | None = None
        self.device: Any = None  # the device's address, once it sent something

    @property
    def inside_port(self) -> int:
        assert self.inside is not None
        return int(self.inside.get_extra_info("sockname")[1])

    @property
    def outside_port(self) -> int:
        assert self.outside is not None
        return int(self.outside.get_extra_info("sockname")[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.inside, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_device), local_addr=("127.0.0.1", 0)
        )
        await self._open_outside()

    async def _open_outside(self) -> None:
        loop = asyncio.get_running_loop()
        self.outside, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_server), local_addr=("127.0.0.1", 0)
        )

    def _from_device(self, data: bytes, addr: Any) -> None:
        self.device = addr
        if self.outside is not None:
            self.outside.sendto(data, self.server)

    def _from_server(self, data: bytes, addr: Any) -> None:
        if self.inside is not None and self.device is not None:
            self.inside.sendto(data, self.device)

    async def rebind(self) -> None:
        """Drop the mapping: the old outside port is closed, the next datagram leaves from a new one."""
        old, self.outside = self.outside, None
        if old is not None:
            old.close()
        await self._open_outside()

    async def stop(self) -> None:
        for transport in (self.inside, self.outside):
            if transport is not None:
                transport.close()
        self.inside = self.outside = None
