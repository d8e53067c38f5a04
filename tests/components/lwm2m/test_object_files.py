"""A folder of object definitions: a file that cannot be read is logged and shown as a repair issue."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lwm2m.const import CONF_XML_DIR, DOMAIN

from .conftest import entry_data, free_udp_port

REGISTRY = Path(__file__).resolve().parents[4] / "shared" / "lwm2m-registry"


async def test_a_broken_object_file_raises_a_repair_issue(
    hass: HomeAssistant, udp: None, tmp_path: Path, caplog
) -> None:
    (tmp_path / "broken.xml").write_text("<LWM2M><Object><ObjectID>not a number")
    good = (REGISTRY / "3303.xml").read_text().replace("<ObjectID>3303</ObjectID>", "<ObjectID>40001</ObjectID>")
    (tmp_path / "good.xml").write_text(good)
    port = free_udp_port()
    entry = MockConfigEntry(domain=DOMAIN, title="LwM2M server", data=entry_data(port, **{CONF_XML_DIR: str(tmp_path)}))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.model.object(40001) is not None  # the good file was taken
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"object_files_{entry.entry_id}")
    assert issue is not None and issue.translation_key == "object_files"
    assert issue.translation_placeholders["count"] == "1"
    assert "broken.xml" in issue.translation_placeholders["problems"]
    assert "Skipping object definition file" in caplog.text and "broken.xml" in caplog.text

    # Fixed: the reload clears the issue.
    (tmp_path / "broken.xml").unlink()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"object_files_{entry.entry_id}") is None

    # Broken again, then the entry is deleted: its issue goes with it.
    (tmp_path / "broken.xml").write_text("not xml at all")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"object_files_{entry.entry_id}") is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"object_files_{entry.entry_id}") is None
