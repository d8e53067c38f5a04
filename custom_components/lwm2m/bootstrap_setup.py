"""A server entry's bootstrap server: factory-fresh devices of the device list learn where to register.

On when the entry has a bootstrap port (options): it listens there (coap://) and, when a
listed device has a bootstrap key, on the next port (coaps://). Each listed device with a
PSK or NoSec is handed this server's URI at the address the user gives (coaps:// with its
key for a PSK device, coap:// for NoSec); a device with a certificate is not bootstrapped
(its certificate and key stay on the device).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from .const import CONF_BOOTSTRAP_HOST, CONF_BOOTSTRAP_PORT, CONF_DTLS_PORT, CONF_HOST, CONF_PORT, DEFAULT_PORT
from .lwm2m.security.bootstrap import BootstrapConfig, BootstrapServer
from .lwm2m.security.credentials import NOSEC, PSK, CredentialError

_LOGGER = logging.getLogger(__name__)
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def bootstrap_configs(settings: dict[str, Any], devices: list[dict[str, Any]]) -> dict[str, BootstrapConfig]:
    """Return what each listed device is told by the bootstrap server."""
    host = uri_host(str(settings.get(CONF_BOOTSTRAP_HOST) or ""))
    port, dtls_port = settings.get(CONF_PORT, DEFAULT_PORT), settings.get(CONF_DTLS_PORT)
    configs = {}
    for item in devices:
        mode, endpoint = item.get("mode"), str(item.get("endpoint"))
        entry: dict[str, Any]
        if mode == PSK and dtls_port:
            entry = {
                "uri": f"coaps://{host}:{dtls_port}",
                "mode": PSK,
                "identity": item["identity"],
                "key": item["key"],
            }
        elif mode == NOSEC and port:
            entry = {"uri": f"coap://{host}:{port}", "mode": NOSEC}
        else:
            if mode in (PSK, NOSEC):
                _LOGGER.warning(
                    "Not bootstrapping %s: the entry has no %s port", endpoint, "coaps://" if mode == PSK else "coap://"
                )
            continue  # a certificate device stays as it is (its key never leaves it)
        if item.get("bootstrap_key"):
            entry |= {
                "bootstrap_identity": item.get("bootstrap_identity") or endpoint,
                "bootstrap_key": item["bootstrap_key"],
            }
        try:
            configs[endpoint] = BootstrapConfig.from_dict(endpoint, entry)
        except CredentialError as err:
            _LOGGER.warning("Not bootstrapping %s: %s", endpoint, err)
    return configs


def uri_host(text: str) -> str:
    """Return an address for a URI: an IPv6 address in brackets; an IPv4 address or a name as it is."""
    text = text.strip().removeprefix("[").removesuffix("]")
    try:
        return f"[{text}]" if ipaddress.ip_address(text).version == 6 else text
    except ValueError:
        return text


def host_problem(text: str) -> bool:
    """Return whether text is neither an IP address nor a host name (what a URI's host may be)."""
    text = text.strip().removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return not _HOST_NAME.fullmatch(text)
    return False


class BootstrapHolder:
    """What the entry's bootstrap server hands out, replaced as the device list changes."""

    def __init__(self) -> None:
        """Hand out nothing yet."""
        self.configs: dict[str, BootstrapConfig] = {}
        self.server: BootstrapServer | None = None


async def async_start_bootstrap(
    source: Any, settings: dict[str, Any], devices: list[dict[str, Any]], holder: BootstrapHolder
) -> BootstrapServer | None:
    """Start the entry's bootstrap server, if it has a bootstrap port; its events go to the source's (the hub's)."""
    port = int(settings.get(CONF_BOOTSTRAP_PORT) or 0)
    if not port:
        return None
    holder.configs = bootstrap_configs(settings, devices)
    keyed = any(c.bootstrap is not None for c in holder.configs.values())
    server = BootstrapServer(
        lambda: holder.configs,
        source.model,
        host=str(settings.get(CONF_HOST) or "::"),  # the transport maps IPv4 as the server's does
        port=port,
        dtls_port=port + 1 if keyed else None,
        events=source.events,
    )
    await server.start()
    holder.server = server
    return server
