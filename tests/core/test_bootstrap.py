"""The bootstrap server: a factory-fresh device learns where to register and with which key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.security.bootstrap import BootstrapConfig, BootstrapServer
from custom_components.lwm2m.lwm2m.security.credentials import CredentialError, Credentials
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import psk_device, until
from tests.sim import SimClient

DEVICE_KEY = "000102030405060708090a0b0c0d0e0f"
BOOTSTRAP_KEY = "f0e0d0c0b0a090807060504030201000"


@pytest.fixture
async def servers(
    udp: None,
) -> AsyncIterator[tuple[LwM2MServer, BootstrapServer, dict[str, BootstrapConfig], list[Event]]]:
    server = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=Credentials()))
    await server.start()
    configs: dict[str, BootstrapConfig] = {}
    events: list[Event] = []
    bootstrap = BootstrapServer(lambda: configs, ObjectModel(), port=0, dtls_port=0)
    bootstrap.events.subscribe(events.append)
    await bootstrap.start()
    yield server, bootstrap, configs, events
    await bootstrap.stop()
    await server.stop()


def _configure(server: LwM2MServer, configs: dict[str, BootstrapConfig], endpoint: str, entry: dict[str, Any]) -> None:
    config = BootstrapConfig.from_dict(endpoint, entry)
    configs[endpoint] = config
    credential = config.server_credential()
    if credential is not None:
        server.config.credentials.add(credential)


async def test_a_factory_fresh_device_ends_up_registered_over_coaps(servers: Any) -> None:
    server, bootstrap, configs, events = servers
    _configure(
        server,
        configs,
        "fresh-1",
        {
            "uri": f"coaps://127.0.0.1:{server.dtls_port}",
            "mode": "psk",
            "identity": "fresh-1-id",
            "key": DEVICE_KEY,
            "lifetime": 120,
            "bootstrap_identity": "fresh-1-bs",
            "bootstrap_key": BOOTSTRAP_KEY,
        },
    )
    device = SimClient("fresh-1", 0)
    try:
        answer = await device.bootstrap(
            f"coaps://127.0.0.1:{bootstrap.dtls_port}", psk_device("fresh-1-bs", bytes.fromhex(BOOTSTRAP_KEY))
        )
        assert answer.code == Code.CREATED
        reg = server.registrations.by_endpoint("fresh-1")
        assert reg is not None and reg.identity == "psk:fresh-1-id" and reg.lifetime == 120
        assert [e.type for e in events] == [EventType.BOOTSTRAPPED]
        assert events[0].details.server == f"coaps://127.0.0.1:{server.dtls_port}"
        # what the device went through, in order
        written = [(mode, str(path)) for mode, path, _values in device.written if mode == "bootstrap"]
        assert written == [("bootstrap", "/0/1"), ("bootstrap", "/1/1")]
        assert device.values[Path.parse("/0/0/1")] is True  # the bootstrap account stays
        assert (await server.endpoint("fresh-1").read("/3/0/9")).value("/3/0/9") == 95
    finally:
        await device.stop()


async def test_a_nosec_device_bootstraps_over_plain_coap(servers: Any) -> None:
    server, bootstrap, configs, _events = servers
    _configure(server, configs, "plain-1", {"uri": f"coap://127.0.0.1:{server.port}"})
    device = SimClient("plain-1", 0)
    try:
        assert (await device.bootstrap(f"coap://127.0.0.1:{bootstrap.port}")).code == Code.CREATED
        assert server.registrations.by_endpoint("plain-1").transport == "udp"
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("endpoint", "secure", "code"),
    [
        ("nobody", False, Code.BAD_REQUEST),  # no configuration
        ("keyed", False, Code.FORBIDDEN),  # its keys only over coaps:// with its bootstrap credential
        ("keyed", True, Code.FORBIDDEN),  # over coaps://, but another device's bootstrap credential
    ],
)
async def test_keys_go_to_no_one_else(servers: Any, endpoint: str, secure: bool, code: Code) -> None:
    server, bootstrap, configs, events = servers
    base = {"uri": f"coaps://127.0.0.1:{server.dtls_port}", "mode": "psk", "key": DEVICE_KEY}
    _configure(server, configs, "keyed", {**base, "bootstrap_identity": "keyed-bs", "bootstrap_key": BOOTSTRAP_KEY})
    _configure(
        server, configs, "other", {**base, "identity": "o", "bootstrap_identity": "o-bs", "bootstrap_key": DEVICE_KEY}
    )
    device = SimClient(endpoint, 0)
    try:
        if secure:
            answer = await device.bootstrap(
                f"coaps://127.0.0.1:{bootstrap.dtls_port}", psk_device("o-bs", bytes.fromhex(DEVICE_KEY))
            )
        else:
            answer = await device.bootstrap(f"coap://127.0.0.1:{bootstrap.port}")
        assert answer.code == code
        assert endpoint not in server.registrations and events == []
    finally:
        await device.stop()


async def test_a_device_that_refuses_a_step_fails_its_bootstrap(servers: Any) -> None:
    server, bootstrap, configs, events = servers
    _configure(server, configs, "broken", {"uri": f"coap://127.0.0.1:{server.port}"})
    device = SimClient("broken", 0, misbehave="error")
    try:
        with pytest.raises(TimeoutError):
            await device.bootstrap(f"coap://127.0.0.1:{bootstrap.port}", timeout=3)
        await until(lambda: events)
        (event,) = events
        # a refused Bootstrap-Discover is lived with (not every device has it); the Delete after it is not
        assert event.type is EventType.BOOTSTRAP_FAILED and event.details.reason == "5.00 on Bootstrap-Delete of /0"
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "needs the server's uri"),
        ({"uri": "http://x"}, "coap://host:port"),
        ({"uri": "coap://x", "mode": "x509"}, "nosec or psk"),
        ({"uri": "coaps://x", "mode": "psk", "key": "zz"}, "hex"),
        ({"uri": "coap://x", "lifetime": -1}, "positive"),
    ],
)
def test_bad_bootstrap_entries_are_explained(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        BootstrapConfig.from_dict("dev", entry)


async def test_bootstraps_run_side_by_side(servers: Any) -> None:
    server, bootstrap, configs, events = servers
    devices = []
    for i in range(5):
        _configure(server, configs, f"many-{i}", {"uri": f"coap://127.0.0.1:{server.port}"})
        devices.append(SimClient(f"many-{i}", 0))
    try:
        answers = await asyncio.gather(*(d.bootstrap(f"coap://127.0.0.1:{bootstrap.port}") for d in devices))
        assert all(a.code == Code.CREATED for a in answers)
        assert len(events) == 5
    finally:
        for device in devices:
            await device.stop()


async def test_the_runner_bootstraps_a_device_onto_its_coaps_port(udp: None, tmp_path: Any) -> None:
    import json

    from tests.core.test_runner import runner
    from tests.live.broker import free_udp_port

    dtls_port = free_udp_port()
    config = tmp_path / "bootstrap.json"
    entry = {
        "uri": f"coaps://127.0.0.1:{dtls_port}",
        "mode": "psk",
        "identity": "r-1",
        "key": DEVICE_KEY,
        "bootstrap_identity": "r-1-bs",
        "bootstrap_key": BOOTSTRAP_KEY,
    }
    config.write_text(json.dumps({"r-1": entry}))
    args = ("--dtls-port", str(dtls_port), "--bootstrap-port", "0", "--bootstrap-config", str(config))
    async with runner(*args, stdin=asyncio.subprocess.DEVNULL) as run:
        device = SimClient("r-1", 0)
        try:
            listening = run.listening
            answer = await device.bootstrap(
                f"coaps://127.0.0.1:{listening['bootstrap_dtls_port']}",
                psk_device("r-1-bs", bytes.fromhex(BOOTSTRAP_KEY)),
            )
            assert answer.code == Code.CREATED
            bootstrapped = await run.expect(lambda line: line["event"] == "bootstrapped")
            assert bootstrapped["endpoint"] == "r-1" and bootstrapped["server"] == entry["uri"]
            registered = await run.expect(lambda line: line["event"] == "registered")
            assert registered["identity"] == "psk:r-1" and registered["transport"] == "dtls"
        finally:
            await device.stop()


async def test_devices_without_bootstrap_discover_are_bootstrapped_too(
    servers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiocoap import Message

    from tests.sim.client import _Root

    server, bootstrap, configs, _events = servers
    _configure(server, configs, "old-1", {"uri": f"coap://127.0.0.1:{server.port}"})
    monkeypatch.setattr(_Root, "_discover", lambda self, path: Message(code=Code.BAD_REQUEST))
    device = SimClient("old-1", 0)
    try:
        assert (await device.bootstrap(f"coap://127.0.0.1:{bootstrap.port}")).code == Code.CREATED
        written = [str(path) for mode, path, _values in device.written if mode == "bootstrap"]
        assert written == ["/0/1", "/1/1"]
    finally:
        await device.stop()


def test_discover_answers_are_read_leniently() -> None:
    from custom_components.lwm2m.lwm2m.security.bootstrap import _INSTANCE_LINK

    anjay_1_0 = b'lwm2m="1.0",</0/0>;ssid=101,</1/0>;ssid=101,</3/0>'
    assert _INSTANCE_LINK.findall(anjay_1_0) == [(b"0", b"0"), (b"1", b"0"), (b"3", b"0")]
    assert _INSTANCE_LINK.findall(b'</>;lwm2m="1.1",</0/1>,</0/2>') == [(b"0", b"1"), (b"0", b"2")]


async def test_a_nosec_account_is_not_handed_out_twice_in_a_row(servers: Any) -> None:
    server, bootstrap, configs, _events = servers
    _configure(server, configs, "quick-1", {"uri": f"coap://127.0.0.1:{server.port}"})
    first, second = SimClient("quick-1", 0), SimClient("quick-1", 0)
    try:
        assert (await first.bootstrap(f"coap://127.0.0.1:{bootstrap.port}")).code == Code.CREATED
        again = await second.bootstrap(f"coap://127.0.0.1:{bootstrap.port}")
        assert again.code == Code.SERVICE_UNAVAILABLE and again.opt.max_age == 10
    finally:
        await first.stop()
        await second.stop()
