"""The device-source interface: what the rest of the integration uses of a source of LwM2M devices.

Its users are the Home Assistant layer, the services, the runner and the MQTT bridge; the
sources are the built-in server and an EMQX gateway.

Nothing here speaks CoAP or MQTT: a source has registrations, an event stream, statistics and
operations on one device that return a Response or raise an LwM2MError.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from .errors import CodecError, shown
from .path import Path
from .values import Value

if TYPE_CHECKING:
    from .codecs.link_format import AttrValue
    from .events import EventBus
    from .model import ObjectModel
    from .nodes import Node
    from .registration import Registration, RegistrationStore

# CoAP response codes by their dotted text, named as aiocoap names them (lower case): the
# names EMQX's gateway puts in codeMsg. A test checks the table against aiocoap's Code.
CODE_NAMES: Mapping[str, str] = {
    "2.01": "created",
    "2.02": "deleted",
    "2.03": "valid",
    "2.04": "changed",
    "2.05": "content",
    "2.31": "continue",
    "4.00": "bad_request",
    "4.01": "unauthorized",
    "4.02": "bad_option",
    "4.03": "forbidden",
    "4.04": "not_found",
    "4.05": "method_not_allowed",
    "4.06": "not_acceptable",
    "4.08": "request_entity_incomplete",
    "4.09": "conflict",
    "4.12": "precondition_failed",
    "4.13": "request_entity_too_large",
    "4.15": "unsupported_content_format",
    "4.22": "unprocessable_entity",
    "4.29": "too_many_requests",
    "5.00": "internal_server_error",
    "5.01": "not_implemented",
    "5.02": "bad_gateway",
    "5.03": "service_unavailable",
    "5.04": "gateway_timeout",
    "5.05": "proxying_not_supported",
}


def code_name(code: str) -> str:
    """EMQX's codeMsg for a CoAP code: "4.04" -> "not_found"."""
    return CODE_NAMES.get(code, "error")


def meaning(code: str) -> str:
    """Spell out a CoAP code as people read it: "4.04" -> "not found"."""
    return code_name(code).replace("_", " ")


ATTRIBUTES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")
_WHOLE_SECONDS = {"pmin", "pmax", "epmin", "epmax"}


def check_attributes(attributes: Mapping[str, float | int | None]) -> dict[str, int | float | None]:
    """Notification attributes checked: known names, whole seconds for periods; None clears one."""
    out: dict[str, int | float | None] = {}
    for name, value in attributes.items():
        if name not in ATTRIBUTES:
            raise CodecError(f"unknown attribute {shown(name)}; use {', '.join(ATTRIBUTES)}")
        if value is None:
            out[name] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CodecError(f"{name} must be a number, got {shown(value)}")
        elif name in _WHOLE_SECONDS:
            if not float(value).is_integer() or value < 0:
                raise CodecError(f"{name} must be a whole number of seconds, got {shown(value)}")
            out[name] = int(value)
        else:
            try:
                number = float(value)
            except OverflowError:
                raise CodecError(f"{name} is out of range") from None
            out[name] = number
            if not math.isfinite(number):
                raise CodecError(f"{name} must be a finite number, got {shown(value)}")
    if not out:
        raise CodecError("no attributes to write")
    return out


@dataclass(frozen=True, slots=True)
class Response:
    """What a device answered an operation."""

    code: str
    values: Mapping[Path, Value] = field(default_factory=dict)
    content_format: int | None = None
    payload: bytes = b""
    location: Path | None = None  # Create: the new instance
    attributes: Mapping[Path, Mapping[str, AttrValue]] = field(default_factory=dict)  # Discover
    # Formats the device refused (4.06) before content_format worked, in the order asked.
    fallback_from: tuple[int, ...] = ()

    def value(self, path: Path | str) -> Value:
        """Return the value read at path."""
        return self.values[Path.parse(path) if isinstance(path, str) else path]


@dataclass(slots=True)
class SourceStats:
    """Counters of a device source, for diagnostics and the runner."""

    requests_in: int = 0
    requests_out: int = 0
    registrations: int = 0
    updates: int = 0
    deregistrations: int = 0
    expirations: int = 0
    notifications: int = 0
    sends: int = 0
    errors: int = 0
    refused: int = 0  # Registers refused by a limit (per host, rate, maximum)
    coalesced: int = 0  # notifications and Sends folded into a later one, over a device's budget
    started_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class DeviceOperations(Protocol):
    """The LwM2M operations on one registered device.

    Each returns a Response or raises an OperationError with the device's CoAP code
    (DeviceTimeout, NotRegistered, QueueFull), or a CodecError for a value or path that cannot
    be sent.
    """

    name: str

    @property
    def registration(self) -> Registration:
        """Return the device's current registration."""

    def node_for(self, path: Path, value: object) -> Node:
        """Return the node a Write of path sends for a user's value."""

    async def read(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Read path."""

    async def discover(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Discover the attributes at path."""

    async def write(
        self,
        path: Path | str,
        value: object,
        *,
        replace: bool = True,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Write a value at path (Replace, or Partial Update)."""

    async def write_attributes(
        self, path: Path | str, attributes: Mapping[str, float | int | None], *, timeout: float | None = None
    ) -> Response:
        """Write the notification attributes of path."""

    async def execute(
        self, path: Path | str, arguments: str | None = None, *, timeout: float | None = None
    ) -> Response:
        """Execute the resource at path."""

    async def create(
        self,
        path: Path | str,
        values: Mapping[Any, object],
        *,
        instance_id: int | None = None,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Create an instance of the object at path."""

    async def delete(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Delete the instance at path."""

    async def read_composite(
        self, paths: Iterable[Path | str], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Read several paths in one request."""

    async def write_composite(
        self, values: Mapping[Path | str, object], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Write several paths in one request."""

    async def observe(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Start observing path."""

    async def cancel_observe(
        self, path: Path | str | Iterable[Path | str], *, timeout: float | None = None
    ) -> Response:
        """Cancel the observation of path (or of several paths)."""

    async def cancel_all_observations(self) -> int:
        """Cancel every observation of the device; return how many there were."""

    def observations(self) -> list[dict[str, Any]]:
        """Return the device's observations in JSON-friendly form."""


class DeviceSource(Protocol):
    """Where devices come from: registrations, their events, operations on each."""

    model: ObjectModel
    events: EventBus
    registrations: RegistrationStore
    stats: SourceStats

    @property
    def running(self) -> bool:
        """Return whether the source is started."""

    async def start(self) -> None:
        """Start the source."""

    async def stop(self) -> None:
        """Stop the source."""

    def restore(self, saved: Iterable[dict[str, Any]]) -> list[Registration]:
        """Take back registrations saved before a restart (Registration.to_dict)."""
        ...

    def endpoint(self, name: str) -> DeviceOperations:
        """Return the operations on a registered device; raise NotRegistered if there is none."""
        ...

    def is_awake(self, endpoint: str) -> bool:
        """Whether a queue-mode device can take a request now (always True for others)."""
        ...

    def queued(self, endpoint: str) -> int:
        """Count the requests waiting for the device (asleep, or answered later)."""
        ...

    def diagnostics(self) -> dict[str, Any]:
        """Return what a diagnostics download shows of the source itself (no endpoint names)."""
        ...
