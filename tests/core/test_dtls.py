"""coaps://: a device with a PSK and one with a certificate go through the whole LwM2M flow,
NoSec beside them; identities are bound to endpoint names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiocoap import Message
from aiocoap.error import NetworkError
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import NON

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.dtls.interface import DtlsAddress
from custom_components.lwm2m.lwm2m.errors import LwM2MError
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.security.admission import Admission
from custom_components.lwm2m.lwm2m.security.certificates import self_signed
from custom_components.lwm2m.lwm2m.security.credentials import (
    certificate_der,
    certificate_identity,
)
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import DEVICE_CERT, KEY, psk_device, until
from tests.sim import SimClient

P = Path.parse


@pytest.mark.parametrize("mode", ["psk", "x509"])
async def test_the_whole_flow_over_coaps(dtls_server: LwM2MServer, dtls_device: Any, mode: str) -> None:
    events: list[Event] = []
    dtls_server.events.subscribe(events.append)
    name = "psk-dev" if mode == "psk" else "cert-dev"
    dtls = psk_device() if mode == "psk" else ClientContext(certificate=DEVICE_CERT)
    client = await dtls_device(name, dtls)
    assert client.location[0] == "rd"
    registered = events[0]
    assert registered.type is EventType.REGISTERED
    assert registered.details.transport == "dtls"
    expected = "psk:psk-id" if mode == "psk" else certificate_identity(certificate_der(DEVICE_CERT[0]))
    assert registered.details.identity == expected

    endpoint = dtls_server.endpoint(name)
    assert (await endpoint.read("/3303/0/5700")).value("/3303/0/5700") == 21.5
    assert (await endpoint.write("/1/0/1", 120)).code == "2.04"
    assert client.values[P("/1/0/1")] == 120
    assert (await endpoint.execute("/3/0/4")).code == "2.04"
    await endpoint.observe("/3303/0/5700")
    client.set_value("/3303/0/5700", 23.0)
    await until(
        lambda: any(e.type is EventType.NOTIFICATION and e.values.get(P("/3303/0/5700")) == 23.0 for e in events)
    )
    assert (await client.send([P("/3/0/9")])).code == Code.CHANGED
    await until(lambda: any(e.type is EventType.SEND for e in events))
    assert (await client.update(lifetime=90)).code == Code.CHANGED
    assert (await client.deregister()).code == Code.DELETED
    assert name not in dtls_server.registrations
    stats = dtls_server.transport.dtls.stats
    assert stats.handshakes == 1 and stats.cookies_sent == 1 and stats.failed_handshakes == 0


async def test_nosec_beside_dtls(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    secure = await dtls_device("psk-dev", psk_device())
    plain = await dtls_device("plain-dev", None)
    assert secure.location and plain.location
    reg = dtls_server.registrations.by_endpoint("plain-dev")
    assert reg.transport == "udp" and reg.identity is None
    assert (await dtls_server.endpoint("plain-dev").read("/3/0/9")).value("/3/0/9") == 95
    assert (await dtls_server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95


async def test_a_secured_name_cannot_be_taken_over(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    """The attack of issue #15: a Register of an existing name from elsewhere replaced the device."""
    real = await dtls_device("psk-dev", psk_device())
    await dtls_server.endpoint("psk-dev").observe("/3303/0/5700")
    reg = dtls_server.registrations.by_endpoint("psk-dev")

    over_udp = await dtls_device("psk-dev", None, register=False)
    assert (await over_udp.register()).code == Code.FORBIDDEN
    other_identity = await dtls_device("psk-dev", psk_device("other-id", KEY[::-1]), register=False)
    answer = await other_identity.register()
    assert answer.code == Code.FORBIDDEN
    assert b"other-id" in answer.payload and b"other-dev" in answer.payload

    # the real device keeps its registration, and its observation still delivers
    assert dtls_server.registrations.by_endpoint("psk-dev") is reg
    assert len(dtls_server.observations) == 1
    seen: list[Event] = []
    dtls_server.events.subscribe(seen.append)
    real.set_value("/3303/0/5700", 30.0)
    await until(lambda: any(e.type is EventType.NOTIFICATION for e in seen))
    assert dtls_server.stats.refused == 2


