"""A server entry's device list: one config subentry per device, with its credential.

Each subentry (type "device") holds an endpoint name and how the device proves who it is:
a pre-shared key, its certificate, or nothing (NoSec, a known device on plain coap://).
The server takes its credentials from them; under the admission policies "ask" and "known"
they are also the devices allowed to register. Added from the entry's page (Add device),
by a click on a discovered device, or removed with the device.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant.config_entries import ConfigSubentry, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector

from .const import (
    CONF_BOOTSTRAP_IDENTITY,
    CONF_BOOTSTRAP_KEY,
    CONF_CERTIFICATE,
    CONF_ENDPOINT,
    CONF_PSK_IDENTITY,
    CONF_PSK_KEY,
    CONF_PSK_KEY_FORMAT,
    CONF_SECURITY_MODE,
    CONF_SERVER_CERTIFICATE,
    KEY_HEX,
    KEY_TEXT,
    SUBENTRY_DEVICE,
)
from .lwm2m.registration import endpoint_name_problem
from .lwm2m.security.credentials import (
    NOSEC,
    PSK,
    X509,
    Credential,
    CredentialError,
    Credentials,
    generate_key,
    hex_key,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

_FIELDS = {"key": CONF_PSK_KEY, "certificate": CONF_CERTIFICATE, "identity": CONF_PSK_IDENTITY}


def listed(entry: ConfigEntry) -> list[dict[str, Any]]:
    """Return the credentials (Credential.to_dict form) of the entry's device list."""
    return [dict(s.data) for s in entry.subentries.values() if s.subentry_type == SUBENTRY_DEVICE]


