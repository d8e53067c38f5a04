"""Valid inputs to start mutating from: real values encoded with the project's own encoders in
every content format, link-format payloads, and valid EMQX commands and messages.

A Seed is bytes plus the path (and model) they were encoded for, so that a mutation of a
TLV object instance still reaches the decoder's deep parts when decoded at its own path.
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, encode, encode_paths, encode_values
from custom_components.lwm2m.lwm2m.codecs.link_format import (
    Link,
    RegisteredObjects,
    format_discover,
    format_links,
    format_registration,
)
from custom_components.lwm2m.lwm2m.emqx import codec as emqx
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectDefinition, ObjectModel, Operations, ResourceDefinition
from custom_components.lwm2m.lwm2m.nodes import build_node
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import DataType, ObjLnk, Value

P = Path.parse
TYPED_OID = 40000
TYPES = (
    DataType.STRING,
    DataType.INTEGER,
    DataType.UNSIGNED_INTEGER,
    DataType.FLOAT,
    DataType.BOOLEAN,
    DataType.OPAQUE,
    DataType.TIME,
    DataType.OBJLNK,
    DataType.CORELNK,
)
# The bundled objects (1, 3, 3303, ...) plus object 40000 with one resource of every data type
# (resource id = index in TYPES) and a multiple one of each (id = 100 + index).
_TYPED = ObjectDefinition(
    id=TYPED_OID,
    name="typed",
    multiple=True,
    resources={
        **{
            rid: ResourceDefinition(id=rid, name=dtype.value, operations=Operations.RW, type=dtype)
            for rid, dtype in enumerate(TYPES)
        },
        **{
            100 + rid: ResourceDefinition(
                id=100 + rid, name=f"many {dtype.value}", operations=Operations.RW, type=dtype, multiple=True
            )
            for rid, dtype in enumerate(TYPES)
        },
    },
)
MODEL = ObjectModel([_TYPED])
# Paths a decoder is asked about: objects, instances, resources and resource instances,
# known and unknown objects, the highest ids.
PATHS = tuple(
    P(p)
    for p in (
        "/1",
        "/1/0",
        "/1/0/1",
        "/3",
        "/3/0",
        "/3/0/0",
        "/3/0/7",
        "/3/0/7/1",
        "/3/0/9",
        "/3/0/13",
        "/3303/0",
        "/3303/0/5700",
        "/3311/0/5850",
        "/40000",
        "/40000/0",
        *(f"/40000/0/{rid}" for rid in range(len(TYPES))),
        "/40000/0/105/3",
        "/40000/0/107",
        "/65534/65534/65534",
        "/65534/65534/65534/65534",
        "/9999/1",
    )
)
SIM_VALUES: dict[Path, Value] = {
    P("/1/0/0"): 1,
    P("/1/0/1"): 60,
    P("/1/0/6"): False,
    P("/1/0/7"): "U",
    P("/3/0/0"): "Simulated Devices Inc.",
    P("/3/0/1"): "Sim-1",
    P("/3/0/7/0"): 3800,
    P("/3/0/7/1"): 5000,
    P("/3/0/9"): 95,
    P("/3/0/11/0"): 0,
    P("/3/0/13"): datetime.fromtimestamp(1_700_000_000, UTC),
    P("/3303/0/5700"): 21.5,
    P("/3303/0/5701"): "Cel",
    P("/3311/0/5850"): True,
}
NODE_FORMATS = (
    ContentFormat.TLV,
    ContentFormat.LWM2M_JSON,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
)
MULTI_FORMATS = (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_JSON, ContentFormat.LWM2M_CBOR)


@dataclass(frozen=True, slots=True)
class Seed:
    """A valid input: its bytes, what they are and the path they were encoded for."""

    kind: str  # "tlv", "senml-json", "link", "emqx-command", ...
    data: bytes
    path: Path


def random_value(rng: random.Random, dtype: DataType) -> Value:
    """A valid value of dtype, often at the edges of its range."""
    edge = rng.random() < 0.3
    match dtype:
        case DataType.INTEGER:
            return rng.choice((0, -1, 2**63 - 1, -(2**63), 2**31, -(2**31) - 1)) if edge else rng.randint(-1000, 10**6)
        case DataType.UNSIGNED_INTEGER:
            return rng.choice((0, 2**64 - 1, 2**63, 2**32)) if edge else rng.randint(0, 10**6)
        case DataType.FLOAT:
            return rng.choice((0.0, -0.0, 1e308, -1e308, 5e-324, 3.4e38)) if edge else rng.uniform(-1e6, 1e6)
        case DataType.BOOLEAN:
            return rng.random() < 0.5
        case DataType.OPAQUE:
            return rng.randbytes(rng.choice((0, 1, 3, 16, 300)) if edge else rng.randint(0, 24))
        case DataType.TIME:
            return datetime.fromtimestamp(rng.choice((0, 2**31 - 1, 2**32)) if edge else rng.randint(0, 2**31), UTC)
        case DataType.OBJLNK:
            return ObjLnk(rng.choice((0, 65535)), rng.choice((0, 65535))) if edge else ObjLnk(3, rng.randint(0, 9))
        case _:
            alphabet = "abcXYZ019 _-:/<>;,=\"'é²€😀\u0000\t"
            length = rng.choice((0, 255, 256, 1000)) if edge else rng.randint(0, 20)
            return "".join(rng.choice(alphabet) for _ in range(length))


def random_values(rng: random.Random) -> tuple[Path, dict[Path, Value]]:
    """A path and valid leaf values below it: a slice of the simulated device, or typed values."""
    if rng.random() < 0.4:
        base = rng.choice((P("/3"), P("/3/0"), P("/3/0/7"), P("/3303/0"), P("/1/0"), P("/3/0/9")))
        values = {p: v for p, v in SIM_VALUES.items() if p.startswith(base)}
        return base, values
    iid = rng.choice((0, 1, 65534))
    values = {}
    for rid, dtype in enumerate(TYPES):
        if rng.random() < 0.5:
            values[Path.of(TYPED_OID, iid, rid)] = random_value(rng, dtype)
        if rng.random() < 0.2:
            for ri in rng.sample(range(0, 65535), rng.randint(1, 3)):
                values[Path.of(TYPED_OID, iid, 100 + rid, ri)] = random_value(rng, dtype)
    if not values:
        values[Path.of(TYPED_OID, iid, 1)] = 7
    base = rng.choice((Path.of(TYPED_OID), Path.of(TYPED_OID, iid)))
    if rng.random() < 0.3:
        base = next(iter(values)) if len(next(iter(values)).ids) == 3 else base
        values = {p: v for p, v in values.items() if p.startswith(base)}
    return base, values


def _value_seeds(rng: random.Random) -> list[Seed]:
    base, values = random_values(rng)
    seeds: list[Seed] = []
    try:
        node = build_node(base, values)
    except CodecError:
        return seeds
    for fmt in NODE_FORMATS:
        with contextlib.suppress(CodecError):
            seeds.append(Seed(f"node-{int(fmt)}", encode(fmt, node, base, MODEL), base))
    for fmt in MULTI_FORMATS:
        with contextlib.suppress(CodecError):
            seeds.append(Seed(f"values-{int(fmt)}", encode_values(fmt, values), base))
    if base.depth >= 3 and len(values) == 1:
        for fmt in (ContentFormat.TEXT, ContentFormat.OPAQUE):
            with contextlib.suppress(CodecError):
                seeds.append(Seed(f"single-{int(fmt)}", encode(fmt, node, base, MODEL), base))
    for fmt in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR):
        seeds.append(Seed(f"paths-{int(fmt)}", encode_paths(fmt, list(values)[:5]), base))
    return seeds


def _link_seeds(rng: random.Random) -> list[Seed]:
    instances = tuple(sorted({Path.of(rng.choice((1, 3, 3303, 3311, 40000)), rng.randint(0, 3)) for _ in range(4)}))
    objects = {p.ids[0]: rng.choice((None, "1.1", "2.0")) for p in instances}
    root = rng.choice(("/", "/", "/lwm2m"))
    formats = rng.choice(((), (110,), (60, 110, 112, 11542)))
    registration = format_registration(RegisteredObjects(root, formats, objects, instances))
    attrs = {"pmin": rng.randint(0, 100), "pmax": rng.randint(0, 1000), "gt": 1.5, "lt": -2.0, "st": 0.5}
    discover = format_discover({p: dict(rng.sample(sorted(attrs.items()), rng.randint(0, 3))) for p in instances})
    links = format_links([Link(str(p), {"rt": "x", "title": "é", "obs": None}) for p in instances])
    return [
        Seed("link-register", registration, P("/3")),
        Seed("link-discover", discover, P("/3")),
        Seed("link", links, P("/3")),
    ]


def emqx_commands(rng: random.Random) -> list[dict[str, object]]:
    """Valid EMQX commands of every kind, as the JSON objects a broker would carry."""
    req = rng.randint(0, 2**31)
    path = str(rng.choice((P("/3/0/9"), P("/3303/0/5700"), P("/40000/0/1"))))
    write_value = rng.choice(
        (("Integer", 5), ("Float", 2.5), ("String", "hé"), ("Boolean", True), ("Opaque", "AQI="), ("Objlnk", "3:0"))
    )
    return [
        {"reqID": req, "msgType": "read", "data": {"path": path}},
        {"reqID": req, "msgType": "discover", "data": {"path": "/3/0"}},
        {"reqID": req, "msgType": "observe", "data": {"path": path}},
        {"reqID": req, "msgType": "cancel-observe", "data": {"path": path}},
        {"reqID": req, "msgType": "delete", "data": {"path": "/40000/1"}},
        {"reqID": req, "msgType": "execute", "data": {"path": "/3/0/4", "args": "0='x'"}},
        {"reqID": req, "msgType": "write", "data": {"path": path, "type": write_value[0], "value": write_value[1]}},
        {
            "reqID": req,
            "msgType": "write",
            "data": {
                "basePath": "/40000/0",
                "content": [
                    {"path": "1", "type": "Integer", "value": -3},
                    {"path": "3", "type": "Float", "value": 1e300},
                    {"path": "6", "type": "Time", "value": 1700000000},
                ],
            },
        },
        {
            "reqID": req,
            "msgType": "create",
            "data": {"basePath": "/40000", "content": [{"path": "0/0", "type": "String", "value": "x"}]},
        },
        {"reqID": req, "msgType": "write-attr", "data": {"path": path, "pmin": "5", "pmax": 60, "gt": 2.5, "st": ""}},
    ]


def emqx_up_messages(rng: random.Random) -> list[dict[str, object]]:
    """Valid messages the gateway publishes (register, update, notify, a response)."""
    return [
        emqx.RegisterMessage(
            msg_type="register",
            endpoint="ep-1",
            lifetime=rng.randint(1, 10**6),
            lwm2m="1.1",
            binding="UQ",
            alternate_path="/",
            objects=(P("/3/0"), P("/3303/0"), P("/5")),
        ).encode(),
        emqx.NotifyMessage(
            req_id=rng.randint(0, 99),
            seq_num=rng.randint(0, 2**24),
            path=P("/3303/0/5700"),
            values={P("/3303/0/5700"): 21.5},
        ).encode(),
        emqx.ResponseMessage(
            req_id=3, msg_type="read", req_path="/3/0/9", code="2.05", content=[{"path": "/3/0/9", "value": 95}]
        ).encode(),
        emqx.ResponseMessage(
            req_id=4, msg_type="discover", req_path="/3/0", code="2.05", content=["</3/0>;pmin=10", "</3/0/9>"]
        ).encode(),
    ]


def _emqx_seeds(rng: random.Random) -> list[Seed]:
    seeds = [Seed("emqx-command", json.dumps(doc).encode(), P("/3/0/9")) for doc in emqx_commands(rng)]
    seeds += [Seed("emqx-up", json.dumps(doc).encode(), P("/3/0/9")) for doc in emqx_up_messages(rng)]
    return seeds


def build_seeds(rng: random.Random, rounds: int = 60) -> list[Seed]:
    """Valid inputs of every kind: rounds of random values in every format, links, EMQX JSON."""
    seeds: list[Seed] = []
    for _ in range(rounds):
        seeds += _value_seeds(rng)
        seeds += _link_seeds(rng)
        seeds += _emqx_seeds(rng)
    return seeds
