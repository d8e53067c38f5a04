"""Services for every LwM2M operation, usable from automations and scripts with their results."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

import voluptuous as vol
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .lwm2m.api import ATTRIBUTES, Response, meaning
from .lwm2m.client import Endpoint
from .lwm2m.errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError, QueueFull
from .lwm2m.gateway_endpoint import GatewayEndpoint
from .lwm2m.path import Path
from .lwm2m.values import to_json_value

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry

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
DEFAULT_TIMEOUT = 30.0

_TARGET = {
    vol.Optional(ATTR_DEVICE_ID): vol.Any(cv.string, vol.All(cv.ensure_list, [cv.string])),
    vol.Optional(ATTR_ENDPOINT): cv.string,
    vol.Optional(ATTR_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=86400)),
    vol.Optional(ATTR_WAIT, default=True): cv.boolean,
}
_PATH = {vol.Required(ATTR_PATH): cv.string}
_NUMBER = vol.Any(None, vol.Coerce(float))
SCHEMAS: dict[str, dict[Any, Any]] = {
    "read": {**_TARGET, **_PATH},
    "discover": {**_TARGET, **_PATH},
    "write": {
        **_TARGET,
        **_PATH,
        vol.Required(ATTR_VALUE): object,
        vol.Optional(ATTR_REPLACE, default=True): cv.boolean,
    },
    "execute": {**_TARGET, **_PATH, vol.Optional(ATTR_ARGUMENTS): cv.string},
    "write_attributes": {**_TARGET, **_PATH, **{vol.Optional(name): _NUMBER for name in ATTRIBUTES}},
    "create": {
        **_TARGET,
        **_PATH,
        vol.Required(ATTR_VALUES): dict,
        vol.Optional(ATTR_INSTANCE_ID): vol.All(vol.Coerce(int), vol.Range(min=0, max=65534)),
    },
    "delete": {**_TARGET, **_PATH},
    "observe": {**_TARGET, **_PATH},
    "cancel_observe": {**_TARGET, **_PATH},
    "cancel_all_observations": dict(_TARGET),
    "list_observations": dict(_TARGET),
    "read_composite": {**_TARGET, vol.Required(ATTR_PATHS): vol.All(cv.ensure_list, [cv.string])},
    "write_composite": {**_TARGET, vol.Required(ATTR_VALUES): dict},
}


def _invalid(translation_key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=translation_key, translation_placeholders=placeholders
    )


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:]) if words else ""


class Target:
    """The endpoint a call names, and the hub that serves it."""

    def __init__(self, hass: HomeAssistant, call: ServiceCall) -> None:
        endpoint = call.data.get(ATTR_ENDPOINT)
        device_ids = call.data.get(ATTR_DEVICE_ID)
        if isinstance(device_ids, list):
            if len(device_ids) != 1:
                raise _invalid("one_device")
            device_ids = device_ids[0]
        if device_ids:
            device = dr.async_get(hass).async_get(device_ids)
            names = [ident for domain, ident in (device.identifiers if device else ()) if domain == DOMAIN]
            if not names:
                raise _invalid("unknown_device", device_id=str(device_ids))
            endpoint = names[0]
        if not endpoint:
            raise _invalid("no_target")
        self.endpoint: str = endpoint
        entries: list[LwM2MConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
        for entry in entries:
            if entry.runtime_data.registration(endpoint) is not None:
                self.hub = entry.runtime_data
                break
        else:
            raise _invalid("unknown_endpoint", endpoint=endpoint)
        self.client: Endpoint | GatewayEndpoint = self.hub.server.endpoint(endpoint)

    def path(self, text: str) -> Path:
        """A path ("/3/0/9") or a resource key from the object model ("batteryLevel")."""
        text = text.strip()
        if text.startswith("/") or text[:1].isdigit():
            try:
                return Path.parse(text)
            except CodecError:
                raise _invalid("invalid_path", path=text) from None
        reg = self.client.registration
        matches = []
        for inst in reg.objects.instances:
            obj = self.hub.model.object(inst.ids[0])
            for rid, rdef in obj.resources.items() if obj else ():
                if text in (_camel(rdef.name), rdef.name):
                    matches.append(inst.child(rid))
        if not matches:
            raise _invalid("unknown_key", key=text)
        if len(matches) > 1:
            raise _invalid("ambiguous_key", key=text, paths=", ".join(map(str, matches)))
        return matches[0]


def _result(response: Response, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": response.code}
    if response.values:
        out["values"] = {str(p): to_json_value(v) for p, v in response.values.items()}
    return out | extra


async def _run(
    target: Target,
    call: ServiceCall,
    operation: Callable[[], Coroutine[Any, Any, Response]],
    **extra: Callable[[Response], Any],
) -> ServiceResponse:
    """Run one operation with the call's timeout; for a sleeping device, maybe without waiting."""
    timeout = call.data[ATTR_TIMEOUT]
    reg = target.client.registration
    hub = target.hub
    if reg.queue_mode and not call.data[ATTR_WAIT] and not hub.server.is_awake(target.endpoint):
        task: asyncio.Task[Response] = hub.entry.async_create_background_task(
            hub.hass, operation(), f"{DOMAIN} queued {call.service}"
        )
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # the outcome arrives as an event
        await asyncio.sleep(0)
        return {"status": "queued", "queued": hub.server.queued(target.endpoint)}
    try:
        async with asyncio.timeout(timeout):
            response = await operation()
    except TimeoutError:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="timeout",
            translation_placeholders={"endpoint": target.endpoint, "timeout": f"{timeout:g}"},
        ) from None
    except CodecError as err:
        raise _invalid("invalid_value", path=call.data.get(ATTR_PATH, ""), error=str(err)) from err
    except QueueFull as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="queue_full",
            translation_placeholders={"endpoint": target.endpoint},
        ) from err
    except NotRegistered as err:
        raise _invalid("unknown_endpoint", endpoint=target.endpoint) from err
    except DeviceTimeout as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="no_answer",
            translation_placeholders={"endpoint": target.endpoint, "error": str(err)},
        ) from err
    except OperationError as err:
        code = err.code or "?"
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="refused",
            translation_placeholders={
                "endpoint": target.endpoint,
                "code": code,
                "meaning": meaning(code),
                "error": str(err),
            },
        ) from err
    except LwM2MError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="failed",
            translation_placeholders={"endpoint": target.endpoint, "error": str(err)},
        ) from err
    return _result(response, **{k: fn(response) for k, fn in extra.items()})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services (once, for every config entry)."""

    async def read(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        return await _run(t, call, lambda: t.client.read(path, timeout=call.data[ATTR_TIMEOUT]))

    async def discover(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        return await _run(
            t,
            call,
            lambda: t.client.discover(path, timeout=call.data[ATTR_TIMEOUT]),
            attributes=lambda r: {str(p): dict(a) for p, a in r.attributes.items()},
        )

    async def write(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        value = call.data[ATTR_VALUE]
        try:
            node = t.client.node_for(path, value)
        except CodecError as err:
            raise _invalid("invalid_value", path=str(path), error=str(err)) from err
        return await _run(
            t,
            call,
            lambda: t.client.write(path, node, replace=call.data[ATTR_REPLACE], timeout=call.data[ATTR_TIMEOUT]),
        )

    async def execute(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        if not path.is_resource:
            raise _invalid("invalid_path", path=str(path))
        return await _run(
            t, call, lambda: t.client.execute(path, call.data.get(ATTR_ARGUMENTS), timeout=call.data[ATTR_TIMEOUT])
        )

    async def write_attributes(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        attributes = {name: call.data[name] for name in ATTRIBUTES if name in call.data}
        if not attributes:
            raise _invalid("no_attributes")
        return await _run(t, call, lambda: t.client.write_attributes(path, attributes, timeout=call.data[ATTR_TIMEOUT]))

    async def create(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        if not path.is_object:
            raise _invalid("invalid_path", path=str(path))
        try:
            values = {int(k): v for k, v in call.data[ATTR_VALUES].items()}
        except ValueError:
            raise _invalid("invalid_value", path=str(path), error="resource ids must be numbers") from None
        return await _run(
            t,
            call,
            lambda: t.client.create(
                path, values, instance_id=call.data.get(ATTR_INSTANCE_ID), timeout=call.data[ATTR_TIMEOUT]
            ),
            location=lambda r: str(r.location) if r.location else None,
        )

    async def delete(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        return await _run(t, call, lambda: t.client.delete(path, timeout=call.data[ATTR_TIMEOUT]))

    async def observe(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        return await _run(t, call, lambda: t.client.observe(path, timeout=call.data[ATTR_TIMEOUT]))

    async def cancel_observe(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        path = t.path(call.data[ATTR_PATH])
        return await _run(t, call, lambda: t.client.cancel_observe(path, timeout=call.data[ATTR_TIMEOUT]))

    async def cancel_all_observations(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        return {"cancelled": await t.client.cancel_all_observations()}

    async def list_observations(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        return {"observations": cast(Any, t.client.observations())}

    async def read_composite(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        paths = [t.path(p) for p in call.data[ATTR_PATHS]]
        return await _run(t, call, lambda: t.client.read_composite(paths, timeout=call.data[ATTR_TIMEOUT]))

    async def write_composite(call: ServiceCall) -> ServiceResponse:
        t = Target(hass, call)
        values: dict[Path | str, object] = {t.path(str(k)): v for k, v in call.data[ATTR_VALUES].items()}
        return await _run(t, call, lambda: t.client.write_composite(values, timeout=call.data[ATTR_TIMEOUT]))

    handlers: dict[str, Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]] = {
        "read": read,
        "discover": discover,
        "write": write,
        "execute": execute,
        "write_attributes": write_attributes,
        "create": create,
        "delete": delete,
        "observe": observe,
        "cancel_observe": cancel_observe,
        "cancel_all_observations": cancel_all_observations,
        "list_observations": list_observations,
        "read_composite": read_composite,
        "write_composite": write_composite,
    }
    for name, handler in handlers.items():
        schema: Any = vol.Schema(SCHEMAS[name])  # (typed Any: voluptuous became probatio in 2026)
        hass.services.async_register(DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL)
