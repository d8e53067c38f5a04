"""The standalone runner prints one JSON object per event and answers commands on stdin."""

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path as FsPath
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.console import (
    Command,
    CommandError,
    LineSplitter,
    parse_command,
    parse_line,
)
from custom_components.lwm2m.lwm2m.path import Path
from tests.sim import SimClient

ROOT = FsPath(__file__).resolve().parents[2]
P = Path.parse
DEADLINE = 10.0
Line = dict[str, Any]  # one JSON line the runner printed


async def _line(stream: asyncio.StreamReader) -> Line:
    raw = await asyncio.wait_for(stream.readline(), 10)
    assert raw, "the runner ended early"
    line: Line = json.loads(raw)
    return line


class Runner:
    """The runner as a subprocess: write command lines, wait for the lines it prints."""

    def __init__(self, proc: asyncio.subprocess.Process, listening: dict[str, Any]) -> None:
        self.proc = proc
        self.listening = listening
        self.port = listening["port"]
        self.dtls_port = listening.get("dtls_port")
        self.backlog: list[Line] = []  # printed lines no expect() has taken yet

    async def send(self, *lines: str | Line) -> None:
        assert self.proc.stdin is not None
        for line in lines:
            self.proc.stdin.write((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, match: Callable[[Line], bool] | Line, deadline: float = DEADLINE) -> Line:
        """The first printed line that matches (a predicate, or a dict of fields it must have)."""
        test = match if callable(match) else lambda line: all(line.get(k, object()) == v for k, v in match.items())
        for i, line in enumerate(self.backlog):
            if test(line):
                return self.backlog.pop(i)
        assert self.proc.stdout is not None
        async with asyncio.timeout(deadline):
            while True:
                raw = await self.proc.stdout.readline()
                assert raw, f"the runner ended early; unmatched lines: {self.backlog}"
                printed: Line = json.loads(raw)
                if test(printed):
                    return printed
                self.backlog.append(printed)

    async def result(self, command_id: Any) -> Line:
        return await self.expect({"event": "result", "id": command_id})

    async def ask(self, command: Line) -> Line:
        await self.send(command)
        return await self.result(command["id"])

    async def device(self, name: str = "dev1", **kwargs: Any) -> SimClient:
        client = SimClient(name, self.port, **kwargs)
        await client.start()
        await self.expect({"event": "registered", "endpoint": name})
        return client


@contextlib.asynccontextmanager
async def runner(*args: str, stdin: Any = asyncio.subprocess.PIPE, **kwargs: Any) -> AsyncIterator[Runner]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.lwm2m.lwm2m",
        "--host",
        "::",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kwargs,
    )
    try:
        assert proc.stdout is not None
        listening = await _line(proc.stdout)
        assert listening["event"] == "listening" and listening["port"] > 0
        yield Runner(proc, listening)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err, err.decode()


async def test_runner_prints_events(udp: None) -> None:
    async with runner("--auto-observe", "/3303/0/5700", stdin=asyncio.subprocess.DEVNULL) as run:
        client = SimClient("runner-dev", run.port)
        try:
            await client.start()
            registered = await run.expect(lambda line: True)
            assert registered["event"] == "registered" and registered["endpoint"] == "runner-dev"
            observed = await run.expect(lambda line: True)
            assert observed["event"] == "response" and observed["operation"] == "observe"
            assert observed["values"] == {"/3303/0/5700": 21.5}
            client.set_value("/3303/0/5700", 19.5)
            note = await run.expect(lambda line: True)
            assert note["event"] == "notification" and note["values"] == {"/3303/0/5700": 19.5}
            assert note["sequence"] == 1
            await client.update()
            assert (await run.expect(lambda line: True))["event"] == "updated"
            await client.deregister()
            gone = await run.expect(lambda line: True)
            assert gone["event"] == "deregistered" and gone["endpoint"] == "runner-dev"
        finally:
            await client.stop()


async def test_runner_rejects_bad_paths() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.lwm2m.lwm2m",
        "--auto-observe",
        "/x/y",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and b"invalid path '/x/y'" in err


