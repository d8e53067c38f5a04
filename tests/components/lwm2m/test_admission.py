"""Who may register, in Home Assistant: an unknown device under "ask" becomes a discovered device
that one click lets in; ignored ones stay out; a removed device is refused until added again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
from aiocoap.numbers.codes import Code
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m import async_remove_config_entry_device
from custom_components.lwm2m.const import CONF_ADMISSION, CONF_PORT, DOMAIN, SUBENTRY_DEVICE
from tests.components.lwm2m.conftest import server_entry, wait_for
from tests.live.broker import free_udp_port
from tests.sim import SimClient


def _listed(entry: MockConfigEntry) -> list[dict[str, Any]]:
    return [dict(s.data) for s in entry.subentries.values() if s.subentry_type == SUBENTRY_DEVICE]


def _discovered(hass: HomeAssistant) -> list[dict[str, Any]]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == config_entries.SOURCE_INTEGRATION_DISCOVERY
    ]


@pytest.fixture
async def asking(hass: HomeAssistant, udp: None, request: pytest.FixtureRequest) -> AsyncGenerator[MockConfigEntry]:
    async with server_entry(hass, **{CONF_ADMISSION: getattr(request, "param", "ask")}) as entry:
        yield entry


@pytest.fixture
async def device(asking: MockConfigEntry) -> AsyncGenerator[Any]:
    clients: list[SimClient] = []

    async def start(endpoint: str) -> SimClient:
        client = SimClient(endpoint, asking.data[CONF_PORT])
        clients.append(client)
        await client.start(register=False)
        return client

    yield start
    for client in clients:
        await client.stop()


async def test_new_entries_ask(hass: HomeAssistant, udp: None) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "server"})
    fields = {"host": "127.0.0.1", "port": free_udp_port(), "dtls_port": 0, "min_lifetime": 10, "max_lifetime": 86400}
    done = await hass.config_entries.flow.async_configure(result["flow_id"], fields)
    assert done["type"] is FlowResultType.CREATE_ENTRY and done["data"][CONF_ADMISSION] == "ask"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(done["result"].entry_id)


async def test_an_unknown_device_is_discovered_and_added_with_one_click(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any
) -> None:
    client = await device("kitchen-1")
    assert (await client.register()).code == Code.FORBIDDEN
    (flow,) = await wait_for(hass, lambda: _discovered(hass))
    assert flow["step_id"] == "admit" and flow["context"]["title_placeholders"] == {"endpoint": "kitchen-1"}
    assert (await client.register()).code == Code.FORBIDDEN  # still refused, and asked about only once
    await hass.async_block_till_done()
    assert len(_discovered(hass)) == 1

    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "device_admitted"
    await hass.async_block_till_done()
    assert _listed(asking) == [{"endpoint": "kitchen-1", "mode": "nosec"}]
    assert (await client.register()).code == Code.CREATED
    registry = dr.async_get(hass)
    devices = await wait_for(hass, lambda: dr.async_entries_for_config_entry(registry, asking.entry_id))
    assert [d.identifiers for d in devices] == [{(DOMAIN, "kitchen-1")}]

    # deleting the device takes it off the list: it is refused (and asked about) again
    assert await async_remove_config_entry_device(hass, asking, devices[0])
    await hass.async_block_till_done()
    assert _listed(asking) == []
    assert (await client.register()).code == Code.FORBIDDEN
    await wait_for(hass, lambda: _discovered(hass))


async def test_an_ignored_device_stays_refused_and_unasked(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any
) -> None:
    client = await device("neighbour")
    assert (await client.register()).code == Code.FORBIDDEN
    (flow,) = await wait_for(hass, lambda: _discovered(hass))
    ignored = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_IGNORE},
        data={"unique_id": flow["context"]["unique_id"], "title": "neighbour"},
    )
    assert ignored["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _discovered(hass) == []
    asking.runtime_data.source.unknown_reports.forget("neighbour")  # it would be reported again now
    assert (await client.register()).code == Code.FORBIDDEN
    await hass.async_block_till_done()
    assert _discovered(hass) == []


@pytest.mark.parametrize("asking", ["known"], indirect=True)
async def test_known_devices_only_refuses_without_asking(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any
) -> None:
    refused: list[Any] = []
    hass.bus.async_listen(f"{DOMAIN}_refused", refused.append)
    client = await device("stranger")
    assert (await client.register()).code == Code.FORBIDDEN
    await hass.async_block_till_done()
    assert _discovered(hass) == []
    assert [e.data["endpoint"] for e in refused] == ["stranger"]


@pytest.mark.parametrize("asking", ["open"], indirect=True)
async def test_open_lets_anyone_in_and_keeps_the_list_on_removal(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any
) -> None:
    from custom_components.lwm2m.device_list import add_device

    add_device(hass, asking, {"endpoint": "anyone", "mode": "nosec"})  # listed, though open needs no list
    await hass.async_block_till_done()
    client = await device("anyone")
    assert (await client.register()).code == Code.CREATED
    registry = dr.async_get(hass)
    (found,) = await wait_for(hass, lambda: dr.async_entries_for_config_entry(registry, asking.entry_id))
    assert await async_remove_config_entry_device(hass, asking, found)
    assert _listed(asking) == [{"endpoint": "anyone", "mode": "nosec"}]  # open: the list stays as it was


async def test_ignored_devices_have_no_device_list_and_go_with_their_server(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any
) -> None:
    client = await device("visitor")
    assert (await client.register()).code == Code.FORBIDDEN
    (flow,) = await wait_for(hass, lambda: _discovered(hass))
    await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_IGNORE},
        data={"unique_id": flow["context"]["unique_id"], "title": "visitor"},
    )
    await hass.async_block_till_done()
    (ignored,) = [e for e in hass.config_entries.async_entries(DOMAIN) if e.source == config_entries.SOURCE_IGNORE]
    from custom_components.lwm2m.config_flow import LwM2MConfigFlow

    assert LwM2MConfigFlow.async_get_supported_subentry_types(ignored) == {}
    assert SUBENTRY_DEVICE in LwM2MConfigFlow.async_get_supported_subentry_types(asking)
    await hass.config_entries.async_remove(asking.entry_id)
    await hass.async_block_till_done()
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_at_most_twenty_unknown_devices_wait_at_once(
    hass: HomeAssistant, asking: MockConfigEntry, device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.lwm2m.hub import MAX_DISCOVERED
    from custom_components.lwm2m.lwm2m.security import admission

    monkeypatch.setattr(admission, "REPORTS_PER_MINUTE", 100)
    asking.runtime_data.source.unknown_reports = admission.UnknownReports()
    for i in range(MAX_DISCOVERED + 3):
        client = await device(f"many-{i}")
        assert (await client.register()).code == Code.FORBIDDEN
    await hass.async_block_till_done()
    assert len(_discovered(hass)) == MAX_DISCOVERED
