"""Encode and decode throughput of every LwM2M content format, in values per second.

    .venv/bin/python -m tests.bench.bench_codecs [--seconds 0.5]

Payloads are realistic: a whole /3/0 read (16 values), a 3303 temperature notification
(one value, and the whole instance of 5 values), and a 50-object registration.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from custom_components.lwm2m.lwm2m.codecs import ContentFormat, decode, encode
from custom_components.lwm2m.lwm2m.codecs.link_format import RegisteredObjects, format_registration, parse_registration
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import Node, build_node
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse
DEVICE = {
    P("/3/0/0"): "Open Mobile Alliance",
    P("/3/0/1"): "Lightweight M2M Client",
    P("/3/0/2"): "345000123",
    P("/3/0/3"): "1.0",
    P("/3/0/6/0"): 1,
    P("/3/0/6/1"): 5,
    P("/3/0/7/0"): 3800,
    P("/3/0/7/1"): 5000,
    P("/3/0/8/0"): 125,
    P("/3/0/8/1"): 900,
    P("/3/0/9"): 100,
    P("/3/0/10"): 15,
    P("/3/0/11/0"): 0,
    P("/3/0/13"): datetime.fromtimestamp(1367491215, UTC),
    P("/3/0/14"): "+02:00",
    P("/3/0/16"): "U",
}
TEMPERATURE = {
    P("/3303/0/5700"): 21.5,
    P("/3303/0/5601"): 18.25,
    P("/3303/0/5602"): 24.0,
    P("/3303/0/5701"): "Cel",
    P("/3303/0/5750"): "living room",
}
FORMATS = [
    ContentFormat.TLV,
    ContentFormat.LWM2M_JSON,
    ContentFormat.SENML_JSON,
    ContentFormat.SENML_CBOR,
    ContentFormat.LWM2M_CBOR,
]


def rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of func, measured for about `seconds`."""
    calls, start = 0, time.perf_counter()
    batch = 1
    while True:
        for _ in range(batch):
            func()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed
        batch = min(batch * 2, 10_000)


def case(name: str, fmt: int, node: Node, path: Path, n_values: int, model: ObjectModel, seconds: float) -> str:
    payload = encode(fmt, node, path, model)
    enc = rate(lambda: encode(fmt, node, path, model), seconds) * n_values
    dec = rate(lambda: decode(fmt, payload, path, model), seconds) * n_values
    label = ContentFormat(fmt).name
    return f"{name:<24} {label:<11} {len(payload):>6} B {enc:>12,.0f} {dec:>12,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    model = ObjectModel()
    device = build_node(P("/3/0"), DEVICE)
    instance = build_node(P("/3303/0"), TEMPERATURE)
    single = build_node(P("/3303/0/5700"), {P("/3303/0/5700"): 21.5})
    print(f"{'payload':<24} {'format':<11} {'size':>8} {'encode val/s':>12} {'decode val/s':>12}")
    for fmt in FORMATS:
        print(case("/3/0 read (16 values)", fmt, device, P("/3/0"), len(DEVICE), model, args.seconds))
    for fmt in FORMATS:
        print(case("3303 instance notify (5)", fmt, instance, P("/3303/0"), len(TEMPERATURE), model, args.seconds))
    for fmt in (ContentFormat.TEXT, *FORMATS):
        print(case("3303/0/5700 notify (1)", fmt, single, P("/3303/0/5700"), 1, model, args.seconds))
    objects = {oid: "1.1" if oid >= 3300 else None for oid in [*range(0, 10), *range(3300, 3340)]}
    instances = tuple(Path.of(oid, i) for oid in objects for i in range(2))
    registration = format_registration(RegisteredObjects("/", (110, 112, 11543), objects, instances))
    count = len(instances)
    dec = rate(lambda: parse_registration(registration), args.seconds) * count
    reg = RegisteredObjects("/", (110,), objects, instances)
    enc = rate(lambda: format_registration(reg), args.seconds) * count
    print(f"{'50-object registration':<24} {'LINK_FORMAT':<11} {len(registration):>6} B {enc:>12,.0f} {dec:>12,.0f}")
    print("(values per second; for the registration, links per second)")


if __name__ == "__main__":
    main()