def subentry_of(entry: ConfigEntry, endpoint: str) -> ConfigSubentry | None:
    """Return the device list's subentry of an endpoint."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_DEVICE and subentry.unique_id == endpoint:
            return subentry
    return None


def add_device(hass: HomeAssistant, entry: ConfigEntry, item: dict[str, Any]) -> None:
    """Put a device (a credential's JSON form) on the entry's list; the entry restarts with it."""
    if subentry_of(entry, item["endpoint"]) is not None:
        return
    subentry = ConfigSubentry(
        data=MappingProxyType(item), subentry_type=SUBENTRY_DEVICE, title=item["endpoint"], unique_id=item["endpoint"]
    )
    hass.config_entries.async_add_subentry(entry, subentry)


def remove_devices(hass: HomeAssistant, entry: ConfigEntry, endpoints: Iterable[str]) -> None:
    """Take devices off the entry's list."""
    for endpoint in endpoints:
        subentry = subentry_of(entry, endpoint)
        if subentry is not None:
            hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add a device to the list, or change its credential."""

    _shown: dict[str, str]
    _item: dict[str, Any]

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the endpoint name and its credential; a PSK key left empty is made up."""
        errors: dict[str, str] = {}
        if user_input is not None:
            item, shown, errors = read_credential(user_input, listed(self._get_entry()))
            if not errors and item is not None:
                if shown:
                    self._item, self._shown = item, shown
                    return await self.async_step_key()
                return self.async_create_entry(title=item["endpoint"], data=item, unique_id=item["endpoint"])
        return self.async_show_form(
            step_id="user",
            data_schema=_form(_schema(user_input or {}, with_endpoint=True)),
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    async def async_step_key(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Show a made-up key once, so that the user can put it on the device."""
        if user_input is not None:
            item = self._item
            if self.source == "reconfigure":
                return self._update(item)
            return self.async_create_entry(title=item["endpoint"], data=item, unique_id=item["endpoint"])
        return self.async_show_form(step_id="key", data_schema=_form({}), description_placeholders=self._shown)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Change a listed device's credential (its endpoint name stays)."""
        subentry = self._get_reconfigure_subentry()
        endpoint = str(subentry.data["endpoint"])
        errors: dict[str, str] = {}
        if user_input is not None:
            others = [item for item in listed(self._get_entry()) if item.get("endpoint") != endpoint]
            kept = {k: subentry.data[k] for k in ("bootstrap_identity", "bootstrap_key") if k in subentry.data}
            item, shown, errors = read_credential({**user_input, CONF_ENDPOINT: endpoint}, others, kept)
            if not errors and item is not None:
                if shown:
                    self._item, self._shown = item, shown
                    return await self.async_step_key()
                return self._update(item)
        current = dict(subentry.data)
        defaults = user_input or {
            CONF_SECURITY_MODE: current.get("mode", PSK),
            CONF_PSK_IDENTITY: current.get("identity", ""),
            CONF_CERTIFICATE: current.get("certificate", ""),
            CONF_BOOTSTRAP_IDENTITY: current.get("bootstrap_identity", ""),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_form(_schema(defaults, with_endpoint=False)),
            errors=errors,
            description_placeholders={**self._placeholders(), "endpoint": endpoint},
        )

    def _update(self, item: dict[str, Any]) -> SubentryFlowResult:
        return self.async_update_and_abort(
            self._get_entry(), self._get_reconfigure_subentry(), data=item, title=item["endpoint"]
        )

    def _placeholders(self) -> dict[str, str]:
        entry = self._get_entry()
        return {"server_certificate": entry.data.get(CONF_SERVER_CERTIFICATE, "(made when coaps:// starts)")}


def _form(fields: dict[Any, Any]) -> Any:
    """Make a form schema (typed Any: Home Assistant moved from voluptuous to probatio)."""
    return vol.Schema(fields)


def _schema(defaults: dict[str, Any], *, with_endpoint: bool) -> dict[Any, Any]:
    fields: dict[Any, Any] = {}
    if with_endpoint:
        fields[vol.Required(CONF_ENDPOINT, default=defaults.get(CONF_ENDPOINT, ""))] = selector.TextSelector()
    fields.update(
        {
            vol.Required(CONF_SECURITY_MODE, default=defaults.get(CONF_SECURITY_MODE, PSK)): selector.SelectSelector(
                selector.SelectSelectorConfig(options=[PSK, X509, NOSEC], translation_key=CONF_SECURITY_MODE)
            ),
            vol.Optional(CONF_PSK_IDENTITY, default=defaults.get(CONF_PSK_IDENTITY, "")): selector.TextSelector(),
            vol.Optional(CONF_PSK_KEY, default=""): selector.TextSelector(),
            vol.Required(CONF_PSK_KEY_FORMAT, default=defaults.get(CONF_PSK_KEY_FORMAT, KEY_HEX)): (
                selector.SelectSelector(
                    selector.SelectSelectorConfig(options=[KEY_HEX, KEY_TEXT], translation_key=CONF_PSK_KEY_FORMAT)
                )
            ),
            vol.Optional(CONF_CERTIFICATE, default=defaults.get(CONF_CERTIFICATE, "")): selector.TextSelector(
                selector.TextSelectorConfig(multiline=True)
            ),
            vol.Optional(CONF_BOOTSTRAP_IDENTITY, default=defaults.get(CONF_BOOTSTRAP_IDENTITY, "")): (
                selector.TextSelector()
            ),
            vol.Optional(CONF_BOOTSTRAP_KEY, default=""): selector.TextSelector(),
        }
    )
    return fields


def read_credential(
    data: dict[str, Any], others: list[dict[str, Any]], kept: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, str]]:
    """Read the credential a form gives: (its JSON form, the made-up key to show once, errors).

    kept: the bootstrap key and identity a device had, kept when the form leaves the key empty.
    """
    endpoint = (data.get(CONF_ENDPOINT) or "").strip()
    if not endpoint or endpoint_name_problem(endpoint) is not None:
        return None, {}, {CONF_ENDPOINT: "invalid_endpoint"}
    mode = data.get(CONF_SECURITY_MODE, PSK)
    shown: dict[str, str] = {}
    item: dict[str, Any] = {"endpoint": endpoint, "mode": mode}
    if mode == PSK:
        item["identity"] = (data.get(CONF_PSK_IDENTITY) or "").strip() or endpoint
        key = (data.get(CONF_PSK_KEY) or "").strip()
        if not key:
            key = generate_key()
            shown = {"endpoint": endpoint, "identity": item["identity"], "key": key}
        elif data.get(CONF_PSK_KEY_FORMAT) == KEY_TEXT:
            key = key.encode().hex()  # a key given as text (as libcoap's -k takes it) is kept as its bytes
        item["key"] = key
    elif mode == X509:
        item["certificate"] = (data.get(CONF_CERTIFICATE) or "").strip()
        if not item["certificate"]:
            return None, {}, {CONF_CERTIFICATE: "certificate_required"}
    try:
        credential = Credential.from_dict(item)
        Credentials.from_list([*others, credential.to_dict()])
    except CredentialError as err:
        if err.field == "exists":
            return None, {}, {CONF_ENDPOINT: "credential_exists"}
        return None, {}, {_FIELDS.get(err.field, CONF_ENDPOINT): "invalid_credential"}
    out = credential.to_dict()
    bootstrap_key = (data.get(CONF_BOOTSTRAP_KEY) or "").strip()
    if bootstrap_key:  # the device's key towards the bootstrap server (a factory-fresh device knows only it)
        try:
            out["bootstrap_key"] = hex_key(bootstrap_key).hex()
        except CredentialError:
            return None, {}, {CONF_BOOTSTRAP_KEY: "invalid_credential"}
        out["bootstrap_identity"] = (data.get(CONF_BOOTSTRAP_IDENTITY) or "").strip() or endpoint
    elif kept:
        out |= kept
    if "bootstrap_identity" in out and any(o.get("bootstrap_identity") == out["bootstrap_identity"] for o in others):
        return None, {}, {CONF_BOOTSTRAP_IDENTITY: "credential_exists"}
    return out, shown, {}
