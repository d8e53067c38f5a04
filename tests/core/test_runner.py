"""The standalone runner prints one JSON object per event."""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path as FsPath

from tests.sim import SimClient

ROOT = FsPath(__file__).resolve().parents[2]


async def _line(stream: asyncio.StreamReader) -> dict:
    raw = await asyncio.wait_for(stream.readline(), 10)
    assert raw, "the runner ended early"
    return json.loads(raw)


async def test_runner_prints_events(udp: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.lwm2m.lwm2m",
        "--host",
        "::",
        "--port",
        "0",
        "--auto-observe",
        "/3303/0/5700",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    client = None
    try:
        assert proc.stdout is not None
        listening = await _line(proc.stdout)
        assert listening["event"] == "listening" and listening["port"] > 0
        client = SimClient("runner-dev", listening["port"])
        await client.start()
        registered = await _line(proc.stdout)
        assert registered["event"] == "registered" and registered["endpoint"] == "runner-dev"
        observed = await _line(proc.stdout)
        assert observed["event"] == "response" and observed["operation"] == "observe"
        assert observed["values"] == {"/3303/0/5700": 21.5}
        client.set_value("/3303/0/5700", 19.5)
        note = await _line(proc.stdout)
        assert note["event"] == "notification" and note["values"] == {"/3303/0/5700": 19.5} and note["sequence"] == 1
        await client.update()
        assert (await _line(proc.stdout))["event"] == "updated"
        await client.deregister()
        gone = await _line(proc.stdout)
        assert gone["event"] == "deregistered" and gone["endpoint"] == "runner-dev"
    finally:
        if client is not None:
            await client.stop()
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0


async def test_runner_rejects_bad_paths() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.lwm2m.lwm2m",
        "--auto-observe",
        "/x/y",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and b"invalid path '/x/y'" in err