async def test_update_and_deregister_only_through_the_same_identity(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    real = await dtls_device("psk-dev", psk_device())
    other = await dtls_device("other-dev", psk_device("other-id", KEY[::-1]))
    plain = await dtls_device("plain", None)
    for intruder in (other, plain):
        intruder.location = real.location
        assert (await intruder.update()).code == Code.FORBIDDEN
        assert (await intruder.deregister()).code == Code.FORBIDDEN
    assert "psk-dev" in dtls_server.registrations
    # a Send through another identity counts for that identity's own registration only
    assert (await other.send([P("/3/0/9")])).code == Code.CHANGED


async def test_a_plain_send_from_a_secured_devices_address_is_not_its_send(
    dtls_server: LwM2MServer, dtls_device: Any
) -> None:
    """Someone who takes over a secured device's address and port sends over plain UDP: no event for the device."""
    secure = await dtls_device("psk-dev", psk_device())
    port = secure.local_port
    await secure.sleep()  # its socket closed: the port is free for someone else
    sends: list[Event] = []
    dtls_server.events.subscribe(lambda e: sends.append(e) if e.type is EventType.SEND else None)
    impostor = await dtls_device("x", None, register=False, local_port=port)
    assert (await impostor.send([P("/3/0/9")])).code == Code.NOT_FOUND
    assert sends == []


async def test_a_request_goes_only_through_a_session_of_the_devices_identity(
    dtls_server: LwM2MServer, dtls_device: Any
) -> None:
    """Another device that now holds the first one's address and port never gets its requests."""
    first = await dtls_device("psk-dev", psk_device())
    port = first.local_port
    await first.sleep()
    other = await dtls_device("other-dev", psk_device("other-id", KEY[::-1]), local_port=port)
    requests_before = len(other.requests)
    with pytest.raises(LwM2MError, match="no DTLS session"):
        await dtls_server.endpoint("psk-dev").read("/3/0/9")
    assert len(other.requests) == requests_before
    assert (await dtls_server.endpoint("other-dev").read("/3/0/9")).value("/3/0/9") == 95


async def test_a_notification_counts_only_through_the_observed_identity(
    dtls_server: LwM2MServer, dtls_device: Any
) -> None:
    """Even knowing an observation's token, another identity at the device's address and port cannot notify."""
    first = await dtls_device("psk-dev", psk_device())
    await dtls_server.endpoint("psk-dev").observe("/3303/0/5700")
    (observation,) = list(dtls_server.observations)
    port = first.local_port
    await first.sleep()
    other = await dtls_device("other-dev", psk_device("other-id", KEY[::-1]), local_port=port)
    notes: list[Event] = []
    dtls_server.events.subscribe(lambda e: notes.append(e) if e.type is EventType.NOTIFICATION else None)
    forged = Message(code=Code.CONTENT, observe=9, payload=b"99.9")  # built as a raw message, fields set below
    forged.mtype, forged.mid, forged.token = NON, 4242, observation.token
    forged.opt.content_format = 0
    interface = other.context.request_interfaces[0].token_interface.message_interface
    server_address = next(iter(interface._table)).sockaddr
    interface.send_plaintext(DtlsAddress(interface, server_address, None), forged.encode())
    await asyncio.sleep(0.3)
    assert notes == []
    assert len(dtls_server.observations) == 1


async def test_a_wrong_key_and_an_unknown_identity_get_no_session(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    dtls_server.transport.dtls.limits.handshake_timeout = 1.0
    for dtls in (psk_device(key=KEY[::-1]), psk_device("nobody")):
        client = await dtls_device("psk-dev", dtls, register=False)
        with pytest.raises((TimeoutError, NetworkError)):  # the handshake fails, or times out
            await client.register()
    await until(lambda: dtls_server.transport.dtls.stats.failed_handshakes == 2)
    stats = dtls_server.transport.dtls.stats
    assert stats.handshakes == 0 and dtls_server.transport.dtls.session_count() == 0
    assert any("unknown PSK identity" in reason for reason in stats.refusals)
    assert "psk-dev" not in dtls_server.registrations


async def test_an_unknown_certificate_is_refused(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    stranger = await dtls_device("cert-dev", ClientContext(certificate=self_signed("cert-dev")), register=False)
    with pytest.raises((TimeoutError, NetworkError)):  # the handshake fails
        await stranger.register()
    await until(lambda: dtls_server.transport.dtls.stats.failed_handshakes == 1)
    assert any("unknown certificate" in reason for reason in dtls_server.transport.dtls.stats.refusals)


async def test_queue_mode_over_coaps_keeps_the_observations(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    """A device in queue mode closes its session to sleep and comes back with a new handshake."""
    dtls_server.queue.window = 0.3
    client = await dtls_device("psk-dev", psk_device(), queue_mode=True)
    endpoint = dtls_server.endpoint("psk-dev")
    await endpoint.observe("/3303/0/5700")
    await client.sleep()  # close_notify: the server forgets the session, not the observation
    await until(lambda: dtls_server.transport.dtls.session_count() == 0 and not dtls_server.queue.is_awake("psk-dev"))
    pending = asyncio.create_task(endpoint.read("/3/0/9"))
    await until(lambda: dtls_server.queue.queued("psk-dev") == 1)
    assert (await client.wake()).code == Code.CHANGED  # a new handshake, then an Update
    assert (await pending).value("/3/0/9") == 95
    assert len(dtls_server.observations) == 1
    assert dtls_server.transport.dtls.stats.handshakes == 2


async def test_requests_to_a_device_without_a_session_fail_at_once(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    client = await dtls_device("psk-dev", psk_device())
    await client.sleep()  # closes its socket, with a close_notify
    await until(lambda: dtls_server.transport.dtls.session_count() == 0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LwM2MError):
        await dtls_server.endpoint("psk-dev").read("/3/0/9")
    assert loop.time() - started < 1.0  # not after the retransmissions (~14 s)


async def test_a_device_that_restarts_gets_a_new_session(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    client = await dtls_device("psk-dev", psk_device())
    port = client.local_port
    await client.stop()
    again = await dtls_device("psk-dev", psk_device(), local_port=port)  # same address, a fresh handshake
    assert again.location and dtls_server.transport.dtls.stats.handshakes == 2
    assert dtls_server.transport.dtls.session_count() == 1
    assert (await dtls_server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95


async def test_plain_coap_to_the_dtls_port_is_dropped(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    client = SimClient("x", dtls_server.dtls_port)
    await client.start(register=False)
    try:
        message = Message(code=Code.GET, uri=f"coap://127.0.0.1:{dtls_server.dtls_port}/rd")
        with pytest.raises(TimeoutError):
            await client._send(message, timeout=0.5)
    finally:
        await client.stop()
    assert dtls_server.transport.dtls.stats.stray_datagrams >= 1


async def test_a_restored_registration_waits_for_the_device_to_connect_again(
    dtls_server: LwM2MServer, dtls_device: Any
) -> None:
    """After a restart the sessions are gone: requests fail at once, until the device's next handshake."""
    client = await dtls_device("psk-dev", psk_device())
    saved = [reg.to_dict() for reg in dtls_server.registrations]
    port, dtls_port, config = dtls_server.port, dtls_server.dtls_port, dtls_server.config
    await dtls_server.stop()
    config.port, config.dtls_port = port, dtls_port
    again = LwM2MServer(config)
    (restored,) = again.restore(saved)
    assert restored.transport == "dtls" and restored.identity == "psk:psk-id"
    await again.start()
    try:
        with pytest.raises(LwM2MError, match="no DTLS session"):
            await again.endpoint("psk-dev").read("/3/0/9")
        assert (await client.update()).code == Code.CHANGED  # the device's next message: a new handshake
        assert (await again.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
    finally:
        await again.stop()
        await dtls_server.start()  # for the fixture's stop


async def test_without_a_dtls_listener_secured_registrations_are_not_restored(dtls_server: LwM2MServer) -> None:
    saved = {"reg_id": "r1", "endpoint": "psk-dev", "lifetime": 600, "transport": "dtls", "identity": "psk:psk-id"}
    plain = LwM2MServer(ServerConfig(port=0))
    assert plain.restore([saved]) == []
    assert [r.endpoint for r in plain.restore([{**saved, "transport": "udp", "identity": None}])] == ["psk-dev"]


async def test_a_server_with_coaps_only(udp: None) -> None:
    """No plain coap:// listener at all: devices come over coaps://, and nothing else is taken back."""
    from tests.core.dtls_peers import credentials

    server = LwM2MServer(ServerConfig(port=None, dtls_port=0, credentials=credentials()))
    saved = {"reg_id": "r1", "endpoint": "plain", "lifetime": 600, "transport": "udp", "identity": None}
    assert server.restore([saved]) == []
    await server.start()
    client = SimClient("psk-dev", server.dtls_port, dtls=psk_device())
    try:
        assert server.port == 0 and server.dtls_port
        await client.start()
        assert (await server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
    finally:
        await client.stop()
        await server.stop()
    with pytest.raises(ValueError, match="coap://, coaps:// or both"):
        await LwM2MServer(ServerConfig(port=None)).start()


async def test_a_replayed_client_hello_ends_no_session(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    """Someone who captured a device's handshake replays its ClientHello (cookie and all) from its address."""
    sent: list[bytes] = []
    client = SimClient("psk-dev", dtls_server.dtls_port, dtls=psk_device())
    await client._open(0)
    interface = client.context.request_interfaces[0].token_interface.message_interface
    original = interface._sendto

    def recording(datagrams: list[bytes], addr: Any) -> None:
        sent.extend(datagrams)
        original(datagrams, addr)

    interface._sendto = recording
    try:
        assert (await client.register()).code == Code.CREATED
        hellos = [d for d in sent if d[0] == 22 and d[3:5] == b"\x00\x00" and d[13] == 1]
        assert len(hellos) == 2  # without, then with the cookie
        target = ("::ffff:127.0.0.1", dtls_server.dtls_port, 0, 0)  # the client socket is IPv6
        for _ in range(3):
            interface._transport.sendto(hellos[1], target)
        await asyncio.sleep(0.2)
        dtls = dtls_server.transport.dtls
        assert dtls.session_count() == 1 and dtls.handshakes_in_progress() == 1  # a replacement, waiting
        assert (await dtls_server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
        assert (await client.update()).code == Code.CHANGED
    finally:
        await client.stop()


async def test_registrations_the_credentials_no_longer_allow_are_not_taken_back(dtls_server: LwM2MServer) -> None:
    """After the device list changed (the entry restarts with it), a registration comes back only if still allowed."""
    base = {"reg_id": "r1", "lifetime": 600}
    saved = [
        {**base, "endpoint": "psk-dev", "transport": "udp", "identity": None},  # now secured
        {**base, "reg_id": "r2", "endpoint": "plain", "transport": "dtls", "identity": "psk:psk-id"},  # bound elsewhere
        {**base, "reg_id": "r3", "endpoint": "other-dev", "transport": "dtls", "identity": "psk:other-id"},
        {**base, "reg_id": "r4", "endpoint": "someone", "transport": "udp", "identity": None},
    ]
    fresh = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=dtls_server.config.credentials))
    assert sorted(r.endpoint for r in fresh.restore(saved)) == ["other-dev", "someone"]
    known = LwM2MServer(
        ServerConfig(port=0, dtls_port=0, credentials=dtls_server.config.credentials, admission=Admission.KNOWN)
    )
    assert [r.endpoint for r in known.restore(saved)] == ["other-dev"]
