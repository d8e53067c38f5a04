"""The MQTT bridge against a real Mosquitto broker, Home Assistant's real MQTT integration and
an independent MQTT client (paho) that speaks the EMQX LwM2M gateway's JSON."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path as FsPath

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_MQTT_BRIDGE, CONF_PORT, DOMAIN
from custom_components.lwm2m.lwm2m.path import Path
from tests.core.external import MOSQUITTO
from tests.core.rawcoap import record_observe_numbers
from tests.live.broker import Broker, Listener
from tests.sim import SimClient

from .conftest import entry_data, free_udp_port, wait_for

P = Path.parse
# Without Mosquitto these tests fail, with the command that installs it; LWM2M_SKIP_MISSING=1
# skips them instead (tests/core/external.py).
pytestmark = MOSQUITTO.mark


@pytest.fixture
async def broker(tmp_path: FsPath, udp: None) -> AsyncGenerator[Broker]:
    server = Broker(tmp_path)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bridged(hass: HomeAssistant, broker: Broker, mock_hass_config: None) -> AsyncGenerator[MockConfigEntry]:
    mqtt_entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1", "port": broker.port})
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    await hass.async_block_till_done()
    port = free_udp_port()
    entry = MockConfigEntry(domain=DOMAIN, unique_id=str(port), data=entry_data(port), options={CONF_MQTT_BRIDGE: True})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await asyncio.sleep(0.5)  # Home Assistant sends the unsubscribe after a short cooldown
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def speaker(hass: HomeAssistant, broker: Broker) -> AsyncGenerator[Listener]:
    listener = Listener(broker.port, hass.loop)
    await asyncio.sleep(0.3)
    yield listener
    listener.stop()


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_every_message_both_ways(
    hass: HomeAssistant, bridged: MockConfigEntry, speaker: Listener, expected_lingering_timers: bool
) -> None:
    client = SimClient("sim-1", bridged.data[CONF_PORT], version="1.0", lifetime=300)
    await client.start()
    try:
        register = await speaker.expect("lwm2m/sim-1/up/resp", {"msgType": "register"})
        assert register["data"] == {
            "ep": "sim-1",
            "lwm2m": "1.0",
            "lt": 300,
            "b": "U",
            "alternatePath": "/",
            "objectList": ["/1/0", "/3/0", "/3303/0", "/3311/0"],
        }
        client.values[P("/3304/0/5700")] = 40.0
        await client.update(objects=True)
        update = await speaker.expect("lwm2m/sim-1/up/update", {"msgType": "update"})
        assert "/3304/0" in update["data"]["objectList"]

        await speaker.ready("sim-1")
        speaker.command("sim-1", {"reqID": 1, "msgType": "read", "data": {"path": "/3/0/1"}})
        read = await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 1})
        assert read == {
            "reqID": 1,
            "msgType": "read",
            "data": {
                "reqPath": "/3/0/1",
                "code": "2.05",
                "codeMsg": "content",
                "content": [{"path": "/3/0/1", "value": "Sim-1"}],
            },
        }

        speaker.command("sim-1", {"reqID": 2, "msgType": "discover", "data": {"path": "/3/0"}})
        discover = await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 2})
        assert discover["data"]["code"] == "2.05" and "</3/0/4>" in discover["data"]["content"]

        speaker.command(
            "sim-1",
            {"reqID": 3, "msgType": "write", "data": {"path": "/3311/0/5850", "type": "Boolean", "value": True}},
        )
        write = await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 3})
        assert write["data"] == {"reqPath": "/3311/0/5850", "code": "2.04", "codeMsg": "changed"}
        assert client.values[P("/3311/0/5850")] is True

        speaker.command(
            "sim-1",
            {
                "reqID": 4,
                "msgType": "write",
                "data": {
                    "basePath": "/1/0/",
                    "content": [
                        {"path": "1", "type": "Integer", "value": 120},
                        {"path": "7", "type": "String", "value": "U"},
                    ],
                },
            },
        )
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 4}))["data"]["code"] == "2.04"
        assert client.values[P("/1/0/1")] == 120

        speaker.command("sim-1", {"reqID": 5, "msgType": "write-attr", "data": {"path": "/3303/0/5700", "pmin": 5}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 5}))["data"]["codeMsg"] == "changed"
        assert client.attributes[P("/3303/0/5700")] == {"pmin": "5"}

        speaker.command("sim-1", {"reqID": 6, "msgType": "execute", "data": {"path": "/3/0/4", "args": "1"}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 6}))["data"]["code"] == "2.04"
        assert client.executed[-1] == (P("/3/0/4"), "1")

        speaker.command(
            "sim-1",
            {
                "reqID": 7,
                "msgType": "create",
                "data": {"basePath": "/3303", "content": [{"path": "2/5700", "type": "Float", "value": 18.5}]},
            },
        )
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 7}))["data"]["code"] == "2.01"
        assert client.values[P("/3303/2/5700")] == 18.5
        speaker.command("sim-1", {"reqID": 8, "msgType": "delete", "data": {"path": "/3303/2"}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 8}))["data"]["codeMsg"] == "deleted"

        sent = record_observe_numbers(client)  # the Observe options on the device's wire
        speaker.command("sim-1", {"reqID": 9, "msgType": "observe", "data": {"path": "/3303/0/5700"}})
        observed = await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 9})
        assert observed["data"]["content"] == [{"path": "/3303/0/5700", "value": 21.5}]
        client.set_value("/3303/0/5700", 23.5)
        notify = await speaker.expect("lwm2m/sim-1/up/notify", {"reqID": 9})
        # seqNum is the CoAP Observe number of the notification (EMQX: {?ObserveSeqNum}) on
        # the observation this command made (the entity's own may notify beside it)
        token = bridged.runtime_data.source.observations.get("sim-1", (P("/3303/0/5700"),)).token
        numbers = [number for sent_token, number in sent if sent_token == token]
        assert notify["msgType"] == "notify" and len(numbers) == 2 and notify["seqNum"] == numbers[-1]
        assert notify["data"] == {
            "code": "2.05",
            "codeMsg": "content",
            "reqPath": "/3303/0/5700",
            "content": [{"path": "/3303/0/5700", "value": 23.5}],
        }
        speaker.command("sim-1", {"reqID": 10, "msgType": "cancel-observe", "data": {"path": "/3303/0/5700"}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 10}))["data"]["code"] == "2.05"

        # Bad commands: an error response, never a crash.
        speaker.command("sim-1", b"{not json")
        bad = await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": None})
        assert bad["data"]["code"] == "4.00" and "JSON" in bad["data"]["content"]
        speaker.command("sim-1", {"reqID": 11, "msgType": "reboot", "data": {}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 11}))["data"]["code"] == "4.00"
        speaker.command("sim-1", {"reqID": 12, "msgType": "read", "data": {"path": "/3/0/99"}})
        assert (await speaker.expect("lwm2m/sim-1/up/resp", {"reqID": 12}))["data"]["code"] == "4.04"
        speaker.command("ghost", {"reqID": 13, "msgType": "read", "data": {"path": "/3/0/1"}})
        ghost = await speaker.expect("lwm2m/ghost/up/resp", {"reqID": 13})
        assert ghost["data"]["code"] == "4.04" and "not registered" in ghost["data"]["content"]
        # The integration itself goes on working.
        result = await hass.services.async_call(
            DOMAIN, "read", {"endpoint": "sim-1", "path": "/3/0/9"}, blocking=True, return_response=True
        )
        assert result["values"] == {"/3/0/9": 95}
    finally:
        await client.stop()


async def test_without_mqtt_a_repair_issue_explains(hass: HomeAssistant, udp: None) -> None:
    port = free_udp_port()
    entry = MockConfigEntry(domain=DOMAIN, unique_id=str(port), data=entry_data(port), options={CONF_MQTT_BRIDGE: True})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "mqtt_missing")
    assert issue is not None and issue.translation_key == "mqtt_missing"
    client = SimClient("alone", port)
    await client.start()
    try:
        await wait_for(hass, lambda: entry.runtime_data.registration("alone"))  # everything else works
    finally:
        await client.stop()
        await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_the_bridge_survives_a_broker_restart(
    hass: HomeAssistant, bridged: MockConfigEntry, broker: Broker, speaker: Listener, expected_lingering_timers: bool
) -> None:
    client = SimClient("sim-2", bridged.data[CONF_PORT], version="1.1")
    await client.start()
    try:
        await speaker.ready("sim-2")
        await asyncio.sleep(6)  # Home Assistant finishes its own subscriptions after a 5 s discovery cooldown
        await broker.stop()
        await asyncio.sleep(0.5)
        await broker.start()  # the same port: Home Assistant's MQTT client reconnects by itself
        await speaker.ready("sim-2")
        speaker.command("sim-2", {"reqID": 21, "msgType": "observe", "data": {"path": "/3303/0/5700"}})
        assert (await speaker.expect("lwm2m/sim-2/up/resp", {"reqID": 21}))["data"]["code"] == "2.05"
        client.set_value("/3303/0/5700", 19.0)
        notify = await speaker.expect("lwm2m/sim-2/up/notify", {"reqID": 21})
        assert notify["data"]["content"] == [{"path": "/3303/0/5700", "value": 19.0}]
    finally:
        await client.stop()
