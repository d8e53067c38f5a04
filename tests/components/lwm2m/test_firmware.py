"""Firmware updates in Home Assistant: Add firmware (upload or URL), the update entity, Install
with progress, failures shown, the services, lwm2m_firmware events, the HTTP(S) pull view."""

from __future__ import annotations

import json
import socket
from pathlib import Path as FilePath
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from aiohttp import web
from homeassistant import config_entries
from homeassistant.components.update import ATTR_IN_PROGRESS, ATTR_INSTALLED_VERSION, ATTR_LATEST_VERSION
from homeassistant.core import Context, HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.lwm2m.const import DOMAIN, SUBENTRY_FIRMWARE
from custom_components.lwm2m.diagnostics import async_get_config_entry_diagnostics
from custom_components.lwm2m.firmware_files import folder
from custom_components.lwm2m.firmware_http import HttpLinks
from custom_components.lwm2m.logbook import async_describe_events
from custom_components.lwm2m.lwm2m.firmware.image import FirmwareImage
from custom_components.lwm2m.lwm2m.firmware.states import PullProtocol
from custom_components.lwm2m.lwm2m.firmware.update import FirmwareSettings
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.update import ATTR_UPDATE_RESULT
from tests.sim import SimClient
from tests.sim.firmware import make_image

from .conftest import wait_for
from .test_devices import entity_id, get_device

P = Path.parse
NEW = make_image("2.0.0", 30_000)
OTHER = make_image("2.0.1", 20_000)


@pytest.fixture
async def sim(hass: HomeAssistant, entry: MockConfigEntry, device: Any) -> SimClient:
    entry.runtime_data.source.firmware.settings = FirmwareSettings(poll_interval=1.0, update_timeout=20.0)
    client = await device("sim-1", firmware=True)
    await wait_for(hass, lambda: not entry.runtime_data._setups)
    await wait_for(hass, lambda: update_state(hass) is not None)
    return client


def update_state(hass: HomeAssistant) -> State | None:
    eid = entity_id(hass, "sim-1", "/5/0/3", "update")
    return hass.states.get(eid) if eid else None


async def upload(hass_client: Any, data: bytes, name: str = "sim-2.0.0.bin") -> str:
    client = await hass_client()
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    response = await client.post("/api/file_upload", data=form)
    assert response.status == 200, await response.text()
    return str((await response.json())["file_id"])


async def add_firmware(hass: HomeAssistant, entry: MockConfigEntry, form: dict[str, Any]) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_FIRMWARE), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    return await hass.config_entries.subentries.async_configure(result["flow_id"], form)


def lines(hass: HomeAssistant, events: list[Any]) -> list[str]:
    """What the logbook says of lwm2m_firmware events."""
    described: dict[str, Any] = {}
    async_describe_events(hass, lambda domain, kind, describe: described.__setitem__(kind, describe))
    return [described[f"{DOMAIN}_firmware"](event)["message"] for event in events]


