"""Every LwM2M service against a simulated device over real UDP: results, errors, events, automations."""

from __future__ import annotations

import asyncio
import time

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.lwm2m.const import CONF_NOTIFICATION_EVENTS, DOMAIN
from custom_components.lwm2m.lwm2m.path import Path

from .conftest import wait_for, wait_observed
from .test_devices import _ready, get_device

P = Path.parse


async def call(hass: HomeAssistant, service: str, **data) -> dict:
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=True)


@pytest.fixture
async def sim(hass: HomeAssistant, entry: MockConfigEntry, device):
    client = await device("sim-1", version="1.1")
    await _ready(hass, "sim-1", "/3303/0/5700")
    return client


async def test_read_by_device_endpoint_and_key(hass: HomeAssistant, sim) -> None:
    device_id = get_device(hass, "sim-1").id
    assert await call(hass, "read", device_id=device_id, path="/3/0/9") == {"code": "2.05", "values": {"/3/0/9": 95}}
    result = await call(hass, "read", endpoint="sim-1", path="/3303/0")
    assert result["values"] == {"/3303/0/5700": 21.5, "/3303/0/5701": "Cel"}
    assert (await call(hass, "read", endpoint="sim-1", path="batteryLevel"))["values"] == {"/3/0/9": 95}
    assert (await call(hass, "read", endpoint="sim-1", path="Manufacturer"))["values"] == {
        "/3/0/0": "Simulated Devices Inc."
    }
    device_time = (await call(hass, "read", endpoint="sim-1", path="/3/0/13"))["values"]["/3/0/13"]
    assert device_time == 1_700_000_000


async def test_write_execute_create_delete(hass: HomeAssistant, sim) -> None:
    assert await call(hass, "write", endpoint="sim-1", path="/3311/0/5850", value=True) == {
        "code": "2.04",
        "values": {"/3311/0/5850": True},
    }
    assert sim.values[P("/3311/0/5850")] is True
    await call(hass, "write", endpoint="sim-1", path="/1/0", value={"1": 120}, replace=False)
    assert sim.values[P("/1/0/1")] == 120 and sim.written[-1][0] == "update"
    assert await call(hass, "execute", endpoint="sim-1", path="/3/0/4", arguments="5") == {"code": "2.04"}
    assert sim.executed[-1] == (P("/3/0/4"), "5")
    created = await call(hass, "create", endpoint="sim-1", path="/3303", values={"5700": 18.5}, instance_id=4)
    assert created == {"code": "2.01", "location": "/3303/4"} and sim.values[P("/3303/4/5700")] == 18.5
    assert await call(hass, "delete", endpoint="sim-1", path="/3303/4") == {"code": "2.02"}
    assert P("/3303/4/5700") not in sim.values


async def test_discover_and_attributes(hass: HomeAssistant, sim) -> None:
    assert await call(hass, "write_attributes", endpoint="sim-1", path="/3303/0/5700", pmin=5, pmax=60, gt=25.5) == {
        "code": "2.04"
    }
    assert sim.attributes[P("/3303/0/5700")] == {"pmin": "5", "pmax": "60", "gt": "25.5"}
    result = await call(hass, "discover", endpoint="sim-1", path="/3303/0")
    assert result["code"] == "2.05" and result["attributes"]["/3303/0/5700"] == {"pmin": 5, "pmax": 60, "gt": 25.5}
    await call(hass, "write_attributes", endpoint="sim-1", path="/3303/0/5700", pmin=None)
    assert sim.attributes[P("/3303/0/5700")] == {"pmin": None}


