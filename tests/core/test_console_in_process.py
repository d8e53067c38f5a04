"""The runner's console in this process: command lines in, one JSON result line out per command.

tests/core/test_runner.py drives the same console through a subprocess; here it runs on a
server of the test's own, so every outcome can be checked against the device, and the reader
of stdin (read_lines) and the line writer are tried on real file descriptors.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.console import MAX_LINE, Console, line_writer, read_lines
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import LwM2MServer, ServerConfig
from tests.sim import SimClient

P = Path.parse
Line = dict[str, Any]


class Lines:
    """A console whose written lines are kept; ask() submits one line and waits for its answer."""

    def __init__(self, server: LwM2MServer) -> None:
        self.written: list[Line] = []
        self.console = Console(server, self.written.append)

    async def ask(self, line: str | Line | None) -> Line:
        before = len(self.written)
        task = self.console.submit(json.dumps(line) if isinstance(line, dict) else line)
        if task is not None:
            await asyncio.wait_for(task, 10)
        assert len(self.written) == before + 1, self.written[before:]
        return self.written[-1]


async def _until(condition: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := condition()):
            await asyncio.sleep(0.01)
    return result


async def test_every_op_answers_with_what_the_device_did(server: LwM2MServer, make_client: Any) -> None:
    client = await make_client("dev1")
    run = Lines(server)

    read = await run.ask({"id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0"})
    assert read["event"] == "result" and read["id"] == 1 and read["op"] == "read"
    assert read["endpoint"] == "dev1" and read["path"] == "/3/0" and read["code"] == "2.05"
    assert read["values"]["/3/0/1"] == "Sim-1"
    assert read["values"]["/3/0/13"] == 1_700_000_000  # a Time as epoch seconds
    json.dumps(read)  # the line is JSON as it stands

    # the short form: no id, the same fields
    write = await run.ask("write dev1 /3303/0/5701 deg C")
    assert "id" not in write and write["code"] == "2.04" and write["values"] == {"/3303/0/5701": "deg C"}
    assert client.values[P("/3303/0/5701")] == "deg C"
    partial = await run.ask('write dev1 /3311/0 {"5851": 70}')
    assert partial["code"] == "2.04" and client.written[-1][0] == "replace"
    update = await run.ask(
        {"id": "u", "op": "write", "endpoint": "dev1", "path": "/3311/0", "value": {"5850": True}, "replace": False}
    )
    assert update["code"] == "2.04" and client.written[-1][0] == "update"
    assert client.values[P("/3311/0/5850")] is True and client.values[P("/3311/0/5851")] == 70

    one = await run.ask("write dev1 /3/0/7/1 4800")  # one instance of a multiple resource
    assert one["code"] == "2.04" and one["path"] == "/3/0/7/1"
    assert client.values[P("/3/0/7/1")] == 4800 and client.values[P("/3/0/7/0")] == 3800

    executed = await run.ask("execute dev1 /3/0/4 0='soon'")
    assert executed["code"] == "2.04" and client.executed == [(P("/3/0/4"), "0='soon'")]

    attrs = await run.ask("write_attributes dev1 /3303/0/5700 pmin=2 pmax=30 st=0.5")
    assert attrs["code"] == "2.04"
    assert client.attributes[P("/3303/0/5700")] == {"pmin": "2", "pmax": "30", "st": "0.5"}
    discover = await run.ask("discover dev1 /3303/0/5700")
    assert discover["code"] == "2.05" and "values" not in discover
    assert discover["attributes"] == {"/3303/0/5700": {"pmin": 2, "pmax": 30, "st": 0.5}}

    created = await run.ask('create dev1 /3303/7 {"5700": 18.5, "5701": "Cel"}')
    assert created["code"] == "2.01" and created["location"] == "/3303/7" and created["path"] == "/3303"
    assert client.values[P("/3303/7/5700")] == 18.5
    deleted = await run.ask("delete dev1 /3303/7")
    assert deleted["code"] == "2.02" and client.deleted == [P("/3303/7")]

    composite = await run.ask("read_composite dev1 /3/0/0 /3311/0/5850")
    assert "path" not in composite and composite["code"] == "2.05"
    assert composite["values"] == {"/3/0/0": "Simulated Devices Inc.", "/3311/0/5850": True}
    written = await run.ask("write_composite dev1 /3311/0/5850=false /3311/0/5851=10")
    assert written["code"] == "2.04"
    assert client.values[P("/3311/0/5850")] is False and client.values[P("/3311/0/5851")] == 10

    observed = await run.ask("observe dev1 /3303/0/5700")
    assert observed["code"] == "2.05" and observed["values"] == {"/3303/0/5700": 21.5}
    stats = await run.ask("stats")
    assert "endpoint" not in stats
    assert stats["stats"]["observations_active"] == 1 and stats["stats"]["endpoints"] == ["dev1"]
    assert stats["stats"]["registrations_active"] == 1
    mine = await run.ask({"id": None, "op": "stats", "endpoint": "dev1"})
    assert mine["id"] is None and mine["endpoint"] == "dev1"
    assert mine["registration"]["endpoint"] == "dev1" and mine["stats"]["messages_out"] >= 10
    assert [o["paths"] for o in mine["stats"]["observations"]] == [["/3303/0/5700"]]
    cancelled = await run.ask("cancel_observe dev1 /3303/0/5700")
    assert cancelled["code"] == "2.05" and client.root.observers == []
    again = await run.ask("cancel_observe dev1 /3303/0/5700")
    assert again["error"] == "dev1 has no observation of /3303/0/5700" and "code" not in again
    assert run.console.pending == 0


async def test_failures_are_result_lines(server: LwM2MServer, make_client: Any) -> None:
    await make_client("dev1")
    broken = await make_client("broken", misbehave="error")
    run = Lines(server)

    nobody = await run.ask({"id": 1, "op": "read", "endpoint": "nobody", "path": "/3/0/0"})
    assert nobody == {
        "event": "result",
        "id": 1,
        "op": "read",
        "endpoint": "nobody",
        "path": "/3/0/0",
        "error": "nobody is not registered",
    }
    assert "not registered" in (await run.ask("stats nobody"))["error"]

    refused = await run.ask("read broken /3/0/0")
    assert refused["code"] == "5.00" and "values" not in refused
    assert "broken answered read /3/0/0 with 5.00" in refused["error"] and "simulated failure" in refused["error"]
    assert broken.requests and broken.requests[-1][1] == "/3/0/0"

    not_a_number = await run.ask("write dev1 /3311/0/5851 lots")
    assert "not a valid Integer" in not_a_number["error"] and "code" not in not_a_number


async def test_a_device_that_never_answers(udp: None, caplog: pytest.LogCaptureFixture) -> None:
    server = LwM2MServer(ServerConfig(host="::", port=0, request_timeout=0.3, expiry_check_interval=0.2))
    await server.start()
    silent = SimClient("silent", server.port, misbehave="silent")
    try:
        await silent.start()
        run = Lines(server)
        own = await run.ask({"id": "t", "op": "read", "endpoint": "silent", "path": "/3/0/0", "timeout": 0.2})
        assert own["error"].startswith("silent did not answer read /3/0/0") and "within 0.2 s" in own["error"]
        assert "code" not in own
        # no timeout of its own: the server's request timeout
        default = await run.ask("read silent /3/0/1")
        assert default["error"] == "silent did not answer read /3/0/1 within 0.3 s" and "code" not in default

        # closing the console cancels what is still running, and writes nothing for it
        task = run.console.submit("read silent /3/0/2")
        assert task is not None and run.console.pending == 1
        count = len(run.written)
        await run.console.close()
        assert task.cancelled() and run.console.pending == 0 and len(run.written) == count
        await run.console.close()  # nothing left: a no-op
        assert "Traceback" not in caplog.text
    finally:
        await silent.stop()
        await server.stop()


async def test_lines_that_are_no_command(server: LwM2MServer) -> None:
    run = Lines(server)
    too_long = await run.ask(None)  # what read_lines gives for a too long line
    assert too_long == {"event": "error", "error": f"line longer than {MAX_LINE} bytes, ignored"}
    for quiet in ("", "   ", "# a comment"):
        assert run.console.submit(quiet) is None
    assert len(run.written) == 1
    bad = await run.ask('{"id": 7, "op": "read", "endpoint": "dev1"}')
    assert bad == {"event": "error", "id": 7, "error": "read needs path"}
    usage = await run.ask("read_composite dev1")
    assert usage == {"event": "error", "error": "usage: read_composite ENDPOINT PATH [PATH ...]"}
    for line, message in (
        ("read", "usage: read ENDPOINT PATH"),
        ("read dev1 ", "usage: read ENDPOINT PATH"),
        ("write_composite dev1", "usage: write_composite"),
        ("write_composite dev1 /3311/0/5850", "usage: write_composite"),
        ("write_composite dev1 =1", "usage: write_composite"),
        ("create dev1 /3303", "usage: create"),
        ("create dev1 /3303 [1]", "usage: create"),
        ('{"op": "write_attributes", "endpoint": "d", "path": "/3/0", "st": Infinity}', "st must be a finite number"),
        ('{"op": "write_composite", "endpoint": "d", "values": {}}', "values must be an object of path: value"),
        ('{"op": "write_composite", "endpoint": "d", "values": null}', "not null"),
        ('{"op": "read_composite", "endpoint": "d", "paths": []}', "paths must be a list of paths, not a list"),
        ('{"op": "read", "endpoint": "", "path": "/3"}', "endpoint must be a name, not text"),
        ('{"op": "read", "endpoint": null, "path": "/3"}', "endpoint must be a name, not null"),
        (
            '{"op": "execute", "endpoint": "d", "path": "/3/0/4", "arguments": {}}',
            "arguments must be text, not an object",
        ),
    ):
        answer = await run.ask(line)
        assert answer["event"] == "error" and message in answer["error"], (line, answer)
    assert run.console.pending == 0


async def test_a_failing_output_loses_one_line_only(server: LwM2MServer, caplog: pytest.LogCaptureFixture) -> None:
    written: list[Line] = []

    def write(line: Line) -> None:
        if not written and "error" in line:  # stdout went away for a moment
            written.append({"lost": line})
            raise BrokenPipeError("stdout is gone")
        written.append(line)

    console = Console(server, write)
    assert console.submit("frobnicate") is None
    assert "Could not write" in caplog.text and "frobnicate" in caplog.text
    task = console.submit("stats")
    assert task is not None
    await task
    assert written[-1]["op"] == "stats" and written[-1]["stats"]["registrations_active"] == 0


async def test_a_write_with_a_resource_name_for_a_key(
    server: LwM2MServer, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A name where a resource id belongs is the user's mistake, answered as such (it was an
    "internal error" with a traceback before 039239f)."""
    client = await make_client("dev1")
    run = Lines(server)
    answer = await run.ask({"id": 1, "op": "write", "endpoint": "dev1", "path": "/3311/0", "value": {"on": True}})
    assert answer["id"] == 1 and "code" not in answer
    assert "'on'" in answer["error"] and "internal error" not in answer["error"], answer
    assert client.written == []
    assert "Traceback" not in caplog.text


