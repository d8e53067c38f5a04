"""The CoAP transport (transport.py): which address it binds for a configured host, why a bind
fails (what the config flow tells the user), how a device's address is printed, and a
transport that serves real requests and leaves nothing behind."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from types import SimpleNamespace

import aiocoap
import pytest
from aiocoap import Code, Message
from aiocoap.resource import Resource, Site

from custom_components.lwm2m.lwm2m.transport import CoapTransport, FastTuning, address_of, bind_address, bind_problem

# -- bind addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "bound"),
    [
        ("", "::"),
        ("0.0.0.0", "::"),
        ("::", "::"),
        ("127.0.0.1", "::ffff:127.0.0.1"),
        ("192.168.1.20", "::ffff:192.168.1.20"),
        ("::1", "::1"),
        ("2001:db8::7", "2001:db8::7"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
    ],
)
def test_the_address_bound_for_a_host(host: str, bound: str) -> None:
    assert bind_address(host) == bound


@pytest.fixture
def taken(udp: None) -> Iterator[int]:
    """A UDP port some other program holds on every address."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))
        return int(sock.getsockname()[1])


def test_a_port_in_use_is_named(taken: int) -> None:
    assert bind_problem("0.0.0.0", taken) == "in_use"
    assert bind_problem("::", taken) == "in_use"
    assert bind_problem("127.0.0.1", taken) == "in_use"  # IPv4 too: udp6 binds the mapped address


