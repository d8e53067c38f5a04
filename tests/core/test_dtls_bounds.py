"""The DTLS listener's bounds: handshakes in progress, sessions, idle sessions, slow handshakes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiocoap import Message
from aiocoap.error import NetworkError
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.dtls.interface import DtlsLimits
from custom_components.lwm2m.lwm2m.dtls.session import DtlsSession
from custom_components.lwm2m.lwm2m.errors import LwM2MError
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import KEY, credentials, psk_device, until
from tests.sim import SimClient


@pytest.fixture
async def bounded(udp: None) -> AsyncIterator[LwM2MServer]:
    limits = DtlsLimits(max_sessions=2, max_handshakes=3, handshake_timeout=1.0, idle_timeout=60, sweep_interval=0.1)
    server = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=credentials(), dtls_limits=limits))
    await server.start()
    yield server
    await server.stop()


async def _started(server: LwM2MServer, count: int) -> list[tuple[socket.socket, DtlsSession]]:
    """count handshakes that proved their address with the cookie and then went silent."""
    peers = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        session, out = DtlsSession.connect(psk_device().context, ("127.0.0.1", server.dtls_port), 0.0)
        sock.sendto(out[0], ("127.0.0.1", server.dtls_port))
        peers.append((sock, session))
    cookies = server.transport.dtls.stats.cookies_sent
    await until(
        lambda: server.transport.dtls.stats.cookies_sent + server.transport.dtls.stats.refused_handshakes >= cookies
    )
    for sock, session in peers:
        await until(lambda sock=sock: _readable(sock))
        _plaintexts, out = session.receive(sock.recv(2048))  # the HelloVerifyRequest
        for datagram in out:  # the ClientHello with the cookie
            sock.sendto(datagram, ("127.0.0.1", server.dtls_port))
    return peers


def _readable(sock: socket.socket) -> bool:
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    return True


async def test_handshakes_in_progress_are_bounded_and_time_out(bounded: LwM2MServer) -> None:
    dtls = bounded.transport.dtls
    peers = await _started(bounded, 5)
    await until(lambda: dtls.stats.refused_handshakes == 2)
    assert len(dtls._table) == 3 and dtls.session_count() == 0
    await until(lambda: dtls.stats.failed_handshakes == 3, timeout=5)  # handshake_timeout
    assert len(dtls._table) == 0 and dtls.handshakes_in_progress() == 0
    assert dtls.stats.refusals == {"timed out": 3}
    for sock, _session in peers:
        sock.close()
    # room again: a real device gets through
    client = SimClient("psk-dev", bounded.dtls_port, dtls=psk_device())
    try:
        await client.start()
        assert "psk-dev" in bounded.registrations
    finally:
        await client.stop()


async def test_sessions_are_bounded_least_recently_used_first(bounded: LwM2MServer) -> None:
    dtls = bounded.transport.dtls
    clients = [
        SimClient("psk-dev", bounded.dtls_port, dtls=psk_device()),
        SimClient("other-dev", bounded.dtls_port, dtls=psk_device("other-id", KEY[::-1])),
        SimClient("lib-dev", bounded.dtls_port, dtls=psk_device("lib-id", b"0123456789abcdef")),
    ]
    try:
        for client in clients[:2]:
            await client.start()
        assert (await clients[0].update()).code.dotted == "2.04"  # psk-dev is now the more recent
        await clients[2].start()
        assert dtls.stats.evicted_sessions == 1 and dtls.session_count() == 2
        with pytest.raises(LwM2MError, match="no DTLS session"):  # other-dev's session was dropped
            await bounded.endpoint("other-dev").read("/3/0/9")
        assert (await bounded.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
        # the evicted device comes back with a new handshake
        clients[1].location = ()
        assert (await clients[1].register()).code.dotted == "2.01"
    finally:
        for client in clients:
            await client.stop()


async def test_idle_sessions_expire(bounded: LwM2MServer) -> None:
    dtls = bounded.transport.dtls
    dtls.limits.idle_timeout = 0.3
    client = SimClient("psk-dev", bounded.dtls_port, dtls=psk_device())
    try:
        await client.start()
        await until(lambda: dtls.stats.expired_sessions == 1)
        assert dtls.session_count() == 0
    finally:
        await client.stop()


def test_limits_default_to_what_a_home_needs() -> None:
    limits = DtlsLimits()
    assert limits.max_sessions >= 10_000 and limits.max_handshakes >= 100
    assert 10 <= limits.handshake_timeout <= 60


async def test_diagnostics_show_the_listener(bounded: LwM2MServer) -> None:
    client = SimClient("psk-dev", bounded.dtls_port, dtls=psk_device())
    try:
        await client.start()
        shown = bounded.diagnostics()["dtls"]
        assert shown["port"] == bounded.dtls_port and shown["sessions"] == 1 and shown["handshakes"] == 1
        assert {c["endpoint"]: c.get("key") for c in shown["credentials"]}["psk-dev"] == "**REDACTED**"
    finally:
        await client.stop()


async def test_one_identity_holds_at_most_two_sessions(udp: None) -> None:
    """Whoever holds one credential cannot fill the sessions from many source ports."""
    server = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=credentials()))
    await server.start()
    clients = [SimClient("psk-dev", server.dtls_port, dtls=psk_device()) for _ in range(3)]
    try:
        for client in clients:
            await client.start()
        dtls = server.transport.dtls
        assert dtls.session_count() == 2 and dtls.stats.evicted_sessions == 1
        assert {s.sockaddr[1] for s in dtls._table} == {c.local_port for c in clients[1:]}
    finally:
        for client in clients:
            await client.stop()
        await server.stop()
    assert server.transport.dtls is None


async def test_one_host_cannot_hold_every_handshake(udp: None) -> None:
    limits = DtlsLimits(max_handshakes=10, max_handshakes_per_host=2, handshake_timeout=5.0)
    server = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=credentials(), dtls_limits=limits))
    await server.start()
    try:
        await _started(server, 3)
        dtls = server.transport.dtls
        await until(lambda: dtls.handshakes_in_progress() == 2 and dtls.stats.refused_handshakes == 1)
    finally:
        await server.stop()


async def test_failures_are_counted_by_reason_not_by_what_the_peer_offered(bounded: LwM2MServer) -> None:
    for name in ("alice", "bob", "carol"):
        client = SimClient("x", bounded.dtls_port, dtls=psk_device(name))
        try:
            await client.start(register=False)
            with pytest.raises((TimeoutError, NetworkError)):
                await client._send(Message(code=Code.GET, uri=f"coaps://127.0.0.1:{bounded.dtls_port}/rd"), timeout=3)
        finally:
            await client.stop()
    assert bounded.transport.dtls.stats.refusals == {"unknown PSK identity": 3}
