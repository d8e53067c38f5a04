"""The config flow, options flow and reconfigure flow, every error and abort included."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path as FsPath

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import (
    CONF_AUTO_OBSERVE,
    CONF_COMMUNICATION_RETRY,
    CONF_HOST,
    CONF_MAX_LIFETIME,
    CONF_MIN_LIFETIME,
    CONF_MODE,
    CONF_MQTT_BRIDGE,
    CONF_MQTT_MOUNTPOINT,
    CONF_PORT,
    CONF_XML_DIR,
    DOMAIN,
)

from .conftest import entry_data, free_udp_port

STRINGS = json.loads((FsPath(__file__).parents[3] / "custom_components/lwm2m/strings.json").read_text())
ARGUMENT = re.compile(r"{\s*(\w+)\s*}")


def render(text: str, placeholders: dict[str, str]) -> str:
    """A translation as the frontend formats it (ICU MessageFormat arguments): an argument
    the flow does not pass is the frontend's "Translation Error"."""
    for name in ARGUMENT.findall(text):
        assert name in placeholders, f"{text!r} needs the placeholder {name!r}, which the form does not pass"
    rest = ARGUMENT.sub("", text)
    assert "{" not in rest and "}" not in rest, f"{text!r} has a brace that is no argument"
    return ARGUMENT.sub(lambda m: placeholders[m.group(1)], text)


def shown_texts(result: dict, flow: str = "config") -> list[str]:
    """Every text a form shows, rendered: title, description, each field's help, its errors."""
    texts = STRINGS[flow]
    step = texts["step"][result["step_id"]]
    placeholders = result.get("description_placeholders") or {}
    shown = [step.get("title", ""), step.get("description", ""), *step.get("data_description", {}).values()]
    shown += [texts["error"][error] for error in (result.get("errors") or {}).values()]
    return [render(text, placeholders) for text in shown]


async def _start(hass: HomeAssistant, mode: str) -> dict:
    """Add the integration: a menu first (a server here, or an EMQX gateway), then its form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.MENU and result["step_id"] == "user"
    assert result["menu_options"] == ["server", "emqx"]
    form = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": mode})
    assert form["type"] is FlowResultType.FORM and form["step_id"] == mode
    return form


async def _user(hass: HomeAssistant, data: dict) -> dict:
    form = await _start(hass, "server")
    return await hass.config_entries.flow.async_configure(form["flow_id"], data)


async def test_user_creates_an_entry_and_starts_the_server(hass: HomeAssistant, udp: None) -> None:
    port = free_udp_port()
    result = await _user(hass, entry_data(port, **{CONF_MIN_LIFETIME: 30.0}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"LwM2M server (UDP {port})"
    assert result["data"][CONF_PORT] == port and result["data"][CONF_MIN_LIFETIME] == 30
    assert result["data"][CONF_MODE] == "server"
    entry = result["result"]
    assert entry.unique_id == str(port)
    await hass.async_block_till_done()
    assert entry.state is config_entries.ConfigEntryState.LOADED
    assert entry.runtime_data.source.port == port
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({CONF_MIN_LIFETIME: 100, CONF_MAX_LIFETIME: 10}, CONF_MAX_LIFETIME, "lifetime_range"),
        ({CONF_XML_DIR: "/no/such/folder"}, CONF_XML_DIR, "xml_dir_invalid"),
        ({CONF_HOST: "not a host!"}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "192.0.2.1"}, CONF_HOST, "host_not_local"),  # not an address of this machine
    ],
)
async def test_user_errors(hass: HomeAssistant, udp: None, overrides: dict, field: str, error: str) -> None:
    result = await _user(hass, entry_data(free_udp_port(), **overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert shown_texts(result)[-1] == STRINGS["config"]["error"][error]


async def test_a_kernel_without_ipv6_is_named(hass: HomeAssistant, udp: None, monkeypatch) -> None:
    """udp6 needs IPv6 sockets even for IPv4 devices; a kernel without them gets a clear error."""
    from custom_components.lwm2m.lwm2m import transport

    real_socket = socket.socket

    def no_ipv6(family: int = socket.AF_INET, *args: object) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(97, "Address family not supported by protocol")
        return real_socket(family, *args)

    monkeypatch.setattr(transport.socket, "socket", no_ipv6)
    result = await _user(hass, entry_data(free_udp_port(), **{CONF_HOST: "0.0.0.0"}))
    assert result["errors"] == {"base": "no_ipv6"}
    assert "ipv6.disable=1" in shown_texts(result)[-1]


async def test_every_form_renders_its_texts(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Each form's texts format without a missing placeholder, as the frontend shows them."""
    for mode in ("server", "emqx"):
        assert shown_texts(await _start(hass, mode))
    assert shown_texts(await entry.start_reconfigure_flow(hass))
    options = await hass.config_entries.options.async_init(entry.entry_id)
    assert shown_texts(options, "options")
    topics = await hass.config_entries.options.async_configure(
        options["flow_id"],
        {CONF_MIN_LIFETIME: 1, CONF_MAX_LIFETIME: 600, CONF_AUTO_OBSERVE: "entities", CONF_MQTT_BRIDGE: True},
    )
    texts = shown_texts(topics, "options")
    assert any("${endpoint_name} is replaced by each device's endpoint name" in text for text in texts)


