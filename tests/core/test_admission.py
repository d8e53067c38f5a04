"""Admission: open, known devices only, or strict (DTLS credentials only); unknown endpoints are reported, boundedly."""

from __future__ import annotations

from typing import Any

import pytest
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.config import ServerConfig
from custom_components.lwm2m.lwm2m.events import Event, EventType
from custom_components.lwm2m.lwm2m.security.admission import (
    REPORTS_PER_MINUTE,
    Admission,
    UnknownReports,
    refusal,
)
from custom_components.lwm2m.lwm2m.security.credentials import NOSEC, Credential, Credentials
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import credentials, psk_device
from tests.sim import SimClient


def _credentials() -> Credentials:
    held = credentials()
    held.add(Credential("plain-known", NOSEC))
    return held


@pytest.fixture
async def make(udp: None) -> Any:
    servers: list[LwM2MServer] = []
    clients: list[SimClient] = []

    async def server(policy: Admission) -> LwM2MServer:
        srv = LwM2MServer(ServerConfig(port=0, dtls_port=0, credentials=_credentials(), admission=policy))
        await srv.start()
        servers.append(srv)
        return srv

    async def client(srv: LwM2MServer, endpoint: str, *, secure: bool = False) -> SimClient:
        sim = SimClient(endpoint, srv.dtls_port if secure else srv.port, dtls=psk_device() if secure else None)
        clients.append(sim)
        await sim.start(register=False)
        return sim

    yield server, client
    for sim in clients:
        await sim.stop()
    for srv in servers:
        await srv.stop()


@pytest.mark.parametrize(
    ("policy", "admitted"),
    [
        (Admission.OPEN, {"stranger", "plain-known", "psk-dev"}),
        (Admission.KNOWN, {"plain-known", "psk-dev"}),
        (Admission.STRICT, {"psk-dev"}),
    ],
)
async def test_each_policy_admits_what_it_says(make: Any, policy: Admission, admitted: set[str]) -> None:
    server_of, client_of = make
    server = await server_of(policy)
    refused: list[Event] = []
    server.events.subscribe(lambda e: refused.append(e) if e.type is EventType.REFUSED else None)
    for endpoint in ("stranger", "plain-known", "psk-dev"):
        client = await client_of(server, endpoint, secure=endpoint == "psk-dev")
        answer = await client.register()
        assert (answer.code == Code.CREATED) == (endpoint in admitted), (endpoint, answer)
        if endpoint not in admitted:
            assert answer.code == Code.FORBIDDEN and answer.payload
    assert {e.endpoint for e in refused} == {"stranger", "plain-known", "psk-dev"} - admitted
    for event in refused:
        assert event.details.unknown == (event.endpoint == "stranger")
        assert event.details.address.startswith("127.0.0.1:")


async def test_unknown_endpoints_are_reported_once_each_and_boundedly(make: Any) -> None:
    server_of, client_of = make
    server = await server_of(Admission.KNOWN)
    refused: list[Event] = []
    server.events.subscribe(lambda e: refused.append(e) if e.type is EventType.REFUSED else None)
    client = await client_of(server, "stranger")
    for _ in range(3):
        assert (await client.register()).code == Code.FORBIDDEN
    assert [e.endpoint for e in refused] == ["stranger"]
    server.unknown_reports.forget("stranger")  # the user removed it: ask again
    assert (await client.register()).code == Code.FORBIDDEN
    assert len(refused) == 2


def test_reports_are_bounded_per_minute() -> None:
    now = [0.0]
    reports = UnknownReports(lambda: now[0])
    made_up = [f"name-{i}" for i in range(100)]
    assert sum(reports.should_report(name) for name in made_up) == REPORTS_PER_MINUTE
    assert reports.suppressed == 100 - REPORTS_PER_MINUTE
    now[0] += 60.0
    assert sum(reports.should_report(name) for name in made_up[REPORTS_PER_MINUTE:]) == REPORTS_PER_MINUTE


def test_refusal_reasons() -> None:
    held = _credentials()
    assert refusal(Admission.OPEN, held, "anyone") is None
    assert "not a known device" in (refusal(Admission.KNOWN, held, "anyone") or "")
    assert refusal(Admission.KNOWN, held, "plain-known") is None
    assert "no DTLS credential" in (refusal(Admission.STRICT, held, "plain-known") or "")
    assert refusal(Admission.STRICT, held, "cert-dev") is None


async def test_the_runner_refuses_and_reports_unknown_devices(udp: None) -> None:
    import asyncio

    from tests.core.test_runner import runner

    async with runner("--admission", "known", stdin=asyncio.subprocess.DEVNULL) as run:
        client = SimClient("stranger", run.port)
        try:
            await client.start(register=False)
            assert (await client.register()).code == Code.FORBIDDEN
            refused = await run.expect(lambda line: line["event"] == "refused")
            assert refused["endpoint"] == "stranger" and refused["unknown"] is True
            assert "not a known device" in refused["reason"]
        finally:
            await client.stop()
