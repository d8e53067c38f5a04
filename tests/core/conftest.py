"""Fixtures of the protocol core tests."""

from pathlib import Path

import pytest

from custom_components.lwm2m.lwm2m.model import ObjectModel

REGISTRY = Path(__file__).resolve().parents[2].parent / "shared" / "lwm2m-registry"


@pytest.fixture(scope="session")
def model() -> ObjectModel:
    return ObjectModel()


@pytest.fixture(scope="session")
def registry() -> Path:
    if not REGISTRY.is_dir():
        pytest.skip(f"the OMA registry is not at {REGISTRY}")
    return REGISTRY


@pytest.fixture
def udp(socket_enabled: None) -> None:
    """Real UDP on loopback (the Home Assistant harness blocks sockets otherwise)."""
    import pytest_socket

    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)


@pytest.fixture
async def server(udp: None):
    from custom_components.lwm2m.lwm2m.config import ServerConfig
    from custom_components.lwm2m.lwm2m.server import LwM2MServer

    srv = LwM2MServer(ServerConfig(host="::", port=0, request_timeout=5, expiry_check_interval=0.2))
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def make_client(server):
    from tests.sim import SimClient

    clients = []

    async def make(endpoint: str = "sim-1", *, register: bool = True, **kwargs):
        client = SimClient(endpoint, server.port, **kwargs)
        clients.append(client)
        await client.start(register=register)
        return client

    yield make
    for client in clients:
        await client.stop()


@pytest.fixture
async def dtls_server(udp: None):
    """A server with coaps:// on a free port and the devices of tests/core/dtls_peers.py."""
    from custom_components.lwm2m.lwm2m.config import ServerConfig
    from custom_components.lwm2m.lwm2m.server import LwM2MServer
    from tests.core.dtls_peers import credentials

    config = ServerConfig(
        host="::", port=0, dtls_port=0, credentials=credentials(), request_timeout=5, expiry_check_interval=0.2
    )
    srv = LwM2MServer(config)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def dtls_device(dtls_server):
    """Start simulated devices: over coaps:// with a DTLS client context, else over plain UDP."""
    from tests.sim import SimClient

    clients = []

    async def make(endpoint: str, dtls, *, register: bool = True, **kwargs):
        port = dtls_server.dtls_port if dtls is not None else dtls_server.port
        client = SimClient(endpoint, port, dtls=dtls, **kwargs)
        clients.append(client)
        await client.start(register=register)
        return client

    yield make
    for client in clients:
        await client.stop()