# -- the line writer and the stdin reader ------------------------------------------------------


def test_line_writer_prints_whole_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    write = line_writer(stream)
    write({"event": "x", "when": datetime(2024, 1, 1, tzinfo=UTC), "values": {"/3/0/0": "a\nb"}})
    assert stream.getvalue().count("\n") == 1
    assert json.loads(stream.getvalue()) == {
        "event": "x",
        "when": "2024-01-01 00:00:00+00:00",  # what JSON cannot hold, as text
        "values": {"/3/0/0": "a\nb"},
    }

    threads = [
        threading.Thread(target=lambda n=n: [write({"thread": n, "i": i, "pad": "x" * 500}) for i in range(50)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()[1:]]
    assert len(lines) == 200
    for n in range(4):
        assert [line["i"] for line in lines if line["thread"] == n] == list(range(50))

    # no stream: whatever sys.stdout is at the time of writing
    line_writer()({"event": "listening", "port": 5683})
    assert json.loads(capsys.readouterr().out) == {"event": "listening", "port": 5683}


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lwm2m console reader"]


async def test_read_lines_from_a_pipe() -> None:
    loop = asyncio.get_running_loop()
    got: list[str | None] = []
    read_fd, write_fd = os.pipe()
    try:
        thread = read_lines(read_fd, loop, got.append)
        assert thread.daemon and thread.name == "lwm2m console reader"
        os.write(write_fd, b"read dev1 /3/0/0\nstats\n")
        await _until(lambda: len(got) == 2)
        os.write(write_fd, b'{"op": "st')
        os.write(write_fd, b'ats"}\r\nlast line without newline')
        await _until(lambda: len(got) == 3)
        os.close(write_fd)
        write_fd = -1
        await _until(lambda: not thread.is_alive())
        await asyncio.sleep(0)  # the last call_soon_threadsafe
        assert got == ["read dev1 /3/0/0", "stats", '{"op": "stats"}\r', "last line without newline"]
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)


async def test_read_lines_ends_on_a_read_error(tmp_path: FsPath, caplog: pytest.LogCaptureFixture) -> None:
    """A descriptor that cannot be read (here a folder) is the end of the commands, not a crash."""
    caplog.set_level(logging.DEBUG, "custom_components.lwm2m.lwm2m.console")
    got: list[str | None] = []
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        thread = read_lines(fd, asyncio.get_running_loop(), got.append)
        thread.join(5)
        assert not thread.is_alive()
    finally:
        os.close(fd)
    await asyncio.sleep(0)
    assert got == []
    assert f"Reading commands from fd {fd}" in caplog.text


def test_read_lines_stops_when_the_loop_is_closed() -> None:
    """The runner is ending (its loop closed): lines still arriving are dropped and the reader ends."""
    loop = asyncio.new_event_loop()
    loop.close()
    got: list[str | None] = []
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"stats\nstats\n")
        thread = read_lines(read_fd, loop, got.append)
        thread.join(5)
        assert not thread.is_alive()  # ended without waiting for the end of the pipe
    finally:
        os.close(write_fd)
        os.close(read_fd)
    assert got == []
    assert not _reader_threads()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
async def test_console_fed_by_read_lines(server: LwM2MServer, make_client: Any) -> None:
    """The runner's wiring: stdin lines through read_lines into the console, answers out."""
    client = await make_client("dev1")
    written: list[Line] = []
    console = Console(server, written.append)
    read_fd, write_fd = os.pipe()
    try:
        thread = read_lines(read_fd, asyncio.get_running_loop(), console.submit)
        os.write(write_fd, b"write dev1 /3311/0/5850 true\n# nothing\n\nread dev1 /3311/0/5850\n")
        os.write(write_fd, b"x" * (MAX_LINE + 1) + b"\nstats\n")
        await _until(lambda: len(written) == 4)
        os.close(write_fd)
        write_fd = -1
        thread.join(5)
        await _until(lambda: console.pending == 0)
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
    by_op = {line.get("op", line["event"]): line for line in written}
    assert by_op["write"]["code"] == "2.04" and client.values[P("/3311/0/5850")] is True
    assert by_op["read"]["values"] == {"/3311/0/5850": True}
    assert by_op["error"]["error"] == f"line longer than {MAX_LINE} bytes, ignored"
    assert by_op["stats"]["stats"]["endpoints"] == ["dev1"]
