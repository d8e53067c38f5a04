"""What the hub does for firmware updates: which image a device gets, and starting its update.

The built-in server brings its own updates (server.firmware: push, and pull over its CoAP(S)
port); an EMQX gateway can do neither (no block-wise transfers through it), so its devices
have no updates here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .firmware_files import Firmware, async_forget_unused, firmware_for
from .firmware_http import HttpLinks
from .lwm2m.errors import LwM2MError
from .lwm2m.firmware.image import FirmwareImage
from .lwm2m.firmware.update import FirmwareError, FirmwareJob, FirmwareUpdates, Method

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .lwm2m.api import DeviceSource


class FirmwareHolder:
    """The firmware updates of one entry's devices."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, source: DeviceSource) -> None:
        """Use source's updates, if it has them."""
        self.hass = hass
        self.entry = entry
        self.updates: FirmwareUpdates | None = getattr(source, "firmware", None)
        if self.updates is not None:  # after the server's own CoAP(S) links: for devices that pull by HTTP
            self.updates.links.append(HttpLinks(hass))

    def firmware_for(self, endpoint: str) -> Firmware | None:
        """Return the image chosen for the device (its own, else its model's)."""
        device = dr.async_get(self.hass).async_get_device(identifiers={(DOMAIN, endpoint)})
        manufacturer = device.manufacturer if device is not None else None
        model = device.model if device is not None else None
        return firmware_for(self.hass, self.entry, endpoint, manufacturer, model)

    def job(self, endpoint: str) -> FirmwareJob | None:
        """Return the device's update (running, or the last one)."""
        return self.updates.job(endpoint) if self.updates is not None else None

    async def async_start(
        self,
        endpoint: str,
        chosen: Firmware | None = None,
        *,
        file: str | None = None,
        version: str | None = None,
        method: Method | str = Method.AUTO,
    ) -> FirmwareJob:
        """Start updating the device with a chosen image, or a file on this host; HomeAssistantError says why not."""
        if self.updates is None:
            raise _error("firmware_unsupported", device=endpoint)
        try:
            if chosen is not None:
                image = await self.hass.async_add_executor_job(chosen.image)
            else:
                assert file is not None
                image = await self.hass.async_add_executor_job(FirmwareImage.from_file, file, version)
            job = self.updates.start(endpoint, image, method, version=version)
        except FirmwareError as err:
            if err.key == "busy":
                raise _error("firmware_busy", device=endpoint, error=str(err)) from err
            raise _error("firmware_failed", device=endpoint, error=str(err)) from err
        except LwM2MError as err:
            raise _error("firmware_failed", device=endpoint, error=str(err)) from err
        if job.task is not None:  # an image only the update used goes with it
            job.task.add_done_callback(lambda _task: self.hass.async_create_task(async_forget_unused(self.hass)))
        return job


def _error(key: str, **placeholders: str) -> HomeAssistantError:
    return HomeAssistantError(translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders)
