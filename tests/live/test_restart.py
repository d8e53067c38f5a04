"""A real Home Assistant restarted (SIGTERM, started again on the same configuration) with two
simulated devices: one keeps talking, one answers nothing after the restart.

Checked through Home Assistant's REST API, as a dashboard sees it: the states shown before and
after are the same until a new value arrives; a new notification after the restart reaches its
entity; the silent device is unavailable within 15 s of its restored state (the re-observe's
10 s plus at most 5 s of spread); the talking device's observations listed after equal those
before (lwm2m.list_observations).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from pathlib import Path as FsPath
from typing import Any

import aiohttp
import pytest
import pytest_socket

from custom_components.lwm2m.const import DOMAIN
from tests.core.external import LIVE_HOME_ASSISTANT
from tests.sim import SimClient

from .broker import free_udp_port
from .hass import HassProcess, config_entry, prepare

pytestmark = [LIVE_HOME_ASSISTANT.mark]
USER, PASSWORD = "tester", "a-long-test-password"
BOUND = 15.0  # seconds from the restored state to unavailable (README: "What a device looks like")
SKIPPED = ("button.", "event.")  # no value of the device: a press time, the last Send


@pytest.fixture
def network(socket_enabled: None) -> None:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "::ffff:127.0.0.1"], allow_unix_socket=True)


class Api:
    """Home Assistant's REST API with the owner's tokens (onboarding made the owner)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.client_id = base + "/"
        self.access = ""
        self.refresh = ""

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.access}"} if self.access else {}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as response:
            response.raise_for_status()
            return await response.json()

    async def onboard(self) -> None:
        user = {"client_id": self.client_id, "name": "Tester", "username": USER, "password": PASSWORD, "language": "en"}
        code = (await self._json("POST", "/api/onboarding/users", json=user))["auth_code"]
        await self._token({"grant_type": "authorization_code", "code": code})
        for step, body in (("core_config", {}), ("analytics", {})):
            await self._json("POST", f"/api/onboarding/{step}", json=body)

    async def _token(self, grant: dict[str, str]) -> None:
        self.access = ""
        tokens = await self._json("POST", "/auth/token", data={**grant, "client_id": self.client_id})
        self.access = tokens["access_token"]
        self.refresh = tokens.get("refresh_token", self.refresh)

    async def log_in_again(self) -> None:
        """A new access token after the restart, from the refresh token Home Assistant kept."""
        await self._token({"grant_type": "refresh_token", "refresh_token": self.refresh})

    async def states(self, *endpoints: str) -> dict[str, dict[str, Any]]:
        """The states of the devices' entities (entity ids start with the device's name)."""
        return {
            state["entity_id"]: state
            for state in await self._json("GET", "/api/states")
            if state["entity_id"].split(".", 1)[1].startswith(tuple(f"{e}_" for e in endpoints))
            and not state["entity_id"].startswith(SKIPPED)
        }

    async def observations(self, endpoint: str) -> list[str]:
        answer = await self._json(
            "POST", f"/api/services/{DOMAIN}/list_observations?return_response", json={"endpoint": endpoint}
        )
        return sorted(p for o in answer["service_response"]["observations"] for p in o["paths"])


