"""The last messages of each device, for the device browser: what it answered, notified and sent.

Kept per endpoint (the last LOG_SIZE), from the device source's events: registrations and
updates, notifications, Sends and the answers to every operation (with the CoAP code and
its meaning). A value is kept as JSON shows it, cut to VALUE_CHARS characters.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from .const import DOMAIN
from .lwm2m.api import meaning
from .lwm2m.events import Event, EventBus, EventType, FirmwareInfo
from .lwm2m.values import to_json_value

LOG_SIZE = 100  # entries kept per device
VALUE_CHARS = 200  # characters of a value shown in the log
MAX_DEVICES = 200  # devices with a log: the most recently active (about 45 KB each, at most)
LIVE = f"{DOMAIN}_live_log"  # hass.data: endpoint -> the browser pages following it (across reloads)

type Live = Callable[[dict[str, Any]], None]


_NOT_A_DEVICE = frozenset({EventType.REFUSED, EventType.BOOTSTRAPPED, EventType.BOOTSTRAP_FAILED})


def log_entry(event: Event, at: float, seq: int = 0) -> dict[str, Any]:
    """Return what the log shows of one event (seq: its number in the source's log)."""
    entry: dict[str, Any] = {"seq": seq, "at": at, "kind": event.type.value}
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

    def __init__(self, live: dict[str, set[Live]] | None = None) -> None:
        """Start empty; follow() starts taking events; live: who follows each endpoint now."""
        self._logs: OrderedDict[str, deque[tuple[Event, float, int]]] = OrderedDict()
        self._stop: Callable[[], None] | None = None
        self._seq = itertools.count(1)
        self.live: dict[str, set[Live]] = live if live is not None else {}

    def follow(self, events: EventBus) -> None:
        """Take every event of events (after the listeners before it: the hub's states come first)."""
        self.close()
        self._stop = events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type in _NOT_A_DEVICE:
            return
        endpoint = event.endpoint
        logs = self._logs
        log = logs.get(endpoint)
        if log is None:
            if len(logs) >= MAX_DEVICES:
                logs.popitem(last=False)  # the device quiet the longest
            log = logs[endpoint] = deque(maxlen=LOG_SIZE)
        else:
            logs.move_to_end(endpoint)
        at, seq = time.time(), next(self._seq)
        log.append((event, at, seq))
        followers = self.live.get(endpoint)
        if followers:
            entry = log_entry(event, at, seq)
            for follower in tuple(followers):
                follower(entry)

    def entries(self, endpoint: str) -> list[dict[str, Any]]:
        """Return the device's log, oldest first."""
        return [log_entry(event, at, seq) for event, at, seq in self._logs.get(endpoint, ())]

    def forget(self, endpoint: str) -> None:
        """Drop a deleted device's log."""
        self._logs.pop(endpoint, None)

    def close(self) -> None:
        """Stop following the events."""
        if self._stop is not None:
            self._stop()
            self._stop = None
