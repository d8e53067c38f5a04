"""The bootstrap server of a server entry: a factory-fresh device in the device list ends up
registered over coaps:// with its own key, and the logbook says so; no file touched."""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from aiocoap.numbers.codes import Code
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import (
    CONF_ADMISSION,
    CONF_BOOTSTRAP_HOST,
    CONF_BOOTSTRAP_PORT,
    CONF_DTLS_PORT,
    DOMAIN,
    SUBENTRY_DEVICE,
)
from custom_components.lwm2m.logbook import async_describe_events
from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from tests.components.lwm2m.conftest import server_entry, wait_for
from tests.live.broker import free_udp_port
from tests.sim import SimClient

BOOTSTRAP_KEY = "f0e0d0c0b0a090807060504030201000"


def _two_free_ports() -> int:
    """A free UDP port whose next port is free too (coap:// and coaps:// of the bootstrap server)."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


@pytest.fixture
async def bootstrapping(hass: HomeAssistant, udp: None) -> AsyncGenerator[MockConfigEntry]:
    options = {CONF_BOOTSTRAP_PORT: _two_free_ports(), CONF_BOOTSTRAP_HOST: "127.0.0.1"}
    async with server_entry(hass, options, **{CONF_DTLS_PORT: free_udp_port(), CONF_ADMISSION: "ask"}) as entry:
        yield entry


async def test_a_factory_fresh_device_is_bootstrapped_onto_coaps(
    hass: HomeAssistant, bootstrapping: MockConfigEntry
) -> None:
    fired: list[Any] = []
    hass.bus.async_listen(f"{DOMAIN}_bootstrapped", fired.append)
    result = await hass.config_entries.subentries.async_init(
        (bootstrapping.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    form = {"endpoint": "fresh-7", "security_mode": "psk", "bootstrap_key": BOOTSTRAP_KEY}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["step_id"] == "key"  # its server key is made up, and shown (the device gets it by bootstrap)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    port = bootstrapping.options[CONF_BOOTSTRAP_PORT]
    device = SimClient("fresh-7", 0)
    try:
        answer = await device.bootstrap(
            f"coaps://127.0.0.1:{port + 1}", ClientContext(psk=(b"fresh-7", bytes.fromhex(BOOTSTRAP_KEY)))
        )
        assert answer.code == Code.CREATED
        registry = dr.async_get(hass)
        devices = await wait_for(hass, lambda: dr.async_entries_for_config_entry(registry, bootstrapping.entry_id))
        assert [d.identifiers for d in devices] == [{(DOMAIN, "fresh-7")}]
        reg = bootstrapping.runtime_data.source.registrations.by_endpoint("fresh-7")
        assert reg.transport == "dtls" and reg.identity == "psk:fresh-7"
        await wait_for(hass, lambda: fired)
        assert fired[0].data["endpoint"] == "fresh-7"
        assert fired[0].data["server"] == f"coaps://127.0.0.1:{bootstrapping.data[CONF_DTLS_PORT]}"
    finally:
        await device.stop()

    described: dict[str, Any] = {}
    async_describe_events(hass, lambda domain, kind, describe: described.__setitem__(kind, describe))
    line = described[f"{DOMAIN}_bootstrapped"](fired[0])
    assert line == {
        "name": "LwM2M",
        "message": f"fresh-7 was bootstrapped: it registers with {fired[0].data['server']} next",
    }


async def test_the_bootstrap_options_are_checked(hass: HomeAssistant, bootstrapping: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(bootstrapping.entry_id)
    no_host = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BOOTSTRAP_PORT: 5783, CONF_BOOTSTRAP_HOST: ""}
    )
    assert no_host["errors"] == {CONF_BOOTSTRAP_HOST: "bootstrap_host_required"}
    taken = bootstrapping.data[CONF_DTLS_PORT] - 1  # its next port is the server's coaps://
    clash = await hass.config_entries.options.async_configure(
        no_host["flow_id"], {CONF_BOOTSTRAP_PORT: taken, CONF_BOOTSTRAP_HOST: "192.168.1.10"}
    )
    assert clash["errors"] == {CONF_BOOTSTRAP_PORT: "same_port"}


async def test_a_bad_bootstrap_key_is_explained(hass: HomeAssistant, bootstrapping: MockConfigEntry) -> None:
    result = await hass.config_entries.subentries.async_init(
        (bootstrapping.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"endpoint": "x", "security_mode": "nosec", "bootstrap_key": "zz"}
    )
    assert result["errors"] == {"bootstrap_key": "invalid_credential"}


async def test_bootstrap_keys_stay_out_of_the_diagnostics(hass: HomeAssistant, bootstrapping: MockConfigEntry) -> None:
    import json

    from custom_components.lwm2m.diagnostics import async_get_config_entry_diagnostics

    result = await hass.config_entries.subentries.async_init(
        (bootstrapping.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    form = {"endpoint": "d-1", "security_mode": "nosec", "bootstrap_identity": "d-1-bs", "bootstrap_key": BOOTSTRAP_KEY}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    text = json.dumps(await async_get_config_entry_diagnostics(hass, bootstrapping))
    assert BOOTSTRAP_KEY not in text and "d-1-bs" not in text and '"d-1"' not in text


async def _add_device(hass: HomeAssistant, entry: MockConfigEntry, form: dict[str, Any]) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    return await hass.config_entries.subentries.async_configure(result["flow_id"], form)


async def test_bootstrap_identities_are_one_per_device_and_kept_on_reconfigure(
    hass: HomeAssistant, bootstrapping: MockConfigEntry
) -> None:
    form = {"endpoint": "b-1", "security_mode": "nosec", "bootstrap_identity": "bs", "bootstrap_key": BOOTSTRAP_KEY}
    assert (await _add_device(hass, bootstrapping, form))["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    twice = await _add_device(hass, bootstrapping, {**form, "endpoint": "b-2"})
    assert twice["errors"] == {"bootstrap_identity": "credential_exists"}
    (subentry,) = bootstrapping.subentries.values()
    result = await hass.config_entries.subentries.async_init(
        (bootstrapping.entry_id, SUBENTRY_DEVICE),
        context={"source": config_entries.SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"security_mode": "nosec"})
    assert result["reason"] == "reconfigure_successful"
    (subentry,) = bootstrapping.subentries.values()
    assert subentry.data["bootstrap_key"] == BOOTSTRAP_KEY and subentry.data["bootstrap_identity"] == "bs"


async def test_the_bootstrap_host_must_be_an_address_or_a_name(
    hass: HomeAssistant, bootstrapping: MockConfigEntry
) -> None:
    from custom_components.lwm2m.bootstrap_setup import uri_host

    result = await hass.config_entries.options.async_init(bootstrapping.entry_id)
    bad = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BOOTSTRAP_PORT: 5783, CONF_BOOTSTRAP_HOST: "192.168.1.2:5683"}
    )
    assert bad["errors"] == {CONF_BOOTSTRAP_HOST: "bootstrap_host_required"}
    assert uri_host("fd00::1") == "[fd00::1]" and uri_host("[fd00::1]") == "[fd00::1]"
    assert uri_host("192.168.1.2") == "192.168.1.2" and uri_host("ha.local") == "ha.local"


def test_what_each_listed_device_is_told() -> None:
    from custom_components.lwm2m.bootstrap_setup import bootstrap_configs, host_problem

    settings = {"port": 5683, "dtls_port": 5684, CONF_BOOTSTRAP_HOST: "fd00::1"}
    devices = [
        {
            "endpoint": "p",
            "mode": "psk",
            "identity": "p-id",
            "key": "00" * 16,
            "bootstrap_identity": "p-bs",
            "bootstrap_key": BOOTSTRAP_KEY,
        },
        {"endpoint": "n", "mode": "nosec"},
        {"endpoint": "c", "mode": "x509", "certificate": "..."},
    ]
    configs = bootstrap_configs(settings, devices)
    assert sorted(configs) == ["n", "p"]  # a device with a certificate keeps what it has
    assert configs["p"].uri == "coaps://[fd00::1]:5684" and configs["p"].identity == "p-id"
    assert configs["p"].bootstrap is not None and configs["p"].bootstrap.identity == "psk:p-bs"
    assert configs["n"].uri == "coap://[fd00::1]:5683" and configs["n"].bootstrap is None
    assert not host_problem("[fd00::1]") and not host_problem("ha.local") and host_problem("a b")
