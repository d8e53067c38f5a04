"""A real Mosquitto broker (Debian's package) on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self, folder: Path) -> None:
        self.port = free_tcp_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            MOSQUITTO, "-c", str(self.conf), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(100):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 10)
            self.proc = None


class Listener:
    """An independent MQTT client: collects every message on lwm2m/#, publishes commands."""

    def __init__(self, port: int, loop: asyncio.AbstractEventLoop) -> None:
        self.messages: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.loop = loop
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="emqx-speaker")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("lwm2m/+/up/#")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self.loop.call_soon_threadsafe(self.messages.put_nowait, (message.topic, json.loads(message.payload)))

    def command(self, endpoint: str, payload: Any) -> None:
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        self.client.publish(f"lwm2m/{endpoint}/dn/cmd", body)

    async def expect(self, topic: str, match: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                got_topic, payload = await self.messages.get()
                if got_topic == topic and all(payload.get(k) == v for k, v in (match or {}).items()):
                    return payload

    async def ready(self, endpoint: str) -> None:
        """Home Assistant subscribes some seconds after MQTT connects: ping until commands get answers."""
        async with asyncio.timeout(30):
            while True:
                self.command(endpoint, {"reqID": "ping", "msgType": "read", "data": {"path": "/3/0/9"}})
                try:
                    await self.expect(f"lwm2m/{endpoint}/up/resp", {"reqID": "ping"}, timeout=0.5)
                    return
                except TimeoutError:
                    continue

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
