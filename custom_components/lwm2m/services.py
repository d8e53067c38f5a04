"""Services for every LwM2M operation, usable from automations and scripts with their results.

Shelly's way: module-level handlers, one resolver from a call to its device (a device's loaded
config entry, or an endpoint name), and the hub's one translator of core errors.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .firmware_files import PENDING, FirmwareFileError, async_keep_url
from .firmware_files import folder as firmware_folder
from .hub import LwM2MConfigEntry, LwM2MHub, async_run, translate_error
from .lwm2m.api import ATTRIBUTES, DeviceOperations, Response
from .lwm2m.errors import CodecError, LwM2MError
from .lwm2m.nodes import Node
from .lwm2m.path import Path
from .lwm2m.values import to_json_value

ATTR_DEVICE_ID = "device_id"
ATTR_ENDPOINT = "endpoint"
ATTR_PATH = "path"
ATTR_PATHS = "paths"
ATTR_VALUE = "value"
ATTR_VALUES = "values"
ATTR_REPLACE = "replace"
ATTR_ARGUMENTS = "arguments"
ATTR_INSTANCE_ID = "instance_id"
ATTR_TIMEOUT = "timeout"
ATTR_WAIT = "wait"
ATTR_FILE = "file"
ATTR_URL = "url"
ATTR_METHOD = "method"
ATTR_VERSION = "version"
DEFAULT_TIMEOUT = 30.0

_TARGET: dict[Any, Any] = {
    vol.Optional(ATTR_DEVICE_ID): vol.Any(cv.string, vol.All(cv.ensure_list, [cv.string])),
    vol.Optional(ATTR_ENDPOINT): cv.string,
    vol.Optional(ATTR_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=86400)),
    vol.Optional(ATTR_WAIT, default=True): cv.boolean,
}
_PATH: dict[Any, Any] = {**_TARGET, vol.Required(ATTR_PATH): cv.string}
_DEVICE: dict[Any, Any] = {k: v for k, v in _TARGET.items() if k in (ATTR_DEVICE_ID, ATTR_ENDPOINT)}
_NUMBER = vol.Any(None, vol.Coerce(float))


def _invalid(translation_key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=translation_key, translation_placeholders=placeholders
    )


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:]) if words else ""


@dataclass(slots=True)
class Target:
    """The device a call names, the hub that serves it, and the call's own arguments."""

    call: ServiceCall
    hub: LwM2MHub
    endpoint: str
    device: DeviceOperations

    @classmethod
    def of(cls, call: ServiceCall) -> Target:
        """Find the device (by device_id: its loaded LwM2M entry) or endpoint name a call targets."""
        hub, endpoint = _resolve(call)
        if hub.registration(endpoint) is None:
            raise _invalid("unknown_endpoint", endpoint=endpoint)
        return cls(call, hub, endpoint, hub.source.endpoint(endpoint))

    @property
    def timeout(self) -> float:
        """Return the call's timeout in seconds."""
        return float(self.call.data[ATTR_TIMEOUT])

    def path(self, text: str | None = None) -> Path:
        """Resolve a path ("/3/0/9") or a resource key from the object model ("batteryLevel")."""
        text = (self.call.data[ATTR_PATH] if text is None else text).strip()
        if text.startswith("/") or text[:1].isdigit():
            try:
                return Path.parse(text)
            except CodecError:
                raise _invalid("invalid_path", path=text) from None
        matches = []
        for inst in self.device.registration.objects.instances:
            obj = self.hub.model.object(inst.ids[0])
            for rid, rdef in obj.resources.items() if obj else ():
                if text in (_camel(rdef.name), rdef.name):
                    matches.append(inst.child(rid))
        if not matches:
            raise _invalid("unknown_key", key=text)
        if len(matches) > 1:
            raise _invalid("ambiguous_key", key=text, paths=", ".join(map(str, matches)))
        return matches[0]

    def checked_path(self, check: Callable[[Path], bool]) -> Path:
        """Return the call's path, refused unless check says the call's operation can take it."""
        path = self.path()
        if not check(path):
            raise _invalid("invalid_path", path=str(path))
        return path

    def node(self, path: Path) -> Node:
        """Build what a Write of path sends from the call's value."""
        try:
            return self.device.node_for(path, self.call.data[ATTR_VALUE])
        except LwM2MError as err:
            raise translate_error(err, self.endpoint, path=path) from err

    async def run(
        self, operation: Coroutine[Any, Any, Response], **extra: Callable[[Response], Any]
    ) -> ServiceResponse:
        """Run the call's operation within its timeout; for a sleeping device, maybe without waiting."""
        hub, call = self.hub, self.call
        if self.device.registration.queue_mode and not call.data[ATTR_WAIT] and not hub.source.is_awake(self.endpoint):
            task = hub.entry.async_create_background_task(hub.hass, operation, f"{DOMAIN} queued {call.service}")
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # the outcome arrives as an event
            await asyncio.sleep(0)
            return {"status": "queued", "queued": hub.source.queued(self.endpoint)}
        response = await async_run(self.endpoint, operation, self.timeout, path=call.data.get(ATTR_PATH, ""))
        out: dict[str, Any] = {"code": response.code}
        if response.values:
            out["values"] = {str(p): to_json_value(v) for p, v in response.values.items()}
        return out | {key: result(response) for key, result in extra.items()}


