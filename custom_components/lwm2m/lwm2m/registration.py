"""Registrations: who registered, from where, with which objects, until when."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .codecs.link_format import RegisteredObjects
from .errors import CodecError
from .events import RegistrationInfo
from .path import Path

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class EndpointStats:
    """Message counts of one endpoint."""

    messages_in: int = 0
    messages_out: int = 0
    errors: int = 0
    last_seen: float = 0.0  # wall-clock seconds

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a dict."""
        return {
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "errors": self.errors,
            "last_seen": self.last_seen,
        }


@dataclass(slots=True, kw_only=True)
class Registration:
    """One LwM2M client's registration.

    remote is the transport's address object (aiocoap's), address its printable form;
    transport and identity say how the device reached us (plain UDP today, DTLS later),
    so operations never care which transport carries them.
    """

    reg_id: str
    endpoint: str
    lifetime: int
    lwm2m_version: str = "1.0"
    binding: str = "U"
    sms: str | None = None
    queue_mode: bool = False
    objects: RegisteredObjects = field(default_factory=RegisteredObjects)
    remote: Any = None
    address: str = ""
    transport: str = "udp"
    identity: str | None = None
    registered_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    stats: EndpointStats = field(default_factory=EndpointStats)
    # Content formats the device answered 4.06 Not Acceptable for while another one worked:
    # later reads and observations skip them. A new Register starts afresh.
    refused_formats: set[int] = field(default_factory=set)

    @property
    def expires_at(self) -> float:
        """Return when the registration expires (epoch seconds)."""
        return self.updated_at + self.lifetime

    @property
    def root_path(self) -> tuple[str, ...]:
        """Uri-Path segments of the client's alternate root path ("/lwm2m" -> ("lwm2m",))."""
        return tuple(p for p in self.objects.root_path.split("/") if p)

    def uri_path(self, path: Path) -> tuple[str, ...]:
        """Return the CoAP Uri-Path of path on this device (below its root path)."""
        return self.root_path + tuple(str(i) for i in path.ids)

    @property
    def version_tuple(self) -> tuple[int, int]:
        """Return the LwM2M version as (major, minor)."""
        major, _, minor = self.lwm2m_version.partition(".")
        try:
            return int(major), int(minor or 0)
        except ValueError:
            return 1, 0

    def info(self, *, moved: bool = False, objects_changed: bool = False) -> RegistrationInfo:
        """Describe the registration as an event carries it."""
        return RegistrationInfo(
            reg_id=self.reg_id,
            endpoint=self.endpoint,
            lifetime=self.lifetime,
            lwm2m_version=self.lwm2m_version,
            binding=self.binding,
            queue_mode=self.queue_mode,
            sms=self.sms,
            address=self.address,
            transport=self.transport,
            identity=self.identity,
            root_path=self.objects.root_path,
            objects=dict(self.objects.objects),
            instances=self.objects.instances,
            content_formats=tuple(self.objects.content_formats),
            registered_at=self.registered_at,
            updated_at=self.updated_at,
            moved=moved,
            objects_changed=objects_changed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly form (for storage and diagnostics); no transport object."""
        return {
            "reg_id": self.reg_id,
            "endpoint": self.endpoint,
            "lifetime": self.lifetime,
            "lwm2m_version": self.lwm2m_version,
            "binding": self.binding,
            "sms": self.sms,
            "queue_mode": self.queue_mode,
            "root_path": self.objects.root_path,
            "content_formats": list(self.objects.content_formats),
            "objects": {str(k): v for k, v in self.objects.objects.items()},
            "instances": [str(p) for p in self.objects.instances],
            "address": self.address,
            "transport": self.transport,
            "identity": self.identity,
            "registered_at": self.registered_at,
            "updated_at": self.updated_at,
            "last_seen": self.stats.last_seen,
            "refused_formats": sorted(self.refused_formats),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registration:
        """Build a registration from its saved form (to_dict)."""
        objects = RegisteredObjects(
            root_path=data.get("root_path", "/"),
            content_formats=tuple(data.get("content_formats", ())),
            objects={int(k): v for k, v in data.get("objects", {}).items()},
            instances=tuple(Path.parse(p) for p in data.get("instances", ())),
        )
        return cls(
            reg_id=data["reg_id"],
            endpoint=data["endpoint"],
            lifetime=int(data["lifetime"]),
            lwm2m_version=data.get("lwm2m_version", "1.0"),
            binding=data.get("binding", "U"),
            sms=data.get("sms"),
            queue_mode=bool(data.get("queue_mode", False)),
            objects=objects,
            address=data.get("address", ""),
            transport=data.get("transport", "udp"),
            identity=data.get("identity"),
            registered_at=float(data.get("registered_at", time.time())),
            updated_at=float(data.get("updated_at", time.time())),
            refused_formats=_formats(data.get("refused_formats")),
            stats=EndpointStats(last_seen=_seconds(data.get("last_seen"))),
        )


def _formats(value: Any) -> set[int]:
    """Read saved content format numbers; anything else (older data, garbage) is ignored."""
    if not isinstance(value, (list, tuple)):
        return set()
    return {f for f in value if isinstance(f, int) and not isinstance(f, bool) and 0 <= f <= 0xFFFF}


def _seconds(value: Any) -> float:
    """Return a saved time in epoch seconds; 0.0 (never) for anything else (older data, garbage)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return float(value)


MAX_ENDPOINT_LENGTH = 255
# Endpoint names become MQTT topic levels, Home Assistant device names and log text: no
# topic separator or wildcard in them.
_NOT_IN_ENDPOINT_NAMES = "/+#"


def endpoint_name_problem(name: str) -> str | None:
    """Return why name cannot be an endpoint name ("must ..."), or None if it can.

    The same rule holds for a Register, an EMQX gateway's device and a saved registration.
    """
    if not name or len(name) > MAX_ENDPOINT_LENGTH:
        return f"must be an endpoint name of 1 to {MAX_ENDPOINT_LENGTH} characters"
    for char in _NOT_IN_ENDPOINT_NAMES:
        if char in name:
            return f"must not contain {char!r}: endpoint names end up in MQTT topics"
    if not name.isprintable():
        return "must not contain control characters or other characters that do not print"
    if name != name.strip():
        return "must not begin or end with whitespace"
    return None


def host_part(address: str) -> str:
    """Return the IP address of a "host:port" address ("[v6]:port" for IPv6)."""
    host = address.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host


def new_registration_id() -> str:
    """Make an unguessable Location-Path segment (64 random bits)."""
    return secrets.token_hex(8)


class RegistrationStore:
    """Registrations by id and by endpoint name; one registration per endpoint."""

    def __init__(self) -> None:
        """Start with no registrations."""
        self._by_id: dict[str, Registration] = {}
        self._by_endpoint: dict[str, Registration] = {}
        # several endpoints may talk from one address (a gateway, or devices behind one NAT port)
        self._by_address: dict[str, dict[str, Registration]] = {}
        # Looked up for every notification and request: the dicts' own get, no Python frame.
        self.by_id: Callable[[str], Registration | None] = self._by_id.get
        self.by_endpoint: Callable[[str], Registration | None] = self._by_endpoint.get
        self._per_host: dict[str, int] = {}  # registrations by IP address

    def add(self, reg: Registration) -> Registration | None:
        """Store reg; return the registration of the same endpoint it replaces, if any."""
        old = self._by_endpoint.get(reg.endpoint)
        if old is not None:
            self.remove(old)
        self._by_id[reg.reg_id] = reg
        self._by_endpoint[reg.endpoint] = reg
        if reg.address:
            self._list(reg)
        return old

    def at_host(self, host: str) -> int:
        """Return how many registrations talk from IP address host."""
        return self._per_host.get(host, 0)

    def _list(self, reg: Registration) -> None:
        """Put reg on its address's list."""
        self._by_address.setdefault(reg.address, {})[reg.endpoint] = reg
        host = host_part(reg.address)
        self._per_host[host] = self._per_host.get(host, 0) + 1

    def at_address(self, address: str) -> list[Registration]:
        """Return the registrations of the endpoints that talk from address, oldest first."""
        return list(self._by_address.get(address, {}).values())

    def _unlist(self, reg: Registration) -> None:
        """Take reg off its address's list, if it is there."""
        listed = self._by_address.get(reg.address)
        if listed is not None and listed.get(reg.endpoint) is reg:
            del listed[reg.endpoint]
            if not listed:
                del self._by_address[reg.address]
            host = host_part(reg.address)
            left = self._per_host[host] - 1
            if left:
                self._per_host[host] = left
            else:
                del self._per_host[host]

    def register(self, reg: Registration) -> Registration | None:
        """Add reg, just made from a Register; return the endpoint's registration it replaces, if any."""
        reg.stats.messages_in = 1
        reg.stats.last_seen = reg.registered_at
        return self.add(reg)

    def remove(self, reg: Registration) -> None:
        """Forget a registration unless another has taken its place."""
        if self._by_id.get(reg.reg_id) is reg:
            del self._by_id[reg.reg_id]
        if self._by_endpoint.get(reg.endpoint) is reg:
            del self._by_endpoint[reg.endpoint]
        self._unlist(reg)

    def move(self, reg: Registration, remote: Any, address: str) -> bool:
        """Follow a device that now talks from another address (NAT rebinding); return True if it moved."""
        if reg.address == address:
            reg.remote = remote
            return False
        self._unlist(reg)
        reg.remote, reg.address = remote, address
        self._list(reg)
        return True

    def expired(self, now: float, grace: float) -> list[Registration]:
        """Return the registrations that expired before now, less grace seconds."""
        return [r for r in self._by_id.values() if r.expires_at + grace <= now]

    def __iter__(self) -> Iterator[Registration]:
        """Iterate over the registrations."""
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        """Return how many registrations there are."""
        return len(self._by_id)

    def __contains__(self, endpoint: object) -> bool:
        """Return whether endpoint is registered."""
        return endpoint in self._by_endpoint


def readable_registrations(saved: Iterable[dict[str, Any]]) -> Iterator[Registration]:
    """Yield the registrations saved before a restart (Registration.to_dict).

    Unreadable ones are logged and skipped.
    """
    for data in saved:
        try:
            reg = Registration.from_dict(data)
        except (KeyError, TypeError, ValueError, CodecError) as err:
            _LOGGER.warning("Skipping a saved registration that cannot be read: %s", err)
            continue
        problem = endpoint_name_problem(reg.endpoint)
        if problem is not None:  # saved by a version that took any name
            _LOGGER.warning("Skipping the saved registration of %r: an endpoint name %s", reg.endpoint, problem)
            continue
        yield reg