async def test_port_in_use_then_fixed(hass: HomeAssistant, udp: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        result = await _user(hass, entry_data(taken))
        assert result["errors"] == {CONF_PORT: "port_in_use"}
    port = free_udp_port()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(port))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_one_entry_per_port(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await _user(hass, entry_data(entry.data[CONF_PORT]))
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"


async def test_options_flow_restarts_the_server(hass: HomeAssistant, entry: MockConfigEntry, tmp_path) -> None:
    old_hub = entry.runtime_data
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "init"
    bad = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_MIN_LIFETIME: 50, CONF_MAX_LIFETIME: 5, CONF_AUTO_OBSERVE: "all"}
    )
    assert bad["errors"] == {CONF_MAX_LIFETIME: "lifetime_range"}
    done = await hass.config_entries.options.async_configure(
        bad["flow_id"],
        {
            CONF_MIN_LIFETIME: 20,
            CONF_MAX_LIFETIME: 600,
            CONF_AUTO_OBSERVE: "none",
            CONF_XML_DIR: str(tmp_path),
            CONF_MQTT_BRIDGE: False,
        },
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_MIN_LIFETIME: 20,
        CONF_MAX_LIFETIME: 600,
        CONF_AUTO_OBSERVE: "none",
        CONF_XML_DIR: str(tmp_path),
        CONF_COMMUNICATION_RETRY: True,  # on unless switched off
        CONF_MQTT_BRIDGE: False,
        "notification_events": False,  # off unless switched on
        "admission": "open",  # an entry from before admission existed keeps letting anyone in
        "bootstrap_port": 0,  # no bootstrap server unless asked for
        "bootstrap_host": "",
        # the limits, as shown
        "max_registrations_per_host": 100,
        "registration_rate": 1000,
        "notification_rate": 10,
    }
    hub = entry.runtime_data
    assert hub is not old_hub and not old_hub.source.running and hub.source.running
    assert hub.source.config.min_lifetime == 20 and hub.source.config.max_lifetime == 600
    assert hub.auto_observe == "none"


