"""Diagnostics with secrets redacted, and the files HACS and Home Assistant read."""

from __future__ import annotations

import json
import re
from pathlib import Path

from homeassistant.core import HomeAssistant
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.diagnostics import async_get_config_entry_diagnostics, async_get_device_diagnostics
from custom_components.lwm2m.discovery import TABLES

from .conftest import wait_for
from .test_devices import _ready, get_device

ROOT = Path(__file__).resolve().parents[3]
INTEGRATION = ROOT / "custom_components" / "lwm2m"


async def test_diagnostics(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("sim-1")
    temp = await _ready(hass, "sim-1", "/3303/0/5700")
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5")
    ep = entry.runtime_data.source.endpoint("sim-1")
    await wait_for(hass, lambda: any(o["paths"] == ["/3303/0/5700"] for o in ep.observations()))
    data = await async_get_config_entry_diagnostics(hass, entry)
    assert data["server"]["running"] and data["server"]["stats"]["registrations"] == 1
    assert "sim-1" not in json.dumps(data)  # endpoint names (often urn:imei:...) are pseudonyms
    (name,) = data["endpoints"]
    assert re.fullmatch(r"endpoint-[0-9a-f]{10}", name)
    ep = data["endpoints"][name]
    assert ep["registration"]["endpoint"] == name
    assert ep["available"] and ep["values"]["/3303/0/5700"] == 21.5
    assert ep["registration"]["address"] == "**REDACTED**" and ep["registration"]["reg_id"] == "**REDACTED**"
    assert ep["values"]["/3/0/2"] == "**REDACTED**"  # the serial number
    assert "/3303/0/5700" in ep["entities"]
    assert any(o["paths"] == ["/3303/0/5700"] for o in ep["observations"])
    per_device = await async_get_device_diagnostics(hass, entry, get_device(hass, "sim-1"))
    assert per_device["endpoint"] == name and per_device["registration"]["lifetime"] == 60  # the same pseudonym
    assert "sim-1" not in json.dumps(per_device)
    again = await async_get_config_entry_diagnostics(hass, entry)
    assert list(again["endpoints"]) == [name]
    json.dumps(data)  # downloadable as JSON


def test_manifest_and_hacs() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"] and keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "lwm2m" and manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push" and manifest["integration_type"] == "hub"
    assert manifest["after_dependencies"] == ["frontend", "mqtt", "panel_custom"]  # the panel, the bridge
    assert manifest["dependencies"] == ["file_upload", "http"]  # firmware images: uploads and HTTP pulls
    for key in ("version", "documentation", "issue_tracker", "codeowners", "requirements"):
        assert manifest[key], key
    # Pinned, except what Home Assistant core pins too (lxml for scrape: 5.3.0 in 2025.4,
    # 6.1.2 in 2026.10): an exact pin that differs makes the two reinstall each other.
    requirements = dict(
        re.fullmatch(r"([A-Za-z0-9_.-]+)(==|>=)[0-9.]+", r).group(1, 2) for r in manifest["requirements"]
    )
    # cryptography and pyOpenSSL are Home Assistant's own (DTLS): a floor, never a pin
    assert requirements == {"aiocoap": "==", "cbor2": "==", "lxml": ">=", "cryptography": ">=", "pyOpenSSL": ">="}
    assert "lxml>=5.3.0" in manifest["requirements"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert all(f'"{r}"' in pyproject for r in manifest["requirements"])
    licence = (ROOT / "LICENSE").read_text()  # the whole text, which licence detection recognises
    assert licence.lstrip().startswith("Apache License") and "END OF TERMS AND CONDITIONS" in licence
    assert "BSD-3-Clause" in (ROOT / "NOTICE").read_text()
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == "LwM2M" and re.fullmatch(r"\d{4}\.\d+\.\d+", hacs["homeassistant"])


def test_translations_cover_every_key() -> None:
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    assert json.loads((INTEGRATION / "translations" / "en.json").read_text()) == strings
    for platform, description in [*TABLES.rows.values(), *TABLES.generic.values(), *TABLES.device]:
        if description.translation_key:
            assert description.translation_key in strings["entity"][platform.value], description.translation_key
    for step in (*strings["config"]["step"].values(), *strings["options"]["step"].values()):
        if "menu_options" in step:
            assert set(step["menu_options"]) == {"server", "emqx"}
            continue
        assert set(step.get("data", {})) == set(step.get("data_description", {}))
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    for platform, keys in icons["entity"].items():
        for key in keys:
            assert key in strings["entity"][platform], (platform, key)


def test_brand_icon() -> None:
    with Image.open(INTEGRATION / "brand" / "icon.png") as image:
        assert image.size == (256, 256) and image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0  # transparent corners


async def test_yaml_configuration_is_refused(hass: HomeAssistant, caplog) -> None:
    """Set up from the UI only: a lwm2m: key in configuration.yaml is reported, not used."""
    from homeassistant.setup import async_setup_component

    from custom_components.lwm2m import CONFIG_SCHEMA

    assert CONFIG_SCHEMA is not None
    assert await async_setup_component(hass, "lwm2m", {"lwm2m": {"port": 5683}})
    assert "The lwm2m integration does not support YAML setup" in caplog.text
    assert not hass.config_entries.async_entries("lwm2m")
