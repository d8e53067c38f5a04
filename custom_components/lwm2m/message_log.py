"""The last messages of each device, for the device browser: what it answered, notified and sent.

Kept per endpoint (the last LOG_SIZE), from the device source's events: registrations and
updates, notifications, Sends and the answers to every operation (with the CoAP code and
its meaning). A value is kept as JSON shows it, cut to VALUE_CHARS characters.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .lwm2m.api import meaning
from .lwm2m.events import Event, EventBus, EventType, FirmwareInfo
from .lwm2m.values import to_json_value

LOG_SIZE = 100  # entries kept per device
VALUE_CHARS = 200  # characters of a value shown in the log
MAX_DEVICES = 10_000  # devices with a log (the oldest device's log goes past it)


_NOT_A_DEVICE = frozenset({EventType.REFUSED, EventType.BOOTSTRAPPED, EventType.BOOTSTRAP_FAILED})


def log_entry(event: Event, at: float | None = None) -> dict[str, Any]:
    """Return what the log shows of one event."""
    entry: dict[str, Any] = {"at": time.time() if at is None else at, "kind": event.type.value}
    if event.response is not None:
        entry["operation"] = event.response.operation
    if event.path is not None:
        entry["path"] = str(event.path)
    if event.code is not None:
        entry["code"] = event.code
        entry["meaning"] = meaning(event.code)
    if event.values:
        entry["values"] = {str(p): _shown(v) for p, v in event.values.items()}
    if event.sequence is not None:
        entry["sequence"] = event.sequence
    info = event.registration
    if info is not None:
        entry["lifetime"] = info.lifetime
        entry["binding"] = info.binding
    if isinstance(event.details, FirmwareInfo):
        entry["step"] = event.details.step.value
    return entry


def _shown(value: Any) -> Any:
    shown = to_json_value(value)
    if isinstance(shown, str) and len(shown) > VALUE_CHARS:
        return shown[:VALUE_CHARS] + "…"
    return shown


class MessageLog:
    """The last LOG_SIZE events of every device of one source.

    It keeps the events themselves with their time (an append per event: notifications pass
    here at thousands a second) and turns them into entries only when the browser asks.
    """

    def __init__(self) -> None:
        """Start empty; follow() starts taking events."""
        self._logs: dict[str, deque[tuple[Event, float]]] = {}
        self._stop: Callable[[], None] | None = None

    def follow(self, events: EventBus) -> None:
        """Take every event of events (after the listeners before it: the hub's states come first)."""
        self.close()
        self._stop = events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type in _NOT_A_DEVICE:
            return
        log = self._logs.get(event.endpoint)
        if log is None:
            if len(self._logs) >= MAX_DEVICES:
                del self._logs[next(iter(self._logs))]
            log = self._logs[event.endpoint] = deque(maxlen=LOG_SIZE)
        log.append((event, time.time()))

    def entries(self, endpoint: str) -> list[dict[str, Any]]:
        """Return the device's log, oldest first."""
        return [log_entry(event, at) for event, at in self._logs.get(endpoint, ())]

    def close(self) -> None:
        """Stop following the events."""
        if self._stop is not None:
            self._stop()
            self._stop = None