async def test_runner_operations(udp: None) -> None:
    async with runner() as run:
        client = await run.device("dev1")
        try:
            # sent together, answered each by its own line
            await run.send(
                {"id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0"},
                {"id": 2, "op": "execute", "endpoint": "dev1", "path": "/3/0/4", "arguments": "0='now'"},
                {"id": 3, "op": "read_composite", "endpoint": "dev1", "paths": ["/3/0/0", "/3303/0/5700"]},
                {"id": 4, "op": "write_attributes", "endpoint": "dev1", "path": "/3303/0/5700", "pmin": 1, "gt": 25},
            )
            read = await run.result(1)
            assert read["op"] == "read" and read["endpoint"] == "dev1" and read["code"] == "2.05"
            assert read["values"]["/3/0/0"] == "Simulated Devices Inc."
            assert read["values"]["/3/0/7/1"] == 5000
            assert read["values"]["/3/0/13"] == 1_700_000_000  # a Time, as epoch seconds
            assert (await run.result(2))["code"] == "2.04"
            assert client.executed == [(P("/3/0/4"), "0='now'")]
            composite = await run.result(3)
            assert composite["code"] == "2.05"
            assert composite["values"] == {"/3/0/0": "Simulated Devices Inc.", "/3303/0/5700": 21.5}
            assert (await run.result(4))["code"] == "2.04"
            assert client.attributes[P("/3303/0/5700")] == {"pmin": "1", "gt": "25"}

            discover = await run.ask({"id": "d", "op": "discover", "endpoint": "dev1", "path": "/3303/0/5700"})
            assert discover["code"] == "2.05"
            assert discover["attributes"] == {"/3303/0/5700": {"pmin": 1, "gt": 25.0}}

            write = await run.ask({"id": 5, "op": "write", "endpoint": "dev1", "path": "/3311/0/5850", "value": True})
            assert write["code"] == "2.04" and client.values[P("/3311/0/5850")] is True
            back = await run.ask({"id": 6, "op": "read", "endpoint": "dev1", "path": "/3311/0/5850"})
            assert back["values"] == {"/3311/0/5850": True}

            update = await run.ask(
                {"id": 7, "op": "write", "endpoint": "dev1", "path": "/3311/0", "value": {"5851": 70}, "replace": False}
            )
            assert update["code"] == "2.04" and client.written[-1][0] == "update"
            assert client.values[P("/3311/0/5851")] == 70 and client.values[P("/3311/0/5850")] is True

            composite_write = await run.ask(
                {
                    "id": 8,
                    "op": "write_composite",
                    "endpoint": "dev1",
                    "values": {"/3311/0/5851": 30, "/3311/0/5850": False},
                }
            )
            assert composite_write["code"] == "2.04"
            assert client.values[P("/3311/0/5851")] == 30 and client.values[P("/3311/0/5850")] is False

            created = await run.ask(
                {
                    "id": 9,
                    "op": "create",
                    "endpoint": "dev1",
                    "path": "/3303",
                    "values": {"5700": 18.5, "5701": "Cel"},
                    "instance_id": 1,
                }
            )
            assert created["code"] == "2.01" and created["location"] == "/3303/1"
            assert client.values[P("/3303/1/5700")] == 18.5
            deleted = await run.ask({"id": 10, "op": "delete", "endpoint": "dev1", "path": "/3303/1"})
            assert deleted["code"] == "2.02" and client.deleted == [P("/3303/1")]
            assert P("/3303/1/5700") not in client.values

            observed = await run.ask({"id": "o", "op": "observe", "endpoint": "dev1", "path": "/3303/0/5700"})
            assert observed["code"] == "2.05" and observed["values"] == {"/3303/0/5700": 21.5}
            client.set_value("/3303/0/5700", 19.5)
            note = await run.expect({"event": "notification", "endpoint": "dev1"})
            assert note["values"] == {"/3303/0/5700": 19.5}
            assert (await run.ask({"id": "s", "op": "stats"}))["stats"]["observations_active"] == 1
            cancelled = await run.ask({"id": "c", "op": "cancel_observe", "endpoint": "dev1", "path": "/3303/0/5700"})
            assert cancelled["code"] == "2.05" and client.root.observers == []
            again = await run.ask({"id": "c2", "op": "cancel_observe", "endpoint": "dev1", "path": "/3303/0/5700"})
            assert "no observation" in again["error"] and "code" not in again

            stats = await run.ask({"id": 11, "op": "stats"})
            assert stats["op"] == "stats" and "endpoint" not in stats
            assert stats["stats"]["observations_active"] == 0 and stats["stats"]["notifications"] == 1
            assert stats["stats"]["registrations_active"] == 1 and stats["stats"]["registrations"] == 1
            assert stats["stats"]["endpoints"] == ["dev1"]
            assert stats["stats"]["requests_out"] >= 10
            mine = await run.ask({"id": 12, "op": "stats", "endpoint": "dev1"})
            assert mine["registration"]["endpoint"] == "dev1" and mine["stats"]["messages_out"] >= 10
        finally:
            await client.stop()


