"""Interoperability: lwm2m-node-lib's client (npm, JavaScript) against our server."""

import asyncio
import json
import shutil
import subprocess
from pathlib import Path as FsPath

from custom_components.lwm2m.lwm2m.events import EventType
from custom_components.lwm2m.lwm2m.path import Path
from tests.core.external import Needs

HERE = FsPath(__file__).resolve().parent
P = Path.parse


def _installed() -> bool:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (HERE / "node_modules" / "lwm2m-node-lib").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=HERE, check=False, capture_output=True)
    return (HERE / "node_modules" / "lwm2m-node-lib").is_dir()


# Without Node.js and lwm2m-node-lib this test fails, with the command that installs them;
# LWM2M_SKIP_MISSING=1 skips it instead (tests/core/external.py).
pytestmark = Needs(
    "Node.js with lwm2m-node-lib",
    _installed,
    "apt-get install nodejs npm, then: cd tests/interop && npm install (scripts/setup runs npm install)",
).mark


class NodeClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self) -> dict:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 15)
        assert raw, "the node client ended"
        return json.loads(raw)

    async def expect(self, event: str) -> dict:
        while True:
            message = await self.line()
            if message["event"] == event:
                return message

    async def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()


async def test_node_lib_client(server) -> None:
    events: asyncio.Queue = asyncio.Queue()
    server.events.subscribe(events.put_nowait)
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "node_client.js"),
        "127.0.0.1",
        str(server.port),
        "node-dev",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    node = NodeClient(proc)
    try:
        registered = await node.expect("registered")
        assert registered["location"].startswith("rd/")
        event = await asyncio.wait_for(events.get(), 5)
        assert event.type is EventType.REGISTERED and event.endpoint == "node-dev"
        reg = server.registrations.by_endpoint("node-dev")
        assert reg.lwm2m_version == "1.0" and set(reg.objects.objects) == {3, 3303, 3311}
        ep = server.endpoint("node-dev")

        # Read: it answers single resources in plain text; the model types them.
        assert (await ep.read("/3/0/0")).values == {P("/3/0/0"): "Telefonica Node"}
        assert (await ep.read("/3/0/9")).values == {P("/3/0/9"): 87}
        assert (await ep.read("/3303/0/5700")).values == {P("/3303/0/5700"): 19.5}

        # Write: a 1.0 single-resource write goes as plain text.
        assert (await ep.write("/3311/0/5850", True)).code == "2.04"
        written = await node.expect("write")
        assert written == {"event": "write", "path": "/3311/0/5850", "value": "1"}

        # Execute, with arguments.
        assert (await ep.execute("/3/0/4", "5")).code == "2.04"
        executed = await node.expect("execute")
        assert executed["path"] == "/3/0/4" and executed["args"] == "5"

        # Observe, then notifications as the value changes.
        first = await ep.observe("/3303/0/5700")
        assert first.values == {P("/3303/0/5700"): 19.5}
        await node.command("set /3303/0 5700 23.25")
        while (note := await asyncio.wait_for(events.get(), 10)).type is not EventType.NOTIFICATION:
            pass
        assert note.values == {P("/3303/0/5700"): 23.25} and note.sequence is not None

        # Update, then de-register: both succeed on the client's side and on ours.
        updates_before, address_before = server.stats.updates, reg.address
        await node.command("update")
        updated = await node.expect("updated")
        assert updated["error"] is None, updated
        assert server.stats.updates == updates_before + 1
        while (event := await asyncio.wait_for(events.get(), 5)).type is not EventType.UPDATED:
            pass
        assert event.endpoint == "node-dev" and event.details.reg_id == reg.reg_id
        assert event.details.lifetime == reg.lifetime and event.details.objects_changed is False
        # lwm2m-node-lib sends its Update from another UDP port than its Register: the
        # server follows it (as after a NAT rebinding), and the device still answers there.
        assert event.details.moved is (event.details.address != address_before)
        assert event.details.address == reg.address
        assert (await ep.read("/3/0/9")).values == {P("/3/0/9"): 87}
        await node.command("unregister")
        unregistered = await node.expect("unregistered")
        assert unregistered["error"] is None, unregistered
        while (event := await asyncio.wait_for(events.get(), 5)).type is not EventType.DEREGISTERED:
            pass
        assert event.endpoint == "node-dev" and event.details.reg_id == reg.reg_id
        assert "node-dev" not in server.registrations and server.stats.deregistrations == 1
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
