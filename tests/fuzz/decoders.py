"""The decoder campaign: every input goes to every decoder; anything but the documented error
is a finding.

The targets are the decoders a device or a broker reaches: decode() of every content format
at a path, decode_values() of the formats that name their own paths, decode_paths() of the
SenML formats, the link-format parsers, and the EMQX codec (decode_command raises EmqxError,
decode_up CodecError). A finding is grouped by exception type and the frame that raised it,
with the first input that raised it as reproducer. An input that takes longer than
slow_seconds in one decoder, or an error message longer than 600 characters (it goes into a
log line and an MQTT answer), is a finding too.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cbor2

from custom_components.lwm2m.lwm2m.codecs import (
    SUPPORTED,
    ContentFormat,
    decode,
    decode_paths,
    decode_values,
    link_format,
)
from custom_components.lwm2m.lwm2m.emqx import codec as emqx
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.path import Path

from .corpus import MODEL, PATHS, Seed, build_seeds
from .mutate import NASTY_JSON_VALUES, mutate, random_bytes

MAX_MESSAGE = 600  # characters of an error message; longer ones flood log lines and MQTT answers


@dataclass(frozen=True, slots=True)
class Target:
    """One decoder: its name, how to call it on (bytes, path), what it may raise."""

    name: str
    call: Callable[[bytes, Path], object]
    allowed: tuple[type[BaseException], ...] = (CodecError,)


def _decode_at(fmt: int) -> Callable[[bytes, Path], object]:
    return lambda data, path: decode(fmt, data, path, MODEL)


def _decode_values(fmt: int) -> Callable[[bytes, Path], object]:
    return lambda data, path: decode_values(fmt, data, MODEL)


def _decode_paths(fmt: int) -> Callable[[bytes, Path], object]:
    return lambda data, path: decode_paths(fmt, data)


def targets() -> list[Target]:
    """Every decoder a hostile device or broker reaches."""
    out = [Target(f"decode/{int(fmt)}", _decode_at(fmt)) for fmt in sorted(SUPPORTED)]
    out += [
        Target(f"decode_values/{int(fmt)}", _decode_values(fmt))
        for fmt in (
            ContentFormat.SENML_JSON,
            ContentFormat.SENML_CBOR,
            ContentFormat.LWM2M_JSON,
            ContentFormat.LWM2M_CBOR,
        )
    ]
    out += [
        Target(f"decode_paths/{int(fmt)}", _decode_paths(fmt))
        for fmt in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR)
    ]
    out += [
        Target("link_format.parse", lambda data, path: link_format.parse(data)),
        Target("link_format.parse_registration", lambda data, path: link_format.parse_registration(data)),
        Target("link_format.parse_discover", lambda data, path: link_format.parse_discover(data)),
        Target("emqx.decode_command", lambda data, path: emqx.decode_command(data), (emqx.EmqxError,)),
        Target("emqx.decode_up", lambda data, path: emqx.decode_up(data)),
    ]
    return out


@dataclass(slots=True)
class Finding:
    """Inputs that made decoders raise the same exception type from the same frame."""

    kind: str  # "exception", "slow", "long-message", "hang"
    error: str  # exception type (or what was slow)
    where: str  # the frame that raised it: file:line in function
    count: int = 0
    targets: set[str] = field(default_factory=set)
    # the first one seen
    target: str = ""
    path: str = ""
    data: bytes = b""
    message: str = ""
    traceback: str = ""

    def reproducer(self) -> str:
        """Python that raises it again."""
        return f"{_CALLS.get(self.target, self.target)}  # path {self.path}, data = bytes.fromhex({self.data.hex()!r})"


_CALLS = {
    **{f"decode/{int(f)}": f"decode({int(f)}, data, Path.parse(path), MODEL)" for f in SUPPORTED},
    **{f"decode_values/{int(f)}": f"decode_values({int(f)}, data, MODEL)" for f in SUPPORTED},
    **{f"decode_paths/{int(f)}": f"decode_paths({int(f)}, data)" for f in SUPPORTED},
}


@dataclass(slots=True)
class DecoderReport:
    """What a decoder campaign did and found."""

    inputs: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # target -> inputs decoded
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> "ok"/"CodecError"/... -> count
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)  # input generator -> inputs
    elapsed: float = 0.0
    slowest: tuple[float, str, str] = (0.0, "", "")  # seconds, target, hex

    @property
    def exceptions_by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for finding in self.findings.values():
            if finding.kind == "exception":
                out[finding.error] = out.get(finding.error, 0) + finding.count
        return out


def _frame(err: BaseException) -> str:
    """Where err was raised: the innermost frame (and the innermost one of the project's if
    another), then where the exception it replaced was raised, if any."""
    where = _raised_at(err)
    inner = err.__cause__ or err.__context__
    if inner is not None:
        where += f" <- {_frame(inner)}"
    return where


def _raised_at(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    where = f"{_short(last.filename)}:{last.lineno} in {last.name}"
    own = [f for f in frames if "custom_components" in f.filename]
    if own and own[-1] is not last:
        where += f" (from {_short(own[-1].filename)}:{own[-1].lineno} in {own[-1].name})"
    return where


def _short(filename: str) -> str:
    for marker in ("custom_components/", "site-packages/", "tests/"):
        if marker in filename:
            return (marker if marker != "site-packages/" else "") + filename.split(marker, 1)[1]
    return filename


class _Hang(BaseException):
    """Raised by the alarm when one decode runs past the hang limit."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[bool]:
    """SIGALRM after seconds, in the main thread (elsewhere no limit: yields False)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return

    def ring(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, ring)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- inputs ---------------------------------------------------------------------------------------

_SENML_KEYS = ["bn", "bt", "n", "t", "v", "vs", "vb", "vd", "vlo", "e", "sv", "bv", "ov", "x", "path", "value", "type"]
_CBOR_KEYS = [-3, -2, 0, 2, 3, 4, 6, 8, "vlo", 1, -1, 70000, 40000, 3, 0]


def _json_scalar(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(NASTY_JSON_VALUES)
    if roll < 0.5:
        return json.dumps(str(rng.choice(PATHS)))
    if roll < 0.7:
        return str(rng.choice((0, -1, 65535, 2**63, 2**64, 3.5, 1e308)))
    return json.dumps(
        rng.choice(("3:0", "²:1", "AQI=", "é", "", "U", "UQ", "/3/0/", "9")), ensure_ascii=rng.random() < 0.5
    )


def _json_doc(rng: random.Random, depth: int = 0) -> str:
    """A JSON document shaped like SenML / LwM2M JSON / EMQX, with nasty scalars (text, to allow NaN etc.)."""
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return _json_scalar(rng)
    if roll < 0.65:
        return "[" + ",".join(_json_doc(rng, depth + 1) for _ in range(rng.randint(0, 4))) + "]"
    items = [f"{json.dumps(rng.choice(_SENML_KEYS))}:{_json_doc(rng, depth + 1)}" for _ in range(rng.randint(0, 5))]
    return "{" + ",".join(items) + "}"


def _cbor_value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice(
            (
                0,
                -1,
                2**64 - 1,
                -(2**64),
                10**400,
                rng.randint(-(2**70), 2**70),
                float("nan"),
                float("inf"),
                -0.0,
                1e308,
                "²:1",
                "3:0",
                str(rng.choice(PATHS)),
                b"\x00\xff",
                True,
                None,
                cbor2.CBORTag(rng.choice((1, 2, 24, 99)), rng.randint(0, 2**40)),
                cbor2.undefined,
            )
        )
    if roll < 0.7:
        return [_cbor_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(_CBOR_KEYS): _cbor_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def inputs(rng: random.Random, seeds: list[Seed]) -> Iterator[tuple[str, bytes, Path]]:
    """Endless (generator kind, bytes, path) inputs: mostly mutations of valid encodings."""
    pool = [s.data for s in seeds]
    while True:
        roll = rng.random()
        path = rng.choice(PATHS)
        if roll < 0.70:
            seed = rng.choice(seeds)
            if rng.random() < 0.8:
                path = seed.path
            yield f"mutated {seed.kind}", mutate(rng, seed.data, pool), path
        elif roll < 0.78:
            seed = rng.choice(seeds)
            yield f"valid {seed.kind}", seed.data, seed.path if rng.random() < 0.8 else path
        elif roll < 0.88:
            yield "random bytes", random_bytes(rng), path
        elif roll < 0.94:
            yield "json document", _json_doc(rng).encode(), path
        else:
            try:
                data = cbor2.dumps(_cbor_value(rng))
            except (ValueError, TypeError, OverflowError):
                data = b"\xf6"
            yield "cbor document", data, path


# -- the campaign ---------------------------------------------------------------------------------


def run(
    count: int,
    seed: int,
    *,
    slow_seconds: float = 2.0,
    hang_seconds: float = 30.0,
    progress: Callable[[DecoderReport], None] | None = None,
) -> DecoderReport:
    """Feed count inputs to every target; return what happened."""
    rng = random.Random(seed)
    seeds = build_seeds(random.Random(seed ^ 0x5EED), rounds=80)
    all_targets = targets()
    report = DecoderReport(calls=dict.fromkeys((t.name for t in all_targets), 0))
    report.outcomes = {t.name: {} for t in all_targets}
    started = time.perf_counter()
    source = inputs(rng, seeds)
    clock = time.perf_counter
    with _alarm(hang_seconds) as alarms:
        for n in range(count):
            kind, data, path = next(source)
            report.by_kind[kind.split(" ", 1)[0]] = report.by_kind.get(kind.split(" ", 1)[0], 0) + 1
            for target in all_targets:
                outcome = "ok"
                t0 = clock()
                if alarms:
                    signal.setitimer(signal.ITIMER_REAL, hang_seconds)
                try:
                    target.call(data, path)
                except target.allowed as err:
                    outcome = type(err).__name__
                    if len(str(err)) > MAX_MESSAGE:
                        _record(report, "long-message", err, target, data, path, f"{len(str(err))} characters")
                except _Hang as err:
                    outcome = "hang"
                    _record(report, "hang", err, target, data, path, f"over {hang_seconds} s")
                except Exception as err:
                    outcome = type(err).__name__
                    _record(report, "exception", err, target, data, path, str(err)[:300])
                finally:
                    if alarms:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                took = clock() - t0
                if took > report.slowest[0]:
                    report.slowest = (took, target.name, data[:64].hex())
                if took > slow_seconds:
                    _record_slow(report, target, data, path, took)
                report.calls[target.name] += 1
                outcomes = report.outcomes[target.name]
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            report.inputs = n + 1
            if progress is not None and n % 50_000 == 49_999:
                report.elapsed = time.perf_counter() - started
                progress(report)
    report.elapsed = time.perf_counter() - started
    return report


def _record(
    report: DecoderReport, kind: str, err: BaseException, target: Target, data: bytes, path: Path, message: str
) -> None:
    where = _frame(err)
    key = (kind, type(err).__name__, where)
    finding = report.findings.get(key)
    if finding is None:
        finding = report.findings[key] = Finding(
            kind=kind,
            error=type(err).__name__,
            where=where,
            target=target.name,
            path=str(path),
            data=data,
            message=message,
            traceback="".join(traceback.format_exception(err)[-6:]),
        )
    finding.count += 1
    finding.targets.add(target.name)


def _record_slow(report: DecoderReport, target: Target, data: bytes, path: Path, took: float) -> None:
    key = ("slow", target.name, "")
    finding = report.findings.get(key)
    if finding is None or took > float(finding.message.split()[0]):
        count = finding.count if finding else 0
        targets = finding.targets if finding else set()
        finding = report.findings[key] = Finding(
            kind="slow",
            error=f"slow {target.name}",
            where="",
            target=target.name,
            path=str(path),
            data=data,
            message=f"{took:.2f} s",
            count=count,
            targets=targets,
        )
    finding.count += 1
    finding.targets.add(target.name)
