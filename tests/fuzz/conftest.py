"""Fixtures of the fuzz tests."""

import pytest


@pytest.fixture
def udp(socket_enabled: None) -> None:
    """Real UDP on loopback (the Home Assistant harness blocks sockets otherwise)."""
    import pytest_socket

    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)
