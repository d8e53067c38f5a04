"""The device browser's WebSocket API: the device list, the tree, every operation, the live log."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_PORT, CONF_XML_DIR
from custom_components.lwm2m.lwm2m.path import Path
from tests.sim import SimClient
from tests.sim.client import DEFAULT_VALUES

from .conftest import server_entry, wait_for
from .test_devices import get_device
from .test_object_files import REGISTRY

P = Path.parse


@pytest.fixture
async def sim(hass: HomeAssistant, entry: MockConfigEntry, device: Any) -> SimClient:
    client = await device("sim-1", values={**DEFAULT_VALUES, P("/40000/0/1"): 7})
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    return client


def entry_observations(hass: HomeAssistant, endpoint: str) -> list[dict[str, Any]]:
    (entry,) = hass.config_entries.async_loaded_entries("lwm2m")
    return list(entry.runtime_data.source.endpoint(endpoint).observations())


async def ask(ws: Any, **msg: Any) -> dict[str, Any]:
    await ws.send_json_auto_id(msg)
    answer = await ws.receive_json()
    assert answer["type"] == "result", answer
    return answer


async def test_the_device_list(hass: HomeAssistant, sim: SimClient, hass_ws_client: Any) -> None:
    ws = await hass_ws_client(hass)
    answer = await ask(ws, type="lwm2m/devices")
    (item,) = answer["result"]["devices"]
    assert item["endpoint"] == "sim-1" and item["device_id"] == get_device(hass, "sim-1").id
    assert item["state"] == "registered" and item["available"] and item["transport"] == "udp"
    assert item["security"] == "nosec"
    assert item["lwm2m_version"] == "1.1" and item["lifetime"] == 60 and item["binding"] == "U"
    assert item["manufacturer"] == "Simulated Devices Inc." and item["firmware"] == "1.2.3"
    assert item["messages_out"] > 0 and item["messages_in"] > 0 and item["last_seen"] > 0
    # the device page links to the device in the browser
    assert get_device(hass, "sim-1").configuration_url == "homeassistant://lwm2m/device/sim-1"


async def test_the_tree_names_and_types_from_the_model(
    hass: HomeAssistant, sim: SimClient, hass_ws_client: Any
) -> None:
    ws = await hass_ws_client(hass)
    result = (await ask(ws, type="lwm2m/device/tree", endpoint="sim-1"))["result"]
    assert result["device"]["endpoint"] == "sim-1"
    objects = {o["id"]: o for o in result["objects"]}
    assert objects[3]["name"] == "Device" and objects[3]["known"]
    (instance,) = objects[3]["instances"]
    resources = {r["id"]: r for r in instance["resources"]}
    assert resources[0]["name"] == "Manufacturer" and resources[0]["value"] == "Simulated Devices Inc."
    assert resources[0]["operations"] == "R" and resources[0]["type"] == "string" and resources[0]["at"] > 0
    assert resources[4]["operations"] == "E" and "value" not in resources[4]  # Reboot
    assert resources[9]["units"] == "%" and (resources[9]["min"], resources[9]["max"]) == (0, 100)
    assert resources[7]["multiple"] and resources[7]["instances"] == {"0": 3800, "1": 5000}
    light = {r["id"]: r for r in objects[3311]["instances"][0]["resources"]}
    assert light[5850]["operations"] == "RW" and light[5850]["type"] == "boolean"
    temperature = {r["id"]: r for r in objects[3303]["instances"][0]["resources"]}
    assert temperature[5700]["observed"] or objects[3303]["instances"][0]["observed"]
    unknown = objects[40000]
    assert unknown["name"] is None and not unknown["known"]
    assert unknown["instances"][0]["resources"] == [
        {
            "id": 1,
            "path": "/40000/0/1",
            "name": None,
            "type": None,
            "operations": "",
            "multiple": False,
            "mandatory": False,
            "units": "",
            "min": None,
            "max": None,
            "enum": None,
            "observed": True,  # its (generic) entity observes it
            "value": 7,
            "at": unknown["instances"][0]["resources"][0]["at"],
        }
    ]
    missing = await _error(ws, type="lwm2m/device/tree", endpoint="nobody")
    assert missing["code"] == "not_found"


async def _error(ws: Any, **msg: Any) -> dict[str, Any]:
    await ws.send_json_auto_id(msg)
    answer = await ws.receive_json()
    assert answer["type"] == "result" and not answer["success"], answer
    return dict(answer["error"])


async def test_every_operation(hass: HomeAssistant, sim: SimClient, hass_ws_client: Any) -> None:
    ws = await hass_ws_client(hass)

    async def op(**msg: Any) -> dict[str, Any]:
        return dict((await ask(ws, type="lwm2m/operation", endpoint="sim-1", **msg))["result"])

    read = await op(operation="read", path="/3/0/0")
    assert read["ok"] and read["code"] == "2.05" and read["meaning"] == "content"
    assert read["values"] == {"/3/0/0": "Simulated Devices Inc."} and read["elapsed_ms"] >= 0
    written = await op(operation="write", path="/3311/0/5850", value=True)
    assert written["ok"] and written["code"] == "2.04" and sim.values[P("/3311/0/5850")] is True
    executed = await op(operation="execute", path="/3/0/4", arguments="now")
    assert executed["code"] == "2.04" and sim.executed[-1] == (P("/3/0/4"), "now")
    attributes = await op(operation="write_attributes", path="/3303/0/5700", attributes={"pmin": 5, "gt": 25.5})
    assert attributes["ok"] and sim.attributes[P("/3303/0/5700")] == {"pmin": "5", "gt": "25.5"}
    discovered = await op(operation="discover", path="/3303/0")
    assert discovered["attributes"]["/3303/0/5700"] == {"pmin": 5, "gt": 25.5}
    observed = await op(operation="observe", path="/3/0/9")
    assert observed["ok"] and observed["values"] == {"/3/0/9": 95}
    cancelled = await op(operation="cancel_observe", path="/3/0/9")
    assert cancelled["ok"]
    created = await op(operation="create", path="/3303", values={"5700": 18.5}, instance_id=1)
    assert created["code"] == "2.01" and created["location"] == "/3303/1"
    other = await op(operation="create", path="/3303", values={"5700": 3.5}, instance_id=7)
    assert other["location"] == "/3303/7" and sim.values[P("/3303/7/5700")] == 3.5
    assert (await op(operation="delete", path="/3303/7"))["ok"]
    tree = (await ask(ws, type="lwm2m/device/tree", endpoint="sim-1"))["result"]["objects"]
    assert [i["path"] for o in tree if o["id"] == 3303 for i in o["instances"]] == ["/3303/0"]
    assert (await op(operation="read", path="/3303/1"))["values"] == {"/3303/1/5700": 18.5}
    deleted = await op(operation="delete", path="/3303/1")
    assert deleted["code"] == "2.02" and P("/3303/1") in sim.deleted
    tree = (await ask(ws, type="lwm2m/device/tree", endpoint="sim-1"))["result"]["objects"]
    assert [i["path"] for o in tree if o["id"] == 3303 for i in o["instances"]] == ["/3303/0"]  # gone again
    # Leshan's choices: the content format, an instance written whole or in part, composites
    tlv = await op(operation="read", path="/3303/0", content_format=11542)
    assert tlv["content_format"] == 11542 and tlv["values"]["/3303/0/5700"] == 21.5
    assert sim.requests[-1][2] == 11542
    partial = await op(operation="write", path="/3311/0", value={"5851": 70}, replace=False, content_format=110)
    assert partial["ok"] and sim.written[-1][0] == "update" and sim.values[P("/3311/0/5851")] == 70
    both = await op(operation="read_composite", paths=["/3/0/9", "/3303/0/5700"])
    assert both["values"] == {"/3/0/9": 95, "/3303/0/5700": 21.5}
    watched = await op(operation="observe_composite", paths=["/3/0/9", "/3311/0/5851"])
    assert watched["ok"] and watched["values"] == {"/3/0/9": 95, "/3311/0/5851": 70}
    assert any(o["composite"] for o in entry_observations(hass, "sim-1"))
    unwatched = await op(operation="cancel_observe", paths=["/3/0/9", "/3311/0/5851"])
    assert unwatched["ok"] and not any(o["composite"] for o in entry_observations(hass, "sim-1"))
    composite = await op(operation="write_composite", values={"/3311/0/5851": 40, "/3311/0/5850": False})
    assert composite["ok"] and sim.values[P("/3311/0/5851")] == 40 and sim.values[P("/3311/0/5850")] is False
    sim.misbehave = "silent"
    silent = await op(operation="read", path="/3/0/0", timeout=0.5)
    assert not silent["ok"] and silent["code"] is None and "did not answer read /3/0/0 within 0.5 s" in silent["error"]
    sim.misbehave = None
    refused = await op(operation="read", path="/3/0/99")
    assert not refused["ok"] and refused["code"] == "4.04" and refused["meaning"] == "not found"
    assert "4.04" in refused["error"]
    bad = await _error(ws, type="lwm2m/operation", endpoint="sim-1", operation="write", path="/3/0/9", value="x")
    assert bad["code"] == "invalid_format"
    no_value = await _error(ws, type="lwm2m/operation", endpoint="sim-1", operation="write", path="/3/0/9")
    assert "needs a value" in no_value["message"]
    named = await _error(
        ws, type="lwm2m/operation", endpoint="sim-1", operation="create", path="/3303", values={"x": 1}
    )
    assert named["code"] == "invalid_format" and "by resource id" in named["message"]
    floating = await _error(
        ws, type="lwm2m/operation", endpoint="sim-1", operation="read", path="/3", content_format=110.5
    )
    assert floating["code"] == "invalid_format"
    endless = await op(operation="write_attributes", path="/3/0/9", attributes={"gt": "nan"})
    assert not endless["ok"] and "gt must be a finite number" in endless["error"]  # nothing sent
    bad_path = await _error(ws, type="lwm2m/operation", endpoint="sim-1", operation="read", path="/three")
    assert bad_path["code"] == "invalid_format"
    no_paths = await _error(ws, type="lwm2m/operation", endpoint="sim-1", operation="read_composite")
    assert "needs paths" in no_paths["message"]
    odd_format = await _error(
        ws, type="lwm2m/operation", endpoint="sim-1", operation="read", path="/3", content_format=7
    )
    assert odd_format["code"] == "invalid_format"
    gone = await _error(ws, type="lwm2m/operation", endpoint="nobody", operation="read", path="/3")
    assert gone["code"] == "not_found"


async def test_the_live_log(hass: HomeAssistant, sim: SimClient, hass_ws_client: Any) -> None:
    ws = await hass_ws_client(hass)
    answer = await ask(ws, type="lwm2m/subscribe", endpoint="sim-1")
    subscription = answer["id"]
    log = answer["result"]["log"]
    assert log[0]["kind"] == "registered" and log[0]["lifetime"] == 60
    assert any(e["kind"] == "response" and e.get("operation") == "read" for e in log)
    sim.set_value("/3303/0/5700", 30.5)  # observed: a notification
    event = await ws.receive_json()
    assert event["id"] == subscription and event["type"] == "event"
    entry = event["event"]["entry"]
    assert entry["kind"] == "notification" and entry["values"] == {"/3303/0/5700": 30.5}
    assert entry["seq"] > log[-1]["seq"]  # numbered: a page drops what it has twice
    # the entry's reload keeps the page's live log
    (loaded,) = hass.config_entries.async_loaded_entries("lwm2m")
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: loaded.runtime_data.registration("sim-1") is not None or None)
    await sim.update()
    kinds = []
    while "updated" not in kinds:  # (what the restarted server does with the device comes too)
        after = await ws.receive_json()
        assert after["id"] == subscription and after["type"] == "event"
        kinds.append(after["event"]["entry"]["kind"])
    await ws.send_json_auto_id({"type": "unsubscribe_events", "subscription": subscription})
    while (answer := await ws.receive_json())["type"] == "event":
        pass
    assert answer["success"]
    again = (await ask(ws, type="lwm2m/device/log", endpoint="sim-1"))["result"]["log"]
    assert any(e["kind"] == "updated" for e in again)  # the reloaded entry's log, from its start


async def test_administrators_only(
    hass: HomeAssistant, sim: SimClient, hass_ws_client: Any, hass_read_only_access_token: str
) -> None:
    ws = await hass_ws_client(hass, hass_read_only_access_token)
    for msg in (
        {"type": "lwm2m/devices"},
        {"type": "lwm2m/device/tree", "endpoint": "sim-1"},
        {"type": "lwm2m/operation", "endpoint": "sim-1", "operation": "read", "path": "/3/0/0"},
        {"type": "lwm2m/subscribe", "endpoint": "sim-1"},
        {"type": "lwm2m/device/log", "endpoint": "sim-1"},
    ):
        assert (await _error(ws, **msg))["code"] == "unauthorized"


async def test_an_object_file_names_an_unknown_object_after_a_reload(
    hass: HomeAssistant, udp: None, tmp_path: FsPath, hass_ws_client: Any
) -> None:
    async with server_entry(hass, **{CONF_XML_DIR: str(tmp_path)}) as entry:
        client = SimClient("sim-x", entry.data[CONF_PORT], values={**DEFAULT_VALUES, P("/40000/0/1"): 7})
        await client.start()
        try:
            await wait_for(hass, lambda: not entry.runtime_data._setups and entry.runtime_data.registration("sim-x"))
            ws = await hass_ws_client(hass)

            async def unknown() -> dict[str, Any]:
                objects = (await ask(ws, type="lwm2m/device/tree", endpoint="sim-x"))["result"]["objects"]
                return next(o for o in objects if o["id"] == 40000)

            assert (await unknown())["name"] is None  # shown by number
            xml = (REGISTRY / "3303.xml").read_text().replace("<ObjectID>3303</ObjectID>", "<ObjectID>40000</ObjectID>")
            (tmp_path / "40000.xml").write_text(xml.replace("<Name>Temperature</Name>", "<Name>Boiler</Name>", 1))
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
            await client.update()
            await wait_for(hass, lambda: entry.runtime_data.registration("sim-x") is not None)
            named = await unknown()
            assert named["name"] == "Boiler" and named["known"]
        finally:
            await client.stop()
