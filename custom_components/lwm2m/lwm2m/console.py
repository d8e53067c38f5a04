"""Commands for the standalone runner: one line in, one JSON result line out.

A command is a JSON object on one line,

    {"id": 1, "op": "read", "endpoint": "dev1", "path": "/3/0/0", "timeout": 5}

or the short human form of the same thing (any line that does not start with "{"),

    read dev1 /3/0/0

parse_line turns a line into a Command (or raises CommandError); run_command performs a
Command on an LwM2MServer and returns its result line as a dict; Console ties the two
together and runs every command as a task of its own, so a slow device never holds up the
next line; read_lines feeds it the lines of a file descriptor (stdin) from a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO

from .api import ATTRIBUTES, Response, check_attributes
from .client import Endpoint
from .errors import CodecError, DeviceTimeout, LwM2MError, NotRegistered, OperationError, PathError, QueueFull
from .firmware.image import FirmwareImage
from .path import MAX_ID, ROOT, Path
from .server import LwM2MServer
from .values import to_json_value

_LOGGER = logging.getLogger(__name__)
MAX_LINE = 1 << 20  # bytes; a longer line is dropped with an error
MAX_TIMEOUT = 86400.0

# op: (required fields, optional fields); "id", "op" and "timeout" go with every op
OPS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "read": (frozenset({"endpoint", "path"}), frozenset()),
    "discover": (frozenset({"endpoint", "path"}), frozenset()),
    "write": (frozenset({"endpoint", "path", "value"}), frozenset({"replace"})),
    "execute": (frozenset({"endpoint", "path"}), frozenset({"arguments"})),
    "write_attributes": (frozenset({"endpoint", "path"}), frozenset(ATTRIBUTES)),
    "observe": (frozenset({"endpoint", "path"}), frozenset()),
    "cancel_observe": (frozenset({"endpoint", "path"}), frozenset()),
    "create": (frozenset({"endpoint", "path", "values"}), frozenset({"instance_id"})),
    "delete": (frozenset({"endpoint", "path"}), frozenset()),
    "read_composite": (frozenset({"endpoint", "paths"}), frozenset()),
    "write_composite": (frozenset({"endpoint", "values"}), frozenset()),
    "stats": (frozenset(), frozenset({"endpoint"})),
    "update_firmware": (frozenset({"endpoint", "file"}), frozenset({"method", "version"})),
    "cancel_firmware": (frozenset({"endpoint"}), frozenset()),
}
_COMMON = frozenset({"id", "op", "timeout"})
USAGE: dict[str, str] = {
    "read": "read ENDPOINT PATH",
    "discover": "discover ENDPOINT PATH",
    "write": "write ENDPOINT PATH VALUE",
    "execute": "execute ENDPOINT PATH [ARGUMENTS]",
    "write_attributes": "write_attributes ENDPOINT PATH pmin=S pmax=S gt=X lt=X st=X (name= clears one)",
    "observe": "observe ENDPOINT PATH",
    "cancel_observe": "cancel_observe ENDPOINT PATH",
    "create": 'create ENDPOINT /OBJECT[/INSTANCE] {"RESOURCE": VALUE, ...}',
    "delete": "delete ENDPOINT PATH",
    "read_composite": "read_composite ENDPOINT PATH [PATH ...]",
    "write_composite": 'write_composite ENDPOINT PATH=VALUE [PATH=VALUE ...] (or {"PATH": VALUE, ...})',
    "stats": "stats [ENDPOINT]",
    "update_firmware": "update_firmware ENDPOINT FILE [push|pull|auto] [VERSION]",
    "cancel_firmware": "cancel_firmware ENDPOINT",
}
_VALUES_OPS = frozenset({"read", "observe", "read_composite"})  # their result always carries "values"


class CommandError(LwM2MError):
    """A line that is no valid command; to_json() is the error line the runner prints."""

    def __init__(self, message: str, command_id: object = None, has_id: bool = False) -> None:
        """Keep the id of the command that failed, if it had one."""
        super().__init__(message)
        self.command_id = command_id
        self.has_id = has_id

    def to_json(self) -> dict[str, Any]:
        """Return the error line for this command."""
        out: dict[str, Any] = {"event": "error"}
        if self.has_id:
            out["id"] = self.command_id
        out["error"] = str(self)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One checked command. id is echoed in its result when has_id (any JSON value, even null)."""

    op: str
    id: object = None
    has_id: bool = False
    endpoint: str | None = None
    path: Path | None = None
    paths: tuple[Path, ...] = ()
    value: object = None  # write
    replace: bool = True  # write: PUT (replace) or POST (partial update)
    arguments: str | None = None  # execute
    attributes: Mapping[str, int | float | None] = field(default_factory=dict)  # write_attributes
    resources: Mapping[int, object] = field(default_factory=dict)  # create: resource id -> value
    instance_id: int | None = None  # create
    composite: Mapping[Path, object] = field(default_factory=dict)  # write_composite: path -> value
    file: str | None = None  # update_firmware: the image
    method: str = "auto"  # update_firmware: push, pull or auto
    version: str | None = None  # update_firmware: the version the image installs
    timeout: float | None = None  # seconds; None: the server's request timeout

    def head(self) -> dict[str, Any]:
        """Start this command's result line with its first fields."""
        out: dict[str, Any] = {"event": "result"}
        if self.has_id:
            out["id"] = self.id
        out["op"] = self.op
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        if self.path is not None:
            out["path"] = str(self.path)
        return out


