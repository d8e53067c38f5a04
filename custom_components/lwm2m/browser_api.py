"""The device browser's WebSocket API (administrators only).

- lwm2m/devices: every device of every loaded entry, with its state and counters.
- lwm2m/device/tree: a device's objects, instances and resources, named and typed from the
  object model, with the last value and when it came.
- lwm2m/operation: Read, Discover, Write (a resource, or an instance: replace or partial
  update), Execute, Observe, Cancel-Observe, Write-Attributes, Create, Delete, Read-,
  Observe- and Write-Composite on a device, in a content format of the user's choice or the device's
  best; the same core operations the services use. The result is the device's answer (or
  refusal) with its CoAP code, its meaning and how long it took.
- lwm2m/subscribe: the device's message log, then each new entry (values, answers,
  notifications, registrations) as it happens; lwm2m/device/log: the log alone (a client
  whose subscribe drops the result asks for it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import async_response, require_admin, websocket_command
from homeassistant.components.websocket_api.messages import event_message
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .lwm2m.api import ATTRIBUTES, DeviceOperations, Response, meaning
from .lwm2m.codecs import ContentFormat
from .lwm2m.errors import LwM2MError, OperationError
from .lwm2m.model import ObjectModel
from .lwm2m.path import Path
from .lwm2m.values import DataType, to_json_value

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry, LwM2MHub

OPERATIONS = (
    "read",
    "read_composite",
    "observe_composite",
    "write_composite",
    "discover",
    "write",
    "execute",
    "observe",
    "cancel_observe",
    "write_attributes",
    "create",
    "delete",
)
TIMEOUT = 30.0  # seconds an operation may take by default (a sleeping device answers when it wakes)
# The content formats a user may ask for (Leshan's format choice); none: the richest the device takes.
FORMATS = (
    ContentFormat.TEXT,
    ContentFormat.OPAQUE,
    ContentFormat.TLV,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_JSON,
    ContentFormat.LWM2M_CBOR,
)


def _schema(fields: dict[Any, Any]) -> dict[Any, Any]:
    """Type a command's schema loosely (Home Assistant moved from voluptuous to probatio)."""
    return fields


@callback
def async_setup(hass: HomeAssistant) -> None:
    """Register the commands (once)."""
    for command in (ws_devices, ws_tree, ws_operation, ws_subscribe, ws_log):
        async_register_command(hass, command)


