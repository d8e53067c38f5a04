"""The EMQX LwM2M gateway's MQTT dialect, for the bridge and for the gateway consumer.

Its JSON is in one codec (both directions), beside its settings and topics, the bridge's
behaviour (our server's devices published as EMQX publishes them) and the gateway consumer
(an EMQX gateway's devices as a device source).

    settings.py  EmqxSettings: mountpoint, translators, update condition; EMQX's defaults
    codec.py     every message and command: a typed value, encode() and decode()
    bridge.py    events -> messages, commands -> operations -> responses
    gateway.py   EmqxGateway: messages -> registrations and events (a DeviceSource)
    device.py    GatewayEndpoint: operations -> commands (DeviceOperations)

Nothing here imports aiocoap or Home Assistant.
"""

from .bridge import EmqxBridge, Message
from .codec import Command, EmqxError
from .device import GatewayEndpoint
from .gateway import EmqxGateway, GatewayConfig, Publish
from .settings import EmqxSettings, Translator

__all__ = [
    "Command",
    "EmqxBridge",
    "EmqxError",
    "EmqxGateway",
    "EmqxSettings",
    "GatewayConfig",
    "GatewayEndpoint",
    "Message",
    "Publish",
    "Translator",
]
