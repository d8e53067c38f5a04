"""What events and saved registrations look like to their readers (MQTT, the store, diagnostics)."""

from __future__ import annotations

import time

from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects
from custom_components.lwm2m.lwm2m.events import Event, EventType, RegistrationInfo, ResponseInfo
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import Registration, readable_registrations

P = Path.parse


def _registration(**kwargs) -> Registration:
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