def test_an_ipv4_port_in_use_is_named_for_the_udp6_bind(udp: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert bind_problem("127.0.0.1", port) == "in_use"
        assert bind_problem("", port) == "in_use"


def test_a_free_port_has_no_problem(udp: None) -> None:
    port = _free_port()
    assert bind_problem("", port) is None
    assert bind_problem("127.0.0.1", port) is None  # the IPv4-mapped address binds (dual stack)
    assert bind_problem("::1", port) is None
    assert bind_problem("127.0.0.1", 0) is None


def test_an_address_of_another_host_is_named(udp: None) -> None:
    assert bind_problem("192.0.2.1", 0) == "not_local"  # TEST-NET-1: never this machine's
    assert bind_problem("2001:db8::1", 0) == "not_local"


# -- printable addresses -------------------------------------------------------------------------


def test_printable_addresses() -> None:
    assert address_of(SimpleNamespace(sockaddr=("::ffff:192.168.1.5", 56830, 0, 0))) == "192.168.1.5:56830"
    assert address_of(SimpleNamespace(sockaddr=("fe80::1", 5683, 0, 2), hostinfo="x")) == "[fe80::1]:5683"
    assert address_of(SimpleNamespace(sockaddr=("::ffff:1.2.3.4", 1))) == "1.2.3.4:1"
    # no socket address (another transport): its hostinfo, or the remote itself
    assert address_of(SimpleNamespace(sockaddr=None, hostinfo="[::1]:9")) == "[::1]:9"
    assert address_of(SimpleNamespace(sockaddr=(), hostinfo="gw")) == "gw"
    assert address_of(SimpleNamespace(hostinfo="mqtt:dev-1")) == "mqtt:dev-1"
    assert address_of("emqx") == "emqx"
    assert address_of(42) == "42"


# -- retransmission --------------------------------------------------------------------------------


def test_fast_tuning_replaces_coaps_retransmission() -> None:
    default = FastTuning()
    assert (default.ACK_TIMEOUT, default.MAX_RETRANSMIT) == (2.0, 2)
    tuned = FastTuning(0.5, 3)
    assert (tuned.ACK_TIMEOUT, tuned.MAX_RETRANSMIT) == (0.5, 3)
    # CoAP's derived times follow: the last retransmission goes out after 0.5 * (1 + 2 + 4) s at most
    assert pytest.approx(0.5 * 7 * tuned.ACK_RANDOM_FACTOR) == tuned.MAX_TRANSMIT_SPAN


# -- a transport that serves -----------------------------------------------------------------------


class Echo(Resource):  # type: ignore[misc]
    """Answers with the printable address of whoever asked."""

    async def render_get(self, request: Message) -> Message:
        return Message(code=Code.CONTENT, payload=address_of(request.remote).encode())


def _site() -> Site:
    site = Site()
    site.add_resource(["who"], Echo())
    return site


async def test_a_transport_serves_ipv4_devices_and_prints_their_address(udp: None) -> None:
    port = _free_port()
    transport = CoapTransport(_site(), "127.0.0.1", port)
    assert transport.context is None and transport.port == 0
    await transport.start()
    client = await aiocoap.Context.create_client_context()
    try:
        assert transport.port == port
        assert transport.dedup is not None
        answer = await client.request(Message(code=Code.GET, uri=f"coap://127.0.0.1:{port}/who")).response
        host, _, their_port = answer.payload.decode().rpartition(":")
        assert host == "127.0.0.1" and int(their_port) > 0
    finally:
        await client.shutdown()
        await transport.stop()
    assert transport.context is None


async def test_a_transport_serves_ipv6_devices(udp: None) -> None:
    transport = CoapTransport(_site(), "::", 0)
    await transport.start()
    client = await aiocoap.Context.create_client_context()
    try:
        assert transport.port > 0
        answer = await client.request(Message(code=Code.GET, uri=f"coap://[::1]:{transport.port}/who")).response
        assert answer.payload.decode().startswith("[::1]:")
    finally:
        await client.shutdown()
        await transport.stop()


async def test_requests_need_a_running_transport(udp: None) -> None:
    transport = CoapTransport(_site(), "::1", 0)
    message = Message(code=Code.GET, uri="coap://[::1]:9/x")
    with pytest.raises(RuntimeError, match=r"^the CoAP transport is not running$"):
        transport.request(message)
    with pytest.raises(RuntimeError, match=r"^the CoAP transport is not running$"):
        transport.request_with_token(message, b"12345678")
    await transport.stop()  # stopping what never started is harmless
    await transport.start()
    await transport.stop()
    with pytest.raises(RuntimeError, match=r"^the CoAP transport is not running$"):
        transport.request(message)
    await transport.stop()  # and twice too


async def test_a_request_with_a_chosen_token(udp: None) -> None:
    seen: list[bytes] = []

    class Token(Resource):  # type: ignore[misc]
        async def render_get(self, request: Message) -> Message:
            seen.append(request.token)
            return Message(code=Code.CONTENT, payload=b"ok")

    device_site = Site()
    device_site.add_resource(["t"], Token())
    device = CoapTransport(device_site, "::1", 0)
    server = CoapTransport(None, "::1", 0)
    await device.start()
    await server.start()
    try:
        plain = await server.request(Message(code=Code.GET, uri=f"coap://[::1]:{device.port}/t")).response
        assert plain.payload == b"ok"
        again = Message(code=Code.GET, uri_path=("t",))
        again.remote = plain.remote  # as a registration keeps the device's remote
        chosen = await server.request_with_token(again, b"\x01\x02\x03").response
        assert chosen.payload == b"ok"
    finally:
        await server.stop()
        await device.stop()
    assert len(seen[0]) == 8  # the usual random token
    assert seen[1] == b"\x01\x02\x03"


async def test_malformed_datagrams_are_counted_by_their_own_transport(
    udp: None, caplog: pytest.LogCaptureFixture
) -> None:
    transport = CoapTransport(_site(), "127.0.0.1", _free_port())
    await transport.start()
    try:
        loop = asyncio.get_running_loop()
        sender, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        try:
            with caplog.at_level(logging.WARNING):
                sender.sendto(b"\xff\xff\xff", ("127.0.0.1", transport.port))
                for _ in range(200):
                    if transport.malformed.count:
                        break
                    await asyncio.sleep(0.01)
        finally:
            sender.close()
        assert transport.malformed.count == 1
        assert not [r for r in caplog.records if "unparsable" in r.getMessage()]  # counted, not logged one by one
    finally:
        with caplog.at_level(logging.WARNING):
            await transport.stop()
    # stopping sums up what was left
    assert "1 malformed datagram in the last" in caplog.text
