"""Diagnostics download: the server's state and each device's registration, secrets redacted."""

from __future__ import annotations

import hashlib
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_FIRMWARE_TARGET, CONF_SERVER_PRIVATE_KEY, DOMAIN, SUBENTRY_FIRMWARE
from .device_list import listed
from .hub import LwM2MConfigEntry
from .lwm2m.values import to_json_value

# Addresses, identities and SMS numbers identify people's devices and networks; a
# registration id lets whoever knows it update or end the registration.
# Keys never leave: PSK keys and the server's private key; certificates name their devices.
TO_REDACT = {
    "address",
    "identity",
    "sms",
    "serial_number",
    "3/0/2",
    "/3/0/2",
    "reg_id",
    "key",
    "bootstrap_key",
    "bootstrap_identity",
    "private_key",
    CONF_SERVER_PRIVATE_KEY,
    "certificate",
    "url",  # a firmware image's URL may carry a token
    "/5/0/1",  # the Package URI: a download's link while it runs
}


def pseudonym(entry: LwM2MConfigEntry, endpoint: str) -> str:
    """Return a stable stand-in for an endpoint name (often urn:imei:...).

    The same device gets the same one in every download of this entry, so reports can still be
    correlated.
    """
    digest = hashlib.sha256(f"{entry.entry_id}/{endpoint}".encode()).hexdigest()[:10]
    return f"endpoint-{digest}"


def _endpoint(entry: LwM2MConfigEntry, endpoint: str) -> dict[str, Any]:
    hub = entry.runtime_data
    reg = hub.registration(endpoint)
    values = {str(p): to_json_value(v) for p, v in sorted(hub.values(endpoint).items())}
    registration = (
        reg.to_dict() | {"endpoint": pseudonym(entry, endpoint), "stats": reg.stats.to_dict()} if reg else None
    )
    return {
        "available": hub.is_available(endpoint),
        "registration": registration,
        "values": values,
        "entities": sorted(str(m.path) for m in hub.matches.get(endpoint, {}).values() if m.path is not None),
        "observations": hub.source.endpoint(endpoint).observations() if reg else [],
        "firmware_update": job.info.to_json() if (job := hub.firmware.job(endpoint)) is not None else None,
    }


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: LwM2MConfigEntry) -> dict[str, Any]:
    """Return the diagnostics of a config entry, endpoint names redacted."""
    hub = entry.runtime_data
    source = hub.source
    server = {"running": source.running, "stats": source.stats.to_dict(), **source.diagnostics()}
    options = dict(entry.options)
    if isinstance(server.get("dtls"), dict):
        server["dtls"] = {**server["dtls"], "credentials": _credentials(entry, server["dtls"].get("credentials", []))}
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": options,
                "devices": _credentials(entry, listed(entry)),
                "firmware": _firmware(entry),
            },
            "server": server,
            "endpoints": {
                pseudonym(entry, ep): _endpoint(entry, ep)
                for ep in sorted({*hub.matches, *(r.endpoint for r in source.registrations)})
            },
        },
        TO_REDACT,
    )


def _firmware(entry: LwM2MConfigEntry) -> list[dict[str, Any]]:
    """Return the firmware images chosen, a device's target as its pseudonym."""
    out = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_FIRMWARE:
            continue
        data = dict(subentry.data)
        target = str(data.get(CONF_FIRMWARE_TARGET, ""))
        if target.startswith("device:"):
            data[CONF_FIRMWARE_TARGET] = "device:" + pseudonym(entry, target.removeprefix("device:"))
        out.append(data)
    return out


def _credentials(entry: LwM2MConfigEntry, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return device credentials with their endpoint names as pseudonyms (keys go with TO_REDACT)."""
    return [
        {**item, "endpoint": pseudonym(entry, str(item.get("endpoint")))} for item in items if isinstance(item, dict)
    ]


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: LwM2MConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return the diagnostics of one device, its endpoint name redacted."""
    endpoint = next(ident for domain, ident in device.identifiers if domain == DOMAIN)
    return async_redact_data({"endpoint": pseudonym(entry, endpoint), **_endpoint(entry, endpoint)}, TO_REDACT)
