"""What users and devices read when something is refused, and the edges of the value rules:
the queue's reasons, values at their limits, writes of multiple resources, LwM2M JSON's
complaints, the server's answers on the wire, and how an address is printed."""

from __future__ import annotations

import asyncio
import socket
import time
from types import SimpleNamespace

import pytest
from aiocoap import Code, Message

from custom_components.lwm2m.lwm2m.api import Response, check_attributes
from custom_components.lwm2m.lwm2m.codecs import lwm2m_json
from custom_components.lwm2m.lwm2m.errors import CodecError, DeviceTimeout, OperationError, QueueFull
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import MultipleResource, ObjectInstance, Resource, build_node, node_for
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.queue import SleepQueue
from custom_components.lwm2m.lwm2m.transport import CoapTransport, address_of, bind_address
from custom_components.lwm2m.lwm2m.values import INT64_MAX, INT64_MIN, DataType, check_value, coerce
from tests.core.rawcoap import RawDevice

P = Path.parse

# -- the sleep queue ---------------------------------------------------------------------------


async def test_an_expired_queued_request_leaves_the_queue() -> None:
    queue = SleepQueue(window=10, max_queued=1)
    with pytest.raises(DeviceTimeout, match=r"^dev did not wake up within 0.01 s; the queued request expired$"):
        await queue.wait_awake("dev", expiry=0.01)
    assert queue.queued("dev") == 0
    # its place is free again: a new request queues rather than being refused as one too many
    waiting = asyncio.ensure_future(queue.wait_awake("dev", expiry=5))
    await asyncio.sleep(0)
    assert queue.queued("dev") == 1
    with pytest.raises(QueueFull, match="dev is asleep and already has 1 queued requests"):
        await queue.wait_awake("dev", expiry=5)
    queue.wake("dev")
    await waiting


async def test_a_forgotten_device_is_asleep_until_it_talks_again() -> None:
    queue = SleepQueue(window=60, max_queued=4)
    queue.wake("dev")
    queue.wake("other")
    assert queue.is_awake("dev")
    queue.forget("dev", "deregistered")
    assert not queue.is_awake("dev") and queue.is_awake("other")


async def test_stopping_the_server_fails_queued_requests_with_the_reason() -> None:
    queue = SleepQueue(window=60, max_queued=4)
    waiting = asyncio.ensure_future(queue.wait_awake("dev", expiry=5))
    await asyncio.sleep(0)
    queue.clear()
    with pytest.raises(DeviceTimeout) as err:
        await waiting
    assert str(err.value) == "dev the server stopped; the queued request was dropped"
    assert queue.queued("dev") == 0


# -- values at their limits ----------------------------------------------------------------------


def test_integer_limits_are_inclusive() -> None:
    assert check_value(INT64_MIN, DataType.INTEGER) == INT64_MIN
    assert check_value(INT64_MAX, DataType.INTEGER) == INT64_MAX
    with pytest.raises(CodecError, match="is not a valid Integer value"):
        check_value(INT64_MIN - 1, DataType.INTEGER)


def test_opaque_takes_bytes_hex_or_strict_base64() -> None:
    assert coerce("0x00ff", DataType.OPAQUE) == b"\x00\xff"
    assert coerce("AP8", DataType.OPAQUE) == b"\x00\xff"
    with pytest.raises(CodecError) as err:
        coerce(12, DataType.OPAQUE)
    assert str(err.value) == "12 is not a valid Opaque value: expected bytes, hex (0x...) or base64 text"
    # characters outside base64 are refused, not silently dropped
    with pytest.raises(CodecError, match="is not a valid Opaque value"):
        coerce("AP8=!!!!", DataType.OPAQUE)


# -- building what a Write sends ------------------------------------------------------------------


def test_an_empty_multiple_resource_survives_as_one() -> None:
    node = build_node(P("/3/0"), {P("/3/0/0"): "ACME"}, multiple=frozenset({P("/3/0/11"), P("/4/0/1")}))
    assert isinstance(node, ObjectInstance)
    assert node.resources == {0: Resource(0, "ACME"), 11: MultipleResource(11, {})}


def test_a_resource_both_single_and_multiple_is_refused() -> None:
    with pytest.raises(CodecError) as err:
        build_node(P("/3/0"), {P("/3/0/11"): 1, P("/3/0/11/0"): 2})
    assert str(err.value) == "/3/0/11 is both a single and a multiple resource"


def test_a_list_written_to_a_multiple_resource_gives_its_instances() -> None:
    model = ObjectModel()
    assert model.resource(P("/3/0/11")).multiple
    node = node_for(model, P("/3/0/11"), [0, "3"])
    assert node == MultipleResource(11, {0: 0, 1: 3})


# -- API edges ---------------------------------------------------------------------------------


