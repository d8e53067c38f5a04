"""The consumer mode across two Home Assistant instances and a real broker.

A real Home Assistant process runs the LwM2M server with the MQTT bridge on (it plays the
EMQX gateway), a simulated device registers with it over UDP, and the Home Assistant of
this test takes that device over Mosquitto with an "EMQX LwM2M gateway" entry: device,
entities, live values, switches and services, all through the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path as FsPath
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_MODE, CONF_MQTT_BRIDGE, DOMAIN, MODE_EMQX, MODE_SERVER
from custom_components.lwm2m.lwm2m.emqx import EmqxGateway
from custom_components.lwm2m.lwm2m.path import Path
from tests.core.external import LIVE_HOME_ASSISTANT, MOSQUITTO
from tests.live.broker import Broker, Listener
from tests.live.hass import HassProcess, config_entry, prepare
from tests.sim import SimClient

from .conftest import entry_data, free_udp_port, wait_for

P = Path.parse
# A missing piece fails these tests (LWM2M_SKIP_MISSING=1, or LWM2M_LIVE=0 for the live
# Home Assistant, skips them instead): tests/core/external.py.
pytestmark = [MOSQUITTO.mark, LIVE_HOME_ASSISTANT.mark]


@pytest.fixture
async def broker(tmp_path: FsPath, udp: None) -> AsyncGenerator[Broker]:
    server = Broker(tmp_path)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def far(tmp_path: FsPath, broker: Broker) -> AsyncGenerator[tuple[HassProcess, int]]:
    """The other Home Assistant: LwM2M server on a UDP port, bridge on, same broker."""
    port = free_udp_port()
    entries = [
        config_entry("mqtt", "Mosquitto", {"broker": "127.0.0.1", "port": broker.port}),
        config_entry(
            DOMAIN,
            f"LwM2M server (UDP {port})",
            {CONF_MODE: MODE_SERVER, **entry_data(port)},
            {CONF_MQTT_BRIDGE: True},
            unique_id=str(port),
        ),
    ]
    folder = tmp_path / "far"
    process = HassProcess(folder)
    prepare(folder, port=process.port, name="Far", entries=entries)
    await process.start()
    yield process, port
    await process.stop()


async def _answered(listener: Listener, endpoint: str, timeout: float = 60) -> None:
    """The far bridge subscribes some seconds after MQTT connects: ping until it answers."""
    async with asyncio.timeout(timeout):
        while True:
            listener.command(endpoint, {"reqID": "ping", "msgType": "read", "data": {"path": "/3/0/9"}})
            try:
                await listener.expect(f"lwm2m/{endpoint}/up/resp", {"reqID": "ping"}, timeout=1)
                return
            except TimeoutError:
                continue


def _entity(hass: HomeAssistant, endpoint: str, path: str, platform: str) -> str | None:
    unique_id = f"{endpoint}_{'_'.join(path.strip('/').split('/'))}"
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_devices_of_another_home_assistant_s_bridge(
    hass: HomeAssistant,
    broker: Broker,
    far: tuple[HassProcess, int],
    mock_hass_config: None,
    expected_lingering_timers: bool,
) -> None:
    process, far_port = far
    listener = Listener(broker.port, hass.loop)
    client = SimClient("far-1", far_port, lifetime=300)
    try:
        await _answered(listener, "nobody")  # the far bridge is listening

        mqtt_entry = MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1", "port": broker.port})
        mqtt_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
        consumer = MockConfigEntry(
            domain=DOMAIN,
            title="EMQX LwM2M gateway (lwm2m/${endpoint_name}/)",
            unique_id="emqx lwm2m/${endpoint_name}/",
            data={CONF_MODE: MODE_EMQX, "auto_observe": "entities"},
        )
        consumer.add_to_hass(hass)
        assert await hass.config_entries.async_setup(consumer.entry_id)
        await hass.async_block_till_done()
        gateway = consumer.runtime_data.source
        assert isinstance(gateway, EmqxGateway)
        # Our subscriptions are live once the far bridge's answers to the pings reach us.
        async with asyncio.timeout(60):
            while gateway.unmatched_responses == 0:
                listener.command("nobody", {"reqID": "ping", "msgType": "read", "data": {"path": "/3/0/9"}})
                await asyncio.sleep(0.5)

        await client.start()  # registers with the far Home Assistant, over UDP

        device = await wait_for(
            hass,
            lambda: next(
                (d for d in dr.async_entries_for_config_entry(dr.async_get(hass), consumer.entry_id) if d.manufacturer),
                None,
            ),
            timeout=60,
        )
        assert (DOMAIN, "far-1") in device.identifiers
        assert device.manufacturer == "Simulated Devices Inc." and device.model == "Sim-1"
        assert device.sw_version == "1.2.3"

        temperature = await wait_for(hass, lambda: _entity(hass, "far-1", "/3303/0/5700", "sensor"), timeout=30)
        assert await wait_for(hass, lambda: hass.states.get(temperature).state == "21.5", timeout=30)
        battery = _entity(hass, "far-1", "/3/0/9", "sensor")
        assert battery is not None and hass.states.get(battery).state == "95"

        # Live values: the device notifies the far server, its bridge publishes, we update.
        await wait_for(hass, lambda: ("far-1", P("/3303/0/5700")) in gateway.observations, timeout=30)
        client.set_value("/3303/0/5700", 24.75)
        assert await wait_for(hass, lambda: hass.states.get(temperature).state == "24.75", timeout=30)

        # A switch in this Home Assistant reaches the device behind the other one.
        light = _entity(hass, "far-1", "/3311/0/5850", "switch")
        assert light is not None
        await hass.services.async_call("switch", "turn_on", {"entity_id": light}, blocking=True)
        assert client.values[P("/3311/0/5850")] is True
        assert hass.states.get(light).state == "on"

        # Services work on it as on a device of the built-in server.
        read: Any = await hass.services.async_call(
            DOMAIN, "read", {"endpoint": "far-1", "path": "batteryLevel"}, blocking=True, return_response=True
        )
        assert read == {"code": "2.05", "values": {"/3/0/9": 95}}
        await hass.services.async_call(
            DOMAIN, "execute", {"device_id": device.id, "path": "/3/0/4"}, blocking=True, return_response=True
        )
        assert client.executed and client.executed[-1][0] == P("/3/0/4")
        written: Any = await hass.services.async_call(
            DOMAIN,
            "write",
            {"endpoint": "far-1", "path": "/3311/0/5851", "value": 33},
            blocking=True,
            return_response=True,
        )
        assert written["code"] == "2.04" and client.values[P("/3311/0/5851")] == 33

        await hass.config_entries.async_unload(consumer.entry_id)
        await asyncio.sleep(0.5)
        await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()
    finally:
        listener.stop()
        await client.stop()
        print(process.log()[-3000:])  # shown when the test fails