def _resolve(call: ServiceCall) -> tuple[LwM2MHub, str]:
    """Find the hub and endpoint a call names.

    Either a device's (through its loaded LwM2M config entry), or the endpoint name's (the
    loaded entry it is registered with).
    """
    device_ids = call.data.get(ATTR_DEVICE_ID)
    if isinstance(device_ids, list):
        if len(device_ids) != 1:
            raise _invalid("one_device")
        device_ids = device_ids[0]
    if device_ids:
        device = dr.async_get(call.hass).async_get(device_ids)
        names = [ident for domain, ident in (device.identifiers if device else ()) if domain == DOMAIN]
        if device is None or not names:
            raise _invalid("unknown_device", device_id=str(device_ids))
        for entry_id in device.config_entries:
            entry = call.hass.config_entries.async_get_entry(entry_id)
            if entry is not None and entry.domain == DOMAIN and entry.state is ConfigEntryState.LOADED:
                return cast(LwM2MConfigEntry, entry).runtime_data, names[0]
        raise _invalid("entry_not_loaded", device=device.name or names[0])
    endpoint = call.data.get(ATTR_ENDPOINT)
    if not endpoint:
        raise _invalid("no_target")
    entries: list[LwM2MConfigEntry] = call.hass.config_entries.async_loaded_entries(DOMAIN)
    for entry in entries:
        if entry.runtime_data.registration(endpoint) is not None:
            return entry.runtime_data, endpoint
    raise _invalid("unknown_endpoint", endpoint=endpoint)


async def async_read(t: Target) -> ServiceResponse:
    """Read a path of a device."""
    return await t.run(t.device.read(t.path(), timeout=t.timeout))


async def async_discover(t: Target) -> ServiceResponse:
    """Discover the attributes at a path of a device."""
    attributes = {"attributes": lambda r: {str(p): dict(a) for p, a in r.attributes.items()}}
    return await t.run(t.device.discover(t.path(), timeout=t.timeout), **attributes)


async def async_write(t: Target) -> ServiceResponse:
    """Write a value to a path of a device."""
    path = t.path()
    return await t.run(t.device.write(path, t.node(path), replace=t.call.data[ATTR_REPLACE], timeout=t.timeout))


async def async_execute(t: Target) -> ServiceResponse:
    """Execute a resource of a device."""
    path = t.checked_path(lambda p: p.is_resource)
    return await t.run(t.device.execute(path, t.call.data.get(ATTR_ARGUMENTS), timeout=t.timeout))


