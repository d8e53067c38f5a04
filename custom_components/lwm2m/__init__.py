"""LwM2M for Home Assistant: an LwM2M server whose devices become Home Assistant devices.

This module imports Home Assistant only inside its functions, so that the protocol core
below it (custom_components.lwm2m.lwm2m) also runs, and is tested, without Home Assistant
(python -m custom_components.lwm2m.lwm2m).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from .hub import LwM2MConfigEntry
    from .lwm2m.config import ServerConfig
    from .lwm2m.security.credentials import Credentials, ServerIdentity

_LOGGER = logging.getLogger(__name__)


def _config_schema() -> Any:
    """Return the schema that reports a `lwm2m:` key in configuration.yaml as an error (set up from the UI only).

    None when the protocol core runs alone, without Home Assistant loaded.
    """
    if "homeassistant" not in sys.modules:
        return None
    from homeassistant.helpers import config_validation as cv

    return cv.config_entry_only_config_schema(DOMAIN)


CONFIG_SCHEMA = _config_schema()


async def async_setup(hass: HomeAssistant, config: dict[str, Any]) -> bool:
    """Register the LwM2M services (lwm2m.read, lwm2m.write, ...)."""
    from . import browser_api
    from .panel import async_register_panel
    from .services import async_setup_services

    async_setup_services(hass)
    browser_api.async_setup(hass)
    await async_register_panel(hass)
    return True


PLATFORMS = [
    "binary_sensor",
    "button",
    "device_tracker",
    "event",
    "number",
    "select",
    "sensor",
    "switch",
    "text",
    "update",
]


async def async_setup_entry(hass: HomeAssistant, entry: LwM2MConfigEntry) -> bool:
    """Start this entry's device source, hand it to the hub, and set up its devices' entities.

    The source is our LwM2M server, or an EMQX gateway's devices over MQTT.
    """
    from homeassistant.exceptions import ConfigEntryNotReady

    from .const import (
        CONF_BOOTSTRAP_PORT,
        CONF_MODE,
        CONF_MQTT_BRIDGE,
        CONF_PORT,
        CONF_XML_DIR,
        DEFAULT_PORT,
        MODE_EMQX,
    )
    from .discovery import TABLES
    from .firmware_files import async_forget_unused
    from .hub import LwM2MHub
    from .lwm2m.model import ObjectModel

    settings = {**entry.data, **entry.options}
    folder = settings.get(CONF_XML_DIR) or None
    # The port opens as soon as the server can take its devices back: what that needs is read
    # from disk at once, and everything else waits until the port is open.
    (model, problems), saved = await asyncio.gather(
        hass.async_add_executor_job(ObjectModel.with_folder, folder), LwM2MHub.async_saved(hass, entry)
    )
    if settings.get(CONF_MODE) == MODE_EMQX:
        # MQTT's modules load only for an entry that uses them.
        from .lwm2m.emqx import EmqxGateway, EmqxSettings
        from .mqtt_consumer import MqttConsumer

        consumer = MqttConsumer(hass)
        gateway = EmqxGateway(EmqxSettings.from_options(settings), model, consumer.publish)
        hub = LwM2MHub(hass, entry, gateway, TABLES)
        hub.load(saved)
        if not await consumer.async_start(gateway):
            await hub.async_stop()
            raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_missing")
        entry.async_on_unload(consumer.async_stop)
    else:
        from .lwm2m.server import LwM2MServer

        settings = await _with_server_identity(hass, entry, settings)
        from .device_list import listed

        hub = LwM2MHub(hass, entry, LwM2MServer(server_config(settings, listed(entry)), model), TABLES)
        hub.load(saved)
    try:
        await hub.async_start()
        # images no firmware entry names any more, and downloads left unfinished
        entry.async_create_background_task(hass, async_forget_unused(hass, partial=True), "lwm2m firmware clean-up")
    except OSError as err:
        await hub.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="port_unavailable",
            translation_placeholders={"port": str(settings.get(CONF_PORT, DEFAULT_PORT)), "error": str(err)},
        ) from err
    if settings.get(CONF_MODE) != MODE_EMQX:
        from .bootstrap_setup import async_start_bootstrap
        from .device_list import listed

        try:
            bootstrap = await async_start_bootstrap(hub.source, settings, listed(entry), hub.bootstrap)
        except OSError as err:  # the server serves on; only bootstraps wait for a free port
            _LOGGER.error(
                "The LwM2M bootstrap server cannot listen on UDP port %s (or the next): %s; "
                "choose another under Configure",
                settings.get(CONF_BOOTSTRAP_PORT),
                err,
            )
            bootstrap = None
        if bootstrap is not None:
            entry.async_on_unload(bootstrap.stop)
    _report_object_files(hass, entry, folder, problems)
    entry.runtime_data = hub
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if settings.get(CONF_MQTT_BRIDGE) and settings.get(CONF_MODE) != MODE_EMQX:
        from .lwm2m.emqx import EmqxSettings
        from .mqtt_bridge import MqttBridge

        bridge = MqttBridge(hass, hub.source, EmqxSettings.from_options(settings))
        if await bridge.async_start():
            entry.async_on_unload(bridge.async_stop)
    return True


def server_config(settings: dict[str, Any], devices: list[dict[str, Any]] | None = None) -> ServerConfig:
    """Build the built-in server's settings from the entry's data and options, and its device list."""
    from .const import (
        ADMISSION_OPEN,
        CONF_ADMISSION,
        CONF_DTLS_PORT,
        CONF_HOST,
        CONF_MAX_LIFETIME,
        CONF_MAX_REGISTRATIONS_PER_HOST,
        CONF_MIN_LIFETIME,
        CONF_NOTIFICATION_RATE,
        CONF_PORT,
        CONF_REGISTRATION_RATE,
        DEFAULT_HOST,
        DEFAULT_MAX_LIFETIME,
        DEFAULT_MAX_REGISTRATIONS_PER_HOST,
        DEFAULT_MIN_LIFETIME,
        DEFAULT_NOTIFICATION_RATE,
        DEFAULT_PORT,
        DEFAULT_REGISTRATION_RATE,
    )
    from .lwm2m.config import ServerConfig
    from .lwm2m.security.admission import Admission

    host = settings.get(CONF_HOST, DEFAULT_HOST)
    notification_rate = float(settings.get(CONF_NOTIFICATION_RATE, DEFAULT_NOTIFICATION_RATE))
    return ServerConfig(
        host="::" if host in ("", "0.0.0.0", "::") else host,
        port=int(settings.get(CONF_PORT, DEFAULT_PORT)) or None,  # 0: coaps:// only
        min_lifetime=int(settings.get(CONF_MIN_LIFETIME, DEFAULT_MIN_LIFETIME)),
        max_lifetime=int(settings.get(CONF_MAX_LIFETIME, DEFAULT_MAX_LIFETIME)),
        max_registrations_per_host=int(
            settings.get(CONF_MAX_REGISTRATIONS_PER_HOST, DEFAULT_MAX_REGISTRATIONS_PER_HOST)
        ),
        registration_rate=float(settings.get(CONF_REGISTRATION_RATE, DEFAULT_REGISTRATION_RATE)),
        notification_rate=notification_rate,
        notification_burst=2 * notification_rate,  # two seconds' worth
        dtls_port=int(settings.get(CONF_DTLS_PORT) or 0) or None,
        credentials=_credentials(devices or []),
        server_identity=_server_identity(settings),
        admission=Admission.OPEN if settings.get(CONF_ADMISSION, ADMISSION_OPEN) == ADMISSION_OPEN else Admission.KNOWN,
    )


def _credentials(items: list[Any]) -> Credentials:
    """Read the entry's device list; one that can no longer be read is skipped (and logged), not fatal."""
    from .lwm2m.security.credentials import Credentials

    held, problems = Credentials.readable(items)
    for problem in problems:
        _LOGGER.warning("Skipping a device credential that cannot be used: %s", problem)
    return held


