"""One stream of everything the server sees, for any number of listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .path import Path
from .values import Value, to_json_value

_LOGGER = logging.getLogger(__name__)


class EventType(StrEnum):
    REGISTERED = "registered"
    UPDATED = "updated"
    DEREGISTERED = "deregistered"
    EXPIRED = "expired"
    NOTIFICATION = "notification"
    SEND = "send"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened to one endpoint.

    values maps full paths to typed values (notifications, Send, read responses);
    sequence is the CoAP Observe number of a notification; code is the CoAP code of a
    response ("2.05"); details carries the rest (the registration's data, the operation).
    """

    type: EventType
    endpoint: str
    path: Path | None = None
    values: Mapping[Path, Value] = field(default_factory=dict)
    sequence: int | None = None
    code: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event's data in JSON-friendly form (paths as text, opaque as base64)."""
        out: dict[str, Any] = {"endpoint": self.endpoint}
        if self.path is not None:
            out["path"] = str(self.path)
        if self.values:
            out["values"] = {str(p): to_json_value(v) for p, v in self.values.items()}
        if self.sequence is not None:
            out["sequence"] = self.sequence
        if self.code is not None:
            out["code"] = self.code
        return out


Listener = Callable[[Event], None]


class EventBus:
    """Calls every listener for every event; a listener that raises is logged and skipped."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: Event) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("Listener %r failed on %s event of %s", listener, event.type, event.endpoint)

    def __len__(self) -> int:
        return len(self._listeners)