async def test_runner_errors_and_bad_lines(udp: None) -> None:
    async with runner() as run:
        client = await run.device("dev1")
        slow = await run.device("slow", misbehave="silent")
        try:
            # a device that never answers holds up no other command
            await run.send(
                {"id": "slow", "op": "read", "endpoint": "slow", "path": "/3/0/0", "timeout": 5},
                {"id": "fast", "op": "read", "endpoint": "dev1", "path": "/3/0/0"},
            )
            first = await run.expect(lambda line: line.get("id") in ("slow", "fast"), deadline=4)
            assert first["id"] == "fast" and first["values"] == {"/3/0/0": "Simulated Devices Inc."}
            late = await run.ask({"id": "late", "op": "read", "endpoint": "slow", "path": "/3/0/1", "timeout": 0.3})
            assert "within 0.3 s" in late["error"] and "code" not in late

            unknown = await run.ask({"id": "u", "op": "read", "endpoint": "nobody", "path": "/3/0/0"})
            assert unknown["error"] == "nobody is not registered" and "code" not in unknown
            missing = await run.ask({"id": "m", "op": "read", "endpoint": "dev1", "path": "/3/0/99"})
            assert missing["code"] == "4.04" and "4.04" in missing["error"] and "values" not in missing
            refused = await run.ask(
                {"id": "w", "op": "write", "endpoint": "dev1", "path": "/3311/0/5851", "value": "lots"}
            )
            assert "not a valid" in refused["error"] and "code" not in refused

            # one error line per bad line, and the runner goes on
            await run.send(
                "{not json", "[1, 2]", {"id": 41, "op": "frobnicate"}, {"id": 42, "op": "read", "endpoint": "dev1"}
            )
            bad_json = await run.expect({"event": "error"})
            assert "not valid JSON" in bad_json["error"] and "id" not in bad_json
            not_object = await run.expect({"event": "error"})
            assert "must be a JSON object" in not_object["error"]
            unknown_op = await run.expect({"event": "error"})
            assert unknown_op["id"] == 41 and "unknown op 'frobnicate'" in unknown_op["error"]
            no_path = await run.expect({"event": "error"})
            assert no_path["id"] == 42 and "needs path" in no_path["error"]
            after = await run.ask({"id": 43, "op": "read", "endpoint": "dev1", "path": "/3303/0/5700"})
            assert after["values"] == {"/3303/0/5700": 21.5}
            assert not [line for line in run.backlog if line["event"] in ("error", "result")]
        finally:
            await client.stop()
            await slow.stop()