async def _with_server_identity(
    hass: HomeAssistant, entry: LwM2MConfigEntry, settings: dict[str, Any]
) -> dict[str, Any]:
    """Make the server's own certificate and key once, when coaps:// is first on; the entry keeps them."""
    from .const import CONF_DTLS_PORT, CONF_SERVER_CERTIFICATE, CONF_SERVER_PRIVATE_KEY

    if not settings.get(CONF_DTLS_PORT) or entry.data.get(CONF_SERVER_CERTIFICATE):
        return settings
    from .lwm2m.security.certificates import new_server_identity

    identity = await hass.async_add_executor_job(new_server_identity)
    made = {CONF_SERVER_CERTIFICATE: identity.certificate, CONF_SERVER_PRIVATE_KEY: identity.private_key}
    hass.config_entries.async_update_entry(entry, data={**entry.data, **made})
    return {**settings, **made}


def _server_identity(settings: dict[str, Any]) -> ServerIdentity | None:
    """Return the server's certificate and key the entry holds, if it holds them."""
    from .const import CONF_SERVER_CERTIFICATE, CONF_SERVER_PRIVATE_KEY
    from .lwm2m.security.credentials import ServerIdentity

    certificate, key = settings.get(CONF_SERVER_CERTIFICATE), settings.get(CONF_SERVER_PRIVATE_KEY)
    return ServerIdentity(certificate, key) if certificate and key else None