def test_unknown_or_unrepresentable_attributes_are_named() -> None:
    with pytest.raises(CodecError) as err:
        check_attributes({"period": 5})
    assert str(err.value) == "unknown attribute 'period'; use pmin, pmax, gt, lt, st, epmin, epmax"
    with pytest.raises(CodecError) as err:
        check_attributes({"gt": 10**400})
    assert str(err.value) == "gt is out of range"


def test_a_response_value_by_path_or_text() -> None:
    response = Response(code="2.05", values={P("/3/0/0"): "ACME"})
    assert response.value("/3/0/0") == "ACME"
    assert response.value(P("/3/0/0")) == "ACME"


# -- LwM2M JSON's complaints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"[]", "LwM2M JSON must be an object with an 'e' array"),
        (b'{"e": [5]}', "an LwM2M JSON entry must be an object"),
        (b'{"e": [{"n": 5, "v": 1}]}', "an LwM2M JSON entry name must be text"),
        (b'{"bn": "/3/0", "e": [{"v": 1}]}', "LwM2M JSON entry names /3/0, not a resource"),
        (b'{"bn": "/3/0/", "e": [{"n": "9", "v": true}]}', "/3/0/9: expected a number, got bool"),
        (b'{"bn": "/3/0/", "e": [{"n": "9", "v": 1, "t": "x"}]}', "t: expected a number, got str"),
    ],
)
def test_lwm2m_json_says_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(CodecError) as err:
        lwm2m_json.decode_values(payload)
    assert str(err.value) == message


def test_lwm2m_json_keeps_the_latest_of_equal_times_in_order() -> None:
    payload = b'{"bn": "/3303/0/", "e": [{"n": "5700", "v": 1}, {"n": "5700", "v": 2}, {"n": "5700", "v": 3, "t": -5}]}'
    assert lwm2m_json.decode_values(payload) == {P("/3303/0/5700"): 2}


def test_lwm2m_json_refuses_to_encode_what_it_cannot_carry() -> None:
    with pytest.raises(CodecError) as err:
        lwm2m_json.encode_values({P("/3/0/0"): [1, 2]})  # type: ignore[dict-item]
    assert str(err.value) == "/3/0/0: cannot encode list in LwM2M JSON"


# -- addresses -----------------------------------------------------------------------------------


def test_bind_address_maps_ipv4_and_keeps_ipv6() -> None:
    assert bind_address("127.0.0.1") == "::ffff:127.0.0.1"
    assert bind_address("::1") == "::1"
    assert bind_address("0.0.0.0") == "::" and bind_address("") == "::"


def test_address_of_a_remote() -> None:
    mapped = SimpleNamespace(sockaddr=("::ffff:10.0.0.7", 5683, 0, 0), hostinfo="[::ffff:10.0.0.7]:5683")
    assert address_of(mapped) == "10.0.0.7:5683"
    assert address_of(SimpleNamespace(sockaddr=("2001:db8::1", 5684, 0, 0), hostinfo="x")) == "[2001:db8::1]:5684"
    assert address_of(SimpleNamespace(hostinfo="gateway-7")) == "gateway-7"
    assert address_of("sms:+4912345") == "sms:+4912345"


async def test_the_transport_listens_on_the_port_it_is_given(udp: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = CoapTransport(None, "127.0.0.1", port)
    await transport.start()
    try:
        assert transport.port == port
        assert transport.malformed.count == 0
    finally:
        await transport.stop()


# -- the server on the wire -------------------------------------------------------------------------


async def test_send_from_an_unregistered_address_is_refused_with_the_reason(server) -> None:
    device = RawDevice(server.port, "nobody")
    await device.start()
    try:
        answer = await device.request(Message(code=Code.POST, uri_path=("dp",), payload=b"[]"))
    finally:
        await device.stop()
    assert answer.code == Code.NOT_FOUND
    assert answer.payload == b"Send from an address with no registration; register first"


async def test_register_keeps_the_sms_number(server) -> None:
    device = RawDevice(server.port, "texter", query=("sms=+4912345",))
    await device.start()
    try:
        await device.register()
    finally:
        await device.stop()
    assert server.registrations.by_endpoint("texter").sms == "+4912345"


async def test_a_device_whose_port_closed_fails_at_once(server, make_client) -> None:
    """The ICMP port-unreachable answer ends the request; no waiting for retransmissions."""
    client = await make_client("gone")
    await client.stop()
    started = time.monotonic()
    with pytest.raises(OperationError) as err:
        await server.endpoint("gone").read("/3/0/0")
    assert time.monotonic() - started < 1.0
    assert str(err.value) == (
        "gone did not answer read /3/0/0: its port is closed"
        " (ICMP port unreachable: the device went away or now uses another port)"
    )
