"""A real Home Assistant in its own process, with this integration linked into a fresh
config folder and, if asked, config entries written before it starts (MQTT, LwM2M)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from .broker import free_tcp_port

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = """\
homeassistant:
  name: {name}
  latitude: 52.52
  longitude: 13.40
  elevation: 34
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
  language: en
{extra}
{http}logger:
  default: warning
  logs:
    custom_components.lwm2m: {log_level}
"""


def live_skip_reason() -> str | None:
    """Why the tests that start a real Home Assistant process are skipped here, or None when
    they run. scripts/setup installs what such a process loads at start; LWM2M_LIVE=0
    declares a venv without it (LIVE=0 scripts/setup: the oldest Home Assistant in CI), and
    LWM2M_SKIP_MISSING=1 skips whatever is missing. Anywhere else a missing runtime is a
    failure, not a skip (tests/core/external.py: LIVE_HOME_ASSISTANT)."""
    try:
        import hass_frontend  # noqa: F401
    except ImportError:
        for setting in ("LWM2M_LIVE=0", "LWM2M_SKIP_MISSING=1"):
            name, value = setting.split("=")
            if os.environ.get(name) == value:
                return f"{setting}: this venv has no Home Assistant frontend (scripts/setup without LIVE=0)"
    return None


def config_entry(
    domain: str,
    title: str,
    data: dict[str, Any],
    options: dict[str, Any] | None = None,
    *,
    unique_id: str | None = None,
) -> dict[str, Any]:
    """A config entry as Home Assistant stores it (minor version 1: it migrates the rest)."""
    return {
        "entry_id": uuid.uuid4().hex,
        "version": 1,
        "minor_version": 1,
        "domain": domain,
        "title": title,
        "data": data,
        "options": options or {},
        "source": "user",
        "unique_id": unique_id,
        "disabled_by": None,
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
    }


def prepare(
    folder: Path,
    *,
    port: int,
    name: str = "LwM2M",
    entries: list[dict[str, Any]] = (),
    extra: str = "",
    log_level: str = "info",
    host: str | None = "127.0.0.1",
) -> None:
    """A config folder: configuration.yaml, the integration linked in, stored config entries."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configuration.yaml").write_text(
        CONFIGURATION.format(name=name, http=_http(host, port), extra=extra, log_level=log_level)
    )
    components = folder / "custom_components"
    components.mkdir(exist_ok=True)
    link = components / "lwm2m"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "lwm2m", target_is_directory=True)
    if entries:
        storage = folder / ".storage"
        storage.mkdir(exist_ok=True)
        document = {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": list(entries)}}
        (storage / "core.config_entries").write_text(json.dumps(document))


def _http(host: str | None, port: int) -> str:
    """The http section: none for Home Assistant's defaults (all addresses, port 8123), since
    Home Assistant 2026 asks in the UI to confirm http settings that YAML changes."""
    lines = ([f"  server_host: {host}"] if host else []) + ([f"  server_port: {port}"] if port != 8123 else [])
    return "http:\n" + "\n".join(lines) + "\n" if lines else ""


class HassProcess:
    """python -m homeassistant on a config folder; its log kept in the folder."""

    def __init__(
        self, folder: Path, *, port: int | None = None, args: tuple[str, ...] = (), python: tuple[str, ...] = ()
    ) -> None:
        self.folder = folder
        self.port = port or free_tcp_port()
        self.args = args  # more of Home Assistant's command line (--debug: asyncio's debug mode)
        self.python = python  # before "-m homeassistant" (-m cProfile -o FILE: a profile of its main thread)
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = folder / "hass-process.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 180) -> None:
        log = self.log_path.open("wb")
        # the config folder first: its custom_components (the link to this integration, and any
        # other the folder holds, such as the benchmark's) are the ones Home Assistant imports
        env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(self.folder), str(ROOT)))}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.python,
            "-m",
            "homeassistant",
            "--config",
            str(self.folder),
            "--skip-pip",
            *self.args,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        log.close()
        async with asyncio.timeout(timeout):
            while not await self._http_up():
                if self.proc.returncode is not None:
                    raise RuntimeError(f"Home Assistant exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
                await asyncio.sleep(0.25)

    async def _http_up(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.write(b"GET /api/ HTTP/1.0\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
        return status.startswith(b"HTTP/")  # HTTP starts once every integration is set up

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
