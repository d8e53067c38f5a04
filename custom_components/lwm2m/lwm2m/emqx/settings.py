"""The EMQX LwM2M gateway's settings that shape its MQTT side, and the topics they make.

EMQX's defaults are written here once. A topic is {mountpoint}{translator topic}, where the
mountpoint names the endpoint with ${endpoint_name}.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENDPOINT_VARIABLE = "${endpoint_name}"
TRANSLATORS = ("command", "response", "notify", "register", "update")
UPDATE_CONDITIONS = ("contains_object_list", "always")
OPTION_PREFIX = "mqtt_"  # the flat form: mqtt_mountpoint, mqtt_command_topic, mqtt_command_qos, ...


@dataclass(frozen=True, slots=True)
class Translator:
    """One of EMQX's translators: a topic and its QoS."""

    topic: str
    qos: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmqxSettings:
    """mountpoint, translators and update_msg_publish_condition, as EMQX names them."""

    mountpoint: str = "lwm2m/${endpoint_name}/"
    command: Translator = field(default_factory=lambda: Translator("dn/#"))
    response: Translator = field(default_factory=lambda: Translator("up/resp"))
    notify: Translator = field(default_factory=lambda: Translator("up/notify"))
    register: Translator = field(default_factory=lambda: Translator("up/resp"))
    update: Translator = field(default_factory=lambda: Translator("up/update"))
    update_msg_publish_condition: str = UPDATE_CONDITIONS[0]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EmqxSettings:
        """Read settings from their flat form (OPTION_PREFIX + EMQX's name, as a config entry keeps them).

        A setting left out keeps EMQX's default.
        """
        defaults = cls()

        def translator(name: str) -> Translator:
            default: Translator = getattr(defaults, name)
            topic = options.get(f"{OPTION_PREFIX}{name}_topic", default.topic)
            return Translator(str(topic), int(options.get(f"{OPTION_PREFIX}{name}_qos", default.qos)))

        condition = options.get(f"{OPTION_PREFIX}update_msg_publish_condition", defaults.update_msg_publish_condition)
        return cls(
            mountpoint=str(options.get(f"{OPTION_PREFIX}mountpoint", defaults.mountpoint)),
            update_msg_publish_condition=str(condition),
            **{name: translator(name) for name in TRANSLATORS},
        )

    def publishes_update(self, objects_changed: bool) -> bool:
        """Whether the gateway publishes an Update: always, or when the object list changed."""
        return self.update_msg_publish_condition == "always" or objects_changed

    @property
    def publishes_every_update(self) -> bool:
        """Return whether every Update is published, not only changes."""
        return self.update_msg_publish_condition == "always"

    def topic(self, endpoint: str, translator: Translator) -> str:
        """Return the topic of translator for endpoint."""
        return self.mountpoint.replace(ENDPOINT_VARIABLE, endpoint) + translator.topic

    # -- the bridge's side: commands in -----------------------------------------------------

    def command_filter(self) -> str:
        """Return the MQTT subscription that receives commands for every endpoint."""
        return self.mountpoint.replace(ENDPOINT_VARIABLE, "+") + self.command.topic

    def endpoint_of(self, topic: str) -> str | None:
        """Return the endpoint a command topic addresses, or None if it is not a command topic."""
        match = _topic_pattern(self.mountpoint, self.command.topic).match(topic)
        return match.group("ep") if match else None

    # -- the consumer's side: devices of an EMQX gateway, seen from MQTT --------------------

    def command_topic(self, endpoint: str) -> str:
        """Return where a consumer publishes a command for endpoint: the command filter made concrete.

        EMQX's default "dn/#" becomes "dn/cmd", as EMQX's own examples publish.
        """
        levels = ["cmd" if level in ("#", "+") else level for level in self.command.topic.split("/")]
        return self.topic(endpoint, Translator("/".join(levels)))

    def up_filters(self) -> dict[str, int]:
        """Return the MQTT subscriptions that receive everything the gateway publishes, with their QoS."""
        out: dict[str, int] = {}
        for translator in (self.register, self.update, self.notify, self.response):
            topic = self.mountpoint.replace(ENDPOINT_VARIABLE, "+") + translator.topic
            out[topic] = max(out.get(topic, 0), translator.qos)
        return out

    def endpoint_of_up(self, topic: str) -> str | None:
        """Return the endpoint a message from the gateway is about, or None if no up topic matches."""
        for translator in (self.response, self.notify, self.update, self.register):
            match = _topic_pattern(self.mountpoint, translator.topic).match(topic)
            if match:
                return match.group("ep")
        return None


@functools.cache
def _topic_pattern(mountpoint: str, topic: str) -> re.Pattern[str]:
    """MQTT topic filter semantics: '+' one level, a final '#' any levels (or none)."""
    mount = re.escape(mountpoint).replace(re.escape(ENDPOINT_VARIABLE), "(?P<ep>[^/+#]+)")
    tail = ""
    for index, part in enumerate(topic.split("/")):
        sep = "/" if index else ""
        if part == "#":
            tail += f"(?:{sep}.*)?" if index else ".*"
        elif part == "+":
            tail += sep + "[^/]+"
        else:
            tail += sep + re.escape(part)
    return re.compile(f"^{mount}{tail}$")
