"""The standalone runner (python -m custom_components.lwm2m.lwm2m) run in this process.

tests/core/test_runner.py starts it as a subprocess, which coverage does not follow; here
run() is a task of the test's loop with a pipe or a terminal for stdin, and a real SIGTERM
or SIGINT stops it, as they stop the real runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path as FsPath
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m import __main__ as runner
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.server import AUTO_OBSERVE_ALL
from tests.sim import SimClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals and terminals of POSIX")

P = Path.parse
Line = dict[str, Any]


class Output:
    """The JSON lines the runner printed on (captured) stdout, read as they come."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.lines: list[Line] = []
        self.err = ""

    def read(self) -> None:
        captured = self.capsys.readouterr()
        self.err += captured.err
        self.lines += [json.loads(line) for line in captured.out.splitlines() if line.strip()]

    async def expect(self, match: Line, timeout: float = 10.0) -> Line:
        """The first line not taken yet that has every field of match; it is taken."""
        async with asyncio.timeout(timeout):
            while True:
                self.read()
                for i, line in enumerate(self.lines):
                    if all(line.get(k, object()) == v for k, v in match.items()):
                        return self.lines.pop(i)
                await asyncio.sleep(0.01)


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lwm2m console reader"]


def _handled(sig: signal.Signals) -> bool:
    return signal.getsignal(sig) not in (signal.SIG_DFL, signal.default_int_handler, None)


@contextlib.asynccontextmanager
async def running(argv: list[str], fd: int | None, out: Output) -> AsyncIterator[tuple[asyncio.Task[None], int]]:
    """run(args, fd) as a task; yields it with the port it listens on; SIGTERM ends it."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(runner.run(runner.parse_args(["--host", "::", "--port", "0", *argv]), fd))
    try:
        listening = await out.expect({"event": "listening"})
        assert listening["host"] == "::" and listening["port"] > 0
        assert _handled(signal.SIGTERM) and _handled(signal.SIGINT)  # before any signal is sent
        yield task, listening["port"]
    finally:
        if not task.done() and _handled(signal.SIGTERM):
            os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.wait_for(task, 10)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def _until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := condition()):
            await asyncio.sleep(0.01)
    return result


async def test_runner_serves_commands_from_a_pipe_until_sigterm(udp: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = Output(capsys)
    read_fd, write_fd = os.pipe()
    client: SimClient | None = None
    try:
        async with running(["--auto-observe", "/3303/0/5700"], read_fd, out) as (task, port):
            assert _reader_threads()
            client = SimClient("dev1", port)
            await client.start()
            registered = await out.expect({"event": "registered", "endpoint": "dev1"})
            assert registered["lifetime"] == 60 and "/3303/0" in registered["instances"]
            observed = await out.expect({"event": "response", "endpoint": "dev1"})
            assert observed["values"] == {"/3303/0/5700": 21.5} and observed["code"] == "2.05"

            os.write(
                write_fd, b'{"id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0/0"}\nwrite dev1 /3311/0/5850 on\n'
            )
            read = await out.expect({"event": "result", "id": 1})
            assert read["values"] == {"/3/0/0": "Simulated Devices Inc."}
            write = await out.expect({"event": "result", "op": "write"})
            assert write["code"] == "2.04"  # "on" is no JSON: the text, which a Boolean takes
            assert client.values[P("/3311/0/5850")] is True
            os.write(write_fd, b"frobnicate\n")
            assert "unknown op 'frobnicate'" in (await out.expect({"event": "error"}))["error"]

            # the end of stdin ends the reader, not the serving
            os.close(write_fd)
            write_fd = -1
            await _until(lambda: not _reader_threads())
            client.set_value("/3303/0/5700", 19.0)
            note = await out.expect({"event": "notification", "endpoint": "dev1"})
            assert note["values"] == {"/3303/0/5700": 19.0} and note["sequence"] >= 1
            assert not task.done()
        assert task.done() and task.exception() is None  # SIGTERM: a clean end
        # the server went with it: its port is free again
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::", port))
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
        if client is not None:
            await client.stop()
    assert "Traceback" not in out.err


async def test_runner_without_stdin_stops_on_sigint(udp: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = Output(capsys)
    loop = asyncio.get_running_loop()
    task = loop.create_task(runner.run(runner.parse_args(["--host", "127.0.0.1", "--port", "0"]), None))
    try:
        listening = await out.expect({"event": "listening"})
        assert listening["host"] == "127.0.0.1"
        assert not _reader_threads()  # no stdin, no reader
        assert _handled(signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        await asyncio.wait_for(task, 10)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    assert task.exception() is None


async def test_runner_on_a_terminal_says_how_to_use_it(udp: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A terminal gets a hint on stderr (stdout stays JSON); its lines are commands like any."""
    out = Output(capsys)
    try:
        master, slave = os.openpty()
    except OSError as err:
        pytest.skip(f"no pseudo-terminal here: {err}")
    try:
        async with running([], slave, out):
            await _until(lambda: out.read() or "Commands such as" in out.err)  # read() takes stdout as JSON
            assert "Ctrl-C stops" in out.err
            os.write(master, b"stats\n")
            stats = await out.expect({"event": "result", "op": "stats"})
            assert stats["stats"]["registrations_active"] == 0
            os.close(master)  # the terminal hangs up: reading fails, the reader ends, serving goes on
            master = -1
            await _until(lambda: not _reader_threads())
    finally:
        if master >= 0:
            os.close(master)
        os.close(slave)


