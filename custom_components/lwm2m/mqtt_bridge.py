"""The MQTT bridge: every LwM2M event of a device source published, and commands executed.

It speaks the JSON of the EMQX LwM2M gateway, over Home Assistant's own MQTT integration.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .lwm2m.api import DeviceOperations
from .lwm2m.emqx import Command, EmqxBridge, EmqxSettings, Message
from .lwm2m.emqx.codec import kind
from .lwm2m.events import Event, EventBus

_LOGGER = logging.getLogger(__name__)
ISSUE_MQTT_MISSING = "mqtt_missing"


class BridgedSource(Protocol):
    """What the bridge needs of a device source: its events, and operations on each device."""

    @property
    def events(self) -> EventBus:
        """Return the source's event bus."""

    def endpoint(self, name: str) -> DeviceOperations:
        """Return the operations on one device."""


class MqttSubscriptions:
    """Subscriptions to Home Assistant's MQTT (and other callbacks), all ended at once."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Hold the subscriptions made in hass."""
        self.hass = hass
        self._unsubscribe: list[Callable[[], None]] = []

    async def subscribe(self, topic: str, handler: Callable[[mqtt.ReceiveMessage], None], qos: int) -> None:
        """Subscribe handler to topic."""
        self._unsubscribe.append(await mqtt.async_subscribe(self.hass, topic, handler, qos, encoding=None))

    @callback
    def async_stop(self) -> None:
        """Drop every subscription."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()


class MqttBridge(MqttSubscriptions):
    """Publishes a device source's events and answers commands, as EMQX's gateway does.

    What to publish and how to answer is the core's EmqxBridge; this only moves messages.
    """

    def __init__(self, hass: HomeAssistant, source: BridgedSource, settings: EmqxSettings) -> None:
        """Bridge source's events and commands as settings say."""
        super().__init__(hass)
        self.source = source
        self.settings = settings
        self.core = EmqxBridge(settings, self.source.endpoint)
        self._tasks: set[asyncio.Task[None]] = set()

    async def async_start(self) -> bool:
        """Start bridging; False (and a repair issue) when MQTT is not set up."""
        if not await mqtt_ready(self.hass):
            return False
        await self.subscribe(self.settings.command_filter(), self._on_command, self.settings.command.qos)
        self._unsubscribe.append(self.source.events.subscribe(self._on_event))
        return True

    @callback
    def async_stop(self) -> None:
        """Drop every subscription and cancel the publishing tasks."""
        super().async_stop()
        for task in self._tasks:
            task.cancel()

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
        if isinstance(command, Command):
            # Each command runs on its own: one for a sleeping device waits without holding others up.
            self._spawn(self._execute(endpoint, command))
        else:  # an error, answered at once
            self._spawn(publish(self.hass, command))

    async def _execute(self, endpoint: str, command: Command) -> None:
        await publish(self.hass, await self.core.execute(endpoint, command))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.hass.async_create_background_task(coro, f"{DOMAIN} mqtt publish")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def payload_of(message: mqtt.ReceiveMessage) -> bytes | str:
    """Take a received payload as bytes or text (subscriptions here ask for no decoding)."""
    return message.payload if isinstance(message.payload, (bytes, str)) else str(message.payload)


async def mqtt_ready(hass: HomeAssistant) -> bool:
    """Wait for Home Assistant's MQTT client and say whether it is up; if not, a repair issue says what to do."""
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
    """Publish message unless MQTT is disconnected; a failure is logged, not raised."""
    topic, payload, qos = message
    if not mqtt.is_connected(hass):
        # Like EMQX's gateway, messages are not kept while the broker is away.
        _LOGGER.debug("MQTT is disconnected; dropping a %s message", kind(payload))
        return
    try:
        await mqtt.async_publish(hass, topic, json.dumps(payload, default=str), qos)
    except Exception as err:  # noqa: BLE001 - dropped whatever the cause, as while the broker is away
        _LOGGER.debug("Publishing to MQTT failed: %s", err)