async def async_write_attributes(t: Target) -> ServiceResponse:
    """Write the notification attributes of a path of a device."""
    path = t.path()
    attributes = {name: t.call.data[name] for name in ATTRIBUTES if name in t.call.data}
    if not attributes:
        raise _invalid("no_attributes")
    return await t.run(t.device.write_attributes(path, attributes, timeout=t.timeout))


async def async_create(t: Target) -> ServiceResponse:
    """Create an object instance on a device."""
    path = t.checked_path(lambda p: p.is_object)
    try:
        values = {int(k): v for k, v in t.call.data[ATTR_VALUES].items()}
    except ValueError:
        raise _invalid("invalid_value", path=str(path), error="resource ids must be numbers") from None
    instance_id = t.call.data.get(ATTR_INSTANCE_ID)
    operation = t.device.create(path, values, instance_id=instance_id, timeout=t.timeout)
    return await t.run(operation, location=lambda r: str(r.location) if r.location else None)


async def async_delete(t: Target) -> ServiceResponse:
    """Delete an object instance of a device."""
    return await t.run(t.device.delete(t.path(), timeout=t.timeout))


async def async_observe(t: Target) -> ServiceResponse:
    """Observe a path of a device."""
    return await t.run(t.device.observe(t.path(), timeout=t.timeout))


async def async_cancel_observe(t: Target) -> ServiceResponse:
    """Cancel the observation of a path of a device."""
    return await t.run(t.device.cancel_observe(t.path(), timeout=t.timeout))


async def async_cancel_all_observations(t: Target) -> ServiceResponse:
    """Cancel every observation of a device."""
    return {"cancelled": await t.device.cancel_all_observations()}


async def async_list_observations(t: Target) -> ServiceResponse:
    """List the observations of a device."""
    return {"observations": cast(Any, t.device.observations())}


async def async_read_composite(t: Target) -> ServiceResponse:
    """Read several paths of a device in one request."""
    paths = [t.path(p) for p in t.call.data[ATTR_PATHS]]
    return await t.run(t.device.read_composite(paths, timeout=t.timeout))


async def async_write_composite(t: Target) -> ServiceResponse:
    """Write several paths of a device in one request."""
    values: dict[Path | str, object] = {t.path(str(k)): v for k, v in t.call.data[ATTR_VALUES].items()}
    return await t.run(t.device.write_composite(values, timeout=t.timeout))


async def async_update_firmware(t: Target) -> ServiceResponse:
    """Update a device's firmware: the image chosen for it, a file on this host, or a URL's."""
    data, hass = t.call.data, t.call.hass
    method, version = data[ATTR_METHOD], data.get(ATTR_VERSION)
    file, url = data.get(ATTR_FILE), data.get(ATTR_URL)
    if file and url:
        raise _invalid("file_or_url")
    pending: set[str] = hass.data.setdefault(PENDING, set())
    sha256 = ""
    if url:
        try:
            sha256, _size = await async_keep_url(hass, url)
        except FirmwareFileError as err:
            raise _invalid("firmware_download_failed", url=url, error=err.detail or err.key) from err
        pending.add(sha256)  # kept until its update runs (a clean-up meanwhile leaves it)
        file = str(firmware_folder(hass) / f"{sha256}.bin")
    elif file and not hass.config.is_allowed_path(file):
        raise _invalid("path_not_allowed", file=file)
    if file:
        try:
            job = await t.hub.firmware.async_start(t.endpoint, file=file, version=version, method=method)
        finally:
            pending.discard(sha256)
    else:
        chosen = t.hub.firmware.firmware_for(t.endpoint)
        if chosen is None:
            raise _invalid("no_firmware", device=t.endpoint)
        job = await t.hub.firmware.async_start(t.endpoint, chosen, method=method)
    if not data[ATTR_WAIT]:
        return {"step": "started", "method": method}
    return (await job.wait()).to_json()


