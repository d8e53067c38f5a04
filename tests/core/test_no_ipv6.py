"""A host with IPv6 switched off (Docker's default, sysctl disable_ipv6=1): the server still
binds :: and serves IPv4 devices. Run in a network namespace of its own, as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import asyncio, socket
    from custom_components.lwm2m.lwm2m.config import ServerConfig
    from custom_components.lwm2m.lwm2m.server import LwM2MServer
    from custom_components.lwm2m.lwm2m.transport import bind_problem
    from tests.sim import SimClient

    async def main():
        assert open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip() == "1"
        server = LwM2MServer(ServerConfig(host="0.0.0.0", port=0))
        await server.start()
        print("bind problem on the server's port:", bind_problem("0.0.0.0", server.port))
        print("bind problem on a free port:", bind_problem("0.0.0.0", 0))
        client = SimClient("no-ipv6", server.port)
        await client.start()
        read = await server.endpoint("no-ipv6").read("/3/0/0")
        print("address:", server.registrations.by_endpoint("no-ipv6").address)
        print("read:", read.code, {str(p): v for p, v in read.values.items()})
        await client.stop()
        await server.stop()

    asyncio.run(main())
    """
)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_the_server_serves_ipv4_where_ipv6_is_switched_off() -> None:
    shell = (
        "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1 && "
        f'exec {sys.executable} -c "$SCRIPT"'
    )
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", shell],
        cwd=ROOT,
        env=os.environ | {"SCRIPT": SCRIPT, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "bind problem on the server's port: in_use" in done.stdout
    assert "bind problem on a free port: None" in done.stdout
    assert "address: 127.0.0.1:" in done.stdout
    assert "read: 2.05 {'/3/0/0': 'Simulated Devices Inc.'}" in done.stdout, done.stdout
