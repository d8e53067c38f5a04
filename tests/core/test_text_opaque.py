"""Plain text and opaque: one value each, typed by the model."""

from datetime import UTC, datetime

import pytest

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode, encode, opaque, text
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import ObjectInstance, Resource, ResourceInstance
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import ObjLnk

P = Path.parse


@pytest.mark.parametrize(
    ("path", "payload", "value"),
    [
        ("/3/0/9", b"95", 95),
        ("/3303/0/5700", b"21.5", 21.5),
        ("/3303/0/5700", b"-4e2", -400.0),
        ("/3311/0/5850", b"1", True),
        ("/3311/0/5850", b"0", False),
        ("/3/0/0", b"ACME", "ACME"),
        ("/3/0/13", b"1367491215", datetime.fromtimestamp(1367491215, UTC)),
        ("/1/0/10", b"3:0", ObjLnk(3, 0)),
        ("/40000/0/1", b"anything", "anything"),  # unknown resources decode as text
        ("/5/0/0", b"AQID", b"\x01\x02\x03"),  # opaque in text is base64
    ],
)
def test_text_values(model: ObjectModel, path: str, payload: bytes, value: object) -> None:
    assert decode(ContentFormat.TEXT, payload, P(path), model) == {P(path): value}
    node = Resource(P(path).ids[2], value)
    assert decode(ContentFormat.TEXT, text.encode(node, P(path), model), P(path), model) == {P(path): value}


def test_text_resource_instance(model: ObjectModel) -> None:
    assert decode(ContentFormat.TEXT, b"3800", P("/3/0/7/0"), model) == {P("/3/0/7/0"): 3800}
    assert encode(ContentFormat.TEXT, ResourceInstance(0, 3800), P("/3/0/7/0")) == b"3800"


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/3/0/9", b"9.5"),
        ("/3/0/9", b"abc"),
        ("/3/0/9", b"99999999999999999999"),
        ("/3303/0/5700", b"nan"),
        ("/3303/0/5700", b"1e999"),
        ("/3311/0/5850", b"true"),
        ("/3/0/0", b"\xff\xfe"),
        ("/1/0/10", b"3-0"),
        ("/5/0/0", b"%%%"),
        ("/3/0", b"1"),
        ("/0/0/13", b"18446744073709551616"),  # beyond an unsigned 64-bit integer
        ("/0/0/13", b"-1"),
    ],
)
def test_text_malformed(model: ObjectModel, path: str, payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode(ContentFormat.TEXT, payload, P(path), model)


def test_text_encode_rejects() -> None:
    with pytest.raises(CodecError):
        text.encode(Resource(1, float("inf")), P("/1/0/1"))
    with pytest.raises(CodecError):
        text.encode(ObjectInstance(0, {}), P("/1/0"))


def test_opaque(model: ObjectModel) -> None:
    blob = bytes(range(256))
    assert decode(ContentFormat.OPAQUE, blob, P("/5/0/0"), model) == {P("/5/0/0"): blob}
    assert opaque.encode(Resource(0, blob), P("/5/0/0")) == blob
    assert decode(ContentFormat.OPAQUE, b"\x00", P("/5/0/0/1")) == {P("/5/0/0/1"): b"\x00"}
    with pytest.raises(CodecError):
        decode(ContentFormat.OPAQUE, blob, P("/5/0"))
    with pytest.raises(CodecError):
        opaque.encode(Resource(0, "text"), P("/5/0/0"))
