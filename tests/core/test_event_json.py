"""What events and saved registrations look like to their readers (MQTT, the store, diagnostics)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects
from custom_components.lwm2m.lwm2m.events import (
    Event,
    EventBus,
    EventType,
    FirmwareInfo,
    NotificationInfo,
    RegistrationInfo,
    ResponseInfo,
    Step,
)
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration, readable_registrations

P = Path.parse


def _registration(**kwargs: Any) -> Registration:
    objects = RegisteredObjects(
        root_path="/lwm2m",
        content_formats=(11543, 110),
        objects={1: None, 3: "1.2", 3303: None},
        instances=(P("/1/0"), P("/3/0"), P("/3303/0")),
    )
    return Registration(
        reg_id="r1",
        endpoint="dev",
        lifetime=300,
        lwm2m_version="1.1",
        binding="UQ",
        queue_mode=True,
        objects=objects,
        address="10.0.0.7:5683",
        **kwargs,
    )


def test_registration_info_as_json() -> None:
    reg = _registration(identity="psk-dev")
    doc = reg.info().to_json()
    assert doc == {
        "reg_id": "r1",
        "lifetime": 300,
        "lwm2m_version": "1.1",
        "binding": "UQ",
        "queue_mode": True,
        "sms": None,
        "address": "10.0.0.7:5683",
        "transport": "udp",
        "identity": "psk-dev",
        "root_path": "/lwm2m",
        "objects": {"1": None, "3": "1.2", "3303": None},
        "instances": ["/1/0", "/3/0", "/3303/0"],
        "content_formats": [11543, 110],
        "registered_at": reg.registered_at,
        "updated_at": reg.updated_at,
        "moved": False,
        "objects_changed": False,
    }


def test_info_reports_changes_only_when_told() -> None:
    reg = _registration()
    assert not reg.info().moved and not reg.info().objects_changed
    assert reg.info(objects_changed=True).objects_changed and not reg.info(objects_changed=True).moved
    assert reg.info(moved=True).moved


def test_response_info_names_the_content_format_only_when_there_is_one() -> None:
    assert ResponseInfo(operation="read", content_format=11543).to_json() == {
        "operation": "read",
        "content_format": 11543,
    }
    assert ResponseInfo(operation="write").to_json() == {"operation": "write"}
    assert ResponseInfo(operation="read", content_format=0, fallback_from=(112,)).to_json() == {
        "operation": "read",
        "content_format": 0,
        "fallback_from": [112],
    }


def test_event_json_carries_the_path_and_not_the_details() -> None:
    info: RegistrationInfo = _registration().info()
    event = Event(
        type=EventType.NOTIFICATION,
        endpoint="dev",
        path=P("/3303/0/5700"),
        values={P("/3303/0/5700"): 21.5},
        sequence=7,
        code="2.05",
        details=info,
    )
    assert event.to_json() == {
        "endpoint": "dev",
        "path": "/3303/0/5700",
        "values": {"/3303/0/5700": 21.5},
        "sequence": 7,
        "code": "2.05",
    }
    assert Event(type=EventType.REGISTERED, endpoint="dev", details=info).to_json() == {"endpoint": "dev"}


def test_saved_registration_round_trip() -> None:
    reg = _registration(identity="psk-dev", transport="udp")
    (again,) = readable_registrations([reg.to_dict()])
    assert again.identity == "psk-dev"
    assert again.info().to_json() == reg.info().to_json()


def test_a_registration_saved_with_only_the_essentials_restores_as_a_plain_udp_device() -> None:
    """An older store (or a hand-edited one) has just the id, name and lifetime."""
    before = time.time()
    (reg,) = readable_registrations([{"reg_id": "r9", "endpoint": "old", "lifetime": 60}])
    assert (reg.binding, reg.queue_mode, reg.lwm2m_version, reg.transport) == ("U", False, "1.0", "udp")
    assert reg.identity is None and reg.sms is None
    # it counts as just updated: it is not expired the moment it is restored
    assert before <= reg.updated_at <= time.time()
    assert reg.expires_at >= before + 60


def test_event_values_are_json_friendly_and_empty_parts_are_left_out() -> None:
    event = Event(
        type=EventType.SEND,
        endpoint="dev",
        values={P("/3/0/0"): "ACME", P("/5/0/0"): b"\x00\xff", P("/3/0/9"): 0},
        sequence=0,
        code="2.04",
    )
    assert event.to_json() == {
        "endpoint": "dev",
        "values": {"/3/0/0": "ACME", "/5/0/0": "AP8=", "/3/0/9": 0},
        "sequence": 0,
        "code": "2.04",
    }
    assert Event(type=EventType.EXPIRED, endpoint="gone").to_json() == {"endpoint": "gone"}


def test_an_event_names_its_registration_or_response() -> None:
    info = _registration().info()
    registered = Event(type=EventType.REGISTERED, endpoint="dev", details=info)
    assert registered.registration is info and registered.response is None
    answer = ResponseInfo(operation="read", content_format=112)
    read = Event(type=EventType.RESPONSE, endpoint="dev", details=answer)
    assert read.response is answer and read.registration is None
    observed = Event(type=EventType.NOTIFICATION, endpoint="dev", details=NotificationInfo(paths=(P("/3/0"), P("/4"))))
    assert observed.registration is None and observed.response is None
    assert NotificationInfo(paths=(P("/3/0"), P("/4"))).to_json() == {"paths": ["/3/0", "/4"]}
    assert [t.value for t in EventType] == [
        "registered",
        "updated",
        "deregistered",
        "expired",
        "notification",
        "send",
        "response",
        "refused",
        "bootstrapped",
        "bootstrap_failed",
        "firmware",
    ]
    failed = FirmwareInfo(step=Step.FAILED, method="pull", percent=37.25, state=0, result=5, version="2", error="bad")
    assert failed.final and failed.to_json() == {
        "step": "failed",
        "method": "pull",
        "percent": 37.2,
        "state": "idle",
        "result": 5,
        "result_key": "integrity_check_failure",
        "result_text": "integrity check failure for the new firmware package",
        "version": "2",
        "error": "bad",
    }
    assert FirmwareInfo(step=Step.STARTED).to_json() == {
        "step": "started",
        "method": "",
        "state": None,
        "result": None,
        "result_key": None,
        "result_text": None,
    }


def test_the_event_bus_reaches_every_listener_even_after_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    got: list[str] = []

    def failing(event: Event) -> None:
        raise RuntimeError("boom")

    stop_failing = bus.subscribe(failing)
    stop = bus.subscribe(lambda event: got.append(event.endpoint))
    assert len(bus) == 2
    bus.emit(Event(type=EventType.UPDATED, endpoint="a"))
    assert got == ["a"]
    assert "failed on updated event of a" in caplog.text
    stop_failing()
    stop_failing()  # twice is harmless
    assert len(bus) == 1
    stop()
    bus.emit(Event(type=EventType.UPDATED, endpoint="b"))
    assert got == ["a"] and len(bus) == 0


def test_a_listener_may_unsubscribe_while_an_event_is_delivered() -> None:
    bus = EventBus()
    got: list[str] = []
    stops: list[Callable[[], None]] = []

    def once(event: Event) -> None:
        got.append("once")
        stops[0]()

    stops.append(bus.subscribe(once))
    bus.subscribe(lambda event: got.append("always"))
    bus.emit(Event(type=EventType.UPDATED, endpoint="a"))
    bus.emit(Event(type=EventType.UPDATED, endpoint="a"))
    assert got == ["once", "always", "always"]