async def test_add_firmware_then_install_shows_progress_and_the_new_version(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, hass_client: Any
) -> None:
    before = update_state(hass)
    assert before is not None and before.state == "off" and before.attributes["release_summary"] is None
    assert before.attributes[ATTR_INSTALLED_VERSION] == "1.2.3" == before.attributes[ATTR_LATEST_VERSION]
    file_id = await upload(hass_client, NEW)
    done = await add_firmware(
        hass,
        entry,
        {"file": file_id, "version": "2.0.0", "release_notes": "Faster blinking.", "target": "device:sim-1"},
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY and done["title"] == "2.0.0 for sim-1"
    sha256 = FirmwareImage.from_file(folder(hass) / f"{done['data']['sha256']}.bin").sha256
    assert done["data"]["sha256"] == sha256 and done["data"]["size"] == len(NEW)
    assert done["data"]["file_name"] == "sim-2.0.0.bin"
    offered = await wait_for(hass, lambda: (s := update_state(hass)) and s.state == "on" and s)
    assert offered.attributes[ATTR_LATEST_VERSION] == "2.0.0"
    assert offered.attributes["release_summary"] == "Faster blinking."

    events = async_capture_events(hass, f"{DOMAIN}_firmware")
    seen: list[Any] = []
    hass.bus.async_listen(
        "state_changed",
        lambda e: seen.append(e.data["new_state"]) if e.data["entity_id"] == offered.entity_id else None,
    )
    await hass.services.async_call("update", "install", {"entity_id": offered.entity_id}, blocking=True)
    after = await wait_for(
        hass, lambda: (s := update_state(hass)) and s.attributes[ATTR_INSTALLED_VERSION] == "2.0.0" and s
    )
    assert after.state == "off" and after.attributes[ATTR_IN_PROGRESS] is False
    assert after.attributes[ATTR_UPDATE_RESULT] == "success"
    assert sim.firmware is not None and sim.firmware.installed == ["2.0.0"]
    percents = [s.attributes.get("update_percentage") for s in seen if s.attributes.get(ATTR_IN_PROGRESS)]
    assert any(p is not None and 0 < p < 100 for p in percents), percents
    steps = [e.data["step"] for e in events]
    # one event a step (the transfer's percent reaches the entity only)
    assert steps == ["started", "downloading", "downloaded", "updating", "succeeded"]
    assert events[-1].data["device_id"] == get_device(hass, "sim-1").id
    assert lines(hass, events) == [
        "firmware update of sim-1 started (auto)",
        "firmware update of sim-1: downloading",
        "sim-1 downloaded firmware 2.0.0",
        "sim-1 is installing firmware 2.0.0",
        "sim-1 runs firmware 2.0.0 now",
    ]
    # the device page shows the new firmware version
    await wait_for(hass, lambda: get_device(hass, "sim-1").sw_version == "2.0.0")
    # the device browser's log has each step
    log = entry.runtime_data.log
    assert [e["step"] for e in log.entries("sim-1") if e["kind"] == "firmware"][-1] == "succeeded"
    assert log.entries("nobody") == []


async def test_a_failed_integrity_check_is_shown(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, hass_client: Any
) -> None:
    file_id = await upload(hass_client, make_image("2.0.0", 5000, corrupt=True))
    await add_firmware(hass, entry, {"file": file_id, "version": "2.0.0", "target": "device:sim-1"})
    eid = (await wait_for(hass, lambda: (s := update_state(hass)) and s.state == "on" and s)).entity_id
    events = async_capture_events(hass, f"{DOMAIN}_firmware")
    with pytest.raises(HomeAssistantError, match="integrity check failure"):
        await hass.services.async_call("update", "install", {"entity_id": eid}, blocking=True)
    assert lines(hass, events)[-1] == (
        "firmware update of sim-1 failed: sim-1 did not take the image: "
        "integrity check failure for the new firmware package"
    )
    state = await wait_for(hass, lambda: (s := update_state(hass)) and not s.attributes[ATTR_IN_PROGRESS] and s)
    assert state.attributes[ATTR_UPDATE_RESULT] == "integrity_check_failure"
    assert state.attributes["last_step"] == "failed" and "integrity" in state.attributes["error"]
    assert state.attributes[ATTR_INSTALLED_VERSION] == "1.2.3"


async def test_firmware_for_a_model_and_the_form_errors(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, hass_client: Any
) -> None:
    model = "model:Simulated Devices Inc.\nSim-1"
    result = await add_firmware(hass, entry, {"version": "2.0.0", "target": model})
    assert result["errors"] == {"base": "no_image"}
    file_id = await upload(hass_client, NEW)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"file": file_id, "url": "http://127.0.0.1:1/x", "version": "2.0.0", "target": model}
    )
    assert result["errors"] == {"base": "file_or_url"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"file": await upload(hass_client, b""), "version": "2.0.0", "target": model}
    )
    assert result["errors"] == {"file": "empty"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"file": file_id, "version": " ", "target": model}
    )
    assert result["errors"] == {"version": "invalid_version"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"file": file_id, "version": "2.0.0", "target": model}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "2.0.0 for Simulated Devices Inc. Sim-1 (every device of this model)"
    state = await wait_for(hass, lambda: (s := update_state(hass)) and s.state == "on" and s)
    assert state.attributes[ATTR_LATEST_VERSION] == "2.0.0"
    # one image a target
    again = await add_firmware(hass, entry, {"file": await upload(hass_client, NEW), "version": "3", "target": model})
    assert again["errors"] == {"target": "target_has_firmware"}
    # removing it takes the offer away, and the image file with it
    (subentry_id,) = [s for s, sub in entry.subentries.items() if sub.subentry_type == SUBENTRY_FIRMWARE]
    kept = list(folder(hass).glob("*.bin"))
    assert len(kept) == 1
    hass.config_entries.async_remove_subentry(entry, subentry_id)
    state = await wait_for(hass, lambda: (s := update_state(hass)) and s.state == "off" and s)
    assert state.attributes[ATTR_LATEST_VERSION] == "1.2.3"
    await wait_for(hass, lambda: not kept[0].exists())