async def test_runner_human_form(udp: None) -> None:
    async with runner() as run:
        client = await run.device("dev1")
        try:
            await run.send("read dev1 /3/0/0")
            read = await run.expect({"event": "result", "op": "read"})
            assert read["values"] == {"/3/0/0": "Simulated Devices Inc."} and "id" not in read
            await run.send("write dev1 /3311/0/5850 true")
            assert (await run.expect({"event": "result", "op": "write"}))["code"] == "2.04"
            assert client.values[P("/3311/0/5850")] is True
            await run.send("write dev1 /3303/0/5701 deg C")  # not JSON: the text as it is
            assert (await run.expect({"event": "result", "op": "write"}))["code"] == "2.04"
            assert client.values[P("/3303/0/5701")] == "deg C"
            await run.send("execute dev1 /3/0/4")
            assert (await run.expect({"event": "result", "op": "execute"}))["code"] == "2.04"
            assert client.executed == [(P("/3/0/4"), "")]
            await run.send("observe dev1 /3303/0/5700")
            observed = await run.expect({"event": "result", "op": "observe"})
            assert observed["values"] == {"/3303/0/5700": 21.5}
            await run.send("write_composite dev1 /3311/0/5851=40 /3311/0/5850=false")
            assert (await run.expect({"event": "result", "op": "write_composite"}))["code"] == "2.04"
            assert client.values[P("/3311/0/5851")] == 40 and client.values[P("/3311/0/5850")] is False
            await run.send("", "# a comment", "frobnicate dev1", "stats")
            assert "unknown op 'frobnicate'" in (await run.expect({"event": "error"}))["error"]
            stats = await run.expect({"event": "result", "op": "stats"})
            assert stats["stats"]["registrations_active"] == 1 and stats["stats"]["observations_active"] == 1
            assert not [line for line in run.backlog if line["event"] == "error"]  # blank and comment: no answer

            # the end of stdin (Ctrl-D) stops nothing: events keep coming, only a signal ends the runner
            assert run.proc.stdin is not None
            run.proc.stdin.close()
            client.set_value("/3303/0/5700", 30.0)
            note = await run.expect({"event": "notification", "endpoint": "dev1"})
            assert note["values"] == {"/3303/0/5700": 30.0}
            await client.update()
            await run.expect({"event": "updated", "endpoint": "dev1"})
            assert run.proc.returncode is None
        finally:
            await client.stop()


async def test_runner_serves_with_stdin_closed(udp: None) -> None:
    """No stdin at all (fd 0 closed): the runner serves, and ends on a signal."""
    async with runner("--auto-observe", "/3303/0/5700", stdin=None, preexec_fn=lambda: os.close(0)) as run:
        client = await run.device("dev1")
        try:
            await run.expect({"event": "response", "operation": "observe", "code": "2.05"})
            client.set_value("/3303/0/5700", 30.0)
            note = await run.expect({"event": "notification"})
            assert note["values"] == {"/3303/0/5700": 30.0}
            await client.update()
            await run.expect({"event": "updated", "endpoint": "dev1"})
            assert run.proc.returncode is None
        finally:
            await client.stop()


# -- the parser ------------------------------------------------------------------------------


