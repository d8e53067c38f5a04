"""Fixtures: Home Assistant with the integration set up on a free UDP port, and simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
import pytest_socket
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.lwm2m.const import (
    CONF_AUTO_OBSERVE,
    CONF_DTLS_PORT,
    CONF_HOST,
    CONF_MAX_LIFETIME,
    CONF_MIN_LIFETIME,
    CONF_PORT,
    CONF_XML_DIR,
    DOMAIN,
)
from tests.live.broker import free_udp_port
from tests.sim import SimClient


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/lwm2m in every test."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots as Home Assistant core keeps them: in snapshots/ beside the tests."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def udp(socket_enabled: None) -> None:
    """Real UDP on loopback (the harness blocks sockets otherwise)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)


def entry_data(port: int, **overrides: Any) -> dict[str, Any]:
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_MIN_LIFETIME: 1,
        CONF_MAX_LIFETIME: 86400,
        CONF_AUTO_OBSERVE: "entities",
        CONF_XML_DIR: "",
        CONF_DTLS_PORT: 0,  # no coaps:// unless a test asks (the form's default, 5684, is a fixed port)
    } | overrides


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """The options the entry starts with (a test overrides it with pytest.mark.parametrize)."""
    return {}


@contextlib.asynccontextmanager
async def server_entry(
    hass: HomeAssistant, options: dict[str, Any] | None = None, **data: Any
) -> AsyncGenerator[MockConfigEntry]:
    """A server entry on a free UDP port (data overrides entry_data's), set up, and unloaded after."""
    port = free_udp_port()
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"LwM2M server (UDP {port})",
        unique_id=str(port),
        data=entry_data(port, **data),
        options=options or {},
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    yield config_entry
    if hass.config_entries.async_get_entry(config_entry.entry_id) is not None and config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
async def entry(hass: HomeAssistant, udp: None, entry_options: dict[str, Any]) -> AsyncGenerator[MockConfigEntry]:
    async with server_entry(hass, entry_options) as config_entry:
        yield config_entry


@pytest.fixture
async def device(hass: HomeAssistant, entry: MockConfigEntry) -> AsyncGenerator[Callable[..., Awaitable[SimClient]]]:
    """Start simulated devices that register with the entry's server."""
    clients: list[SimClient] = []

    async def start(endpoint: str = "sim-1", **kwargs: Any) -> SimClient:
        client = SimClient(endpoint, entry.data[CONF_PORT], **kwargs)
        clients.append(client)
        await client.start()
        return client

    yield start
    for client in clients:
        await client.stop()


async def wait_for(hass: HomeAssistant, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Let the event loop run until condition() is truthy."""
    async with asyncio.timeout(timeout):
        while not (result := condition()):
            await asyncio.sleep(0.02)
            await hass.async_block_till_done()
    return result


async def wait_observed(hass: HomeAssistant, endpoint: str, path: str) -> None:
    """Until the server holds an observation of path (not only the device)."""

    def observed() -> bool:
        for entry in hass.config_entries.async_entries(DOMAIN):
            source = entry.runtime_data.source if hasattr(entry, "runtime_data") else None
            if source is not None and endpoint in source.registrations:
                return any(o["paths"] == [path] for o in source.endpoint(endpoint).observations())
        return False

    await wait_for(hass, observed)
