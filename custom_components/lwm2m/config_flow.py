"""Set up LwM2M from the UI: either an LwM2M server here or an external EMQX gateway's devices.

The server takes its address, UDP port, lifetimes, observation, object files and the optional
MQTT bridge; the devices of an external EMQX LwM2M gateway come over MQTT (its mountpoint and
topics).
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers import selector

from .bootstrap_setup import host_problem
from .const import (
    ADMISSION_ASK,
    ADMISSION_CHOICES,
    ADMISSION_OPEN,
    AUTO_OBSERVE_CHOICES,
    AUTO_OBSERVE_ENTITIES,
    CONF_ADMISSION,
    CONF_AUTO_OBSERVE,
    CONF_BOOTSTRAP_HOST,
    CONF_BOOTSTRAP_PORT,
    CONF_COMMUNICATION_RETRY,
    CONF_DTLS_PORT,
    CONF_HOST,
    CONF_MAX_LIFETIME,
    CONF_MAX_REGISTRATIONS_PER_HOST,
    CONF_MIN_LIFETIME,
    CONF_MODE,
    CONF_MQTT_BRIDGE,
    CONF_MQTT_MOUNTPOINT,
    CONF_MQTT_UPDATE_CONDITION,
    CONF_NOTIFICATION_EVENTS,
    CONF_NOTIFICATION_RATE,
    CONF_PORT,
    CONF_REGISTRATION_RATE,
    CONF_XML_DIR,
    DEFAULT_DTLS_PORT,
    DEFAULT_HOST,
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_REGISTRATIONS_PER_HOST,
    DEFAULT_MIN_LIFETIME,
    DEFAULT_NOTIFICATION_RATE,
    DEFAULT_PORT,
    DEFAULT_REGISTRATION_RATE,
    DOMAIN,
    MODE_EMQX,
    MODE_SERVER,
    MQTT_TOPIC_DEFAULTS,
    MQTT_TRANSLATORS,
    MQTT_UPDATE_CONDITIONS,
    SUBENTRY_DEVICE,
    SUBENTRY_FIRMWARE,
)
from .device_list import DeviceSubentryFlow, add_device
from .firmware_flow import FirmwareSubentryFlow
from .lwm2m.security.credentials import NOSEC
from .lwm2m.transport import bind_problem

if TYPE_CHECKING:
    from .hub import LwM2MConfigEntry

_SECONDS = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=1, max=86400 * 365, step=1, mode=selector.NumberSelectorMode.BOX, unit_of_measurement="s"
    )
)


def _server_schema(defaults: dict[str, Any], dtls_default: int = DEFAULT_DTLS_PORT) -> dict[Any, Any]:
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, DEFAULT_HOST)): selector.TextSelector(),
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): selector.NumberSelector(
            selector.NumberSelectorConfig(min=0, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
        ),
        vol.Required(CONF_DTLS_PORT, default=defaults.get(CONF_DTLS_PORT, dtls_default)): selector.NumberSelector(
            selector.NumberSelectorConfig(min=0, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
        ),
    }


def _admission_schema(defaults: dict[str, Any], default: str) -> dict[Any, Any]:
    return {
        vol.Required(CONF_ADMISSION, default=defaults.get(CONF_ADMISSION, default)): selector.SelectSelector(
            selector.SelectSelectorConfig(options=ADMISSION_CHOICES, translation_key=CONF_ADMISSION)
        )
    }


def _settings_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    return {
        vol.Required(CONF_MIN_LIFETIME, default=defaults.get(CONF_MIN_LIFETIME, DEFAULT_MIN_LIFETIME)): _SECONDS,
        vol.Required(CONF_MAX_LIFETIME, default=defaults.get(CONF_MAX_LIFETIME, DEFAULT_MAX_LIFETIME)): _SECONDS,
        **_observe_schema(defaults),
    }


def _count(most: int, unit: str | None = None) -> Any:
    config = selector.NumberSelectorConfig(min=0, max=most, step=1, mode=selector.NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def _limits_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    """Ask what one address or one device may cost the server (0: no limit)."""
    return {
        vol.Required(
            CONF_MAX_REGISTRATIONS_PER_HOST,
            default=defaults.get(CONF_MAX_REGISTRATIONS_PER_HOST, DEFAULT_MAX_REGISTRATIONS_PER_HOST),
        ): _count(100_000),
        vol.Required(
            CONF_REGISTRATION_RATE, default=defaults.get(CONF_REGISTRATION_RATE, DEFAULT_REGISTRATION_RATE)
        ): _count(100_000, "/s"),
        vol.Required(
            CONF_NOTIFICATION_RATE, default=defaults.get(CONF_NOTIFICATION_RATE, DEFAULT_NOTIFICATION_RATE)
        ): _count(10_000, "/s"),
    }


_QOS = selector.SelectSelector(
    selector.SelectSelectorConfig(options=["0", "1", "2"], mode=selector.SelectSelectorMode.DROPDOWN)
)
DEFAULT_MOUNTPOINT = "lwm2m/${endpoint_name}/"
# EMQX writes ${endpoint_name} in topics; the frontend would read {endpoint_name} in a
# translation as a placeholder, so the literal reaches the texts as one.
PLACEHOLDERS = {"endpoint_variable": "${endpoint_name}"}


def _observe_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    return {
        vol.Required(
            CONF_AUTO_OBSERVE, default=defaults.get(CONF_AUTO_OBSERVE, AUTO_OBSERVE_ENTITIES)
        ): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=AUTO_OBSERVE_CHOICES, translation_key=CONF_AUTO_OBSERVE, mode=selector.SelectSelectorMode.LIST
            )
        ),
        vol.Optional(
            CONF_XML_DIR, description={"suggested_value": defaults.get(CONF_XML_DIR, "")}
        ): selector.TextSelector(),
    }


def _events_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    """Whether every notification is also an event on the bus (options only)."""
    return {
        vol.Required(CONF_NOTIFICATION_EVENTS, default=bool(defaults.get(CONF_NOTIFICATION_EVENTS, False))): (
            selector.BooleanSelector()
        )
    }


def _bootstrap_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    """Ask for the bootstrap server: its port (0: off) and the address devices are told (options only)."""
    return {
        vol.Required(CONF_BOOTSTRAP_PORT, default=defaults.get(CONF_BOOTSTRAP_PORT, 0)): selector.NumberSelector(
            selector.NumberSelectorConfig(min=0, max=65534, step=1, mode=selector.NumberSelectorMode.BOX)
        ),
        vol.Optional(CONF_BOOTSTRAP_HOST, default=defaults.get(CONF_BOOTSTRAP_HOST, "")): selector.TextSelector(),
    }


def _check_bootstrap(data: dict[str, Any], current: dict[str, Any]) -> dict[str, str]:
    """Check that a bootstrap port has the address devices are told, and two ports of its own."""
    port = int(data.get(CONF_BOOTSTRAP_PORT) or 0)
    if not port:
        return {}
    host = str(data.get(CONF_BOOTSTRAP_HOST) or "").strip()
    if not host or host_problem(host):
        return {CONF_BOOTSTRAP_HOST: "bootstrap_host_required"}
    taken = {current.get(CONF_PORT), current.get(CONF_DTLS_PORT)} - {None, 0}
    if port in taken or port + 1 in taken:
        return {CONF_BOOTSTRAP_PORT: "same_port"}
    return {}


def _mqtt_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    """EMQX's gateway settings: mountpoint, update condition, each translator's topic and QoS."""
    fields: dict[Any, Any] = {
        vol.Required(
            CONF_MQTT_MOUNTPOINT, default=defaults.get(CONF_MQTT_MOUNTPOINT, DEFAULT_MOUNTPOINT)
        ): selector.TextSelector(),
        vol.Required(
            CONF_MQTT_UPDATE_CONDITION, default=defaults.get(CONF_MQTT_UPDATE_CONDITION, MQTT_UPDATE_CONDITIONS[0])
        ): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=MQTT_UPDATE_CONDITIONS,
                translation_key=CONF_MQTT_UPDATE_CONDITION,
                mode=selector.SelectSelectorMode.LIST,
            )
        ),
    }
    for name in MQTT_TRANSLATORS:
        topic, qos = f"mqtt_{name}_topic", f"mqtt_{name}_qos"
        fields[vol.Required(topic, default=defaults.get(topic, MQTT_TOPIC_DEFAULTS[name]))] = selector.TextSelector()
        fields[vol.Required(qos, default=str(defaults.get(qos, 0)))] = _QOS
    return fields


def _check_mqtt(data: dict[str, Any]) -> dict[str, str]:
    """Topics as EMQX takes them: the mountpoint names the endpoint, only commands take wildcards."""
    errors: dict[str, str] = {}
    mountpoint = data[CONF_MQTT_MOUNTPOINT]
    if mountpoint.count("${endpoint_name}") != 1 or "+" in mountpoint or "#" in mountpoint:
        errors[CONF_MQTT_MOUNTPOINT] = "invalid_mountpoint"
    for name in MQTT_TRANSLATORS:
        key = f"mqtt_{name}_topic"
        if not _topic_ok(data[key], wildcards=name == "command"):
            errors[key] = "invalid_topic"
    return errors


def _topic_ok(topic: str, *, wildcards: bool) -> bool:
    """Tell whether topic is a valid MQTT topic (or, with wildcards, a filter: '+' levels, a last '#')."""
    if not topic or "\x00" in topic:
        return False
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "+" in level or "#" in level:
            whole = level == "+" or (level == "#" and index == len(levels) - 1)
            if not (wildcards and whole):
                return False
    return True


def _normalize_mqtt(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out[CONF_MQTT_MOUNTPOINT] = str(out.get(CONF_MQTT_MOUNTPOINT, DEFAULT_MOUNTPOINT)).strip()
    for name in MQTT_TRANSLATORS:
        out[f"mqtt_{name}_topic"] = str(out.get(f"mqtt_{name}_topic", MQTT_TOPIC_DEFAULTS[name])).strip().strip("/")
        out[f"mqtt_{name}_qos"] = int(out.get(f"mqtt_{name}_qos", 0))
    return out


def _emqx_title(data: dict[str, Any]) -> str:
    return f"EMQX LwM2M gateway ({data[CONF_MQTT_MOUNTPOINT]})"


def _schema(fields: dict[Any, Any]) -> Any:
    """Make a form schema (typed Any: Home Assistant moved from voluptuous to probatio)."""
    return vol.Schema(fields)


def _check_settings(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if CONF_MIN_LIFETIME in data and int(data[CONF_MIN_LIFETIME]) > int(data[CONF_MAX_LIFETIME]):
        errors[CONF_MAX_LIFETIME] = "lifetime_range"
    folder = (data.get(CONF_XML_DIR) or "").strip()
    if folder and not os.path.isdir(folder):
        errors[CONF_XML_DIR] = "xml_dir_invalid"
    return errors


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in (
        CONF_PORT,
        CONF_MIN_LIFETIME,
        CONF_MAX_LIFETIME,
        CONF_MAX_REGISTRATIONS_PER_HOST,
        CONF_REGISTRATION_RATE,
        CONF_NOTIFICATION_RATE,
        CONF_DTLS_PORT,
        CONF_BOOTSTRAP_PORT,
    ):
        if key in out:
            out[key] = int(out[key])
    if CONF_HOST in out:
        out[CONF_HOST] = str(out[CONF_HOST]).strip() or DEFAULT_HOST
    if CONF_XML_DIR in out:
        out[CONF_XML_DIR] = (out[CONF_XML_DIR] or "").strip()
    return out


def _server_id(data: dict[str, Any]) -> str:
    """Return a server entry's unique id: its UDP port, or "coaps <port>" when it has coaps:// only."""
    return str(data[CONF_PORT]) if data[CONF_PORT] else f"coaps {data[CONF_DTLS_PORT]}"