@pytest.mark.parametrize("entry_options", [{CONF_NOTIFICATION_EVENTS: True}])  # the events are chosen
async def test_observation_services(hass: HomeAssistant, sim) -> None:
    notes = async_capture_events(hass, f"{DOMAIN}_notification")
    await wait_observed(hass, "sim-1", "/3303/0/5700")
    listed = await call(hass, "list_observations", endpoint="sim-1")
    assert "/3303/0/5700" in [o["paths"][0] for o in listed["observations"]]
    assert (await call(hass, "cancel_observe", endpoint="sim-1", path="/3303/0/5700"))["code"] == "2.05"
    assert all(str(p) != "/3303/0/5700" for (p,), _o in sim.root.observers)
    result = await call(hass, "observe", endpoint="sim-1", path="/3303/0/5700")
    assert result == {"code": "2.05", "values": {"/3303/0/5700": 21.5}}
    sim.set_value("/3303/0/5700", 30.0)
    await wait_for(hass, lambda: notes)
    event = notes[-1]
    assert event.data["endpoint"] == "sim-1" and event.data["path"] == "/3303/0/5700"
    assert event.data["values"] == {"/3303/0/5700": 30.0} and event.data["device_id"] == get_device(hass, "sim-1").id
    cancelled = await call(hass, "cancel_all_observations", endpoint="sim-1")
    assert cancelled["cancelled"] >= 1 and sim.root.observers == []


async def test_composite_services(hass: HomeAssistant, sim) -> None:
    result = await call(hass, "read_composite", endpoint="sim-1", paths=["/3/0/9", "/3303/0/5700"])
    assert result["values"] == {"/3/0/9": 95, "/3303/0/5700": 21.5}
    assert (await call(hass, "write_composite", endpoint="sim-1", values={"/3311/0/5851": 30}))["code"] == "2.04"
    assert sim.values[P("/3311/0/5851")] == 30


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("read", {"endpoint": "ghost", "path": "/3/0/9"}, "unknown_endpoint"),
        ("read", {"device_id": "not-a-device", "path": "/3/0/9"}, "unknown_device"),
        ("read", {"path": "/3/0/9"}, "no_target"),
        ("read", {"endpoint": "sim-1", "path": "/3/x"}, "invalid_path"),
        ("read", {"endpoint": "sim-1", "path": "nonsense"}, "unknown_key"),
        ("write", {"endpoint": "sim-1", "path": "/3311/0/5850", "value": "maybe"}, "invalid_value"),
        ("write", {"endpoint": "sim-1", "path": "/3311/0/5851", "value": 4.5}, "invalid_value"),
        ("execute", {"endpoint": "sim-1", "path": "/3/0"}, "invalid_path"),
        ("create", {"endpoint": "sim-1", "path": "/3303/0", "values": {"5700": 1}}, "invalid_path"),
        ("create", {"endpoint": "sim-1", "path": "/3303", "values": {"x": 1}}, "invalid_value"),
        ("write_attributes", {"endpoint": "sim-1", "path": "/3/0/9"}, "no_attributes"),
        ("write_attributes", {"endpoint": "sim-1", "path": "/3/0/9", "pmin": 1.5}, "invalid_value"),
    ],
)
async def test_validation_errors(
    hass: HomeAssistant, entry: MockConfigEntry, sim, service: str, data: dict, key: str
) -> None:
    await wait_for(hass, lambda: not entry.runtime_data._setups)  # the reads after registering are done
    before = list(sim.requests)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_key == key
    await hass.async_block_till_done()
    # refused before anything was sent: the device saw no request at all
    assert sim.requests == before
    assert (sim.written, sim.executed, sim.created) == ([], [], [])


async def test_ambiguous_key(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("two", values={P("/3303/0/5700"): 1.0, P("/3304/0/5700"): 2.0}, executables=set())
    await _ready(hass, "two", "/3304/0/5700")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "read", endpoint="two", path="sensorValue")
    assert err.value.translation_key == "ambiguous_key"
    assert "/3303/0/5700" in err.value.translation_placeholders["paths"]


