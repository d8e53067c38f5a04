"""Fixtures of the browser tests: a real Home Assistant process, reachable on loopback."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path as FsPath

import pytest
import pytest_socket

from tests.live.hass import HassProcess, prepare


@pytest.fixture
def network(socket_enabled: None) -> None:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)


@pytest.fixture
async def home_assistant(tmp_path: FsPath, network: None) -> AsyncGenerator[HassProcess]:
    process = HassProcess(tmp_path / "config")
    prepare(process.folder, port=process.port, name="Browser test")
    await process.start()
    yield process
    await process.stop()
