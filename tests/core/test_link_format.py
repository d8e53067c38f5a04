"""CoRE link format: registration payloads and Discover answers."""

import pytest

from custom_components.lwm2m.lwm2m.codecs.link_format import (
    Link,
    RegisteredObjects,
    format_discover,
    format_links,
    format_registration,
    parse,
    parse_discover,
    parse_registration,
)
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse


def test_plain_registration() -> None:
    reg = parse_registration(b"</1/0>,</3/0>,</3303/0>,</3303/1>,</5>")
    assert reg.root_path == "/"
    assert dict(reg.objects) == {1: None, 3: None, 5: None, 3303: None}
    assert reg.instances == (P("/1/0"), P("/3/0"), P("/3303/0"), P("/3303/1"))
    assert reg.instance_ids(3303) == [0, 1] and reg.instance_ids(5) == []


def test_registration_with_root_versions_and_formats() -> None:
    payload = b'</lwm2m>;rt="oma.lwm2m";ct="60 110 112 11543",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>,</lwm2m/3303/0>;ver=1.1'
    reg = parse_registration(payload)
    assert reg.root_path == "/lwm2m"
    assert reg.content_formats == (60, 110, 112, 11543)
    assert dict(reg.objects) == {1: None, 3: "1.1", 3303: "1.1"}
    assert P("/3/0") in reg.instances
    again = parse_registration(format_registration(reg))
    assert again == reg


def test_registration_single_ct() -> None:
    reg = parse_registration(b'</>;rt="oma.lwm2m";ct=11543,</3/0>')
    assert reg.root_path == "/" and reg.content_formats == (11543,)
    assert parse_registration(format_registration(reg)) == reg


def test_discover_answer() -> None:
    payload = b"</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=2;gt=50.5;lt=4;st=0.5;epmin=1;epmax=5"
    attrs = parse_discover(payload)
    assert attrs[P("/3/0")] == {"pmin": 10, "pmax": 60}
    assert attrs[P("/3/0/1")] == {}
    assert attrs[P("/3/0/7")] == {"dim": 2, "gt": 50.5, "lt": 4.0, "st": 0.5, "epmin": 1, "epmax": 5}
    assert parse_discover(format_discover(attrs)) == attrs


def test_generic_links_and_quoting() -> None:
    links = parse(b'<sensors/temp>;rt="temperature-c";if="sensor";title="a, \\"quoted\\"; title";obs, <x>')
    assert links[0] == Link(
        "sensors/temp", {"rt": "temperature-c", "if": "sensor", "title": 'a, "quoted"; title', "obs": None}
    )
    assert links[1] == Link("x", {})
    assert parse(format_links(links)) == links
    assert parse(b"") == [] and parse("  ") == []


@pytest.mark.parametrize(
    "payload",
    [
        b"/3/0",
        b"</3/0",
        b"</3/0>;",
        b"</3/0>;pmin=abc",
        b'</3/0>;title="open',
        b"</3/0> </4/0>",
        b"\xff",
    ],
)
def test_malformed_links(payload: bytes) -> None:
    with pytest.raises(CodecError):
        parse(payload)


@pytest.mark.parametrize(
    "payload",
    [b"</a/b>", b"</3/0/1>", b"</>", b'</>;rt="oma.lwm2m";ct="x y"', b"</99999>"],
)
def test_malformed_registrations(payload: bytes) -> None:
    with pytest.raises(CodecError):
        parse_registration(payload)


def test_link_count_is_bounded() -> None:
    with pytest.raises(CodecError, match="more than"):
        parse(b",".join([b"</3/0>"] * 10_001))


def test_registered_objects_default() -> None:
    assert RegisteredObjects().root_path == "/"


def test_a_registration_names_the_version_once_per_object() -> None:
    registered = RegisteredObjects(objects={3: None, 3303: "1.1"}, instances=(P("/3/0"), P("/3303/0"), P("/3303/1")))
    assert format_registration(registered) == b"</3/0>,</3303/0>;ver=1.1,</3303/1>"
    assert parse_registration(format_registration(registered)) == registered