async def test_device_refusals_and_timeouts(hass: HomeAssistant, sim) -> None:
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "read", endpoint="sim-1", path="/3/0/99")
    assert err.value.translation_key == "refused"
    assert err.value.translation_placeholders["code"] == "4.04"
    assert err.value.translation_placeholders["meaning"] == "not found"
    sim.misbehave = "error"
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "execute", endpoint="sim-1", path="/3/0/4")
    assert err.value.translation_placeholders["code"] == "5.00"
    sim.misbehave = "silent"
    started = time.monotonic()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "read", endpoint="sim-1", path="/3/0/9", timeout=0.5)
    elapsed = time.monotonic() - started
    # The service's own deadline and the operation's are the same 0.5 s: whichever fires
    # first names the error ("timeout", or "no_answer" with the operation's message).
    placeholders = err.value.translation_placeholders
    assert placeholders["endpoint"] == "sim-1"
    if err.value.translation_key == "timeout":
        assert placeholders["timeout"] == "0.5"
    else:
        assert err.value.translation_key == "no_answer" and "within 0.5 s" in placeholders["error"]
    assert 0.45 <= elapsed < 3  # the call's timeout, not the default 30 s or a retransmission give-up
    assert sim.requests[-1][:2] == ("GET", "/3/0/9")


async def test_sleeping_device(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    entry.runtime_data.source.queue.window = 0.2
    client = await device("sleepy", version="1.1", queue_mode=True)
    await _ready(hass, "sleepy", "/3303/0/5700")
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    queue = entry.runtime_data.source.queue
    await client.sleep()
    await wait_for(hass, lambda: not queue.is_awake("sleepy"))  # its queue window (0.2 s) passed
    queued = await call(hass, "write", endpoint="sleepy", path="/3311/0/5850", value=True, wait=False)
    assert queued == {"status": "queued", "queued": 1}
    waiting = hass.async_create_task(call(hass, "read", endpoint="sleepy", path="/3/0/9", timeout=10))
    async with asyncio.timeout(5):  # (not wait_for: Home Assistant would wait for the read itself)
        while queue.queued("sleepy") != 2:  # the read waits behind the write
            await asyncio.sleep(0.01)
    assert not waiting.done() and client.values[P("/3311/0/5850")] is False
    await client.wake()
    assert (await waiting)["values"] == {"/3/0/9": 95}
    await wait_for(hass, lambda: client.values[P("/3311/0/5850")] is True)
    await client.sleep()
    await asyncio.sleep(0.3)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "read", endpoint="sleepy", path="/3/0/9", timeout=0.3)
    assert err.value.translation_key == "timeout"
    await client._open(client.local_port)


async def test_bus_events(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    captured = {
        name: async_capture_events(hass, f"{DOMAIN}_{name}")
        for name in ("registered", "updated", "deregistered", "expired", "send")
    }
    client = await device("ev", version="1.1", lifetime=300)
    await wait_for(hass, lambda: captured["registered"])
    registered = captured["registered"][0].data
    assert registered["endpoint"] == "ev" and registered["lifetime"] == 300 and registered["lwm2m_version"] == "1.1"
    assert registered["device_id"] == get_device(hass, "ev").id
    await client.update()
    await wait_for(hass, lambda: captured["updated"])
    await client.send([P("/3/0/9")])
    await wait_for(hass, lambda: captured["send"])
    assert captured["send"][0].data["values"] == {"/3/0/9": 95}
    await client.deregister()
    await wait_for(hass, lambda: captured["deregistered"])
    assert captured["deregistered"][0].data["endpoint"] == "ev"
    entry.runtime_data.source.config.grace_period = 0
    await client.register(query=["ep=ev", "lt=1", "lwm2m=1.1"])
    entry.runtime_data.source.config.expiry_check_interval = 0.05
    await wait_for(hass, lambda: captured["expired"], timeout=10)


async def test_automation_reboots_on_low_battery(hass: HomeAssistant, sim) -> None:
    battery = await _ready(hass, "sim-1", "/3/0/9")
    device_id = get_device(hass, "sim-1").id
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Reboot when the battery is low",
                "trigger": {"platform": "numeric_state", "entity_id": battery, "below": 10},
                "action": {"service": "lwm2m.execute", "data": {"device_id": device_id, "path": "/3/0/4"}},
            }
        },
    )
    await wait_observed(hass, "sim-1", "/3/0/9")
    sim.set_value("/3/0/9", 5)
    await wait_for(hass, lambda: sim.executed)
    assert sim.executed == [(P("/3/0/4"), "")]