async def test_a_url_is_downloaded_once(hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient) -> None:
    app = web.Application()
    served: list[str] = []

    async def image(request: web.Request) -> web.StreamResponse:
        served.append(request.path)
        if request.path.endswith("missing.bin"):
            raise web.HTTPNotFound
        if request.path.endswith("streamed.bin"):  # no length said: counted as it comes
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(bytes(30_000))
            await response.write_eof()
            return response
        return web.Response(body=OTHER if request.path.endswith("other.bin") else NEW)

    app.router.add_get("/{name}", image)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        missing = await add_firmware(
            hass, entry, {"url": f"http://127.0.0.1:{port}/missing.bin", "version": "2.0.0", "target": "device:sim-1"}
        )
        assert missing["errors"] == {"url": "download_failed"}
        assert "404" in missing["description_placeholders"]["detail"]  # what went wrong, said
        with patch("custom_components.lwm2m.firmware_files.MAX_IMAGE", 20_000):  # both ways past it
            for name in ("fw.bin", "streamed.bin"):
                big = await hass.config_entries.subentries.async_configure(
                    missing["flow_id"],
                    {"url": f"http://127.0.0.1:{port}/{name}", "version": "2.0.0", "target": "device:sim-1"},
                )
                assert big["errors"] == {"url": "too_large"}, name
        assert not list(folder(hass).glob(".*"))  # nothing left of them
        done = await hass.config_entries.subentries.async_configure(
            missing["flow_id"], {"url": f"http://127.0.0.1:{port}/fw.bin", "version": "2.0.0", "target": "device:sim-1"}
        )
        assert done["type"] is FlowResultType.CREATE_ENTRY
        assert done["data"]["url"].endswith("/fw.bin") and done["data"]["size"] == len(NEW)
        assert served == ["/missing.bin", "/fw.bin", "/streamed.bin", "/fw.bin"]
        # the service can take a URL too; that image goes when its update ends
        answer = await hass.services.async_call(
            DOMAIN,
            "update_firmware",
            {"endpoint": "sim-1", "url": f"http://127.0.0.1:{port}/other.bin", "method": "push", "version": "2.0.1"},
            blocking=True,
            return_response=True,
        )
    finally:
        await runner.cleanup()
    assert answer is not None and answer["step"] == "succeeded" and answer["method"] == "push"
    assert answer["result"] == 1 and answer["result_key"] == "success" and answer["state"] == "idle"
    assert answer["version"] == "2.0.1"
    kept = sorted(f.name for f in folder(hass).glob("*.bin"))
    await wait_for(hass, lambda: len(list(folder(hass).glob("*.bin"))) == 1)  # the subentry's image stays
    assert len(kept) in (1, 2)
    # diagnostics name the image, not the device or the URL (which may carry a token)
    data = await async_get_config_entry_diagnostics(hass, entry)
    (chosen,) = data["entry"]["firmware"]
    assert chosen["url"] == "**REDACTED**" and chosen["version"] == "2.0.0" and chosen["size"] == len(NEW)
    assert chosen["target"].startswith("device:endpoint-") and "sim-1" not in json.dumps(data)
    (endpoint,) = data["endpoints"].values()
    assert endpoint["firmware_update"]["step"] == "succeeded"


