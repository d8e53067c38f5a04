"""What the forms store where the user leaves a field as shown, and the MQTT repair issue going
away once MQTT is there."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from homeassistant import config_entries
from homeassistant.components.mqtt import util as mqtt_util
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClientGenerator

from custom_components.lwm2m.const import (
    CONF_AUTO_OBSERVE,
    CONF_MAX_LIFETIME,
    CONF_MIN_LIFETIME,
    CONF_MQTT_BRIDGE,
    CONF_XML_DIR,
    DOMAIN,
)

from .conftest import entry_data, free_udp_port, wait_for
from .test_config_flow import _start


async def test_live_updates_default_to_the_entities(hass: HomeAssistant, udp: None) -> None:
    form = await _start(hass, "server")
    data = entry_data(free_udp_port())
    del data[CONF_AUTO_OBSERVE], data[CONF_XML_DIR]
    done = await hass.config_entries.flow.async_configure(form["flow_id"], data)
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert done["data"][CONF_AUTO_OBSERVE] == "entities"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(done["result"].entry_id)


async def test_the_bridge_stays_off_unless_switched_on(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    options = await hass.config_entries.options.async_init(entry.entry_id)
    done = await hass.config_entries.options.async_configure(
        options["flow_id"], {CONF_MIN_LIFETIME: 1, CONF_MAX_LIFETIME: 600, CONF_AUTO_OBSERVE: "entities"}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY  # no topics step
    await hass.async_block_till_done()
    assert entry.options[CONF_MQTT_BRIDGE] is False and entry.options[CONF_MAX_LIFETIME] == 600


async def test_the_limits_are_offered_with_their_defaults_and_reach_the_server(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    options = await hass.config_entries.options.async_init(entry.entry_id)
    shown = {str(key): key.default() for key in options["data_schema"].schema if callable(key.default)}
    assert {k: shown[k] for k in ("max_registrations_per_host", "registration_rate", "notification_rate")} == {
        "max_registrations_per_host": 100,
        "registration_rate": 1000,
        "notification_rate": 10,
    }
    assert shown[CONF_MAX_LIFETIME] == 86400  # one day (the entry stored it)
    server = entry.runtime_data.source.config
    assert (server.max_registrations_per_host, server.registration_rate, server.notification_rate) == (100, 1000, 10)
    done = await hass.config_entries.options.async_configure(
        options["flow_id"],
        {
            CONF_MIN_LIFETIME: 1,
            CONF_MAX_LIFETIME: 600,
            CONF_AUTO_OBSERVE: "entities",
            "max_registrations_per_host": 3.0,  # the number box gives floats
            "registration_rate": 0,
            "notification_rate": 4,
        },
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["max_registrations_per_host"] == 3
    server = entry.runtime_data.source.config
    assert (server.max_registrations_per_host, server.registration_rate) == (3, 0)
    assert (server.notification_rate, server.notification_burst) == (4, 8)  # two seconds' worth saved up


async def test_a_new_server_entry_takes_the_default_limits(hass: HomeAssistant, udp: None) -> None:
    from custom_components.lwm2m import server_config

    config = server_config({})
    assert (config.max_registrations_per_host, config.registration_rate, config.notification_rate) == (100, 1000, 10)
    assert config.max_lifetime == 86400


def subscriptions(client: MagicMock) -> list[tuple[str, int]]:
    """The (topic, QoS) pairs the MQTT client asked the broker for."""
    out: list[tuple[str, int]] = []
    for c in client.subscribe.call_args_list:
        topics = c.args[0]
        out += (
            [(topics, c.args[1] if len(c.args) > 1 else c.kwargs.get("qos", 0))] if isinstance(topics, str) else topics
        )
    return out


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_the_mqtt_issue_goes_once_mqtt_is_set_up(
    hass: HomeAssistant,
    udp: None,
    mqtt_mock_entry: MqttMockHAClientGenerator,
    mqtt_client_mock: MagicMock,
    mock_hass_config: None,
    expected_lingering_timers: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MQTT's entry is there but not set up yet: waiting for its client gives up at once.
    monkeypatch.setattr(mqtt_util, "AVAILABILITY_TIMEOUT", 0.1)
    port = free_udp_port()
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=str(port),
        data=entry_data(port),
        options={CONF_MQTT_BRIDGE: True, "mqtt_command_qos": 1},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing") is not None
    await mqtt_mock_entry()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is config_entries.ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing") is None
    # The bridge takes commands at the QoS its options name.
    await wait_for(hass, lambda: ("lwm2m/+/dn/#", 1) in subscriptions(mqtt_client_mock), timeout=5)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