async def test_reconfigure_moves_the_server(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    old_port = entry.data[CONF_PORT]
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "reconfigure"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        bad = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(busy.getsockname()[1]))
    assert bad["errors"] == {CONF_PORT: "port_in_use"}
    new_port = free_udp_port()
    done = await hass.config_entries.flow.async_configure(bad["flow_id"], entry_data(new_port))
    assert done["type"] is FlowResultType.ABORT and done["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PORT] == new_port and entry.unique_id == str(new_port)
    assert entry.runtime_data.source.port == new_port
    # The old port is free again.
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.bind(("::", old_port))


async def test_reconfigure_keeping_the_port(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await entry.start_reconfigure_flow(hass)
    done = await hass.config_entries.flow.async_configure(
        result["flow_id"], entry_data(entry.data[CONF_PORT], **{CONF_MAX_LIFETIME: 1200})
    )
    assert done["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.runtime_data.source.config.max_lifetime == 1200


async def test_reconfigure_onto_another_entrys_port(hass: HomeAssistant, entry: MockConfigEntry, udp: None) -> None:
    other_port = free_udp_port()
    other = MockConfigEntry(domain=DOMAIN, unique_id=str(other_port), data=entry_data(other_port))
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    done = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(other_port))
    assert done["type"] is FlowResultType.ABORT and done["reason"] == "already_configured"


MQTT_FORM = {
    CONF_MQTT_MOUNTPOINT: "gw/${endpoint_name}/",
    "mqtt_update_msg_publish_condition": "always",
    "mqtt_command_topic": "dn/#",
    "mqtt_command_qos": "1",
    "mqtt_response_topic": "up/resp",
    "mqtt_response_qos": "0",
    "mqtt_notify_topic": "up/notify",
    "mqtt_notify_qos": "2",
    "mqtt_register_topic": "up/register",
    "mqtt_register_qos": "0",
    "mqtt_update_topic": "up/update",
    "mqtt_update_qos": "0",
}


async def test_options_switch_the_bridge_on_with_its_topics(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    settings = {CONF_MIN_LIFETIME: 1, CONF_MAX_LIFETIME: 600, CONF_AUTO_OBSERVE: "entities", CONF_MQTT_BRIDGE: True}
    topics = await hass.config_entries.options.async_configure(result["flow_id"], settings)
    assert topics["type"] is FlowResultType.FORM and topics["step_id"] == "mqtt"
    bad = await hass.config_entries.options.async_configure(
        topics["flow_id"],
        MQTT_FORM | {CONF_MQTT_MOUNTPOINT: "lwm2m/", "mqtt_notify_topic": "up/#", "mqtt_command_topic": "dn/#/x"},
    )
    assert bad["errors"] == {
        CONF_MQTT_MOUNTPOINT: "invalid_mountpoint",
        "mqtt_notify_topic": "invalid_topic",
        "mqtt_command_topic": "invalid_topic",
    }
    texts = shown_texts(bad, "options")
    assert "The mountpoint must contain ${endpoint_name} once and no MQTT wildcards." in texts
    done = await hass.config_entries.options.async_configure(bad["flow_id"], MQTT_FORM)
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_MQTT_BRIDGE] is True
    assert entry.options["mqtt_notify_qos"] == 2 and entry.options[CONF_MQTT_MOUNTPOINT] == "gw/${endpoint_name}/"
    # The bridge is on, but this Home Assistant has no MQTT: the server runs, a repair issue says why.
    assert entry.state is config_entries.ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing") is not None


async def test_an_emqx_gateway_entry_waits_for_mqtt(hass: HomeAssistant) -> None:
    form = await _start(hass, "emqx")
    bad = await hass.config_entries.flow.async_configure(
        form["flow_id"], MQTT_FORM | {CONF_MQTT_MOUNTPOINT: "gw/+/", CONF_AUTO_OBSERVE: "entities"}
    )
    assert bad["errors"] == {CONF_MQTT_MOUNTPOINT: "invalid_mountpoint"}
    texts = shown_texts(bad)
    assert "The mountpoint must contain ${endpoint_name} once and no MQTT wildcards." in texts
    assert any("with ${endpoint_name} where each device's endpoint name goes" in text for text in texts)
    done = await hass.config_entries.flow.async_configure(bad["flow_id"], MQTT_FORM | {CONF_AUTO_OBSERVE: "all"})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert done["title"] == "EMQX LwM2M gateway (gw/${endpoint_name}/)"
    assert done["data"][CONF_MODE] == "emqx" and done["data"]["mqtt_command_qos"] == 1
    entry = done["result"]
    assert entry.unique_id == "emqx gw/${endpoint_name}/"
    await hass.async_block_till_done()
    # No MQTT in this Home Assistant: the entry retries, and a repair issue tells the user.
    assert entry.state is config_entries.ConfigEntryState.SETUP_RETRY
    assert ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing") is not None
    again = await _start(hass, "emqx")
    same = await hass.config_entries.flow.async_configure(again["flow_id"], MQTT_FORM | {CONF_AUTO_OBSERVE: "all"})
    assert same["type"] is FlowResultType.ABORT and same["reason"] == "already_configured"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_keeps_the_options(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Moving the server keeps the MQTT bridge and its topics; what the form set wins."""
    options = {
        CONF_MIN_LIFETIME: 5,
        CONF_AUTO_OBSERVE: "none",
        CONF_MQTT_BRIDGE: True,
        CONF_MQTT_MOUNTPOINT: "gw/${endpoint_name}/",
        "mqtt_notify_qos": 2,
    }
    hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done()
    result = await entry.start_reconfigure_flow(hass)
    new_port = free_udp_port()
    done = await hass.config_entries.flow.async_configure(
        result["flow_id"], entry_data(new_port, **{CONF_MIN_LIFETIME: 30, CONF_AUTO_OBSERVE: "all"})
    )
    assert done["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.options == {CONF_MQTT_BRIDGE: True, CONF_MQTT_MOUNTPOINT: "gw/${endpoint_name}/", "mqtt_notify_qos": 2}
    hub = entry.runtime_data
    assert hub.source.port == new_port and hub.source.config.min_lifetime == 30 and hub.auto_observe == "all"


async def test_an_emqx_entry_reconfigures_and_keeps_its_options(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="emqx gw/${endpoint_name}/",
        data={CONF_MODE: "emqx", CONF_XML_DIR: "", **MQTT_FORM, CONF_AUTO_OBSERVE: "entities"},
        options={CONF_AUTO_OBSERVE: "none", "extra_option": 1},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_emqx" and shown_texts(result)
    bad = await hass.config_entries.flow.async_configure(
        result["flow_id"], MQTT_FORM | {CONF_MQTT_MOUNTPOINT: "nothing/", CONF_AUTO_OBSERVE: "all"}
    )
    assert bad["errors"] == {CONF_MQTT_MOUNTPOINT: "invalid_mountpoint"} and shown_texts(bad)
    done = await hass.config_entries.flow.async_configure(
        bad["flow_id"], MQTT_FORM | {CONF_MQTT_MOUNTPOINT: "gw2/${endpoint_name}/", CONF_AUTO_OBSERVE: "all"}
    )
    assert done["type"] is FlowResultType.ABORT and done["reason"] == "reconfigure_successful"
    assert entry.unique_id == "emqx gw2/${endpoint_name}/"
    assert entry.title == "EMQX LwM2M gateway (gw2/${endpoint_name}/)"
    assert entry.data[CONF_AUTO_OBSERVE] == "all" and entry.options == {"extra_option": 1}
    # Another gateway entry's mountpoint is refused.
    other = MockConfigEntry(domain=DOMAIN, unique_id="emqx gw3/${endpoint_name}/", data=dict(entry.data))
    other.add_to_hass(hass)
    again = await entry.start_reconfigure_flow(hass)
    taken = await hass.config_entries.flow.async_configure(
        again["flow_id"], MQTT_FORM | {CONF_MQTT_MOUNTPOINT: "gw3/${endpoint_name}/", CONF_AUTO_OBSERVE: "all"}
    )
    assert taken["type"] is FlowResultType.ABORT and taken["reason"] == "already_configured"
    await hass.async_block_till_done()


async def test_the_options_of_an_emqx_entry(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="emqx gw/${endpoint_name}/",
        data={CONF_MODE: "emqx", CONF_XML_DIR: "", **MQTT_FORM, CONF_AUTO_OBSERVE: "entities"},
    )
    entry.add_to_hass(hass)
    form = await hass.config_entries.options.async_init(entry.entry_id)
    assert form["step_id"] == "emqx" and shown_texts(form, "options")
    bad = await hass.config_entries.options.async_configure(
        form["flow_id"],
        MQTT_FORM | {"mqtt_update_topic": "up/+", "mqtt_response_topic": "/", CONF_AUTO_OBSERVE: "none"},
    )
    assert bad["errors"] == {"mqtt_update_topic": "invalid_topic", "mqtt_response_topic": "invalid_topic"}
    assert shown_texts(bad, "options")
    done = await hass.config_entries.options.async_configure(
        bad["flow_id"], MQTT_FORM | {"mqtt_update_topic": "/up/changed/ ", CONF_AUTO_OBSERVE: "none"}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["mqtt_update_topic"] == "up/changed" and entry.options[CONF_AUTO_OBSERVE] == "none"
    assert entry.options["mqtt_command_qos"] == 1
    await hass.async_block_till_done()
