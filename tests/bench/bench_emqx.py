"""Throughput of the EMQX JSON paths, in messages per second (one core, no broker):

    .venv/bin/python -m tests.bench.bench_emqx [--seconds 1]

- bridge up: a notification event of this server turned into its EMQX notify message and
  serialised (what the MQTT bridge does for every notification);
- consumer in: an EMQX notify message from a gateway parsed, typed by the object model and
  emitted as an event (what a gateway entry does for every notification it receives);
- consumer in, registration: an EMQX register message with 10 object instances.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from custom_components.lwm2m.lwm2m.emqx import EmqxBridge, EmqxGateway, EmqxSettings
from custom_components.lwm2m.lwm2m.emqx.codec import NotifyMessage, RegisterMessage
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path

P = Path.parse


def rate(work: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            work()
        count += 100
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds

    settings = EmqxSettings()
    bridge = EmqxBridge(settings, endpoint_for=lambda name: None)  # only events here, no commands
    values = {P("/3303/0/5700"): 21.5}
    event = Event(type=EventType.NOTIFICATION, endpoint="sensor-1", path=P("/3303/0/5700"), values=values, sequence=7)

    def bridge_up() -> None:
        for _topic, payload, _qos in bridge.messages_for(event):
            json.dumps(payload, default=str)

    async def publish(topic: str, payload: str, qos: int) -> None:
        return None

    gateway = EmqxGateway(settings, ObjectModel(), publish)
    received: list[Event] = []
    gateway.events.subscribe(lambda e: received.append(e) if len(received) < 1 else None)
    objects = tuple(P(f"/{oid}/0") for oid in (1, 3, 4, 5, 6, 3303, 3304, 3311, 3315, 3323))
    register = json.dumps(RegisterMessage(endpoint="sensor-1", lifetime=300, binding="U", objects=objects).encode())
    gateway.handle("lwm2m/sensor-1/up/resp", register)
    notify = json.dumps(NotifyMessage(req_id=5, seq_num=7, path=P("/3303/0/5700"), values=values).encode())
    instance_values = {
        P("/3303/0/5700"): 21.5,
        P("/3303/0/5701"): "Cel",
        P("/3303/0/5601"): 18.0,
        P("/3303/0/5602"): 25.5,
    }
    instance = json.dumps(NotifyMessage(req_id=5, seq_num=8, path=P("/3303/0"), values=instance_values).encode())

    rows = [
        ("bridge up: notify event -> EMQX JSON (1 value)", rate(bridge_up, seconds)),
        (
            "consumer in: EMQX notify -> event (1 value)",
            rate(lambda: gateway.handle("lwm2m/sensor-1/up/notify", notify), seconds),
        ),
        (
            "consumer in: EMQX notify -> event (4 values)",
            rate(lambda: gateway.handle("lwm2m/sensor-1/up/notify", instance), seconds),
        ),
        (
            "consumer in: EMQX register (10 instances)",
            rate(lambda: gateway.handle("lwm2m/sensor-1/up/resp", register), seconds),
        ),
    ]
    assert gateway.malformed == 0, "the benchmark's messages must all be usable"
    print(f"{'path':52} {'messages/s':>12}")
    for name, per_second in rows:
        print(f"{name:52} {per_second:12,.0f}")


if __name__ == "__main__":
    main()
