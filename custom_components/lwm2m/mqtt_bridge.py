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
from .lwm2m.emqx import EmqxSettings, Translator
from .lwm2m.emqx_bridge import EmqxBridge, Message
from .lwm2m.events import Event

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
    """Publishes the hub's events and answers commands, as EMQX's gateway does; what to
    publish and how to answer is the core's EmqxBridge, this only moves messages."""

    def __init__(self, hass: HomeAssistant, hub: LwM2MHub, settings: EmqxSettings) -> None:
        self.hass = hass
        self.hub = hub
        self.settings = settings
        self.core = EmqxBridge(settings, hub.server.endpoint)
        self._unsubscribe: list[Any] = []

    async def async_start(self) -> bool:
        """Start bridging; False (and a repair issue) when MQTT is not set up."""
        if not await mqtt_ready(self.hass):
            return False
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

    @callback
    def _on_event(self, event: Event) -> None:
        for message in self.core.messages_for(event):
            self._spawn(publish(self.hass, message))

    @callback
    def _on_command(self, message: mqtt.ReceiveMessage) -> None:
        parsed = self.core.parse(message.topic, payload_of(message))
        if parsed is None:
            return
        endpoint, command = parsed
        if isinstance(command, tuple):  # an error answered at once
            self._spawn(publish(self.hass, command))
            return
        # Each command runs on its own: one for a sleeping device waits without holding others up.
        self._spawn(self._execute(endpoint, command))

    async def _execute(self, endpoint: str, command: Any) -> None:
        await publish(self.hass, await self.core.execute(endpoint, command))

    def _spawn(self, coro: Any) -> None:
        self.hub.entry.async_create_background_task(self.hass, coro, f"{DOMAIN} mqtt publish")


def payload_of(message: mqtt.ReceiveMessage) -> bytes | str:
    """A received payload as bytes or text (subscriptions here ask for no decoding)."""
    return message.payload if isinstance(message.payload, (bytes, str)) else str(message.payload)


async def mqtt_ready(hass: HomeAssistant) -> bool:
    """True once Home Assistant's MQTT client is up; else a repair issue says what to do."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_MQTT_MISSING,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_MQTT_MISSING,
        )
        _LOGGER.warning("LwM2M needs MQTT here, but the MQTT integration is not set up")
        return False
    ir.async_delete_issue(hass, DOMAIN, ISSUE_MQTT_MISSING)
    return True


async def publish(hass: HomeAssistant, message: Message) -> None:
    topic, payload, qos = message
    if not mqtt.is_connected(hass):
        # Like EMQX's gateway, messages are not kept while the broker is away.
        _LOGGER.debug("MQTT is disconnected; dropping a %s message", payload.get("msgType"))
        return
    try:
        await mqtt.async_publish(hass, topic, json.dumps(payload, default=str), qos)
    except Exception as err:
        _LOGGER.debug("Publishing to MQTT failed: %s", err)