async def until[T](check: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Ask until check() gives something truthy."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.2)
    return result


def shown(states: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {entity_id: state["state"] for entity_id, state in states.items()}


@pytest.fixture
async def home_assistant(tmp_path: FsPath, network: None) -> AsyncGenerator[tuple[HassProcess, int]]:
    lwm2m_port = free_udp_port()
    data = {"mode": "server", "host": "127.0.0.1", "port": lwm2m_port, "min_lifetime": 1, "max_lifetime": 86400}
    entry = config_entry(DOMAIN, f"LwM2M server (UDP {lwm2m_port})", data, unique_id=str(lwm2m_port))
    process = HassProcess(tmp_path / "config")
    prepare(process.folder, port=process.port, name="Restart test", entries=[entry])
    await process.start()
    yield process, lwm2m_port
    await process.stop()


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_a_restart_of_home_assistant(
    home_assistant: tuple[HassProcess, int], tmp_path: FsPath, expected_lingering_timers: bool
) -> None:
    process, lwm2m_port = home_assistant
    talker = SimClient("talker", lwm2m_port, lifetime=300)
    quiet = SimClient("quiet", lwm2m_port, lifetime=300)
    sink: socket.socket | None = None
    first_log = ""
    async with aiohttp.ClientSession() as session:
        api = Api(session, process.url)
        try:
            await api.onboard()
            for client in (talker, quiet):
                await client.start(register=False)
                await until(lambda c=client: _registered(c))  # once the entry has opened its port

            def observed_by(client: SimClient) -> list[str]:
                return sorted({str(p) for paths, _o in client.root.observers for p in paths})

            async def settled(client: SimClient) -> list[str] | None:
                """The server's observations, once they are what the device holds and no more requests come."""
                asked = len(client.requests)
                listed = await api.observations(client.endpoint)
                await asyncio.sleep(0.5)
                return listed if listed and listed == observed_by(client) and len(client.requests) == asked else None

            observed = {c.endpoint: await until(lambda c=c: settled(c)) for c in (talker, quiet)}
            before = shown(await api.states("talker", "quiet"))
            temperature, quiet_temperature = "sensor.talker_temperature", "sensor.quiet_temperature"
            assert before[temperature] == "21.5" and before[quiet_temperature] == "21.5"
            assert before["switch.talker_light"] == "off" and "unknown" not in before.values()

            # SIGTERM; while Home Assistant is away the quiet device goes silent on its port
            # (a socket that reads nothing: no answer, no ICMP error).
            await process.stop()
            first_log = process.log()
            await quiet.sleep()
            sink = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sink.bind(("::", quiet.local_port))
            await process.start()
            await api.log_in_again()

            # As soon as the entities are back: what was shown before (the quiet device too, until
            # its re-observe fails).
            after = await until(lambda: _all(api.states("talker", "quiet"), before.keys()))
            talker_before = {e: s for e, s in before.items() if "talker_" in e}
            assert {e: s for e, s in shown(after).items() if "talker_" in e} == talker_before
            restored_at = datetime.fromisoformat(after[quiet_temperature]["last_changed"])
            assert after[quiet_temperature]["state"] in ("21.5", "unavailable")

            # The talking device: observed again as before, its values unchanged meanwhile.
            await until(lambda: _equal(api.observations("talker"), observed["talker"]))
            assert shown(await api.states("talker")) == talker_before
            # A new value after the restart reaches its entity.
            talker.set_value("/3303/0/5700", 30.25)
            await until(lambda: _state_is(api, temperature, "30.25"))

            # The silent device: unavailable within the bound, the reason logged once.
            state = await until(lambda: _state_is(api, quiet_temperature, "unavailable"), timeout=BOUND + 10)
            assert (datetime.fromisoformat(state["last_changed"]) - restored_at).total_seconds() <= BOUND
            assert process.log().count("LwM2M device quiet is unavailable (no answer after the restart") == 1
        except BaseException:
            print("first run:\n", first_log[-3000:], "\nsecond run:\n", process.log()[-3000:])
            raise
        finally:
            if sink is not None:
                sink.close()
            await talker.stop()
            await quiet.stop()


async def _registered(client: SimClient) -> bool:
    try:
        return bool((await client.register()).code.is_successful())
    except Exception:  # the port is not open yet: ICMP port unreachable
        return False


async def _all(states: Awaitable[dict[str, dict[str, Any]]], entity_ids: Any) -> dict[str, dict[str, Any]] | None:
    """The states once every one of entity_ids has one."""
    got = await states
    return got if got.keys() == set(entity_ids) else None


async def _equal(listed: Awaitable[list[str]], expected: list[str]) -> bool:
    return await listed == expected


async def _state_is(api: Api, entity_id: str, value: str) -> dict[str, Any] | None:
    state = (await api.states(entity_id.split(".", 1)[1].split("_", 1)[0])).get(entity_id)
    return state if state is not None and state["state"] == value else None
