"""The MQTT bridge: every LwM2M event published, and commands executed, in the JSON of the
EMQX LwM2M gateway, over Home Assistant's own MQTT integration."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import (
    CONF_MQTT_MOUNTPOINT,
    CONF_MQTT_UPDATE_CONDITION,
    DOMAIN,
    MQTT_TOPIC_DEFAULTS,
    MQTT_TRANSLATORS,
)
from .lwm2m.client import Response
from .lwm2m.emqx import (
    Command,
    EmqxError,
    EmqxSettings,
    Translator,
    discover_content,
    error_message,
    notify_message,
    parse_command,
    registration_message,
    response_message,
    should_publish_update,
    values_content,
)
from .lwm2m.errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError
from .lwm2m.events import Event, EventType
from .lwm2m.path import Path

if TYPE_CHECKING:
    from .hub import LwM2MHub

_LOGGER = logging.getLogger(__name__)
ISSUE_MQTT_MISSING = "mqtt_missing"


def bridge_settings(options: dict[str, Any]) -> EmqxSettings:
    def translator(name: str) -> Translator:
        return Translator(
            str(options.get(f"mqtt_{name}_topic", MQTT_TOPIC_DEFAULTS[name])), int(options.get(f"mqtt_{name}_qos", 0))
        )

    return EmqxSettings(
        mountpoint=str(options.get(CONF_MQTT_MOUNTPOINT, "lwm2m/${endpoint_name}/")),
        update_msg_publish_condition=str(options.get(CONF_MQTT_UPDATE_CONDITION, "contains_object_list")),
        **{name: translator(name) for name in MQTT_TRANSLATORS},
    )


class MqttBridge:
    """Publishes the hub's events and answers commands, as EMQX's gateway does."""

    def __init__(self, hass: HomeAssistant, hub: LwM2MHub, settings: EmqxSettings) -> None:
        self.hass = hass
        self.hub = hub
        self.settings = settings
        self._unsubscribe: list[Any] = []
        self._observe_ids: dict[tuple[str, str], Any] = {}  # (endpoint, path) -> reqID of its observe

    async def async_start(self) -> bool:
        """Start bridging; False (and a repair issue) when MQTT is not set up."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                ISSUE_MQTT_MISSING,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_MQTT_MISSING,
            )
            _LOGGER.warning("The LwM2M MQTT bridge is on, but the MQTT integration is not set up")
            return False
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_MQTT_MISSING)
        self._unsubscribe.append(
            await mqtt.async_subscribe(
                self.hass, self.settings.command_filter(), self._on_command, self.settings.command.qos, encoding=None
            )
        )
        self._unsubscribe.append(self.hub.server.events.subscribe(self._on_event))
        return True

    @callback
    def async_stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    async def _publish(self, endpoint: str, translator: Translator, payload: dict[str, Any]) -> None:
        if not mqtt.is_connected(self.hass):
            # Like EMQX's gateway, messages are not kept while the broker is away.
            _LOGGER.debug("MQTT is disconnected; dropping a %s message", payload.get("msgType"))
            return
        try:
            await mqtt.async_publish(
                self.hass, self.settings.topic(endpoint, translator), json.dumps(payload, default=str), translator.qos
            )
        except Exception as err:
            _LOGGER.debug("Publishing to MQTT failed: %s", err)

    # -- up: events ---------------------------------------------------------------------------

    @callback
    def _on_event(self, event: Event) -> None:
        settings = self.settings
        endpoint = event.endpoint
        if event.type is EventType.REGISTERED:
            self._spawn(self._publish(endpoint, settings.register, registration_message("register", event.details)))
        elif event.type is EventType.UPDATED and should_publish_update(
            settings, bool(event.details.get("objects_changed"))
        ):
            self._spawn(self._publish(endpoint, settings.update, registration_message("update", event.details)))
        elif event.type is EventType.NOTIFICATION and event.path is not None:
            req_id = self._observe_ids.get((endpoint, str(event.path)), 0)
            message = notify_message(req_id, event.sequence, event.code or "2.05", str(event.path), event.values)
            self._spawn(self._publish(endpoint, settings.notify, message))
        elif event.type in (EventType.DEREGISTERED, EventType.EXPIRED):
            for key in [k for k in self._observe_ids if k[0] == endpoint]:
                del self._observe_ids[key]

    def _spawn(self, coro: Any) -> None:
        self.hub.entry.async_create_background_task(self.hass, coro, f"{DOMAIN} mqtt publish")

    # -- down: commands -----------------------------------------------------------------------

    @callback
    def _on_command(self, message: mqtt.ReceiveMessage) -> None:
        endpoint = self.settings.endpoint_of(message.topic)
        if endpoint is None:
            return
        payload = message.payload if isinstance(message.payload, (bytes, str)) else str(message.payload)
        try:
            command = parse_command(payload)
        except EmqxError as err:
            self._spawn(self._publish(endpoint, self.settings.response, error_message(err)))
            return
        # Each command runs on its own: one for a sleeping device waits without holding others up.
        self._spawn(self._execute(endpoint, command))

    async def _execute(self, endpoint: str, command: Command) -> None:
        try:
            response = await self._operate(endpoint, command)
        except NotRegistered:
            out = response_message(
                command.req_id, command.msg_type, command.req_path, "4.04", f"{endpoint} is not registered"
            )
        except DeviceTimeout as err:
            out = response_message(command.req_id, command.msg_type, command.req_path, "5.04", str(err))
        except OperationError as err:
            out = response_message(command.req_id, command.msg_type, command.req_path, err.code or "5.00", str(err))
        except CodecError as err:
            out = response_message(command.req_id, command.msg_type, command.req_path, "4.00", str(err))
        except LwM2MError as err:
            out = response_message(command.req_id, command.msg_type, command.req_path, "5.00", str(err))
        else:
            out = response_message(
                command.req_id, command.msg_type, command.req_path, response.code, self._content(command, response)
            )
        await self._publish(endpoint, self.settings.response, out)

    def _content(self, command: Command, response: Response) -> Any:
        if command.msg_type == "discover":
            return discover_content(response.attributes)
        if command.msg_type in ("read", "observe"):
            return values_content(response.values)
        return None

    async def _operate(self, endpoint: str, command: Command) -> Response:
        ep = self.hub.server.endpoint(endpoint)
        path = command.path
        match command.msg_type:
            case "read":
                return await ep.read(path)
            case "discover":
                return await ep.discover(path)
            case "write":
                if len(command.values) == 1 and path in command.values:
                    return await ep.write(path, command.values[path])
                instance = {p.ids[2]: v for p, v in command.values.items() if p.depth == 3 and p.parent == path}
                if path.is_instance and len(instance) == len(command.values):
                    return await ep.write(path, instance, replace=False)
                values: dict[Path | str, object] = dict(command.values.items())
                return await ep.write_composite(values)
            case "write-attr":
                return await ep.write_attributes(path, dict(command.attributes))
            case "execute":
                return await ep.execute(path, command.args)
            case "create":
                instances = {p.ids[1] for p in command.values}
                if len(instances) != 1 or any(p.depth != 3 for p in command.values):
                    raise CodecError("create content must be resources of one instance, such as 0/5700")
                (iid,) = instances
                return await ep.create(path, {p.ids[2]: v for p, v in command.values.items()}, instance_id=iid)
            case "delete":
                return await ep.delete(path)
            case "observe":
                self._observe_ids[(endpoint, str(path))] = command.req_id
                return await ep.observe(path)
            case _:  # cancel-observe
                self._observe_ids.pop((endpoint, str(path)), None)
                return await ep.cancel_observe(path)
