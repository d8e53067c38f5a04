"""Registrations as the store and diagnostics keep them (to_dict / from_dict with their
defaults), what a registration says about itself, and the registration store's lookups."""

from __future__ import annotations

import logging
import math
import time
from types import SimpleNamespace
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.registration import (
    EndpointStats,
    Registration,
    RegistrationStore,
    new_registration_id,
    readable_registrations,
)

P = Path.parse


def _full() -> Registration:
    reg = Registration(
        reg_id="r1",
        endpoint="dev",
        lifetime=300,
        lwm2m_version="1.1",
        binding="UQ",
        sms="+4912345",
        queue_mode=True,
        objects=RegisteredObjects(
            root_path="/lwm2m",
            content_formats=(110, 11543),
            objects={1: None, 3: "1.2"},
            instances=(P("/1/0"), P("/3/0")),
        ),
        remote=object(),
        address="10.0.0.7:5683",
        transport="emqx",
        identity="psk-dev",
        registered_at=1000.0,
        updated_at=2000.5,
        refused_formats={112, 60},
    )
    reg.stats.last_seen = 2100.25
    reg.stats.messages_in = 7
    return reg


def test_a_registration_as_saved() -> None:
    assert _full().to_dict() == {
        "reg_id": "r1",
        "endpoint": "dev",
        "lifetime": 300,
        "lwm2m_version": "1.1",
        "binding": "UQ",
        "sms": "+4912345",
        "queue_mode": True,
        "root_path": "/lwm2m",
        "content_formats": [110, 11543],
        "objects": {"1": None, "3": "1.2"},
        "instances": ["/1/0", "/3/0"],
        "address": "10.0.0.7:5683",
        "transport": "emqx",
        "identity": "psk-dev",
        "registered_at": 1000.0,
        "updated_at": 2000.5,
        "last_seen": 2100.25,
        "refused_formats": [60, 112],
    }


def test_every_saved_field_comes_back() -> None:
    reg = _full()
    again = Registration.from_dict(reg.to_dict())
    assert again.to_dict() == reg.to_dict()
    assert again.objects == reg.objects
    assert (again.sms, again.identity, again.transport, again.binding) == ("+4912345", "psk-dev", "emqx", "UQ")
    assert again.queue_mode is True
    assert (again.registered_at, again.updated_at, again.stats.last_seen) == (1000.0, 2000.5, 2100.25)
    assert again.refused_formats == {60, 112}
    # the transport's address object is not saved, and the counts start afresh
    assert again.remote is None and again.stats.messages_in == 0


def test_the_defaults_of_a_minimal_saved_registration() -> None:
    before = time.time()
    reg = Registration.from_dict({"reg_id": "r9", "endpoint": "old", "lifetime": "60"})
    after = time.time()
    assert reg.lifetime == 60
    assert (reg.lwm2m_version, reg.binding, reg.sms, reg.queue_mode) == ("1.0", "U", None, False)
    assert (reg.address, reg.transport, reg.identity) == ("", "udp", None)
    assert reg.objects == RegisteredObjects()
    assert reg.objects.root_path == "/"
    assert before <= reg.registered_at <= after and before <= reg.updated_at <= after
    assert reg.stats.last_seen == 0.0  # never seen since
    assert reg.refused_formats == set()
    assert reg.queue_mode is False and isinstance(reg.queue_mode, bool)


def test_saved_values_are_converted() -> None:
    reg = Registration.from_dict(
        {
            "reg_id": "r2",
            "endpoint": "d",
            "lifetime": 30.0,
            "queue_mode": 1,
            "registered_at": "5",
            "updated_at": 6,
            "content_formats": [112],
            "objects": {"3303": "1.1"},
        }
    )
    assert reg.lifetime == 30 and isinstance(reg.lifetime, int)
    assert reg.queue_mode is True
    assert (reg.registered_at, reg.updated_at) == (5.0, 6.0)
    assert reg.objects.content_formats == (112,)
    assert reg.objects.objects == {3303: "1.1"}