def _error(line: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        parse_line(line)
    return info.value


def test_parse_json_commands() -> None:
    read = parse_line('{"id": [1, "a"], "op": "read", "endpoint": "dev1", "path": "/3/0/0", "timeout": 2}')
    assert read == Command(op="read", id=[1, "a"], has_id=True, endpoint="dev1", path=P("/3/0/0"), timeout=2.0)
    no_id = parse_command({"op": "stats"})
    assert not no_id.has_id and "id" not in no_id.head() and no_id.head()["op"] == "stats"
    null_id = parse_command({"id": None, "op": "stats"})
    assert null_id.head()["id"] is None
    write = parse_command(
        {"op": "write", "endpoint": "d", "path": "/3311/0", "value": {"5850": True}, "replace": False}
    )
    assert write.value == {"5850": True} and write.replace is False
    assert parse_command({"op": "write", "endpoint": "d", "path": "/1/0/1", "value": 0}).replace is True
    attrs = parse_command({"op": "write-attributes", "endpoint": "d", "path": "/3303/0/5700", "pmin": 5, "st": None})
    assert attrs.op == "write_attributes" and attrs.attributes == {"pmin": 5, "st": None}
    create = parse_command({"op": "create", "endpoint": "d", "path": "/3303/4", "values": {"5700": 1.5}})
    assert create.path == P("/3303") and create.instance_id == 4 and create.resources == {5700: 1.5}
    composite = parse_command({"op": "write_composite", "endpoint": "d", "values": {"/3311/0/5850": True}})
    assert composite.composite == {P("/3311/0/5850"): True}
    assert parse_command({"op": "read_composite", "endpoint": "d", "paths": ["/3/0/0", "/1/0"]}).paths == (
        P("/3/0/0"),
        P("/1/0"),
    )
    assert parse_line("   ") is None and parse_line("# note") is None


def test_parse_human_commands() -> None:
    assert parse_line("read dev1 /3/0/0") == Command(op="read", endpoint="dev1", path=P("/3/0/0"))
    assert parse_line("write dev1 /3311/0/5850 true").value is True  # type: ignore[union-attr]
    assert parse_line("write dev1 /3311/0/5851 42").value == 42  # type: ignore[union-attr]
    assert parse_line("write dev1 /3/0/15 Europe/Paris now").value == "Europe/Paris now"  # type: ignore[union-attr]
    assert parse_line("execute dev1 /3/0/4 0='x' 1").arguments == "0='x' 1"  # type: ignore[union-attr]
    assert parse_line("execute dev1 /3/0/4").arguments is None  # type: ignore[union-attr]
    attrs = parse_line("write_attributes dev1 /3303/0/5700 pmin=5 gt=20.5 st=")
    assert attrs is not None and attrs.attributes == {"pmin": 5, "gt": 20.5, "st": None}
    create = parse_line('create dev1 /3303 {"5700": 20, "5701": "Cel"}')
    assert create is not None and create.resources == {5700: 20, 5701: "Cel"} and create.instance_id is None
    paths = parse_line("read_composite dev1 /3/0/0 /3303/0")
    assert paths is not None and paths.paths == (P("/3/0/0"), P("/3303/0"))
    composite = parse_line('write_composite dev1 {"/3311/0/5850": true}')
    assert composite is not None and composite.composite == {P("/3311/0/5850"): True}
    assert parse_line("STATS") == Command(op="stats")
    assert parse_line("stats dev1") == Command(op="stats", endpoint="dev1")


@pytest.mark.parametrize(
    ("line", "message", "has_id"),
    [
        ('{"op": "read"', "not valid JSON", False),
        ("[1]", "must be a JSON object, not a list", False),
        ('"read"', "must be a JSON object, not text", False),
        ('{"id": 1}', "no op", True),
        ('{"id": 1, "op": 5}', "unknown op 5", True),
        ('{"id": 1, "op": "reboot", "endpoint": "d"}', "unknown op 'reboot'", True),
        ('{"id": 1, "op": "read", "endpoint": "d"}', "read needs path", True),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": 3}', "path must be text", True),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": "/3/x"}', "invalid path", True),
        ('{"id": 1, "op": "read", "endpoint": 7, "path": "/3/0"}', "endpoint must be a name", True),
        (
            '{"id": 1, "op": "read", "endpoint": "d", "path": "/3/0", "timeout": -1}',
            "timeout must be more than 0",
            True,
        ),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": "/3/0", "timeout": 0}', "timeout must be more than 0", True),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": "/3/0", "timeout": "5"}', "timeout must be a number", True),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": "/3/0", "timeout": NaN}', "timeout must be more", True),
        ('{"id": 1, "op": "read", "endpoint": "d", "path": "/3/0", "vaule": 1}', "read takes no vaule", True),
        ('{"id": 1, "op": "write", "endpoint": "d", "path": "/3/0/1", "value": null}', "must not be null", True),
        ('{"id": 1, "op": "write", "endpoint": "d", "path": "/3", "value": 1}', "resource or instance path", True),
        (
            '{"id": 1, "op": "write", "endpoint": "d", "path": "/3/0/1", "value": 1, "replace": "no"}',
            "replace must",
            True,
        ),
        ('{"id": 1, "op": "execute", "endpoint": "d", "path": "/3/0"}', "execute needs a resource path", True),
        (
            '{"id": 1, "op": "execute", "endpoint": "d", "path": "/3/0/4", "arguments": 1}',
            "arguments must be text",
            True,
        ),
        ('{"id": 1, "op": "write_attributes", "endpoint": "d", "path": "/3/0"}', "no attributes", True),
        ('{"id": 1, "op": "write_attributes", "endpoint": "d", "path": "/3/0", "pmin": 1.5}', "whole number", True),
        (
            '{"id": 1, "op": "write_attributes", "endpoint": "d", "path": "/3/0", "gt": true}',
            "gt must be a number",
            True,
        ),
        ('{"id": 1, "op": "create", "endpoint": "d", "path": "/3/0/1", "values": {}}', "object path", True),
        ('{"id": 1, "op": "create", "endpoint": "d", "path": "/3", "values": []}', "values must be an object", True),
        ('{"id": 1, "op": "create", "endpoint": "d", "path": "/3", "values": {"x": 1}}', "resource ids", True),
        ('{"id": 1, "op": "create", "endpoint": "d", "path": "/3/2", "values": {}, "instance_id": 1}', "differs", True),
        (
            '{"id": 1, "op": "create", "endpoint": "d", "path": "/3", "values": {}, "instance_id": -1}',
            "instance_id",
            True,
        ),
        ('{"id": 1, "op": "read_composite", "endpoint": "d", "paths": "/3/0"}', "paths must be a list", True),
        ('{"id": 1, "op": "read_composite", "endpoint": "d", "paths": [3]}', "must be text", True),
        ('{"id": 1, "op": "write_composite", "endpoint": "d", "values": {"/3/0": 1}}', "resource paths", True),
        ('{"id": 1, "op": "stats", "path": "/3"}', "stats takes no path", True),
        ("frobnicate dev1 /3/0/0", "unknown op 'frobnicate'", False),
        ("read dev1", "usage: read ENDPOINT PATH", False),
        ("read dev1 /3/0/0 extra", "usage: read ENDPOINT PATH", False),
        ("write dev1 /3/0/1", "usage: write", False),
        ("write_attributes dev1 /3/0 foo=1", "unknown attribute 'foo'", False),
        ("write_attributes dev1 /3/0 pmin=soon", "pmin must be a number", False),
        ("create dev1 /3303 5700=1", "usage: create", False),
        ("write_composite dev1 /3311/0/5850", "usage: write_composite", False),
        ("stats a b", "usage: stats", False),
        ('{"id": 1, "op": "update_firmware", "endpoint": "d"}', "update_firmware needs file", True),
        ('{"id": 1, "op": "update_firmware", "endpoint": "d", "file": 3}', "file must be the path", True),
        (
            '{"id": 1, "op": "update_firmware", "endpoint": "d", "file": "f", "method": "fax"}',
            "push, pull or auto",
            True,
        ),
        ('{"id": 1, "op": "update_firmware", "endpoint": "d", "file": "f", "version": ""}', "version must be", True),
        ("update_firmware dev1", "usage: update_firmware", False),
        ("cancel_firmware dev1 now", "usage: cancel_firmware", False),
    ],
)
def test_parse_errors(line: str, message: str, has_id: bool) -> None:
    err = _error(line)
    assert message in str(err)
    out = err.to_json()
    assert out["event"] == "error" and out["error"] == str(err)
    assert ("id" in out) is has_id and (not has_id or out["id"] == 1)


