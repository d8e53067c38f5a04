"""The consumer mode's MQTT side, over Home Assistant's own MQTT integration.

The EMQX gateway's messages go into the core's EmqxGateway, and its commands go out.
"""

from __future__ import annotations

import logging

from homeassistant.components import mqtt
from homeassistant.core import callback

from .lwm2m.emqx import EmqxGateway
from .lwm2m.errors import OperationError
from .mqtt_bridge import MqttSubscriptions, mqtt_ready, payload_of

_LOGGER = logging.getLogger(__name__)


class MqttConsumer(MqttSubscriptions):
    """Subscribes to what the gateway publishes and publishes the gateway's commands."""

    async def async_start(self, gateway: EmqxGateway) -> bool:
        """Subscribe; False (and a repair issue) when MQTT is not set up."""
        if not await mqtt_ready(self.hass):
            return False

        @callback
        def on_message(message: mqtt.ReceiveMessage) -> None:
            gateway.handle(message.topic, payload_of(message))

        for topic, qos in gateway.up_filters().items():
            await self.subscribe(topic, on_message, qos)
        return True

    async def publish(self, topic: str, payload: str, qos: int) -> None:
        """Send one command; refused at once while the broker is away (nothing would answer)."""
        if not mqtt.is_connected(self.hass):
            raise OperationError("MQTT is disconnected; the command was not sent to the gateway", "5.03")
        try:
            await mqtt.async_publish(self.hass, topic, payload, qos)
        except Exception as err:
            raise OperationError(f"publishing the command to MQTT failed: {err}", "5.03") from err
