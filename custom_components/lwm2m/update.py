"""The update entity of a device with a Firmware Update object (5): installed, latest, install, progress.

Installed is what the device runs (/3/0/3 Firmware Version; /5/0/7 PkgVersion, the version
of the package it holds, only when it reports no firmware version); latest is the version of
the image the user chose for the device or its model (Add firmware on the entry), else the
installed one. Install runs the update (firmware/update.py) and follows it: percent while the
image goes over, the device's update state and result as attributes, the result's meaning as
the error when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.update import (
    UpdateDeviceClass,
    UpdateEntity,
    UpdateEntityDescription,
    UpdateEntityFeature,
)
from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .const import DOMAIN, SIGNAL_FIRMWARE_CHOSEN, Topic
from .entity import LwM2MEntity, platform_setup
from .lwm2m.events import FirmwareInfo, Step
from .lwm2m.firmware.states import DEVICE_VERSION, PKG_VERSION, RESULT, STATE, result_key, result_text, state_name
from .lwm2m.values import Value
from .mapping import EntityClass, LwM2MEntityDescription

ATTR_DEVICE_STATE = "device_state"
ATTR_UPDATE_RESULT = "update_result"
ATTR_UPDATE_RESULT_TEXT = "update_result_text"
ATTR_LAST_STEP = "last_step"
ATTR_ERROR = "error"
MAX_SUMMARY = 255


class LwM2MUpdate(LwM2MEntity, UpdateEntity):
    """A device's firmware, and the image chosen for it."""

    entity_description: LwM2MUpdateDescription

    _attr_device_class = UpdateDeviceClass.FIRMWARE
    _attr_supported_features = (
        UpdateEntityFeature.INSTALL | UpdateEntityFeature.PROGRESS | UpdateEntityFeature.RELEASE_NOTES
    )
    _release_notes: str | None = None
    _last: FirmwareInfo | None = None

    async def async_added_to_hass(self) -> None:
        """Follow the device's firmware values, its update's steps and the images chosen."""
        if self.hub.firmware.updates is None:  # an EMQX gateway's device: it shows, it cannot install
            self._attr_supported_features = UpdateEntityFeature(0)
        await super().async_added_to_hass()
        hub, endpoint = self.hub, self.endpoint
        for path in (STATE, RESULT, PKG_VERSION, DEVICE_VERSION):
            self.async_on_remove(hub.async_subscribe(endpoint, path, self._on_change))
        self.async_on_remove(hub.async_subscribe(endpoint, Topic.FIRMWARE, self._on_step))
        signal = SIGNAL_FIRMWARE_CHOSEN.format(entry_id=hub.entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._on_chosen))
        self._refresh()

    @callback
    def _on_change(self, _value: Value | None) -> None:
        self._refresh()
        self.async_write_ha_state()

    @callback
    def _on_step(self, info: FirmwareInfo) -> None:
        self._last = info
        self._on_change(None)

    @callback
    def _on_chosen(self) -> None:
        self._on_change(None)

    def _refresh(self) -> None:
        hub, endpoint = self.hub, self.endpoint
        package, running = hub.value(endpoint, PKG_VERSION), hub.value(endpoint, DEVICE_VERSION)
        installed = next((v for v in (running, package) if isinstance(v, str) and v), None)
        self._attr_installed_version = installed
        chosen = hub.firmware.firmware_for(endpoint)
        self._attr_latest_version = chosen.version if chosen is not None else installed
        notes = chosen.release_notes if chosen is not None else ""
        self._release_notes = notes or None
        self._attr_release_summary = notes[:MAX_SUMMARY] or None
        job = hub.firmware.job(endpoint)
        running_job = job is not None and not job.done
        self._attr_in_progress = running_job
        self._attr_update_percentage = job.info.percent if running_job and job is not None else None
        state, result = hub.value(endpoint, STATE), hub.value(endpoint, RESULT)
        attributes: dict[str, Any] = {
            ATTR_DEVICE_STATE: state_name(state) if isinstance(state, int) else None,
            ATTR_UPDATE_RESULT: result_key(result) if isinstance(result, int) else None,
            ATTR_UPDATE_RESULT_TEXT: result_text(result) if isinstance(result, int) else None,
        }
        if self._last is not None:
            attributes[ATTR_LAST_STEP] = self._last.step.value
            if self._last.error:
                attributes[ATTR_ERROR] = self._last.error
        self._attr_extra_state_attributes = attributes

    async def async_release_notes(self) -> str | None:
        """Return the chosen image's release notes."""
        return self._release_notes

    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        """Update the device to the chosen image, and wait until it runs it (or failed)."""
        hub, endpoint = self.hub, self.endpoint
        chosen = hub.firmware.firmware_for(endpoint)
        if chosen is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="no_firmware", translation_placeholders={"device": endpoint}
            )
        job = await hub.firmware.async_start(endpoint, chosen)
        self._refresh()
        self.async_write_ha_state()
        info = await job.wait()
        if info.step is not Step.SUCCEEDED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="firmware_failed",
                translation_placeholders={"device": endpoint, "error": info.error or info.step.value},
            )


@dataclass(frozen=True, kw_only=True)
class LwM2MUpdateDescription(UpdateEntityDescription, LwM2MEntityDescription):  # type: ignore[misc,unused-ignore]
    """Describe the update entity of a Firmware Update object."""

    entity_class: EntityClass = LwM2MUpdate


DISCOVERY_SCHEMAS = [
    # One an instance of object 5, keyed by its State (5/0/3); it shows the Update Result and
    # PkgVersion too, so the instance is observed.
    LwM2MUpdateDescription(key="firmware", objects=(5,), resource_id=3, translation_key="firmware", watch=(5, 7)),
]

PARALLEL_UPDATES = 0
async_setup_entry = platform_setup(Platform.UPDATE)
