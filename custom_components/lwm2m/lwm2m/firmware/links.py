"""Pull links to the server's own CoAP(S) port: coap://host:port/fw/<token>.

The host is the server's address as the device reaches it: the address the server is bound
to, or, bound to every address, the local address the system routes toward the device. A
device on the internet is given no private address (it gets a push instead), unless
ServerConfig.download_host names the server's public one. Over coaps:// the link is for the
device's own identity (its DTLS session); a device that pulls only with plain CoAP gets coap://.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from ..registration import host_part
from .downloads import Downloads
from .image import FirmwareImage
from .states import PullProtocol

if TYPE_CHECKING:
    from ..config import ServerConfig
    from ..registration import Registration

_ANY = ("", "::", "0.0.0.0")


class LinkHost(Protocol):
    """What links need of the server."""

    config: ServerConfig
    downloads: Downloads

    @property
    def port(self) -> int:
        """Return the coap:// port (0: none)."""

    @property
    def dtls_port(self) -> int:
        """Return the coaps:// port (0: none)."""


class CoapLinks:
    """Makes the links of the server's downloads (firmware.update.Links)."""

    protocols: frozenset[int] = frozenset({PullProtocol.COAP, PullProtocol.COAPS})

    def __init__(self, server: LinkHost) -> None:
        """Offer downloads on server's ports."""
        self._server = server

    def link(
        self, reg: Registration, image: FirmwareImage, protocols: frozenset[int], on_progress: Callable[[int], None]
    ) -> tuple[str, Callable[[], None]] | None:
        """Return a coap(s):// link to image for the device, and what ends it; None if none reaches it."""
        server = self._server
        plain = server.port if server.config.port is not None else 0
        secure = reg.transport == "dtls" and server.dtls_port and reg.identity is not None
        if secure and PullProtocol.COAPS in protocols:
            scheme, port, identity = "coaps", server.dtls_port, reg.identity
        elif plain and PullProtocol.COAP in protocols:
            scheme, port, identity = "coap", plain, None
        else:
            return None
        device = host_part(reg.address)
        host = server.config.download_host or download_host(server.config.host, device)
        if host is None or (not server.config.download_host and _unreachable(host, device)):
            return None
        offer = server.downloads.offer(image, identity=identity, on_progress=on_progress)
        literal = f"[{host}]" if ":" in host else host
        return f"{scheme}://{literal}:{port}/{offer.path}", partial(server.downloads.withdraw, offer)


def _unreachable(host: str, device: str) -> bool:
    """Whether a device on the internet would be told a private address (it could not reach it)."""
    try:
        ours, theirs = ipaddress.ip_address(host), ipaddress.ip_address(device.removeprefix("::ffff:"))
    except ValueError:
        return False
    return theirs.is_global and not ours.is_global


def download_host(bound: str, device: str) -> str | None:
    """Return the server's address as the device at address device reaches it (None: no route)."""
    if bound not in _ANY:
        return bound.removeprefix("::ffff:")
    device = device.removeprefix("::ffff:")
    family = socket.AF_INET6 if ":" in device else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((device, 9))  # nothing is sent: the kernel only picks the route
            local = sock.getsockname()[0]
    except OSError:
        return None
    return str(local).split("%", 1)[0]