async def test_the_service_takes_a_file_on_this_host(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, tmp_path: FilePath
) -> None:
    file = tmp_path / "fw.bin"
    file.write_bytes(NEW)
    with pytest.raises(ServiceValidationError, match="not in a folder"):
        await hass.services.async_call(
            DOMAIN, "update_firmware", {"endpoint": "sim-1", "file": str(file)}, blocking=True, return_response=True
        )
    hass.config.allowlist_external_dirs.add(str(tmp_path))
    with pytest.raises(ServiceValidationError, match="No firmware image is chosen"):
        await hass.services.async_call(DOMAIN, "update_firmware", {"endpoint": "sim-1"}, blocking=True)
    started = await hass.services.async_call(
        DOMAIN,
        "update_firmware",
        {"endpoint": "sim-1", "file": str(file), "method": "pull", "wait": False, "version": "2.0.0"},
        blocking=True,
        return_response=True,
    )
    assert started == {"step": "started", "method": "pull"}
    with pytest.raises(HomeAssistantError, match="already being updated"):
        await hass.services.async_call(
            DOMAIN, "update_firmware", {"endpoint": "sim-1", "file": str(file)}, blocking=True
        )
    job = entry.runtime_data.firmware.job("sim-1")
    assert job is not None
    info = await job.wait()
    assert info.step.value == "succeeded" and info.method == "pull" and info.version == "2.0.0"
    cancelled = await hass.services.async_call(
        DOMAIN, "cancel_firmware", {"endpoint": "sim-1"}, blocking=True, return_response=True
    )
    assert cancelled == {"cancelled": False}


async def test_firmware_services_are_for_administrators(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, hass_read_only_user: Any
) -> None:
    context = Context(user_id=hass_read_only_user.id)
    for service in ("update_firmware", "cancel_firmware"):
        with pytest.raises(Unauthorized):
            await hass.services.async_call(DOMAIN, service, {"endpoint": "sim-1"}, blocking=True, context=context)
    assert sim.firmware is not None and sim.firmware.updates == 0


async def test_http_pull_links(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, hass_client_no_auth: Any, tmp_path: FilePath
) -> None:
    file = tmp_path / "fw.bin"
    file.write_bytes(NEW)
    image = FirmwareImage.from_file(file, "2.0.0")
    links = HttpLinks(hass)
    reg = entry.runtime_data.source.registrations.by_endpoint("sim-1")
    assert links.link(reg, image, frozenset({PullProtocol.COAP}), print) is None  # the device does not pull by HTTP
    hass.config.internal_url = "http://127.0.0.1:8123"
    progress: list[int] = []
    made = links.link(reg, image, frozenset({PullProtocol.HTTP}), progress.append)
    assert made is not None
    url, close = made
    assert url.startswith("http://127.0.0.1:8123/api/lwm2m/firmware/")
    client = await hass_client_no_auth()
    path = url.removeprefix("http://127.0.0.1:8123")
    whole = await client.get(path)
    assert whole.status == 200 and await whole.read() == NEW and progress[-1] == len(NEW)
    part = await client.get(path, headers={"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == NEW[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(NEW)}"
    assert (await client.get(path, headers={"Range": f"bytes={len(NEW) + 5}-"})).status == 416
    assert (await client.get(path[:-3] + "abc")).status == 404
    close()
    assert (await client.get(path)).status == 404
    hass.config.internal_url = "https://ha.local:8123"  # an https:// link for a device that pulls by HTTPS
    assert links.link(reg, image, frozenset({PullProtocol.HTTP}), print) is None
    secure = links.link(reg, image, frozenset({PullProtocol.HTTPS}), print)
    assert secure is not None and secure[0].startswith("https://ha.local:8123/api/lwm2m/firmware/")


async def test_a_device_that_pulls_by_http_gets_home_assistants_link(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SimClient, tmp_path: FilePath
) -> None:
    hass.config.internal_url = "http://127.0.0.1:8123"
    del sim.values[P("/5/0/8/1")]
    sim.values[P("/5/0/8/0")] = 2  # HTTP only (the simulated device cannot: it answers 9)
    file = tmp_path / "fw.bin"
    file.write_bytes(NEW)
    hass.config.allowlist_external_dirs.add(str(tmp_path))
    answer = await hass.services.async_call(
        DOMAIN, "update_firmware", {"endpoint": "sim-1", "file": str(file)}, blocking=True, return_response=True
    )
    assert answer is not None and answer["method"] == "pull" and answer["result_key"] == "unsupported_protocol"
    assert sim.firmware is not None and sim.firmware.pulled_from == []
    written = [v for _mode, p, v in sim.written if p == P("/5/0/1")]
    assert str(written[0][P("/5/0/1")]).startswith("http://127.0.0.1:8123/api/lwm2m/firmware/")