def _hubs(hass: HomeAssistant) -> list[LwM2MHub]:
    entries: list[LwM2MConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    return [entry.runtime_data for entry in entries]


def _find(hass: HomeAssistant, endpoint: str) -> LwM2MHub | None:
    """Return the hub the device is registered with, else one that knows it (an offline device)."""
    hubs = _hubs(hass)
    for hub in hubs:
        if hub.registration(endpoint) is not None:
            return hub
    return next((hub for hub in hubs if endpoint in hub.matches), None)


def _found(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> LwM2MHub | None:
    """Return the hub of the message's device; None (the error sent) when there is no such device."""
    hub = _find(hass, msg["endpoint"])
    if hub is None:
        connection.send_error(msg["id"], "not_found", f"no LwM2M device {msg['endpoint']}")
    return hub


def _endpoints(hub: LwM2MHub) -> list[str]:
    return sorted({*hub.matches, *(reg.endpoint for reg in hub.source.registrations)})


def summary(hass: HomeAssistant, hub: LwM2MHub, endpoint: str) -> dict[str, Any]:
    """Return what the device list shows of a device."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, endpoint)})
    reg = hub.registration(endpoint)
    if reg is None:
        state = "offline"
    elif reg.queue_mode and not hub.source.is_awake(endpoint):
        state = "sleeping"
    else:
        state = "registered"  # (available says whether it answered since: a new one is being set up)
    out: dict[str, Any] = {
        "endpoint": endpoint,
        "device_id": device.id if device else None,
        "name": (device.name_by_user or device.name) if device else endpoint,
        "entry_id": hub.entry.entry_id,
        "entry_title": hub.entry.title,
        "state": state,
        "available": hub.is_available(endpoint),
        "manufacturer": device.manufacturer if device else None,
        "model": device.model if device else None,
        "firmware": device.sw_version if device else None,
    }
    if reg is not None:
        identity = reg.identity or ""
        out |= {
            "transport": reg.transport,
            "security": identity.partition(":")[0] if identity else "nosec",
            "lwm2m_version": reg.lwm2m_version,
            "binding": reg.binding,
            "queue_mode": reg.queue_mode,
            "lifetime": reg.lifetime,
            "registered_at": reg.registered_at,
            "updated_at": reg.updated_at,
            **reg.stats.to_dict(),
        }
    return out


@require_admin
@websocket_command(_schema({vol.Required("type"): "lwm2m/devices"}))
@callback
def ws_devices(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """List every device of every loaded LwM2M entry."""
    devices = [summary(hass, hub, endpoint) for hub in _hubs(hass) for endpoint in _endpoints(hub)]
    connection.send_result(msg["id"], {"devices": devices})


def tree(hub: LwM2MHub, endpoint: str) -> list[dict[str, Any]]:
    """Return the device's objects, instances and resources, as the model and the device know them."""
    reg = hub.registration(endpoint)
    values = hub.values(endpoint)
    instances: set[Path] = {Path(p.ids[:2]) for p in values if p.depth >= 2}
    objects: set[int] = {p.ids[0] for p in values if p.depth >= 1}
    if reg is not None:
        instances |= set(reg.objects.instances)
        objects |= set(reg.objects.objects) | {p.ids[0] for p in reg.objects.instances}
        observed = {path for o in hub.source.endpoint(endpoint).observations() for path in o["paths"]}
    else:
        observed = set()
    versions = reg.objects.objects if reg is not None else {}
    out = []
    for oid in sorted(objects):
        definition = hub.model.object(oid)
        out.append(
            {
                "id": oid,
                "name": definition.name if definition else None,
                "version": versions.get(oid) or (definition.version if definition else None),
                "known": definition is not None,
                "multiple": definition.multiple if definition else True,
                "mandatory": definition.mandatory if definition else False,
                "observed": f"/{oid}" in observed,
                "instances": [
                    _instance(hub, endpoint, inst, values, observed)
                    for inst in sorted(i for i in instances if i.ids[0] == oid)
                ],
            }
        )
    return out


def _instance(hub: LwM2MHub, endpoint: str, inst: Path, values: dict[Path, Any], observed: set[str]) -> dict[str, Any]:
    model: ObjectModel = hub.model
    definition = model.object(inst.ids[0])
    defined = definition.resources if definition else {}
    present = {p.ids[2] for p in values if p.depth >= 3 and p.ids[:2] == inst.ids}
    resources = []
    for rid in sorted(set(defined) | present):
        rdef = defined.get(rid)
        path = inst.child(rid)
        item: dict[str, Any] = {
            "id": rid,
            "path": str(path),
            "name": rdef.name if rdef else None,
            "type": rdef.type.value.lower() if rdef and rdef.type is not DataType.NONE else None,
            "operations": str(rdef.operations) if rdef else "",
            "multiple": rdef.multiple if rdef else any(p.depth == 4 and p.ids[:3] == path.ids for p in values),
            "mandatory": rdef.mandatory if rdef else False,
            "units": rdef.unit if rdef else "",
            "min": rdef.range_min if rdef else None,
            "max": rdef.range_max if rdef else None,
            "enum": {str(k): v for k, v in rdef.enumeration.items()} if rdef and rdef.enumeration else None,
            "observed": str(path) in observed,
        }
        reported = hub.reported(endpoint, path)
        if reported is not None:
            item["value"], item["at"] = to_json_value(reported[0]), reported[1]
        below = {p: v for p, v in values.items() if p.depth == 4 and p.ids[:3] == path.ids}
        if below:
            item["instances"] = {str(p.ids[3]): to_json_value(v) for p, v in sorted(below.items())}
            times = [r[1] for p in below if (r := hub.reported(endpoint, p)) is not None]
            item["at"] = max(times) if times else None
        resources.append(item)
    return {"id": inst.ids[1], "path": str(inst), "observed": str(inst) in observed, "resources": resources}


@require_admin
@websocket_command(_schema({vol.Required("type"): "lwm2m/device/tree", vol.Required("endpoint"): str}))
@callback
def ws_tree(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Return a device's objects, instances and resources."""
    if (hub := _found(hass, connection, msg)) is None:
        return
    connection.send_result(
        msg["id"], {"device": summary(hass, hub, msg["endpoint"]), "objects": tree(hub, msg["endpoint"])}
    )


_NUMBER = vol.Any(None, vol.Coerce(float))


def _format(value: Any) -> int:
    """Check a content format: one of FORMATS, as a whole number."""
    if type(value) is not int or value not in FORMATS:
        raise vol.Invalid(f"content_format must be one of {', '.join(map(str, map(int, FORMATS)))}")
    return value


@require_admin
@websocket_command(
    _schema(
        {
            vol.Required("type"): "lwm2m/operation",
            vol.Required("endpoint"): str,
            vol.Required("operation"): vol.In(OPERATIONS),
            vol.Optional("path", default=""): str,
            vol.Optional("paths"): [str],  # read_composite, observe_composite, cancel_observe of those
            vol.Optional("content_format"): vol.Any(None, _format),
            vol.Optional("value"): object,
            vol.Optional("replace", default=True): bool,
            vol.Optional("arguments"): vol.Any(None, str),
            vol.Optional("attributes"): {vol.In(ATTRIBUTES): _NUMBER},
            vol.Optional("values"): dict,
            vol.Optional("instance_id"): vol.Any(None, vol.All(int, vol.Range(min=0, max=65534))),
            vol.Optional("timeout", default=TIMEOUT): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=3600)),
        }
    )
)
@async_response
async def ws_operation(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Perform one operation on a device; the answer, or the refusal, is the result."""
    endpoint = msg["endpoint"]
    hub = _find(hass, endpoint)
    if hub is None or hub.registration(endpoint) is None:
        connection.send_error(msg["id"], "not_found", f"{endpoint} is not registered")
        return
    try:
        path = Path.parse(msg["path"] or "/")
        device = hub.source.endpoint(endpoint)
        operation = _operation(device, msg, path)
    except LwM2MError as err:
        connection.send_error(msg["id"], "invalid_format", str(err))
        return
    started = time.monotonic()
    out: dict[str, Any]
    try:
        # (the operation's own timeout says which request went unanswered; this one is a backstop)
        async with asyncio.timeout(msg["timeout"] + 1):
            response = await operation()
    except TimeoutError:
        out = {"ok": False, "code": None, "error": f"{endpoint} did not answer within {msg['timeout'] + 1:g} s"}
    except OperationError as err:
        out = {"ok": False, "code": err.code, "meaning": meaning(err.code) if err.code else None, "error": str(err)}
    except LwM2MError as err:
        out = {"ok": False, "code": None, "error": str(err)}
    else:
        out = _answer(response)
    out["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    connection.send_result(msg["id"], out)


def _operation(device: DeviceOperations, msg: dict[str, Any], path: Path) -> Callable[[], Awaitable[Response]]:
    """Check the message's arguments for its operation; the operation, ready to run."""
    timeout = msg["timeout"]
    fmt: int | None = msg.get("content_format")
    match msg["operation"]:
        case "read":
            return lambda: device.read(path, content_format=fmt, timeout=timeout)
        case "read_composite":
            paths = _paths(msg)
            return lambda: device.read_composite(paths, content_format=fmt, timeout=timeout)
        case "observe_composite":
            paths = _paths(msg)
            observe = getattr(device, "observe_composite", None)  # the built-in server's (not a gateway's)
            if observe is None:
                raise LwM2MError("Observe-Composite is not available for a device of an EMQX gateway")
            return lambda: observe(paths, content_format=fmt, timeout=timeout)
        case "write_composite":
            values = msg.get("values") or {}
            if not values:
                raise LwM2MError("write_composite needs values: {path: value}")
            checked: dict[Path | str, object] = {Path.parse(str(p)): v for p, v in values.items()}
            return lambda: device.write_composite(checked, content_format=fmt, timeout=timeout)
        case "discover":
            return lambda: device.discover(path, timeout=timeout)
        case "write":
            if "value" not in msg:
                raise LwM2MError("write needs a value")
            node = device.node_for(path, msg["value"])
            return lambda: device.write(path, node, replace=msg["replace"], content_format=fmt, timeout=timeout)
        case "execute":
            return lambda: device.execute(path, msg.get("arguments") or None, timeout=timeout)
        case "observe":
            return lambda: device.observe(path, content_format=fmt, timeout=timeout)
        case "cancel_observe":
            target: Path | list[Path | str] = _paths(msg) if msg.get("paths") else path
            return lambda: device.cancel_observe(target, timeout=timeout)
        case "write_attributes":
            attributes = msg.get("attributes") or {}
            return lambda: device.write_attributes(path, attributes, timeout=timeout)
        case "create":
            try:
                created = {int(k): v for k, v in (msg.get("values") or {}).items()}
            except ValueError:
                raise LwM2MError('create needs values by resource id: {"5700": 18.5}') from None
            instance_id = msg.get("instance_id")
            return lambda: device.create(path, created, instance_id=instance_id, content_format=fmt, timeout=timeout)
        case _:  # "delete"
            return lambda: device.delete(path, timeout=timeout)


def _paths(msg: dict[str, Any]) -> list[Path | str]:
    paths: list[Path | str] = [Path.parse(p) for p in msg.get("paths") or ()]
    if not paths:
        raise LwM2MError(f"{msg['operation']} needs paths")
    return paths


def _answer(response: Response) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": True, "code": response.code, "meaning": meaning(response.code)}
    if response.content_format is not None:
        out["content_format"] = response.content_format
    if response.values:
        out["values"] = {str(p): to_json_value(v) for p, v in response.values.items()}
    if response.attributes:
        out["attributes"] = {str(p): dict(a) for p, a in response.attributes.items()}
    if response.location is not None:
        out["location"] = str(response.location)
    return out


@require_admin
@websocket_command(_schema({vol.Required("type"): "lwm2m/subscribe", vol.Required("endpoint"): str}))
@callback
def ws_subscribe(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Send the device's message log, then each new entry as it happens."""
    endpoint = msg["endpoint"]
    if (hub := _found(hass, connection, msg)) is None:
        return

    @callback
    def forward(entry: dict[str, Any]) -> None:
        connection.send_message(event_message(msg["id"], {"entry": entry}))

    # followed through the integration's list (hub.log.live), not the hub: an entry's reload
    # keeps the page's live log; each entry's seq lets the page drop what it has twice
    followers = hub.log.live.setdefault(endpoint, set())
    followers.add(forward)

    @callback
    def unsubscribe() -> None:
        followers.discard(forward)
        if not followers and hub.log.live.get(endpoint) is followers:
            del hub.log.live[endpoint]

    connection.subscriptions[msg["id"]] = unsubscribe
    connection.send_result(msg["id"], {"log": hub.log.entries(endpoint)})


@require_admin
@websocket_command(_schema({vol.Required("type"): "lwm2m/device/log", vol.Required("endpoint"): str}))
@callback
def ws_log(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Return the device's message log, oldest first."""
    if (hub := _found(hass, connection, msg)) is None:
        return
    connection.send_result(msg["id"], {"log": hub.log.entries(msg["endpoint"])})
