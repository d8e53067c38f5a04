"""coaps:// in Home Assistant: the DTLS port in the flows, credentials in the options flow, a
device with a PSK becoming a device with entities, keys kept out of diagnostics."""

from __future__ import annotations

import json
from typing import Any

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import (
    CONF_DTLS_PORT,
    CONF_PORT,
    CONF_SERVER_CERTIFICATE,
    DOMAIN,
    SUBENTRY_DEVICE,
)
from custom_components.lwm2m.diagnostics import async_get_config_entry_diagnostics
from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.security.certificates import self_signed
from tests.components.lwm2m.conftest import server_entry, wait_for
from tests.live.broker import free_udp_port
from tests.sim import SimClient


@pytest.fixture
async def dtls_entry(hass: HomeAssistant, udp: None) -> Any:
    async with server_entry(hass, **{CONF_DTLS_PORT: free_udp_port()}) as entry:
        yield entry


async def _add(hass: HomeAssistant, entry: MockConfigEntry, form: dict[str, Any]) -> Any:
    """Add device, on the entry's page: the device list's subentry flow, with form submitted."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    return await hass.config_entries.subentries.async_configure(result["flow_id"], form)


def _listed(entry: MockConfigEntry) -> list[dict[str, Any]]:
    return [dict(s.data) for s in entry.subentries.values() if s.subentry_type == SUBENTRY_DEVICE]


async def test_the_server_step_takes_a_dtls_port(hass: HomeAssistant, udp: None) -> None:
    port = free_udp_port()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "server"})
    fields = {"host": "127.0.0.1", "port": port, "min_lifetime": 10, "max_lifetime": 86400}
    same = await hass.config_entries.flow.async_configure(result["flow_id"], {**fields, CONF_DTLS_PORT: port})
    assert same["errors"] == {CONF_DTLS_PORT: "same_port"}
    dtls_port = free_udp_port()
    done = await hass.config_entries.flow.async_configure(same["flow_id"], {**fields, CONF_DTLS_PORT: dtls_port})
    assert done["type"] is FlowResultType.CREATE_ENTRY and done["data"][CONF_DTLS_PORT] == dtls_port
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.runtime_data.source.dtls_port == dtls_port
    assert entry.data[CONF_SERVER_CERTIFICATE].startswith("-----BEGIN CERTIFICATE-----")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_psk_device_added_in_the_options_becomes_a_device(hass: HomeAssistant, dtls_entry: Any) -> None:
    result = await _add(hass, dtls_entry, {"endpoint": "tracker-1", "security_mode": "psk"})
    assert result["step_id"] == "key"  # no key given: one is made and shown once
    key = result["description_placeholders"]["key"]
    assert len(bytes.fromhex(key)) == 16 and result["description_placeholders"]["identity"] == "tracker-1"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _listed(dtls_entry) == [{"endpoint": "tracker-1", "mode": "psk", "identity": "tracker-1", "key": key}]

    source = dtls_entry.runtime_data.source
    client = SimClient("tracker-1", source.dtls_port, dtls=ClientContext(psk=(b"tracker-1", bytes.fromhex(key))))
    plain = SimClient("tracker-1", dtls_entry.data[CONF_PORT])
    try:
        await client.start()
        registry = dr.async_get(hass)
        devices = await wait_for(hass, lambda: dr.async_entries_for_config_entry(registry, dtls_entry.entry_id))
        assert [d.identifiers for d in devices] == [{(DOMAIN, "tracker-1")}]
        state = await wait_for(hass, lambda: hass.states.get("sensor.tracker_1_temperature"))
        assert state.state == "21.5"
        client.set_value("/3303/0/5700", 24.0)
        await wait_for(hass, lambda: hass.states.get("sensor.tracker_1_temperature").state == "24.0")
        await plain.start(register=False)
        assert (await plain.register()).code.dotted == "4.03"  # its name cannot be taken over plain UDP
        diagnostics = await async_get_config_entry_diagnostics(hass, dtls_entry)
        text = json.dumps(diagnostics)
        assert key not in text and "BEGIN PRIVATE KEY" not in text
        server = diagnostics["server"]["dtls"]
        assert server["handshakes"] == 1 and server["credentials"][0]["key"] == "**REDACTED**"
        assert "tracker-1" not in json.dumps(diagnostics["entry"]["options"])
    finally:
        await client.stop()
        await plain.stop()


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({"endpoint": "a/b", "security_mode": "psk"}, {"endpoint": "invalid_endpoint"}),
        ({"endpoint": "x", "security_mode": "psk", "psk_key": "zz"}, {"psk_key": "invalid_credential"}),
        ({"endpoint": "x", "security_mode": "x509"}, {"certificate": "certificate_required"}),
        ({"endpoint": "x", "security_mode": "x509", "certificate": "junk"}, {"certificate": "invalid_credential"}),
    ],
)
async def test_bad_credentials_are_explained(
    hass: HomeAssistant, dtls_entry: Any, form: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await _add(hass, dtls_entry, form)
    assert result["type"] is FlowResultType.FORM and result["errors"] == errors


async def test_credentials_are_kept_replaced_and_removed(hass: HomeAssistant, dtls_entry: Any) -> None:
    certificate = self_signed("meter-1")[0]
    key = "00112233445566778899aabbccddeeff"
    result = await _add(hass, dtls_entry, {"endpoint": "meter-1", "security_mode": "x509", "certificate": certificate})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    result = await _add(
        hass, dtls_entry, {"endpoint": "gas", "security_mode": "psk", "psk_identity": "g", "psk_key": key}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert [c["endpoint"] for c in _listed(dtls_entry)] == ["meter-1", "gas"]
    # the same identity again is refused; other options leave the list alone
    again = await _add(
        hass, dtls_entry, {"endpoint": "gas2", "security_mode": "psk", "psk_identity": "g", "psk_key": key}
    )
    assert again["errors"] == {"endpoint": "credential_exists"}
    result = await hass.config_entries.options.async_init(dtls_entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"notification_rate": 5})
    await hass.async_block_till_done()
    assert len(_listed(dtls_entry)) == 2
    # a device's key changes (Reconfigure on its row), and one leaves the list (Delete)
    gas = next(s for s in dtls_entry.subentries.values() if s.unique_id == "gas")
    result = await hass.config_entries.subentries.async_init(
        (dtls_entry.entry_id, SUBENTRY_DEVICE),
        context={"source": config_entries.SOURCE_RECONFIGURE, "subentry_id": gas.subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    new_key = "ffeeddccbbaa99887766554433221100"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"security_mode": "psk", "psk_identity": "g", "psk_key": new_key}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    meter = next(s for s in dtls_entry.subentries.values() if s.unique_id == "meter-1")
    assert hass.config_entries.async_remove_subentry(dtls_entry, meter.subentry_id)
    await hass.async_block_till_done()
    assert [c["endpoint"] for c in _listed(dtls_entry)] == ["gas"]
    assert dtls_entry.runtime_data.source.config.credentials.for_endpoint("gas").psk_key == bytes.fromhex(new_key)


async def test_a_device_with_a_certificate_becomes_a_device(hass: HomeAssistant, dtls_entry: Any) -> None:
    certificate, key = self_signed("meter-7")
    result = await hass.config_entries.subentries.async_init(
        (dtls_entry.entry_id, SUBENTRY_DEVICE), context={"source": config_entries.SOURCE_USER}
    )
    server_certificate = dtls_entry.data[CONF_SERVER_CERTIFICATE]
    assert result["description_placeholders"]["server_certificate"] == server_certificate
    form = {"endpoint": "meter-7", "security_mode": "x509", "certificate": certificate}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    source = dtls_entry.runtime_data.source
    # the device pins the server's certificate, as LwM2M's Server Public Key resource says
    dtls = ClientContext(certificate=(certificate, key), server_certificate=server_certificate)
    client = SimClient("meter-7", source.dtls_port, dtls=dtls)
    try:
        await client.start()
        state = await wait_for(hass, lambda: hass.states.get("sensor.meter_7_temperature"))
        assert state.state == "21.5"
        assert source.registrations.by_endpoint("meter-7").identity.startswith("x509:")
    finally:
        await client.stop()


async def test_reconfigure_moves_and_switches_off_coaps(hass: HomeAssistant, dtls_entry: Any) -> None:
    new_port = free_udp_port()
    for dtls_port in (new_port, 0):
        result = await dtls_entry.start_reconfigure_flow(hass)
        fields = {"host": "127.0.0.1", "port": dtls_entry.data[CONF_PORT], "min_lifetime": 1, "max_lifetime": 86400}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**fields, CONF_DTLS_PORT: dtls_port}
        )
        assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert dtls_entry.runtime_data.source.dtls_port == dtls_port


async def test_the_security_sensor_says_how_a_device_connected(hass: HomeAssistant, dtls_entry: Any) -> None:
    key = "00112233445566778899aabbccddeeff"
    result = await _add(hass, dtls_entry, {"endpoint": "s-1", "security_mode": "psk", "psk_key": key})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    source = dtls_entry.runtime_data.source
    secure = SimClient("s-1", source.dtls_port, dtls=ClientContext(psk=(b"s-1", bytes.fromhex(key))))
    plain = SimClient("p-1", dtls_entry.data[CONF_PORT])
    registry = er.async_get(hass)
    try:
        await secure.start()
        await plain.start()
        ids = {}
        for name in ("s_1", "p_1"):
            entry = await wait_for(hass, lambda name=name: registry.async_get(f"sensor.{name}_security"))
            assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION  # a diagnostic, off by default
            registry.async_update_entity(entry.entity_id, disabled_by=None)
            ids[name] = entry.entity_id
        await hass.config_entries.async_reload(dtls_entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(
            hass, lambda: (hass.states.get(ids["s_1"]) or None) and hass.states.get(ids["s_1"]).state == "psk"
        )
        await wait_for(
            hass, lambda: (hass.states.get(ids["p_1"]) or None) and hass.states.get(ids["p_1"]).state == "nosec"
        )
    finally:
        await secure.stop()
        await plain.stop()


async def test_a_server_with_coaps_only_from_the_ui(hass: HomeAssistant, udp: None) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "server"})
    fields = {"host": "127.0.0.1", "port": 0, "min_lifetime": 10, "max_lifetime": 86400}
    none = await hass.config_entries.flow.async_configure(result["flow_id"], {**fields, CONF_DTLS_PORT: 0})
    assert none["errors"] == {"port": "no_port"}
    dtls_port = free_udp_port()
    done = await hass.config_entries.flow.async_configure(none["flow_id"], {**fields, CONF_DTLS_PORT: dtls_port})
    assert done["type"] is FlowResultType.CREATE_ENTRY and done["title"] == f"LwM2M server (coaps {dtls_port})"
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == f"coaps {dtls_port}"
    assert entry.runtime_data.source.port == 0 and entry.runtime_data.source.dtls_port == dtls_port
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"endpoint": "", "security_mode": "psk", "psk_key": "00112233445566778899aabbccddeeff"},
            {"endpoint": "invalid_endpoint"},
        ),
        ({"endpoint": "y", "security_mode": "psk", "psk_identity": "x" * 200}, {"psk_identity": "invalid_credential"}),
    ],
)
async def test_credentials_errors_land_on_their_field(
    hass: HomeAssistant, dtls_entry: Any, form: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await _add(hass, dtls_entry, form)
    assert result["type"] is FlowResultType.FORM and result["errors"] == errors


async def test_a_nosec_device_in_the_list_and_a_zero_dtls_port_kept_in_the_form(
    hass: HomeAssistant, dtls_entry: Any
) -> None:
    result = await _add(hass, dtls_entry, {"endpoint": "plain-1", "security_mode": "nosec"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _listed(dtls_entry) == [{"endpoint": "plain-1", "mode": "nosec"}]
    # a form shown again after an error keeps the user's 0 (coaps:// off), not the default 5684
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "server"})
    fields = {"host": "not-an-address", "port": free_udp_port(), "min_lifetime": 10, "max_lifetime": 86400}
    again = await hass.config_entries.flow.async_configure(result["flow_id"], {**fields, CONF_DTLS_PORT: 0})
    assert again["errors"] == {"host": "invalid_host"}
    (dtls_field,) = [key for key in again["data_schema"].schema if key == CONF_DTLS_PORT]
    assert dtls_field.default() == 0


async def test_a_psk_key_written_as_text(hass: HomeAssistant, dtls_entry: Any) -> None:
    form = {"endpoint": "t-1", "security_mode": "psk", "psk_key": "0123456789abcdeX", "psk_key_format": "text"}
    result = await _add(hass, dtls_entry, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _listed(dtls_entry)[0]["key"] == b"0123456789abcdeX".hex()
    credentials = dtls_entry.runtime_data.source.config.credentials
    assert credentials.for_endpoint("t-1").psk_key == b"0123456789abcdeX"


async def test_the_device_list_changes_without_a_restart(hass: HomeAssistant, dtls_entry: Any) -> None:
    """Adding a device keeps every session; taking one off ends its registration at once."""
    key = "00112233445566778899aabbccddeeff"
    assert (await _add(hass, dtls_entry, {"endpoint": "k-1", "security_mode": "psk", "psk_key": key}))["type"] is (
        FlowResultType.CREATE_ENTRY
    )
    await hass.async_block_till_done()
    hub = dtls_entry.runtime_data
    source = hub.source
    client = SimClient("k-1", source.dtls_port, dtls=ClientContext(psk=(b"k-1", bytes.fromhex(key))))
    try:
        await client.start()
        result = await _add(hass, dtls_entry, {"endpoint": "k-2", "security_mode": "nosec"})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert dtls_entry.runtime_data is hub and source.running  # no restart
        assert source.transport.dtls.session_count() == 1  # the device's session goes on
        assert (await source.endpoint("k-1").read("/3/0/9")).value("/3/0/9") == 95
        assert source.config.credentials.for_endpoint("k-2") is not None
        listed = next(s for s in dtls_entry.subentries.values() if s.unique_id == "k-1")
        assert hass.config_entries.async_remove_subentry(dtls_entry, listed.subentry_id)
        await hass.async_block_till_done()
        assert "k-1" not in source.registrations  # its credential is gone: so is its registration
        assert (await client.update()).code.dotted == "4.04"  # register again...
        assert (await client.register()).code.dotted == "4.03"  # ...which its identity no longer may
    finally:
        await client.stop()