@pytest.mark.parametrize("entry_options", [{CONF_NOTIFICATION_EVENTS: True}])  # the events are chosen
async def test_automation_triggered_by_a_notification(hass: HomeAssistant, sim) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Light on when it gets warm",
                "trigger": {
                    "platform": "event",
                    "event_type": "lwm2m_notification",
                    "event_data": {"endpoint": "sim-1", "path": "/3303/0/5700"},
                },
                "condition": "{{ trigger.event.data['values']['/3303/0/5700'] > 25 }}",
                "action": {
                    "service": "lwm2m.write",
                    "data": {"endpoint": "sim-1", "path": "/3311/0/5850", "value": True},
                },
            }
        },
    )
    await wait_observed(hass, "sim-1", "/3303/0/5700")
    notes = async_capture_events(hass, f"{DOMAIN}_notification")
    runs = async_capture_events(hass, "automation_triggered")
    sim.set_value("/3303/0/5700", 24.0)
    warm = {"/3303/0/5700": 24.0}
    await wait_for(hass, lambda: any(n.data["values"] == warm for n in notes))  # the automation saw it ...
    await hass.async_block_till_done()  # ... and finished with it: its condition said no
    assert runs == [] and sim.values[P("/3311/0/5850")] is False and sim.written == []
    sim.set_value("/3303/0/5700", 26.0)
    await wait_for(hass, lambda: sim.values[P("/3311/0/5850")] is True)
    assert len(runs) == 1 and [w[1] for w in sim.written] == [P("/3311/0/5850")]


async def test_services_are_described(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions) == {
        "read",
        "discover",
        "write",
        "execute",
        "write_attributes",
        "create",
        "delete",
        "observe",
        "cancel_observe",
        "cancel_all_observations",
        "list_observations",
        "read_composite",
        "write_composite",
        "update_firmware",
        "cancel_firmware",
    }
    read = descriptions["read"]
    assert read["fields"]["device_id"]["selector"]["device"]["integration"] == "lwm2m"
    assert "path" in read["fields"] and read["fields"]["path"]["required"] is True
    assert "pmin" in descriptions["write_attributes"]["fields"]


async def test_a_device_whose_entry_is_not_loaded(hass: HomeAssistant, entry: MockConfigEntry, sim) -> None:
    device_id = get_device(hass, "sim-1").id
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "read", device_id=device_id, path="/3/0/9")
    assert err.value.translation_key == "entry_not_loaded"
    assert err.value.translation_placeholders == {"device": "sim-1"}


async def test_reads_answer_with_data_and_actions_may_not(hass: HomeAssistant, sim) -> None:
    """read, discover, list_observations and read_composite only answer (SupportsResponse.ONLY);
    the others act, and their answer is optional."""
    for service, data in (
        ("read", {"path": "/3/0/9"}),
        ("discover", {"path": "/3/0"}),
        ("list_observations", {}),
        ("read_composite", {"paths": ["/3/0/9"]}),
    ):
        with pytest.raises(ServiceValidationError):
            await hass.services.async_call(DOMAIN, service, {"endpoint": "sim-1", **data}, blocking=True)
    await hass.services.async_call(
        DOMAIN, "write", {"endpoint": "sim-1", "path": "/3311/0/5850", "value": True}, blocking=True
    )
    assert sim.values[P("/3311/0/5850")] is True