async def async_cancel_firmware(t: Target) -> ServiceResponse:
    """Cancel a device's firmware update (the device is told with an empty Package URI)."""
    job = t.hub.firmware.job(t.endpoint)
    if job is None or job.done:
        return {"cancelled": False}
    job.cancel()
    return {"cancelled": True, **(await job.wait()).to_json()}


type Handler = Callable[[Target], Awaitable[ServiceResponse]]
ONLY, OPTIONAL = SupportsResponse.ONLY, SupportsResponse.OPTIONAL
# service -> (handler, its fields beside the target, whether it answers only with data)
SERVICES: dict[str, tuple[Handler, dict[Any, Any], SupportsResponse]] = {
    "read": (async_read, _PATH, ONLY),
    "discover": (async_discover, _PATH, ONLY),
    "write": (
        async_write,
        {**_PATH, vol.Required(ATTR_VALUE): object, vol.Optional(ATTR_REPLACE, default=True): cv.boolean},
        OPTIONAL,
    ),
    "execute": (async_execute, {**_PATH, vol.Optional(ATTR_ARGUMENTS): cv.string}, OPTIONAL),
    "write_attributes": (async_write_attributes, {**_PATH, **{vol.Optional(a): _NUMBER for a in ATTRIBUTES}}, OPTIONAL),
    "create": (
        async_create,
        {
            **_PATH,
            vol.Required(ATTR_VALUES): dict,
            vol.Optional(ATTR_INSTANCE_ID): vol.All(vol.Coerce(int), vol.Range(min=0, max=65534)),
        },
        OPTIONAL,
    ),
    "delete": (async_delete, _PATH, OPTIONAL),
    "observe": (async_observe, _PATH, OPTIONAL),
    "cancel_observe": (async_cancel_observe, _PATH, OPTIONAL),
    "cancel_all_observations": (async_cancel_all_observations, _TARGET, OPTIONAL),
    "list_observations": (async_list_observations, _TARGET, ONLY),
    "read_composite": (
        async_read_composite,
        {**_TARGET, vol.Required(ATTR_PATHS): vol.All(cv.ensure_list, [cv.string])},
        ONLY,
    ),
    "write_composite": (async_write_composite, {**_TARGET, vol.Required(ATTR_VALUES): dict}, OPTIONAL),
    "update_firmware": (
        async_update_firmware,
        {
            **_DEVICE,
            vol.Optional(ATTR_WAIT, default=True): cv.boolean,
            vol.Optional(ATTR_FILE): cv.string,
            vol.Optional(ATTR_URL): cv.url,
            vol.Optional(ATTR_METHOD, default="auto"): vol.In(["auto", "push", "pull"]),
            vol.Optional(ATTR_VERSION): cv.string,
        },
        OPTIONAL,
    ),
    "cancel_firmware": (async_cancel_firmware, _DEVICE, OPTIONAL),
}


# Flashing a device (and downloading any URL onto this host) is for administrators only.
ADMIN_SERVICES = frozenset({"update_firmware", "cancel_firmware"})


async def async_handle(call: ServiceCall) -> ServiceResponse:
    """Every LwM2M service: find the device the call targets, then run the service's handler."""
    if call.service in ADMIN_SERVICES and call.context.user_id:
        user = await call.hass.auth.async_get_user(call.context.user_id)
        if user is None:
            raise UnknownUser(context=call.context)
        if not user.is_admin:
            raise Unauthorized(context=call.context)
    handler = SERVICES[call.service][0]
    return await handler(Target.of(call))


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services (once, for every config entry)."""
    for name, (_handler, fields, supports_response) in SERVICES.items():
        schema: Any = vol.Schema(fields)  # (typed Any: voluptuous became probatio in 2026)
        hass.services.async_register(DOMAIN, name, async_handle, schema=schema, supports_response=supports_response)
