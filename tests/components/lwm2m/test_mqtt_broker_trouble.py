"""The MQTT bridge and the EMQX consumer when the broker goes away or refuses a publish.

Home Assistant's MQTT integration runs on its test double of paho here (mqtt_mock_entry), so
the connection can be dropped and a publish made to fail at will; test_mqtt_bridge.py and
test_emqx_consumer.py cover the same paths with a real broker while it works.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClientGenerator

from custom_components.lwm2m.const import CONF_MODE, CONF_MQTT_BRIDGE, DOMAIN, MODE_EMQX
from tests.sim import SimClient

from .conftest import entry_data, free_udp_port, wait_for, wait_observed


def published(mqtt_mock: Any, topic: str) -> list[dict[str, Any]]:
    """The JSON payloads Home Assistant published on topic, in order."""
    return [json.loads(c.args[1]) for c in mqtt_mock.async_publish.call_args_list if c.args[0] == topic]


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_bridge_drops_what_it_cannot_publish_and_carries_on(
    hass: HomeAssistant,
    udp: None,
    mqtt_mock_entry: MqttMockHAClientGenerator,
    mock_hass_config: None,
    caplog: pytest.LogCaptureFixture,
    expected_lingering_timers: bool,
) -> None:
    caplog.set_level(logging.DEBUG, "custom_components.lwm2m.mqtt_bridge")
    mqtt_mock = await mqtt_mock_entry()
    port = free_udp_port()
    entry = MockConfigEntry(domain=DOMAIN, unique_id=str(port), data=entry_data(port), options={CONF_MQTT_BRIDGE: True})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client = SimClient("sim-1", port)
    try:
        await client.start()
        await wait_for(hass, lambda: published(mqtt_mock, "lwm2m/sim-1/up/resp"))
        assert published(mqtt_mock, "lwm2m/sim-1/up/resp")[0]["msgType"] == "register"
        await wait_observed(hass, "sim-1", "/3303/0/5700")
        temperature = await wait_for(
            hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "sim-1_3303_0_5700")
        )

        # "+" matches an empty level, so this reaches the bridge; it names no endpoint: no answer
        read = {"reqID": 1, "msgType": "read", "data": {"path": "/3/0/0"}}
        async_fire_mqtt_message(hass, "lwm2m//dn/cmd", json.dumps(read))
        await hass.async_block_till_done()
        assert not [c for c in mqtt_mock.async_publish.call_args_list if "lwm2m//" in c.args[0]]
        async_fire_mqtt_message(hass, "lwm2m/sim-1/dn/cmd", json.dumps(read))
        answer = await wait_for(
            hass, lambda: [p for p in published(mqtt_mock, "lwm2m/sim-1/up/resp") if p.get("reqID") == 1]
        )
        assert answer[0]["data"]["content"] == [{"path": "/3/0/0", "value": "Simulated Devices Inc."}]

        # broker away: the notification is dropped, as EMQX's gateway drops it, and noted
        mqtt_mock.connected = False
        client.set_value("/3303/0/5700", 30.0)
        await wait_for(hass, lambda: hass.states.get(temperature).state == "30.0")
        await wait_for(hass, lambda: "MQTT is disconnected; dropping a notify message" in caplog.text)
        assert published(mqtt_mock, "lwm2m/sim-1/up/notify") == []

        # back, but a publish fails: logged, nothing else breaks
        mqtt_mock.connected = True
        mqtt_mock.async_publish.side_effect = HomeAssistantError("broker said no")
        client.set_value("/3303/0/5700", 31.0)
        await wait_for(hass, lambda: hass.states.get(temperature).state == "31.0")
        await wait_for(hass, lambda: "Publishing to MQTT failed: broker said no" in caplog.text)

        mqtt_mock.async_publish.side_effect = None
        mqtt_mock.async_publish.reset_mock()
        client.set_value("/3303/0/5700", 32.0)
        notes = await wait_for(hass, lambda: published(mqtt_mock, "lwm2m/sim-1/up/notify"))
        assert notes[-1]["data"]["content"] == [{"path": "/3303/0/5700", "value": 32.0}]
    finally:
        await client.stop()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_consumer_commands_fail_fast_while_the_broker_is_away(
    hass: HomeAssistant,
    mqtt_mock_entry: MqttMockHAClientGenerator,
    mock_hass_config: None,
    expected_lingering_timers: bool,
) -> None:
    mqtt_mock = await mqtt_mock_entry()
    commands: list[dict[str, Any]] = []

    async def gateway(message: mqtt.ReceiveMessage) -> None:
        """An EMQX gateway with one device, answering every command at once."""
        command = json.loads(message.payload)
        commands.append(command)
        data: dict[str, Any] = {"reqPath": command["data"].get("path", ""), "code": "2.04"}
        if command["msgType"] in ("read", "observe"):
            data |= {"code": "2.05", "content": [{"path": "/3/0/9", "value": 95}]}
        response = {"reqID": command["reqID"], "msgType": command["msgType"], "data": data}
        async_fire_mqtt_message(hass, "lwm2m/far-1/up/resp", json.dumps(response))

    unsubscribe = await mqtt.async_subscribe(hass, "lwm2m/+/dn/cmd", gateway)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="EMQX LwM2M gateway (lwm2m/${endpoint_name}/)",
        unique_id="emqx lwm2m/${endpoint_name}/",
        data={CONF_MODE: MODE_EMQX, "auto_observe": "entities"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        register = {"msgType": "register", "data": {"ep": "far-1", "lt": 300, "lwm2m": "1.1", "objectList": ["/3/0"]}}
        async_fire_mqtt_message(hass, "lwm2m/far-1/up/resp", json.dumps(register))
        battery = await wait_for(hass, lambda: er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "far-1_3_0_9"))
        await wait_for(hass, lambda: hass.states.get(battery).state == "95")

        async def read() -> Any:
            return await hass.services.async_call(
                DOMAIN, "read", {"endpoint": "far-1", "path": "/3/0/9"}, blocking=True, return_response=True
            )

        assert await read() == {"code": "2.05", "values": {"/3/0/9": 95}}
        sent = len(commands)

        mqtt_mock.connected = False
        with pytest.raises(HomeAssistantError) as info:
            await read()
        assert info.value.translation_key == "refused"
        assert info.value.translation_placeholders["code"] == "5.03"
        assert info.value.translation_placeholders["error"] == (
            "MQTT is disconnected; the command was not sent to the gateway"
        )
        assert len(commands) == sent  # nothing went out

        mqtt_mock.connected = True
        mqtt_mock.async_publish.side_effect = HomeAssistantError("broker said no")
        with pytest.raises(HomeAssistantError) as info:
            await read()
        assert info.value.translation_placeholders["code"] == "5.03"
        assert info.value.translation_placeholders["error"] == "publishing the command to MQTT failed: broker said no"

        mqtt_mock.async_publish.side_effect = None
        assert await read() == {"code": "2.05", "values": {"/3/0/9": 95}}
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        unsubscribe()
        await hass.async_block_till_done()
