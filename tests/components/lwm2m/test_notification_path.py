"""From the core's EventBus.emit to the entity's state: which of the integration's functions a
notification passes through (sys.setprofile), that an unchanged value writes no state, and
that an entity that fails does not keep the others from their values."""

from __future__ import annotations

import sys
from collections import Counter
from types import FrameType
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.lwm2m.const import CONF_NOTIFICATION_EVENTS, DOMAIN
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path

from .conftest import wait_for
from .test_devices import _ready

TEMPERATURE = Path.parse("/3303/0/5700")
PACKAGE = "custom_components.lwm2m"


class Trace:
    """The integration's functions called while it runs, in order, and where the first state write
    of Home Assistant came (as an index into calls)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.writes: list[int] = []

    def __call__(self, frame: FrameType, what: str, arg: Any) -> None:
        if what != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if module.startswith(PACKAGE):
            name = frame.f_code.co_qualname
            if module.endswith(".path") and name.endswith(("__hash__", "__eq__")):
                name = f"Path.{frame.f_code.co_name}"  # made by @dataclass: the dict look-ups of a Path
            self.calls.append(f"{module.removeprefix(PACKAGE + '.')}.{name}")
        elif frame.f_code.co_name == "async_write_ha_state" and module == "homeassistant.helpers.entity":
            self.writes.append(len(self.calls))

    def emit(self, hub: Any, event: Event) -> None:
        sys.setprofile(self)
        try:
            hub.source.events.emit(event)
        finally:
            sys.setprofile(None)


def _notification(value: float) -> Event:
    return Event(type=EventType.NOTIFICATION, endpoint="sim-1", path=TEMPERATURE, values={TEMPERATURE: value})


async def test_a_notification_reaches_its_state_through_three_functions(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    await device("sim-1")
    temp = await _ready(hass, "sim-1", str(TEMPERATURE))
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5" and not entry.runtime_data._setups)
    trace = Trace()
    trace.emit(entry.runtime_data, _notification(30.5))
    assert hass.states.get(temp).state == "30.5"
    assert len(trace.writes) == 1  # one state written, once
    chain = trace.calls[: trace.writes[0]]
    print("\nnotification path:", " -> ".join([*chain, "Entity.async_write_ha_state"]))
    print("every function of the integration for the notification:", sorted(set(trace.calls)))
    lookups = [call for call in chain if call.startswith("lwm2m.path.Path.__")]
    assert [call for call in chain if call not in lookups] == [
        "lwm2m.events.EventBus.emit",
        "hub.LwM2MHub._on_event",
        "entity.LwM2MEntity._on_value",
    ]
    # one look-up in the store: the Path key's hash and equality (Python functions, as @dataclass makes them)
    assert Counter(lookups) <= Counter(["lwm2m.path.Path.__hash__", "lwm2m.path.Path.__eq__"])
    # after the state: the message topic (the lwm2m_notification bus event, when it is chosen)
    assert set(trace.calls) - set(chain) <= {
        "lwm2m.path.Path.__str__",
        "hub.LwM2MHub._fire",
        "hub.LwM2MHub._dispatch",
        "lwm2m.events.Event.to_json",
        "lwm2m.events.Event.registration",
        "lwm2m.values.to_json_value",
        "message_log.MessageLog._on_event",  # the device browser's log: one append
    }


async def test_notifications_are_no_bus_events_unless_chosen(
    hass: HomeAssistant, entry: MockConfigEntry, device
) -> None:
    """By default a notification changes a state and nothing else: the recorder would store an event too."""
    assert CONF_NOTIFICATION_EVENTS not in entry.options
    notes = async_capture_events(hass, f"{DOMAIN}_notification")
    registered = async_capture_events(hass, f"{DOMAIN}_registered")
    await device("sim-1")
    temp = await _ready(hass, "sim-1", str(TEMPERATURE))
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5" and not entry.runtime_data._setups)
    Trace().emit(entry.runtime_data, _notification(30.5))
    await hass.async_block_till_done()
    assert hass.states.get(temp).state == "30.5"
    assert notes == [] and [e.data["endpoint"] for e in registered] == ["sim-1"]


@pytest.mark.parametrize("entry_options", [{CONF_NOTIFICATION_EVENTS: True}])
async def test_an_unchanged_value_writes_no_state(hass: HomeAssistant, entry: MockConfigEntry, device) -> None:
    await device("sim-1")
    temp = await _ready(hass, "sim-1", str(TEMPERATURE))
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5" and not entry.runtime_data._setups)
    notes = async_capture_events(hass, f"{DOMAIN}_notification")
    reported = hass.states.get(temp).last_reported
    trace = Trace()
    trace.emit(entry.runtime_data, _notification(21.5))
    await hass.async_block_till_done()
    assert trace.writes == [] and "entity.LwM2MEntity._on_value" not in trace.calls
    assert hass.states.get(temp).last_reported == reported
    assert len(notes) == 1  # automations still see every notification
    # the same number as another type is a change (21 is not 21.0 on a state)
    trace = Trace()
    trace.emit(entry.runtime_data, _notification(21))
    assert len(trace.writes) == 1 and hass.states.get(temp).state == "21"


async def test_a_failing_entity_does_not_stop_the_others(
    hass: HomeAssistant, entry: MockConfigEntry, device, caplog
) -> None:
    await device("sim-1")
    temp = await _ready(hass, "sim-1", str(TEMPERATURE))
    await wait_for(hass, lambda: hass.states.get(temp).state == "21.5" and not entry.runtime_data._setups)
    hub = entry.runtime_data

    def broken(value: object) -> None:
        raise RuntimeError("broken entity")

    unsubscribe = hub.async_subscribe("sim-1", TEMPERATURE, broken)
    battery = Path.parse("/3/0/9")
    hub.source.events.emit(
        Event(type=EventType.NOTIFICATION, endpoint="sim-1", values={TEMPERATURE: 40.0, battery: 12})
    )
    assert hass.states.get(temp).state == "40.0"
    assert hass.states.get(await _ready(hass, "sim-1", "/3/0/9")).state == "12"
    assert "Showing /3303/0/5700 of sim-1 failed" in caplog.text and "broken entity" in caplog.text
    unsubscribe()
    assert all(broken not in slot.listeners for slot in hub._store.values())