def _report_object_files(hass: HomeAssistant, entry: LwM2MConfigEntry, folder: str | None, problems: list[str]) -> None:
    """Tell the user, in a repair issue, which object definition files could not be read.

    Those files are skipped (the core logs each one); the issue stays until a reload finds none.
    """
    from homeassistant.helpers import issue_registry as ir

    issue_id = f"object_files_{entry.entry_id}"
    if not problems:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="object_files",
        translation_placeholders={
            "entry": entry.title,
            "folder": str(folder),
            "count": str(len(problems)),
            "problems": "\n".join(f"- {problem}" for problem in problems[:10]),
        },
    )


async def async_remove_entry(hass: HomeAssistant, entry: LwM2MConfigEntry) -> None:
    """Delete the repair issues of an entry that is gone, and the devices ignored for it."""
    from homeassistant.helpers import issue_registry as ir

    from .firmware_files import async_forget_unused
    from .hub import entity_limit_issue

    await async_forget_unused(hass)  # the images only its firmware subentries named
    ir.async_delete_issue(hass, DOMAIN, f"object_files_{entry.entry_id}")
    ir.async_delete_issue(hass, DOMAIN, entity_limit_issue(entry))
    prefix = f"device {entry.entry_id} "  # the unique ids of its discovered devices (config_flow.py)
    for ignored in hass.config_entries.async_entries(DOMAIN, include_ignore=True):
        if ignored.source == "ignore" and (ignored.unique_id or "").startswith(prefix):
            await hass.config_entries.async_remove(ignored.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: LwM2MConfigEntry) -> bool:
    """Stop the server (and free its port)."""
    unloaded: bool = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def _async_reload(hass: HomeAssistant, entry: LwM2MConfigEntry) -> None:
    """Restart the entry with what changed; a change of the device list alone is taken live."""
    from homeassistant.helpers.dispatcher import async_dispatcher_send

    from .const import SIGNAL_FIRMWARE_CHOSEN
    from .firmware_files import async_forget_unused

    hub = entry.runtime_data
    if hub.settings == (dict(entry.data), dict(entry.options)) and _use_device_list(entry):
        # firmware images chosen, changed or removed: the update entities show it
        async_dispatcher_send(hass, SIGNAL_FIRMWARE_CHOSEN.format(entry_id=entry.entry_id))
        await async_forget_unused(hass)
        return
    await hass.config_entries.async_reload(entry.entry_id)


def _use_device_list(entry: LwM2MConfigEntry) -> bool:
    """Give the running server and bootstrap server the entry's device list; False when a restart is needed.

    A restart is needed only when the bootstrap server must open its coaps:// port (the first
    device with a bootstrap key) or close it.
    """
    from .bootstrap_setup import bootstrap_configs
    from .device_list import listed
    from .lwm2m.server import LwM2MServer

    hub = entry.runtime_data
    server = hub.source
    if not isinstance(server, LwM2MServer):
        return False
    devices = listed(entry)
    settings = {**entry.data, **entry.options}
    holder = hub.bootstrap
    if holder.server is not None:
        configs = bootstrap_configs(settings, devices)
        keyed = any(c.bootstrap is not None for c in configs.values())
        if keyed != bool(holder.server.dtls_port):
            return False
        holder.configs = configs
    revoked = server.use_credentials(_credentials(devices))
    for reg in revoked:
        _LOGGER.info("%s is no longer allowed by the device list: its registration ends", reg.endpoint)
    return True


async def async_remove_config_entry_device(hass: HomeAssistant, entry: LwM2MConfigEntry, device: DeviceEntry) -> bool:
    """Let the user delete a device; it comes back if it registers again, where the entry lets it.

    Where only known devices may register, the device also leaves the device list (its
    credential goes): it is refused until it is added again.
    """
    from .const import ADMISSION_OPEN, CONF_ADMISSION
    from .device_list import remove_devices

    endpoints = {endpoint for domain, endpoint in device.identifiers if domain == DOMAIN}
    for endpoint in endpoints:
        entry.runtime_data.forget_device(endpoint)
    if {**entry.data, **entry.options}.get(CONF_ADMISSION, ADMISSION_OPEN) != ADMISSION_OPEN:
        remove_devices(hass, entry, endpoints)
        reports = getattr(entry.runtime_data.source, "unknown_reports", None)
        for endpoint in endpoints:  # when it tries again, it is asked about again
            if reports is not None:
                reports.forget(endpoint)
    return True