@pytest.mark.parametrize(
    ("saved", "last_seen"),
    [
        (12.5, 12.5),
        (7, 7.0),
        (True, 0.0),
        ("12", 0.0),
        (None, 0.0),
        (math.nan, 0.0),
        (math.inf, 0.0),
        (-math.inf, 0.0),
    ],
)
def test_a_saved_last_seen_time(saved: object, last_seen: float) -> None:
    reg = Registration.from_dict({"reg_id": "r", "endpoint": "e", "lifetime": 1, "last_seen": saved})
    assert reg.stats.last_seen == last_seen


def test_saved_refused_formats_keep_only_content_format_numbers() -> None:
    data = {"reg_id": "r", "endpoint": "e", "lifetime": 1}
    kept = Registration.from_dict(data | {"refused_formats": [0, 65535, 65536, -1, True, "60", 1.0, 112]})
    assert kept.refused_formats == {0, 65535, 112}
    assert Registration.from_dict(data | {"refused_formats": (60,)}).refused_formats == {60}
    assert Registration.from_dict(data | {"refused_formats": "60"}).refused_formats == set()


def test_unreadable_saved_registrations_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    good = {"reg_id": "r", "endpoint": "e", "lifetime": 1}
    saved: list[dict[str, Any]] = [
        {"endpoint": "no-id", "lifetime": 1},
        good,
        {"reg_id": "r2", "endpoint": "x", "lifetime": "long"},
        {"reg_id": "r3", "endpoint": "y", "lifetime": 1, "instances": ["/a/b"]},
        {"reg_id": "r4", "endpoint": "z", "lifetime": None},
    ]
    with caplog.at_level(logging.WARNING):
        restored = list(readable_registrations(saved))
    assert [r.endpoint for r in restored] == ["e"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all(w.startswith("Skipping a saved registration that cannot be read: ") for w in warnings)


# -- what a registration says about itself -------------------------------------------------------


def test_paths_below_the_alternate_root() -> None:
    reg = _full()
    assert reg.root_path == ("lwm2m",)
    assert reg.uri_path(P("/3/0/1")) == ("lwm2m", "3", "0", "1")
    plain = Registration(reg_id="r", endpoint="e", lifetime=1)
    assert plain.root_path == ()
    assert plain.uri_path(P("/3")) == ("3",)
    deep = Registration(reg_id="r", endpoint="e", lifetime=1, objects=RegisteredObjects(root_path="/a/b/"))
    assert deep.uri_path(P("/5/0")) == ("a", "b", "5", "0")


@pytest.mark.parametrize(
    ("version", "parsed"),
    [("1.0", (1, 0)), ("1.1", (1, 1)), ("1.2", (1, 2)), ("2", (2, 0)), ("x.y", (1, 0)), ("", (1, 0)), ("1.", (1, 0))],
)
def test_the_version_as_numbers(version: str, parsed: tuple[int, int]) -> None:
    assert Registration(reg_id="r", endpoint="e", lifetime=1, lwm2m_version=version).version_tuple == parsed


def test_expiry_follows_the_last_update() -> None:
    reg = Registration(reg_id="r", endpoint="e", lifetime=60, registered_at=0.0, updated_at=100.0)
    assert reg.expires_at == 160.0


def test_registration_info_copies_the_registration() -> None:
    reg = _full()
    info = reg.info()
    assert (info.reg_id, info.endpoint, info.lifetime, info.lwm2m_version) == ("r1", "dev", 300, "1.1")
    assert (info.binding, info.queue_mode, info.sms, info.address) == ("UQ", True, "+4912345", "10.0.0.7:5683")
    assert (info.transport, info.identity, info.root_path) == ("emqx", "psk-dev", "/lwm2m")
    assert info.objects == {1: None, 3: "1.2"} and info.instances == (P("/1/0"), P("/3/0"))
    assert info.content_formats == (110, 11543)
    assert (info.registered_at, info.updated_at) == (1000.0, 2000.5)
    assert (info.moved, info.objects_changed) == (False, False)
    assert reg.info(moved=True, objects_changed=True).objects_changed is True


def test_endpoint_stats_as_a_dict() -> None:
    stats = EndpointStats(messages_in=3, messages_out=2, errors=1, last_seen=9.5)
    assert stats.to_dict() == {"messages_in": 3, "messages_out": 2, "errors": 1, "last_seen": 9.5}
    assert EndpointStats().to_dict() == {"messages_in": 0, "messages_out": 0, "errors": 0, "last_seen": 0.0}


def test_registration_ids_are_unguessable_hex() -> None:
    ids = {new_registration_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


# -- the store --------------------------------------------------------------------------------------


def _reg(reg_id: str, endpoint: str, address: str = "", **kwargs: object) -> Registration:
    return Registration(reg_id=reg_id, endpoint=endpoint, lifetime=60, address=address, **kwargs)  # type: ignore[arg-type]


def test_the_store_finds_a_registration_by_id_endpoint_and_address() -> None:
    store = RegistrationStore()
    reg = _reg("r1", "dev", "1.2.3.4:5")
    assert store.add(reg) is None
    assert store.by_id("r1") is reg and store.by_endpoint("dev") is reg and store.at_address("1.2.3.4:5") == [reg]
    assert "dev" in store and "r1" not in store
    assert len(store) == 1 and list(store) == [reg]
    quiet = _reg("r2", "quiet")  # no address (restored, not heard from yet)
    store.add(quiet)
    assert store.at_address("") == []
    assert len(store) == 2


def test_a_new_registration_of_an_endpoint_replaces_the_old_one() -> None:
    store = RegistrationStore()
    old = _reg("r1", "dev", "1.2.3.4:5")
    store.add(old)
    new = _reg("r2", "dev", "1.2.3.4:6")
    assert store.add(new) is old
    assert store.by_id("r1") is None and store.at_address("1.2.3.4:5") == []
    assert store.by_endpoint("dev") is new and len(store) == 1
    # removing the replaced one later takes nothing of the new one's
    store.remove(old)
    assert store.by_id("r2") is new and store.by_endpoint("dev") is new and store.at_address("1.2.3.4:6") == [new]
    store.remove(new)
    assert len(store) == 0 and "dev" not in store and store.at_address("1.2.3.4:6") == []


def test_register_counts_the_register_as_the_first_message() -> None:
    store = RegistrationStore()
    reg = _reg("r1", "dev", registered_at=123.0)
    assert store.register(reg) is None
    assert (reg.stats.messages_in, reg.stats.last_seen) == (1, 123.0)
    again = _reg("r2", "dev")
    assert store.register(again) is reg


def test_a_device_that_moves_is_found_at_its_new_address() -> None:
    store = RegistrationStore()
    reg = _reg("r1", "dev", "1.2.3.4:5")
    store.add(reg)
    remote = SimpleNamespace()
    assert store.move(reg, remote, "1.2.3.4:5") is False  # same address: only the remote object is new
    assert reg.remote is remote
    moved_to = SimpleNamespace()
    assert store.move(reg, moved_to, "5.6.7.8:9") is True
    assert (reg.remote, reg.address) == (moved_to, "5.6.7.8:9")
    assert store.at_address("1.2.3.4:5") == [] and store.at_address("5.6.7.8:9") == [reg]


def test_a_move_leaves_another_devices_address_alone() -> None:
    store = RegistrationStore()
    first = _reg("r1", "a", "1.1.1.1:1")
    store.add(first)
    second = _reg("r2", "b", "1.1.1.1:1")  # took over the address (a NAT gave it away)
    store.add(second)
    assert store.at_address("1.1.1.1:1") == [first, second]  # both talk from there, oldest first
    store.move(first, None, "2.2.2.2:2")
    assert store.at_address("1.1.1.1:1") == [second] and store.at_address("2.2.2.2:2") == [first]


def test_expired_registrations_after_a_grace() -> None:
    store = RegistrationStore()
    short = _reg("r1", "short", updated_at=100.0)  # expires at 160
    long = Registration(reg_id="r2", endpoint="long", lifetime=600, updated_at=100.0)
    store.add(short)
    store.add(long)
    assert store.expired(now=165.0, grace=10.0) == []
    assert store.expired(now=170.0, grace=10.0) == [short]  # exactly at the end of the grace
    assert store.expired(now=700.0, grace=0.0) == [short, long]
