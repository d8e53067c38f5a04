"""The runner's coaps:// listener: --dtls-port, --psk and --credentials; events say transport and identity."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiocoap.numbers.codes import Code

from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.security.certificates import self_signed
from custom_components.lwm2m.lwm2m.security.credentials import certificate_der, certificate_identity
from tests.core.test_runner import ROOT, runner
from tests.sim import SimClient

KEY = "00112233445566778899aabbccddeeff"


async def test_runner_serves_psk_and_certificates(udp: None, tmp_path: Path) -> None:
    device_cert = self_signed("cert-dev")
    server_cert = self_signed("runner")
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "devices": [{"endpoint": "cert-dev", "mode": "x509", "certificate": device_cert[0]}],
                "server": {"certificate": server_cert[0], "private_key": server_cert[1]},
            }
        )
    )
    args = ("--dtls-port", "0", "--psk", f"psk-dev:psk-id:{KEY}", "--credentials", str(credentials))
    async with runner(*args, stdin=asyncio.subprocess.DEVNULL) as run:
        assert run.dtls_port
        psk = SimClient("psk-dev", run.dtls_port, dtls=ClientContext(psk=(b"psk-id", bytes.fromhex(KEY))))
        cert = SimClient(
            "cert-dev", run.dtls_port, dtls=ClientContext(certificate=device_cert, server_certificate=server_cert[0])
        )
        plain = SimClient("psk-dev", run.port)
        try:
            await psk.start()
            registered = await run.expect(lambda line: line["event"] == "registered")
            assert registered["endpoint"] == "psk-dev"
            assert registered["transport"] == "dtls" and registered["identity"] == "psk:psk-id"
            await cert.start()
            registered = await run.expect(lambda line: line["event"] == "registered")
            assert registered["identity"] == certificate_identity(certificate_der(device_cert[0]))
            await plain.start(register=False)
            assert (await plain.register()).code == Code.FORBIDDEN  # a secured name, over plain UDP
        finally:
            for client in (psk, cert, plain):
                await client.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--psk", "dev:id:00"], "a PSK key has 8 to 64 bytes"),
        (["--psk", "dev-without-key"], "written ENDPOINT:IDENTITY:HEXKEY"),
        (["--psk", f"dev:id:{KEY}"], "add --dtls-port"),
        (["--dtls-port", "0", "--psk", f"a:id:{KEY}", "--psk", f"b:id:{KEY}"], "share a security identity"),
        (["--dtls-port", "0", "--credentials", "/nonexistent.json"], "cannot read"),
        (["--no-coap"], "add --dtls-port"),
        (["--dtls-port", "0", "--credentials", "SERVER_WITHOUT_KEY"], "server needs certificate and private_key"),
    ],
)
def test_runner_refuses_bad_credentials(args: list[str], message: str, tmp_path: Path) -> None:
    if "SERVER_WITHOUT_KEY" in args:
        broken = tmp_path / "credentials.json"
        broken.write_text(json.dumps({"devices": [], "server": {"certificate": "x"}}))
        args = [str(broken) if a == "SERVER_WITHOUT_KEY" else a for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "custom_components.lwm2m.lwm2m", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr


async def test_runner_with_coaps_only(udp: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.lwm2m.lwm2m",
        "--no-coap",
        "--dtls-port",
        "0",
        "--psk",
        f"psk-dev:psk-id:{KEY}",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        listening = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert listening["port"] is None and listening["dtls_port"] > 0
        client = SimClient("psk-dev", listening["dtls_port"], dtls=ClientContext(psk=(b"psk-id", bytes.fromhex(KEY))))
        try:
            await client.start()
            registered = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
            assert registered["event"] == "registered" and registered["transport"] == "dtls"
        finally:
            await client.stop()
    finally:
        proc.terminate()
        await proc.wait()