# -- parsing ---------------------------------------------------------------------------------


def parse_line(line: str) -> Command | None:
    """Parse the command a line holds; return None for a blank line or a "#" comment.

    Raises CommandError for anything else that is not a valid command.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text[0] in '{["':
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise CommandError(f"not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise CommandError(f"a command must be a JSON object, not {_kind(data)}")
        return parse_command(data)
    return parse_command(parse_human(text))


def parse_human(text: str) -> dict[str, Any]:
    """Turn a human command line such as "write dev1 /3311/0/5850 true" into its JSON form."""
    word, rest = _split(text)
    op = word.lower().replace("-", "_")
    if op not in OPS:
        raise CommandError(f"unknown op {word!r}; use {', '.join(OPS)}")

    def usage() -> NoReturn:
        raise CommandError(f"usage: {USAGE[op]}")

    data: dict[str, Any] = {"op": op}
    if op == "stats":
        if len(rest.split()) > 1:
            usage()
        if rest:
            data["endpoint"] = rest
        return data
    endpoint, rest = _split(rest)
    if not endpoint:
        usage()
    data["endpoint"] = endpoint
    if op in ("update_firmware", "cancel_firmware"):
        return _firmware_words(op, data, rest.split())
    if op == "read_composite":
        if not rest:
            usage()
        data["paths"] = rest.split()
        return data
    if op == "write_composite":
        if not rest:
            usage()
        data["values"] = _json_object(rest, op) if rest.startswith("{") else _pairs(rest.split(), op)
        return data
    path, rest = _split(rest)
    if not path:
        usage()
    data["path"] = path
    match op:
        case "write":
            if not rest:
                usage()
            data["value"] = _json_or_text(rest)
        case "execute":
            if rest:
                data["arguments"] = rest
        case "write_attributes":
            for token in rest.split():
                name, _sep, raw = token.partition("=")
                if name not in ATTRIBUTES:
                    raise CommandError(f"unknown attribute {name!r}; use {', '.join(ATTRIBUTES)}")
                data[name] = _json_or_text(raw) if raw else None
        case "create":
            if not rest:
                usage()
            data["values"] = _json_object(rest, op)
        case _:
            if rest:
                usage()
    return data


def _firmware_words(op: str, data: dict[str, Any], words: list[str]) -> dict[str, Any]:
    if op == "cancel_firmware":
        if words:
            raise CommandError(f"usage: {USAGE[op]}")
        return data
    if not 1 <= len(words) <= 3:
        raise CommandError(f"usage: {USAGE[op]}")
    data["file"] = words[0]
    if len(words) > 1:
        data["method"] = words[1]
    if len(words) > 2:
        data["version"] = words[2]
    return data


def parse_command(data: Mapping[str, Any]) -> Command:
    """Check the JSON form of a command and build it; CommandError names what is wrong."""
    has_id = "id" in data
    command_id = data.get("id")

    def fail(message: str) -> NoReturn:
        raise CommandError(message, command_id, has_id)

    if "op" not in data:
        fail(f"no op; use one of {', '.join(OPS)}")
    raw_op = data["op"]
    op = raw_op.replace("-", "_") if isinstance(raw_op, str) else None
    if op is None or op not in OPS:
        fail(f"unknown op {raw_op!r}; use {', '.join(OPS)}")
    required, optional = OPS[op]
    missing = sorted(required - data.keys())
    if missing:
        fail(f"{op} needs {', '.join(missing)}")
    unknown = sorted(set(data) - required - optional - _COMMON)
    if unknown:
        fail(f"{op} takes no {', '.join(unknown)}")

    fields: dict[str, Any] = {"op": op, "id": command_id, "has_id": has_id}
    try:
        if "timeout" in data:
            fields["timeout"] = _timeout(data["timeout"])
        if "endpoint" in data:
            fields["endpoint"] = _endpoint(data["endpoint"])
        if "path" in data:
            fields["path"] = _path(data["path"], "path")
        fields.update(_op_fields(op, fields.get("path", ROOT), data))
    except CommandError as err:
        fail(str(err))
    return Command(**fields)


def _op_fields(op: str, path: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """Collect and check the fields only some ops have; CommandError names what is wrong."""
    fields: dict[str, Any] = {}
    match op:
        case "write":
            if path.depth < 2:
                raise CommandError(f"write needs a resource or instance path, not {path}")
            fields["value"] = _value(data["value"], "value")
            replace = data.get("replace", True)
            if not isinstance(replace, bool):
                raise CommandError(f"replace must be true or false, not {_kind(replace)}")
            fields["replace"] = replace
        case "execute":
            if not path.is_resource:
                raise CommandError(f"execute needs a resource path, not {path}")
            arguments = data.get("arguments")
            if arguments is not None and not isinstance(arguments, str):
                raise CommandError(f"arguments must be text, not {_kind(arguments)}")
            fields["arguments"] = arguments
        case "write_attributes":
            fields["attributes"] = _attributes(data)
        case "create":
            fields.update(_create(path, data["values"], data.get("instance_id")))
        case "read_composite":
            fields["paths"] = _paths(data["paths"])
        case "write_composite":
            fields["composite"] = _composite(data["values"])
        case "update_firmware":
            fields.update(_firmware(data))
    return fields


def _firmware(data: Mapping[str, Any]) -> dict[str, Any]:
    file, method, version = data["file"], data.get("method", "auto"), data.get("version")
    if not isinstance(file, str) or not file:
        raise CommandError(f"file must be the path of an image, not {_kind(file)}")
    if method not in ("auto", "push", "pull"):
        raise CommandError(f"method must be push, pull or auto, not {method!r}")
    if version is not None and (not isinstance(version, str) or not version):
        raise CommandError(f"version must be text, not {_kind(version)}")
    return {"file": file, "method": method, "version": version}


def _split(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    return (parts[0] if parts else "", parts[1].strip() if len(parts) > 1 else "")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _json_or_text(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _json_object(text: str, op: str) -> dict[str, Any]:
    value = _json_or_text(text)
    if not isinstance(value, dict):
        raise CommandError(f"usage: {USAGE[op]}")
    return value


def _pairs(tokens: list[str], op: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for token in tokens:
        key, sep, raw = token.partition("=")
        if not sep or not key:
            raise CommandError(f"usage: {USAGE[op]}")
        out[key] = _json_or_text(raw)
    return out


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError(f"timeout must be a number of seconds, not {_kind(value)}")
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise CommandError(f"timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {value!r}")
    return float(value)


def _endpoint(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise CommandError(f"endpoint must be a name, not {_kind(value)}")
    return value


def _path(value: object, name: str) -> Path:
    if not isinstance(value, str):
        raise CommandError(f'{name} must be text such as "/3/0/0", not {_kind(value)}')
    try:
        return Path.parse(value)
    except PathError as err:
        raise CommandError(str(err)) from None


def _value(value: object, where: str) -> object:
    if value is None:
        raise CommandError(f"{where} must not be null")
    return value


def _attributes(data: Mapping[str, Any]) -> dict[str, int | float | None]:
    given: dict[str, int | float | None] = {}
    for name in ATTRIBUTES:
        if name not in data:
            continue
        value = data[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise CommandError(f"{name} must be a number or null, not {_kind(value)}")
        if value is not None and not math.isfinite(value):
            raise CommandError(f"{name} must be a finite number")
        given[name] = value
    try:
        return check_attributes(given)
    except CodecError as err:
        raise CommandError(f"{err} ({', '.join(ATTRIBUTES)})" if not given else str(err)) from None


def _instance_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise CommandError(f"instance_id must be a whole number from 0 to {MAX_ID}, not {value!r}")
    return value


def _create(path: Path, values: object, instance_id: object) -> dict[str, Any]:
    if path.is_instance:  # create /3303/1 = create /3303 with instance_id 1
        if instance_id is not None and instance_id != path.ids[1]:
            raise CommandError(f"instance_id {instance_id!r} differs from the instance of {path}")
        path, instance_id = path.parent, path.ids[1]
    if not path.is_object:
        raise CommandError(f"create needs an object path such as /3303, not {path}")
    if not isinstance(values, dict):
        raise CommandError(f"values must be an object of resource id: value, not {_kind(values)}")
    resources: dict[int, object] = {}
    for key, value in values.items():
        rid = key.strip() if isinstance(key, str) else ""
        if not (rid.isascii() and rid.isdigit() and int(rid) <= MAX_ID):
            raise CommandError(f'the keys of values are resource ids such as "5700", not {key!r}')
        resources[int(rid)] = _value(value, f"value of resource {rid}")
    return {
        "path": path,
        "resources": resources,
        "instance_id": None if instance_id is None else _instance_id(instance_id),
    }


def _paths(value: object) -> tuple[Path, ...]:
    if not isinstance(value, list) or not value:
        raise CommandError(f"paths must be a list of paths, not {_kind(value)}")
    return tuple(_path(item, "each of paths") for item in value)


def _composite(value: object) -> dict[Path, object]:
    if not isinstance(value, dict) or not value:
        raise CommandError(f"values must be an object of path: value, not {_kind(value)}")
    out: dict[Path, object] = {}
    for key, item in value.items():
        path = _path(key, "each key of values")
        if path.depth < 3:
            raise CommandError(f"write_composite needs resource paths, not {path}")
        out[path] = _value(item, f"value of {path}")
    return out


# -- running ----------------------------------------------------------------------------------


async def run_command(server: LwM2MServer, command: Command) -> dict[str, Any]:
    """Perform command on server; the result line, with "error" (and the device's "code") on failure.

    Never raises but for cancellation: every outcome is a result line.
    """
    out = command.head()
    try:
        if command.op == "stats":
            out.update(_stats(server, command.endpoint))
            return out
        assert command.endpoint is not None
        if command.op in ("update_firmware", "cancel_firmware"):
            out.update(await _firmware_command(server, command))
            return out
        endpoint = server.endpoint(command.endpoint)
        if command.op == "cancel_observe" and server.observations.get(endpoint.name, (_target(command),)) is None:
            out["error"] = f"{endpoint.name} has no observation of {_target(command)}"
            return out
        async with asyncio.timeout(command.timeout):
            response = await _perform(endpoint, command)
    except TimeoutError:
        where = f" {command.path}" if command.path is not None else ""
        within = f" within {command.timeout:g} s" if command.timeout is not None else " in time"
        out["error"] = f"{command.endpoint} did not answer {command.op}{where}{within}"
        return out
    except (NotRegistered, DeviceTimeout, QueueFull) as err:  # their code is none the device sent
        out["error"] = str(err)
        return out
    except OperationError as err:
        if err.code is not None:
            out["code"] = err.code
        out["error"] = str(err)
        return out
    except LwM2MError as err:
        out["error"] = str(err)
        return out
    except Exception as err:
        _LOGGER.exception("Command %s failed", command)
        out["error"] = f"internal error: {err!r}"
        return out
    out["code"] = response.code
    if response.values or command.op in _VALUES_OPS:
        out["values"] = {str(p): to_json_value(v) for p, v in response.values.items()}
    if command.op == "discover":
        out["attributes"] = {str(p): dict(a) for p, a in response.attributes.items()}
    if command.op == "create" and response.location is not None:
        out["location"] = str(response.location)
    return out


async def _firmware_command(server: LwM2MServer, command: Command) -> dict[str, Any]:
    """Update a device's firmware and wait for the outcome (its steps print as firmware events)."""
    assert command.endpoint is not None
    if command.op == "cancel_firmware":
        return {"cancelled": server.firmware.cancel(command.endpoint)}
    assert command.file is not None
    image = await asyncio.to_thread(FirmwareImage.from_file, command.file, command.version)
    job = server.firmware.start(command.endpoint, image, command.method)
    try:
        async with asyncio.timeout(command.timeout):
            info = await job.wait()
    except TimeoutError:
        job.cancel()
        info = await job.wait()
        return info.to_json() | {"error": f"the update took longer than {command.timeout:g} s; it was cancelled"}
    return info.to_json()


def _target(command: Command) -> Path:
    return command.path if command.path is not None else ROOT


async def _perform(endpoint: Endpoint, command: Command) -> Response:
    path, timeout = _target(command), command.timeout
    match command.op:
        case "read":
            return await endpoint.read(path, timeout=timeout)
        case "discover":
            return await endpoint.discover(path, timeout=timeout)
        case "write":
            node = endpoint.node_for(path, command.value)
            return await endpoint.write(path, node, replace=command.replace, timeout=timeout)
        case "execute":
            return await endpoint.execute(path, command.arguments, timeout=timeout)
        case "write_attributes":
            return await endpoint.write_attributes(path, command.attributes, timeout=timeout)
        case "observe":
            return await endpoint.observe(path, timeout=timeout)
        case "cancel_observe":
            return await endpoint.cancel_observe(path, timeout=timeout)
        case "create":
            return await endpoint.create(path, command.resources, instance_id=command.instance_id, timeout=timeout)
        case "delete":
            return await endpoint.delete(path, timeout=timeout)
        case "read_composite":
            return await endpoint.read_composite(command.paths, timeout=timeout)
        case "write_composite":
            values: dict[Path | str, object] = {p: v for p, v in command.composite.items()}
            return await endpoint.write_composite(values, timeout=timeout)
    raise CommandError(f"unknown op {command.op!r}")


def _stats(server: LwM2MServer, name: str | None) -> dict[str, Any]:
    if name is None:
        return {
            "stats": {
                **server.stats.to_dict(),
                "registrations_active": len(server.registrations),
                "observations_active": len(server.observations),
                "endpoints": sorted(reg.endpoint for reg in server.registrations),
            }
        }
    endpoint = server.endpoint(name)
    reg = endpoint.registration
    return {
        "stats": {**reg.stats.to_dict(), "observations": endpoint.observations()},
        "registration": reg.to_dict(),
    }


# -- the console ----------------------------------------------------------------------------------


class Console:
    """Takes command lines, runs each as a task of its own and writes one line per command."""

    def __init__(self, server: LwM2MServer, write: Callable[[dict[str, Any]], None]) -> None:
        """Run commands on server and write results with write."""
        self._server = server
        self._write = write
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, line: str | None) -> asyncio.Task[None] | None:
        """Start the command line holds (None: a line that was too long); its task, if any."""
        if line is None:
            self._safe_write(CommandError(f"line longer than {MAX_LINE} bytes, ignored").to_json())
            return None
        try:
            command = parse_line(line)
        except CommandError as err:
            self._safe_write(err.to_json())
            return None
        if command is None:
            return None
        task = asyncio.get_running_loop().create_task(self._run(command), name=f"lwm2m console {command.op}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, command: Command) -> None:
        try:
            result = await run_command(self._server, command)
        except Exception as err:  # run_command answers everything; this only keeps "one line each"
            _LOGGER.exception("Command %s failed", command)
            result = command.head() | {"error": f"internal error: {err!r}"}
        self._safe_write(result)

    def _safe_write(self, line: dict[str, Any]) -> None:
        try:
            self._write(line)
        except Exception:
            _LOGGER.exception("Could not write %s", line)

    @property
    def pending(self) -> int:
        """Return how many commands are still running."""
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel the commands still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def line_writer(stream: TextIO | None = None) -> Callable[[dict[str, Any]], None]:
    """Make a function that prints a dict as one JSON line, whole, from any thread."""
    lock = threading.Lock()

    def write(data: dict[str, Any]) -> None:
        text = json.dumps(data, default=str) + "\n"
        out = stream if stream is not None else sys.stdout
        with lock:
            out.write(text)
            out.flush()

    return write


class LineSplitter:
    """Cuts a byte stream into text lines; a line longer than max_line comes out as None."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        """Split a byte stream into lines of at most max_line bytes."""
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipping = False  # inside a line that was too long

    def feed(self, data: bytes) -> list[str | None]:
        """Return the lines data completes; None for each line that was too long."""
        lines: list[str | None] = []
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
            elif len(raw) > self.max_line:
                lines.append(None)
            else:
                lines.append(raw.decode("utf-8", "replace"))
        if len(self._buffer) > self.max_line:
            self._buffer.clear()
            if not self._skipping:
                self._skipping = True
                lines.append(None)
        return lines

    def end(self) -> list[str | None]:
        """Return the last line, when the stream did not end with a newline."""
        rest, skipping = bytes(self._buffer), self._skipping
        self._buffer.clear()
        self._skipping = False
        return [rest.decode("utf-8", "replace")] if rest and not skipping else []


def read_lines(fd: int, loop: asyncio.AbstractEventLoop, on_line: Callable[[str | None], object]) -> threading.Thread:
    """Read fd in a daemon thread and call on_line in loop for every line, until end of file.

    A thread, and os.read rather than a file object, works the same for a pipe, a file,
    /dev/null and a terminal, and never holds a lock the interpreter wants at exit.
    """

    def deliver(lines: list[str | None]) -> bool:
        try:
            for line in lines:
                loop.call_soon_threadsafe(on_line, line)
        except RuntimeError:  # the loop is closed: the runner is ending
            return False
        return True

    def work() -> None:
        splitter = LineSplitter()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError as err:
                _LOGGER.debug("Reading commands from fd %s: %s", fd, err)
                chunk = b""
            if not chunk:
                deliver(splitter.end())
                return
            if not deliver(splitter.feed(chunk)):
                return

    thread = threading.Thread(target=work, name="lwm2m console reader", daemon=True)
    thread.start()
    return thread


__all__ = [
    "OPS",
    "USAGE",
    "Command",
    "CommandError",
    "Console",
    "LineSplitter",
    "line_writer",
    "parse_command",
    "parse_human",
    "parse_line",
    "read_lines",
    "run_command",
]
