"""Add firmware (a config subentry of a server entry): an image for one device or one model.

The user uploads the image (Home Assistant's file upload) or gives a URL it is downloaded
from, names the version it installs, adds release notes if they like, and picks the device (or
every device of a manufacturer's model) it is for. The device's update entity then offers it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import selector

from .const import (
    CONF_FILE_NAME,
    CONF_FIRMWARE_FILE,
    CONF_FIRMWARE_TARGET,
    CONF_FIRMWARE_URL,
    CONF_FIRMWARE_VERSION,
    CONF_RELEASE_NOTES,
    CONF_SHA256,
    CONF_SIZE,
    DOMAIN,
    SUBENTRY_FIRMWARE,
)
from .firmware_files import FirmwareFileError, async_keep_upload, async_keep_url, device_target, model_target

MAX_VERSION = 255  # characters of a version (what /3/0/3 holds is 32 on many devices)


def targets(hass: Any, entry_id: str) -> dict[str, str]:
    """Return what firmware can be for: the entry's devices, and each manufacturer's model among them."""
    devices: dict[str, str] = {}
    models: dict[str, str] = {}
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry_id):
        for domain, endpoint in device.identifiers:
            if domain == DOMAIN:
                devices[device_target(endpoint)] = device.name_by_user or device.name or endpoint
        if device.manufacturer and device.model:
            models[model_target(device.manufacturer, device.model)] = f"{device.manufacturer} {device.model}"
    ordered = dict(sorted(devices.items(), key=lambda item: item[1].lower()))
    return ordered | {key: f"{name} (every device of this model)" for key, name in sorted(models.items())}


def _suggested(defaults: dict[str, Any], key: str) -> dict[str, Any]:
    return {"suggested_value": defaults[key]} if defaults.get(key) else {}


class FirmwareSubentryFlow(ConfigSubentryFlow):
    """Choose a firmware image for a device or a model."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the image (file or URL), its version, release notes and what it is for."""
        return await self._form("user", user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Replace the image, its version or its notes (what it is for stays)."""
        return await self._form("reconfigure", user_input)

    async def _form(self, step: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        entry = self._get_entry()
        reconfiguring = step == "reconfigure"
        current = dict(self._get_reconfigure_subentry().data) if reconfiguring else {}
        options = targets(self.hass, entry.entry_id)
        errors: dict[str, str] = {}
        placeholders = {"detail": ""}
        if user_input is not None:
            data, errors, placeholders["detail"] = await self._read(user_input, current, options)
            if not errors:
                target = data[CONF_FIRMWARE_TARGET]
                shown = options.get(target, target.split(":", 1)[-1].replace("\n", " "))
                title = f"{data[CONF_FIRMWARE_VERSION]} for {shown}"
                if reconfiguring:
                    return self.async_update_and_abort(entry, self._get_reconfigure_subentry(), data=data, title=title)
                return self.async_create_entry(title=title, data=data, unique_id=data[CONF_FIRMWARE_TARGET])
        if not options and not reconfiguring:
            return self.async_abort(reason="no_devices")
        defaults = user_input or current
        fields: dict[Any, Any] = {
            vol.Optional(CONF_FIRMWARE_FILE): selector.FileSelector(selector.FileSelectorConfig(accept="*/*")),
            # not filled in again: a URL given downloads the image anew (empty keeps the image)
            vol.Optional(
                CONF_FIRMWARE_URL, description=_suggested(user_input or {}, CONF_FIRMWARE_URL)
            ): selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.URL)),
            vol.Required(CONF_FIRMWARE_VERSION, default=defaults.get(CONF_FIRMWARE_VERSION, "")): str,
            vol.Optional(
                CONF_RELEASE_NOTES, description=_suggested(defaults, CONF_RELEASE_NOTES)
            ): selector.TextSelector(selector.TextSelectorConfig(multiline=True)),
        }
        if not reconfiguring:
            fields[vol.Required(CONF_FIRMWARE_TARGET, default=defaults.get(CONF_FIRMWARE_TARGET, vol.UNDEFINED))] = (
                selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[selector.SelectOptionDict(value=k, label=v) for k, v in options.items()],
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                )
            )
        schema: Any = vol.Schema(fields)
        return self.async_show_form(
            step_id=step, data_schema=schema, errors=errors, description_placeholders=placeholders
        )

    async def _read(
        self, user_input: dict[str, Any], current: dict[str, Any], options: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        """Check the form and keep the image; return the subentry's data, the errors and their detail."""
        file_id = user_input.get(CONF_FIRMWARE_FILE)
        url = str(user_input.get(CONF_FIRMWARE_URL) or "").strip()
        version = str(user_input.get(CONF_FIRMWARE_VERSION) or "").strip()
        target = current.get(CONF_FIRMWARE_TARGET) or user_input.get(CONF_FIRMWARE_TARGET)
        if not version or len(version) > MAX_VERSION:
            return {}, {CONF_FIRMWARE_VERSION: "invalid_version"}, ""
        if target not in options and not current:
            return {}, {CONF_FIRMWARE_TARGET: "unknown_target"}, ""
        if not current and any(
            s.unique_id == target for s in self._get_entry().subentries.values() if s.subentry_type == SUBENTRY_FIRMWARE
        ):
            return {}, {CONF_FIRMWARE_TARGET: "target_has_firmware"}, ""
        if file_id and url:
            return {}, {"base": "file_or_url"}, ""
        data = {
            CONF_FIRMWARE_TARGET: target,
            CONF_FIRMWARE_VERSION: version,
            CONF_RELEASE_NOTES: str(user_input.get(CONF_RELEASE_NOTES) or "").strip(),
        }
        try:
            if file_id:
                sha256, size, name = await async_keep_upload(self.hass, file_id)
            elif url:
                sha256, size = await async_keep_url(self.hass, url)
                name = urlsplit(url).path.rsplit("/", 1)[-1] or "image"  # (no query: it may carry a token)
                data[CONF_FIRMWARE_URL] = url
            elif current:  # the image stays, its version or notes change
                sha256, size, name = current[CONF_SHA256], current[CONF_SIZE], current.get(CONF_FILE_NAME, "")
            else:
                return {}, {"base": "no_image"}, ""
        except FirmwareFileError as err:
            field = CONF_FIRMWARE_URL if url else CONF_FIRMWARE_FILE
            return {}, {field: err.key}, err.detail
        return data | {CONF_SHA256: sha256, CONF_SIZE: size, CONF_FILE_NAME: name}, {}, ""