async def test_runner_warns_of_object_files_it_cannot_read(
    udp: None, tmp_path: FsPath, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.xml").write_text("<LWM2M><Object><ObjectID>not a number")
    out = Output(capsys)
    async with running(["--xml-dir", str(tmp_path), "--auto-observe", "all"], None, out):
        warning = await out.expect({"event": "warning"})
        assert "broken.xml" in warning["message"]


def test_parse_args(capsys: pytest.CaptureFixture[str]) -> None:
    args = runner.parse_args([])
    assert (args.host, args.port, args.xml_dir, args.auto_observe) == ("::", 5683, None, [])
    assert (args.min_lifetime, args.max_lifetime, args.verbose) == (10, 86400, False)  # one day, as in Home Assistant
    assert (args.max_per_address, args.registration_rate, args.notification_rate) == (100, 1000, 10)
    many = runner.parse_args(["--max-per-address", "0", "--registration-rate", "0", "--notification-rate", "2.5"])
    assert (many.max_per_address, many.registration_rate, many.notification_rate) == (0, 0, 2.5)
    args = runner.parse_args(["--auto-observe", AUTO_OBSERVE_ALL, "--verbose", "--min-lifetime", "1"])
    assert args.auto_observe == [AUTO_OBSERVE_ALL] and args.verbose and args.min_lifetime == 1
    assert runner.parse_args(["--auto-observe", "/3303/0/5700", "/3/0"]).auto_observe == ["/3303/0/5700", "/3/0"]
    with pytest.raises(SystemExit) as info:
        runner.parse_args(["--auto-observe", "/3303/0/5700", "/3/x"])
    assert info.value.code == 2
    assert "invalid path '/3/x' for --auto-observe" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        runner.parse_args(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    assert "read dev1 /3/0/0" in help_text and "--xml-dir" in help_text  # the short form, from the docstring


def test_stdin_fd(monkeypatch: pytest.MonkeyPatch, tmp_path: FsPath) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert runner.stdin_fd() is None  # started without stdin (pythonw, some service managers)
    monkeypatch.setattr(sys, "stdin", io.StringIO("no descriptor"))
    assert runner.stdin_fd() is None
    with open(tmp_path / "commands", "w+") as stream:
        monkeypatch.setattr(sys, "stdin", stream)
        assert runner.stdin_fd() == stream.fileno()
    assert runner.stdin_fd() is None  # closed


def test_main_serves_until_ctrl_c(udp: None, capsys: pytest.CaptureFixture[str]) -> None:
    """main() as the command line calls it; Ctrl-C (SIGINT) ends it quietly."""
    assert threading.current_thread() is threading.main_thread()
    ended = threading.Event()
    before = signal.getsignal(signal.SIGTERM)

    def interrupt() -> None:
        # run() installs its SIGINT and SIGTERM handlers together, once it serves; the SIGTERM
        # one tells (asyncio.run has a SIGINT handler of its own before that).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ended.is_set():
            if signal.getsignal(signal.SIGTERM) is not before:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)

    helper = threading.Thread(target=interrupt, name="test interrupt")
    old_sigint = signal.getsignal(signal.SIGINT)
    helper.start()
    try:
        runner.main(["--host", "127.0.0.1", "--port", "0", "--verbose"])
    finally:
        ended.set()
        helper.join()
        signal.signal(signal.SIGINT, old_sigint)
        signal.signal(signal.SIGTERM, before)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "listening" and lines[0]["port"] > 0
