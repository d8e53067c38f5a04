"""How much of the project a notification passes through, from the reader's hand-over
(fast_notify) to the event listeners: the protocol core's share of the path to an entity's
state (the hub's is measured in tests/components/lwm2m). Counted with sys.setprofile, not timed."""

from __future__ import annotations

import sys

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, encode_values
from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event
from custom_components.lwm2m.lwm2m.observe import Observation
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration
from custom_components.lwm2m.lwm2m.server import LwM2MServer

TEMPERATURE = Path.parse("/3303/0/5700")


def project_calls(fmt: int | None, payload: bytes) -> tuple[list[str], list[Event]]:
    """The project functions one notification calls on its way to the listeners, in order."""
    server = LwM2MServer(ServerConfig(port=0))
    server.registrations.add(Registration(reg_id="r1", endpoint="ep", lifetime=60))
    observation = Observation(endpoint="ep", paths=(TEMPERATURE,), token=b"t", request=None, reg_id="r1")
    server.observations.add(observation)
    events: list[Event] = []
    server.events.subscribe(events.append)
    calls: list[str] = []

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call" and "custom_components/lwm2m/" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_qualname)

    sys.setprofile(profile)
    try:
        server.on_fast_notification(observation, 2, fmt, payload, 0)
    finally:
        sys.setprofile(None)
    return calls, events


def test_a_text_notification_takes_ten_core_functions() -> None:
    calls, events = project_calls(None, b"21.5")
    assert events[0].values == {TEMPERATURE: 21.5}
    print("text/plain:", " -> ".join(calls))
    assert calls == [
        "LwM2MServer.on_fast_notification",
        "ObservationTable.current",  # the observation still stands
        "LwM2MServer.notified",
        "decode",  # codecs: the content format's decoder
        "decode_value",
        "ObjectModel.resource",  # the resource's type
        "EventBudget.offer",  # the device's notification budget
        "TokenBucket.__init__",  # (only for its first notification: the budget starts full)
        "TokenBucket.take",
        "EventBus.emit",
    ]


def test_a_senml_cbor_notification_copies_its_values_once() -> None:
    payload = encode_values(ContentFormat.SENML_CBOR, {TEMPERATURE: 21.5})
    calls, events = project_calls(ContentFormat.SENML_CBOR, payload)
    assert events[0].values == {TEMPERATURE: 21.5}
    print("SenML CBOR:", len(calls), "calls:", " -> ".join(calls))
    assert calls[0] == "LwM2MServer.on_fast_notification" and calls[-1] == "EventBus.emit"
    # no tree on the way: the decoder's flat values are the event's values
    assert not {"build_node", "flatten", "_flatten"} & set(calls)
    assert len(calls) <= 32  # 30 before the reader's hand-over (on_fast_notification, current)
