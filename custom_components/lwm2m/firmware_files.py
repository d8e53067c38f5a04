"""The firmware images users give: kept under Home Assistant's storage, chosen per device or model.

An image is a file in .storage/lwm2m_firmware named by its SHA-256 (an upload, or a download
of a URL, is hashed once and kept once however many subentries name it). A config subentry of
type "firmware" says which device (or which manufacturer and model) it is for, the version it
installs and its release notes; an image no subentry names any more is deleted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.components.file_upload import process_uploaded_file
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import STORAGE_DIR

from .const import (
    CONF_FILE_NAME,
    CONF_FIRMWARE_TARGET,
    CONF_FIRMWARE_VERSION,
    CONF_RELEASE_NOTES,
    CONF_SHA256,
    DOMAIN,
    SUBENTRY_FIRMWARE,
)
from .lwm2m.firmware.image import MAX_IMAGE, FirmwareImage, ImageError

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

FOLDER = "lwm2m_firmware"
PENDING = f"{DOMAIN}_firmware_pending"  # images kept for an update about to start (hass.data: set of sha256)
DOWNLOAD_TIMEOUT = 600  # seconds a URL's image may take to arrive
_CHUNK = 256 * 1024


class FirmwareFileError(Exception):
    """An image could not be taken; key is the flow's error key."""

    def __init__(self, key: str, detail: str = "") -> None:
        """Say what went wrong (key: "unreadable", "empty", "too_large", "download_failed")."""
        super().__init__(detail or key)
        self.key = key
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Firmware:
    """One firmware image chosen for a device or a model."""

    subentry_id: str
    target: str  # "device:<endpoint>" or "model:<manufacturer>\n<model>"
    version: str
    release_notes: str
    sha256: str
    file_name: str
    path: FilePath

    def image(self) -> FirmwareImage:
        """Return the image (blocking: it hashes the file)."""
        image = FirmwareImage.from_file(self.path, self.version)
        if image.sha256 != self.sha256:
            raise ImageError(f"{self.file_name} changed on disk since it was chosen")
        return image


def folder(hass: HomeAssistant) -> FilePath:
    """Return where images are kept."""
    return FilePath(hass.config.path(STORAGE_DIR, FOLDER))


def device_target(endpoint: str) -> str:
    """Return the target of one device."""
    return f"device:{endpoint}"


def model_target(manufacturer: str, model: str) -> str:
    """Return the target of every device of a manufacturer's model."""
    return f"model:{manufacturer}\n{model}"


def chosen(hass: HomeAssistant, entry: ConfigEntry) -> list[Firmware]:
    """Return the entry's firmware images."""
    out = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_FIRMWARE:
            continue
        data = subentry.data
        out.append(
            Firmware(
                subentry.subentry_id,
                str(data[CONF_FIRMWARE_TARGET]),
                str(data[CONF_FIRMWARE_VERSION]),
                str(data.get(CONF_RELEASE_NOTES) or ""),
                str(data[CONF_SHA256]),
                str(data.get(CONF_FILE_NAME) or ""),
                folder(hass) / f"{data[CONF_SHA256]}.bin",
            )
        )
    return out


def firmware_for(
    hass: HomeAssistant, entry: ConfigEntry, endpoint: str, manufacturer: str | None, model: str | None
) -> Firmware | None:
    """Return the image chosen for a device: its own, else its model's."""
    images = {f.target: f for f in chosen(hass, entry)}
    found = images.get(device_target(endpoint))
    if found is None and manufacturer and model:
        found = images.get(model_target(manufacturer, model))
    return found


def _keep(source: FilePath, into: FilePath, *, move: bool = False) -> tuple[str, int]:
    """Hash source and keep it (a copy, or itself with move) named by its SHA-256 (blocking)."""
    try:
        image = FirmwareImage.from_file(source)
    except ImageError as err:
        text = str(err)
        key = "empty" if "empty" in text else "too_large" if "larger" in text else "unreadable"
        raise FirmwareFileError(key, text) from None
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{image.sha256}.bin"
    if move:
        os.replace(source, target)
    elif not target.exists():
        partial = into / f".{image.sha256}.{secrets.token_hex(4)}"
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    return image.sha256, image.size


async def async_keep_upload(hass: HomeAssistant, file_id: str) -> tuple[str, int, str]:
    """Keep an uploaded file (the flow's file selector); return its SHA-256, size and name."""

    def work() -> tuple[str, int, str]:
        with process_uploaded_file(hass, file_id) as path:
            return (*_keep(path, folder(hass)), path.name)

    try:
        return await hass.async_add_executor_job(work)
    except ValueError as err:  # an upload id that is gone
        raise FirmwareFileError("unreadable", str(err)) from None


async def async_keep_url(hass: HomeAssistant, url: str) -> tuple[str, int]:
    """Download url and keep it; return its SHA-256 and size."""
    into = folder(hass)
    await hass.async_add_executor_job(lambda: into.mkdir(parents=True, exist_ok=True))
    partial = into / f".download-{secrets.token_hex(8)}"
    handle = await hass.async_add_executor_job(partial.open, "wb")
    size = 0
    try:
        session = async_get_clientsession(hass)
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)) as response:
            response.raise_for_status()
            if (response.content_length or 0) > MAX_IMAGE:
                raise FirmwareFileError("too_large", f"{response.content_length} bytes")
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > MAX_IMAGE:
                    raise FirmwareFileError("too_large", f"more than {MAX_IMAGE} bytes")
                await hass.async_add_executor_job(handle.write, chunk)
        await hass.async_add_executor_job(handle.close)
        return await hass.async_add_executor_job(lambda: _keep(partial, into, move=True))
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as err:
        raise FirmwareFileError("download_failed", str(err) or type(err).__name__) from None
    finally:
        await hass.async_add_executor_job(_discard, handle, partial)


def _discard(handle: Any, path: FilePath) -> None:
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _forget(into: FilePath, used: set[str], partial: bool) -> list[str]:
    if not into.is_dir():
        return []
    gone = []
    for file in into.iterdir():
        unused = file.suffix == ".bin" and file.stem not in used
        # (an unfinished download of a flow going on now is younger than an hour)
        if unused or (partial and file.name.startswith(".") and file.stat().st_mtime < time.time() - 3600):
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
            gone.append(file.name)
    return gone


async def async_forget_unused(hass: HomeAssistant, *, partial: bool = False) -> list[str]:
    """Delete the images no firmware subentry names and no update uses; return their file names.

    partial: also what a download or copy left unfinished (at set-up, when none runs).
    """
    used = {
        str(subentry.data[CONF_SHA256])
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_FIRMWARE
    }
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        updates = getattr(getattr(entry.runtime_data, "firmware", None), "updates", None)
        for job in getattr(updates, "jobs", {}).values():
            if not job.done:
                used.add(job.image.sha256)
    used |= hass.data.get(PENDING, set())
    return await hass.async_add_executor_job(_forget, folder(hass), used, partial)
