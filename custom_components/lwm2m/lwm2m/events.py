"""One stream of everything the server sees, for any number of listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .firmware.states import result_key, result_text, state_name
from .path import Path
from .values import Value, to_json_value

_LOGGER = logging.getLogger(__name__)


class EventType(StrEnum):
    """The kinds of event a device source emits."""

    REGISTERED = "registered"
    UPDATED = "updated"
    DEREGISTERED = "deregistered"
    EXPIRED = "expired"
    NOTIFICATION = "notification"
    SEND = "send"
    RESPONSE = "response"
    REFUSED = "refused"  # the admission policy refused an endpoint's Register (RefusalInfo)
    BOOTSTRAPPED = "bootstrapped"  # the bootstrap server pointed a device at its server (BootstrapInfo)
    BOOTSTRAP_FAILED = "bootstrap_failed"  # ... or could not (BootstrapInfo.reason)
    FIRMWARE = "firmware"  # a step of a firmware update (FirmwareInfo)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationInfo:
    """A registration as it was when the event happened (registered, updated, deregistered, expired).

    moved and objects_changed say what an Update changed.
    """

    reg_id: str
    endpoint: str
    lifetime: int
    lwm2m_version: str
    binding: str
    queue_mode: bool
    sms: str | None = None
    address: str = ""
    transport: str = "udp"
    identity: str | None = None
    root_path: str = "/"
    objects: Mapping[int, str | None] = field(default_factory=dict)
    instances: tuple[Path, ...] = ()
    content_formats: tuple[int, ...] = ()
    registered_at: float = 0.0
    updated_at: float = 0.0
    moved: bool = False
    objects_changed: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the registration in JSON-friendly form."""
        return {
            "reg_id": self.reg_id,
            "lifetime": self.lifetime,
            "lwm2m_version": self.lwm2m_version,
            "binding": self.binding,
            "queue_mode": self.queue_mode,
            "sms": self.sms,
            "address": self.address,
            "transport": self.transport,
            "identity": self.identity,
            "root_path": self.root_path,
            "objects": {str(k): v for k, v in self.objects.items()},
            "instances": [str(p) for p in self.instances],
            "content_formats": list(self.content_formats),
            "registered_at": self.registered_at,
            "updated_at": self.updated_at,
            "moved": self.moved,
            "objects_changed": self.objects_changed,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationInfo:
    """What an observation covers (one path, or several for Observe-Composite)."""

    paths: tuple[Path, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the paths in JSON-friendly form."""
        return {"paths": [str(p) for p in self.paths]}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseInfo:
    """Which operation a response answers, in which content format, after which refusals."""

    operation: str
    content_format: int | None = None
    fallback_from: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the response in JSON-friendly form."""
        out: dict[str, Any] = {"operation": self.operation}
        if self.content_format is not None:
            out["content_format"] = self.content_format
        if self.fallback_from:
            out["fallback_from"] = list(self.fallback_from)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RefusalInfo:
    """Why a Register was refused, and from where (unknown: the endpoint has no credential at all)."""

    reason: str
    address: str
    transport: str = "udp"
    identity: str | None = None
    unknown: bool = True

    def to_json(self) -> dict[str, Any]:
        """Return the refusal in JSON-friendly form."""
        return {
            "reason": self.reason,
            "address": self.address,
            "transport": self.transport,
            "identity": self.identity,
            "unknown": self.unknown,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapInfo:
    """How a bootstrap ended: the server the device was pointed at, or why it failed."""

    address: str
    server: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the outcome in JSON-friendly form."""
        out: dict[str, Any] = {"address": self.address}
        if self.server:
            out["server"] = self.server
        if self.reason:
            out["reason"] = self.reason
        return out


class Step(StrEnum):
    """Where an update is."""

    STARTED = "started"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    UPDATING = "updating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STEPS = frozenset({Step.SUCCEEDED, Step.FAILED, Step.CANCELLED})


@dataclass(frozen=True, slots=True, kw_only=True)
class FirmwareInfo:
    """One step of an update: the details of an EventType.FIRMWARE event.

    percent is the share of the image the device has (pushed and acknowledged, or served);
    state and result are the device's /5/0/3 and /5/0/5 as last known; error says why it failed.
    """

    step: Step
    method: str = ""
    percent: float | None = None
    state: int | None = None
    result: int | None = None
    version: str | None = None
    error: str = ""

    @property
    def final(self) -> bool:
        """Return whether the update ended."""
        return self.step in FINAL_STEPS

    def to_json(self) -> dict[str, Any]:
        """Return the step in JSON-friendly form."""
        out: dict[str, Any] = {"step": self.step.value, "method": self.method}
        if self.percent is not None:
            out["percent"] = round(self.percent, 1)
        out["state"] = state_name(self.state)
        out["result"] = self.result
        out["result_key"] = result_key(self.result) if self.result is not None else None
        out["result_text"] = result_text(self.result) if self.result is not None else None
        if self.version is not None:
            out["version"] = self.version
        if self.error:
            out["error"] = self.error
        return out


Details = RegistrationInfo | NotificationInfo | ResponseInfo | RefusalInfo | BootstrapInfo | FirmwareInfo | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened to one endpoint.

    values maps full paths to typed values (notifications, Send, read responses);
    sequence is the CoAP Observe number of a notification; code is the CoAP code of a
    response ("2.05"); details is typed by the kind of event; coalesced counts the earlier
    events of a device over its notification budget whose values this one carries.
    """

    type: EventType
    endpoint: str
    path: Path | None = None
    values: Mapping[Path, Value] = field(default_factory=dict)
    sequence: int | None = None
    code: str | None = None
    details: Details = None
    coalesced: int = 0  # earlier notifications (or Sends) of the device folded into this one, over its budget

    @property
    def registration(self) -> RegistrationInfo | None:
        """Return the registration an event carries, if it carries one."""
        return self.details if isinstance(self.details, RegistrationInfo) else None

    @property
    def response(self) -> ResponseInfo | None:
        """Return the response an event carries, if it carries one."""
        return self.details if isinstance(self.details, ResponseInfo) else None

    def to_json(self) -> dict[str, Any]:
        """Return the event's data in JSON-friendly form (paths as text, opaque as base64).

        Its details are left out, so a registration's id and address are not published.
        """
        out: dict[str, Any] = {"endpoint": self.endpoint}
        if self.path is not None:
            out["path"] = str(self.path)
        if self.values:
            out["values"] = {str(p): to_json_value(v) for p, v in self.values.items()}
        if self.sequence is not None:
            out["sequence"] = self.sequence
        if self.code is not None:
            out["code"] = self.code
        if self.coalesced:
            out["coalesced"] = self.coalesced
        return out


Listener = Callable[[Event], None]


class EventBus:
    """Calls every listener for every event; a listener that raises is logged and skipped."""

    def __init__(self) -> None:
        """Start with no listeners."""
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener with every event; return the function that stops it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Pass event to every listener; a failing listener is logged and the others still get it."""
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("Listener %r failed on %s event of %s", listener, event.type, event.endpoint)

    def __len__(self) -> int:
        """Return how many listeners there are."""
        return len(self._listeners)