async def test_runner_updates_firmware(udp: None, tmp_path: FsPath) -> None:
    from tests.sim.firmware import write_image

    image = tmp_path / "fw.bin"
    write_image(image, "2.0.0", 30_000)
    async with runner() as run:
        client = await run.device("dev1", firmware=True)
        try:
            await run.send(f"update_firmware dev1 {image} push")
            result = await run.expect({"event": "result", "op": "update_firmware"}, 30)
            progress = [line for line in run.backlog if line.get("event") == "firmware"]
            assert result["step"] == "succeeded" and result["method"] == "push", result
            assert (result["state"], result["result"], result["result_key"]) == ("idle", 1, "success")
            assert [p["step"] for p in progress][:2] == ["started", "downloading"]
            assert any(0 < p.get("percent", 0) < 100 for p in progress)
            assert {"downloaded", "updating", "succeeded"} <= {p["step"] for p in progress}
            assert client.firmware is not None and client.firmware.installed == ["2.0.0"]
            missing = await run.ask({"id": 7, "op": "update_firmware", "endpoint": "dev1", "file": "/no/such.bin"})
            assert "cannot read /no/such.bin" in missing["error"]
            unknown = await run.ask({"id": 8, "op": "update_firmware", "endpoint": "nobody", "file": str(image)})
            assert "not registered" in unknown["error"]
            assert (await run.ask({"id": 9, "op": "cancel_firmware", "endpoint": "dev1"}))["cancelled"] is False
        finally:
            await client.stop()


def test_line_splitter() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b": 1}\r\nstats\n\xff\n") == ['{"a": 1}\r', "stats", "\ufffd"]
    assert splitter.feed(b"x" * 11) == [None]  # too long already: one error, the rest of it skipped
    assert splitter.feed(b"y" * 20 + b"\nread") == []
    assert splitter.end() == ["read"]
    assert splitter.feed(b"z" * 11 + b"\nok\n") == [None, "ok"]
    assert splitter.end() == []
