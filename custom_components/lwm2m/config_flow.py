"""Set up the LwM2M server from the UI: address, UDP port, lifetimes, observation, object files."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.core import callback
from homeassistant.helpers import selector

from .const import (
    AUTO_OBSERVE_CHOICES,
    AUTO_OBSERVE_ENTITIES,
    CONF_AUTO_OBSERVE,
    CONF_HOST,
    CONF_MAX_LIFETIME,
    CONF_MIN_LIFETIME,
    CONF_PORT,
    CONF_XML_DIR,
    DEFAULT_HOST,
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MIN_LIFETIME,
    DEFAULT_PORT,
    DOMAIN,
)

_SECONDS = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=1, max=86400 * 365, step=1, mode=selector.NumberSelectorMode.BOX, unit_of_measurement="s"
    )
)


def _server_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    return {
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, DEFAULT_HOST)): selector.TextSelector(),
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): selector.NumberSelector(
            selector.NumberSelectorConfig(min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
        ),
    }


def _settings_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    return {
        vol.Required(CONF_MIN_LIFETIME, default=defaults.get(CONF_MIN_LIFETIME, DEFAULT_MIN_LIFETIME)): _SECONDS,
        vol.Required(CONF_MAX_LIFETIME, default=defaults.get(CONF_MAX_LIFETIME, DEFAULT_MAX_LIFETIME)): _SECONDS,
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


def _schema(fields: dict[Any, Any]) -> Any:
    """A form schema (typed Any: Home Assistant moved from voluptuous to probatio)."""
    return vol.Schema(fields)


def _udp_port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _check_settings(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if int(data[CONF_MIN_LIFETIME]) > int(data[CONF_MAX_LIFETIME]):
        errors[CONF_MAX_LIFETIME] = "lifetime_range"
    folder = (data.get(CONF_XML_DIR) or "").strip()
    if folder and not os.path.isdir(folder):
        errors[CONF_XML_DIR] = "xml_dir_invalid"
    return errors


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in (CONF_PORT, CONF_MIN_LIFETIME, CONF_MAX_LIFETIME):
        if key in out:
            out[key] = int(out[key])
    if CONF_HOST in out:
        out[CONF_HOST] = str(out[CONF_HOST]).strip() or DEFAULT_HOST
    if CONF_XML_DIR in out:
        out[CONF_XML_DIR] = (out[CONF_XML_DIR] or "").strip()
    return out


class LwM2MConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per UDP port."""

    VERSION = 1

    async def _check_server(self, data: dict[str, Any], current_port: int | None = None) -> dict[str, str]:
        host, port = data[CONF_HOST], data[CONF_PORT]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return {CONF_HOST: "invalid_host"}
        if port != current_port and not await self.hass.async_add_executor_job(_udp_port_free, host, port):
            return {CONF_PORT: "port_in_use"}
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            await self.async_set_unique_id(str(data[CONF_PORT]))
            self._abort_if_unique_id_configured()
            errors = _check_settings(data) or await self._check_server(data)
            if not errors:
                return self.async_create_entry(title=f"LwM2M server (UDP {data[CONF_PORT]})", data=data)
        schema = _schema({**_server_schema(user_input or {}), **_settings_schema(user_input or {})})
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        current = {**entry.data, **entry.options}
        if user_input is not None:
            data = _normalize(user_input)
            if data[CONF_PORT] != entry.data[CONF_PORT]:
                await self.async_set_unique_id(str(data[CONF_PORT]))
                self._abort_if_unique_id_configured()
            errors = _check_settings(data) or await self._check_server(data, current_port=entry.data[CONF_PORT])
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=str(data[CONF_PORT]),
                    title=f"LwM2M server (UDP {data[CONF_PORT]})",
                    data={**entry.data, **data},
                    options={},
                )
        schema = _schema({**_server_schema(user_input or current), **_settings_schema(user_input or current)})
        return self.async_show_form(step_id="reconfigure", data_schema=schema, errors=errors)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return LwM2MOptionsFlow()


class LwM2MOptionsFlow(OptionsFlow):
    """Lifetimes, observation and object files; the server restarts with them."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            errors = _check_settings(data)
            if not errors:
                return self.async_create_entry(data=data)
        current = {**self.config_entry.data, **self.config_entry.options}
        return self.async_show_form(
            step_id="init", data_schema=_schema(_settings_schema(user_input or current)), errors=errors
        )