def _server_title(data: dict[str, Any]) -> str:
    """Return a server entry's title, which names its ports."""
    ports = [f"UDP {data[CONF_PORT]}"] if data[CONF_PORT] else []
    if data.get(CONF_DTLS_PORT):
        ports.append(f"coaps {data[CONF_DTLS_PORT]}")
    return f"LwM2M server ({', '.join(ports)})"


def _options_without(entry: LwM2MConfigEntry, data: dict[str, Any]) -> dict[str, Any]:
    """Return the entry's options less what Reconfigure just set (options would shadow it).

    The MQTT bridge and every other option stay as they were.
    """
    return {key: value for key, value in entry.options.items() if key not in data}


class LwM2MConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per UDP port, or per EMQX gateway mountpoint; and discovered devices to admit."""

    VERSION = 1
    _discovered: dict[str, str]

    async def _check_server(self, data: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, str]:
        host, port, dtls_port = data[CONF_HOST], data[CONF_PORT], data.get(CONF_DTLS_PORT, 0)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return {CONF_HOST: "invalid_host"}
        if not port and not dtls_port:
            return {CONF_PORT: "no_port"}
        if dtls_port == port:
            return {CONF_DTLS_PORT: "same_port"}
        current = current or {}
        for field, number in ((CONF_PORT, port), (CONF_DTLS_PORT, dtls_port)):
            if not number or number == current.get(field):
                continue  # off, or the entry's own port, which it holds now
            match await self.hass.async_add_executor_job(bind_problem, host, number):
                case "in_use":
                    return {field: "port_in_use"}
                case "not_local":
                    return {CONF_HOST: "host_not_local"}
                case "no_ipv6":
                    return {"base": "no_ipv6"}
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the choice: an LwM2M server here, or the devices of an EMQX gateway over MQTT."""
        return self.async_show_menu(step_id="user", menu_options=[MODE_SERVER, MODE_EMQX])

    async def async_step_server(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the built-in server's address, UDP port and lifetimes."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            await self.async_set_unique_id(_server_id(data))
            self._abort_if_unique_id_configured()
            errors = _check_settings(data) or await self._check_server(data)
            if not errors:
                return self.async_create_entry(title=_server_title(data), data={CONF_MODE: MODE_SERVER, **data})
        defaults = user_input or {}
        schema = _schema(
            {**_server_schema(defaults), **_admission_schema(defaults, ADMISSION_ASK), **_settings_schema(defaults)}
        )
        return self.async_show_form(
            step_id="server", data_schema=schema, errors=errors, description_placeholders=PLACEHOLDERS
        )

    async def async_step_emqx(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Devices registered with an EMQX LwM2M gateway, reached through Home Assistant's MQTT."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize_mqtt(_normalize(user_input))
            await self.async_set_unique_id(f"emqx {data[CONF_MQTT_MOUNTPOINT]}")
            self._abort_if_unique_id_configured()
            errors = _check_mqtt(data) or _check_settings(data)
            if not errors:
                return self.async_create_entry(title=_emqx_title(data), data={CONF_MODE: MODE_EMQX, **data})
        schema = _schema({**_mqtt_schema(user_input or {}), **_observe_schema(user_input or {})})
        return self.async_show_form(
            step_id="emqx", data_schema=schema, errors=errors, description_placeholders=PLACEHOLDERS
        )

    def _updated(self, entry: LwM2MConfigEntry, **changes: Any) -> ConfigFlowResult:
        """Change the entry; its update listener reloads it (Home Assistant 2026 reports a flow that reloads too)."""
        self.hass.config_entries.async_update_entry(entry, **changes)
        return self.async_abort(reason="reconfigure_successful")

    async def _claim(self, unique_id: str, entry: LwM2MConfigEntry) -> None:
        """Reconfigure onto another port or mountpoint: abort if another entry has it."""
        if unique_id != entry.unique_id:
            await self.async_set_unique_id(unique_id)
            self._abort_if_unique_id_configured()

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the built-in server's settings of an existing entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        current = {**entry.data, **entry.options}
        if current.get(CONF_MODE) == MODE_EMQX:
            return await self.async_step_reconfigure_emqx(user_input)
        if user_input is not None:
            data = _normalize(user_input)
            await self._claim(_server_id(data), entry)
            errors = _check_settings(data) or await self._check_server(data, current)
            if not errors:
                return self._updated(
                    entry,
                    unique_id=_server_id(data),
                    title=_server_title(data),
                    data={**entry.data, **data},
                    options=_options_without(entry, data),
                )
        schema = _schema({**_server_schema(user_input or current, 0), **_settings_schema(user_input or current)})
        return self.async_show_form(
            step_id="reconfigure", data_schema=schema, errors=errors, description_placeholders=PLACEHOLDERS
        )

    async def async_step_reconfigure_emqx(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the MQTT side of an existing EMQX gateway entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        current = {**entry.data, **entry.options}
        if user_input is not None:
            data = _normalize_mqtt(_normalize(user_input))
            unique_id = f"emqx {data[CONF_MQTT_MOUNTPOINT]}"
            await self._claim(unique_id, entry)
            errors = _check_mqtt(data) or _check_settings(data)
            if not errors:
                return self._updated(
                    entry,
                    unique_id=unique_id,
                    title=_emqx_title(data),
                    data={**entry.data, **data},
                    options=_options_without(entry, data),
                )
        schema = _schema({**_mqtt_schema(user_input or current), **_observe_schema(user_input or current)})
        return self.async_show_form(
            step_id="reconfigure_emqx", data_schema=schema, errors=errors, description_placeholders=PLACEHOLDERS
        )

    async def async_step_integration_discovery(self, discovery_info: dict[str, Any]) -> ConfigFlowResult:
        """Offer an unknown device that tried to register with an entry that asks (admission "ask")."""
        entry = self.hass.config_entries.async_get_entry(discovery_info["entry_id"])
        if entry is None:
            return self.async_abort(reason="server_gone")
        endpoint = discovery_info["endpoint"]
        # one question per device and server; an ignored device stays ignored (its ignored entry has this id)
        await self.async_set_unique_id(f"device {entry.entry_id} {endpoint}")
        self._abort_if_unique_id_configured()
        self._discovered = {"entry_id": entry.entry_id, "endpoint": endpoint, "address": discovery_info["address"]}
        self.context["title_placeholders"] = {"endpoint": endpoint}
        return await self.async_step_admit()

    async def async_step_admit(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add the device to its server's device list (it may then register), or leave it refused."""
        entry = self.hass.config_entries.async_get_entry(self._discovered["entry_id"])
        if entry is None:
            return self.async_abort(reason="server_gone")
        endpoint = self._discovered["endpoint"]
        if user_input is not None:
            add_device(self.hass, entry, {"endpoint": endpoint, "mode": NOSEC})
            return self.async_abort(reason="device_admitted", description_placeholders={"endpoint": endpoint})
        self._set_confirm_only()
        return self.async_show_form(
            step_id="admit",
            description_placeholders={
                "endpoint": endpoint,
                "address": self._discovered["address"],
                "server": entry.title,
            },
        )

    @classmethod
    @callback
    def async_get_supported_subentry_types(cls, config_entry: ConfigEntry) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentry types: a server entry has a device list, an EMQX gateway entry none."""
        if config_entry.data.get(CONF_MODE) == MODE_EMQX or config_entry.source == SOURCE_IGNORE:
            return {}  # an EMQX gateway's entry, or an ignored discovered device
        return {SUBENTRY_DEVICE: DeviceSubentryFlow, SUBENTRY_FIRMWARE: FirmwareSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: LwM2MConfigEntry) -> OptionsFlow:
        """Return the options flow of an entry."""
        return LwM2MOptionsFlow()


class LwM2MOptionsFlow(OptionsFlow):
    """Lifetimes, observation, object files and the MQTT bridge; the entry restarts with them.

    For an EMQX gateway entry: observation, object files and the gateway's topics.
    """

    def __init__(self) -> None:
        """Start with no options chosen."""
        self._options: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options of the entry's mode."""
        current = {**self.config_entry.data, **self.config_entry.options}
        if current.get(CONF_MODE) == MODE_EMQX:
            return await self.async_step_emqx(user_input)
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            errors = _check_settings(data) or _check_bootstrap(data, current)
            if not errors:
                self._options = data
                if data.get(CONF_MQTT_BRIDGE):
                    return await self.async_step_mqtt()
                return self.async_create_entry(data=data)
        fields = {
            **_settings_schema(user_input or current),
            **_admission_schema(user_input or current, ADMISSION_OPEN),
            **_limits_schema(user_input or current),
            **_events_schema(user_input or current),
            **_bootstrap_schema(user_input or current),
            vol.Required(CONF_COMMUNICATION_RETRY, default=bool(current.get(CONF_COMMUNICATION_RETRY, True))): (
                selector.BooleanSelector()
            ),
            vol.Required(CONF_MQTT_BRIDGE, default=bool(current.get(CONF_MQTT_BRIDGE, False))): (
                selector.BooleanSelector()
            ),
        }
        return self.async_show_form(
            step_id="init", data_schema=_schema(fields), errors=errors, description_placeholders=PLACEHOLDERS
        )

    async def async_step_mqtt(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the bridge's topics, as in the EMQX gateway's settings."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize_mqtt(user_input)
            errors = _check_mqtt(data)
            if not errors:
                return self.async_create_entry(data={**self._options, **data})
        current = {**self.config_entry.data, **self.config_entry.options}
        return self.async_show_form(
            step_id="mqtt",
            data_schema=_schema(_mqtt_schema(user_input or current)),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )

    async def async_step_emqx(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the EMQX gateway's topics."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize_mqtt(_normalize(user_input))
            errors = _check_mqtt(data) or _check_settings(data)
            if not errors:
                return self.async_create_entry(data=data)
        current = {**self.config_entry.data, **self.config_entry.options}
        defaults = user_input or current
        schema = _schema({**_mqtt_schema(defaults), **_observe_schema(defaults), **_events_schema(defaults)})
        return self.async_show_form(
            step_id="emqx", data_schema=schema, errors=errors, description_placeholders=PLACEHOLDERS
        )
