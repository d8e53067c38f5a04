"""coaps:// against DTLS stacks we did not write: libcoap's coap-client (OpenSSL and GnuTLS
builds) and OpenSSL's s_client; and hostile datagrams against the DTLS listener."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.dtls.records import RECORD_HEADER
from custom_components.lwm2m.lwm2m.dtls.session import DtlsSession
from custom_components.lwm2m.lwm2m.server import LwM2MServer
from tests.core.dtls_peers import DEVICE_CERT, KEY, TEXT_KEY, psk_device, until
from tests.core.external import Needs

pytestmark = Needs(
    "libcoap's DTLS clients and openssl",
    lambda: all(shutil.which(tool) for tool in ("coap-client-openssl", "coap-client-gnutls", "openssl")),
    "apt-get install libcoap3-bin openssl (scripts/setup installs them)",
).mark
HELLO_VERIFY_REQUEST = 3


async def _run(*command: str, stdin: bytes = b"", timeout: float = 20) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.parametrize("tool", ["coap-client-openssl", "coap-client-gnutls"])
async def test_libcoap_registers_with_a_psk(dtls_server: LwM2MServer, tool: str) -> None:
    uri = f"coaps://127.0.0.1:{dtls_server.dtls_port}/rd?ep=lib-dev&lt=60&lwm2m=1.1"
    code, out = await _run(
        tool,
        "-m",
        "post",
        "-u",
        "lib-id",
        "-k",
        TEXT_KEY.decode(),
        "-t",
        "40",
        "-e",
        "</3/0>,</3303/0>",
        "-B",
        "5",
        uri,
    )
    assert code == 0, out
    reg = dtls_server.registrations.by_endpoint("lib-dev")
    assert reg is not None and reg.transport == "dtls" and reg.identity == "psk:lib-id"
    assert dtls_server.transport.dtls.stats.handshakes == 1


@pytest.mark.parametrize("tool", ["coap-client-openssl", "coap-client-gnutls"])
async def test_libcoap_with_a_wrong_key_or_identity_gets_nothing(dtls_server: LwM2MServer, tool: str) -> None:
    dtls_server.transport.dtls.limits.handshake_timeout = 1.0
    uri = f"coaps://127.0.0.1:{dtls_server.dtls_port}/rd?ep=lib-dev"
    for identity, key in (("lib-id", "fedcba9876543210"), ("nobody", TEXT_KEY.decode())):
        await _run(tool, "-m", "post", "-u", identity, "-k", key, "-B", "3", uri)
    await until(lambda: dtls_server.transport.dtls.stats.failed_handshakes == 2)
    assert "lib-dev" not in dtls_server.registrations
    assert dtls_server.transport.dtls.stats.handshakes == 0


@pytest.mark.parametrize("cipher", ["PSK-AES128-CCM8", "PSK-AES128-CBC-SHA256"])
async def test_openssl_s_client_psk_cipher_suites(dtls_server: LwM2MServer, cipher: str) -> None:
    _code, out = await _run(
        "openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{dtls_server.dtls_port}",
        "-psk_identity", "psk-id", "-psk", KEY.hex(), "-cipher", f"{cipher}:@SECLEVEL=0",
    )  # fmt: skip
    assert f"Cipher is {cipher}" in out, out


async def test_openssl_s_client_with_a_certificate_and_resumption(dtls_server: LwM2MServer, tmp_path: Path) -> None:
    (tmp_path / "dev.pem").write_text(DEVICE_CERT[0])
    (tmp_path / "dev.key").write_text(DEVICE_CERT[1])
    session = tmp_path / "session.pem"
    common = [
        "openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{dtls_server.dtls_port}",
        "-cert", str(tmp_path / "dev.pem"), "-key", str(tmp_path / "dev.key"),
        "-cipher", "ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0",
    ]  # fmt: skip
    _code, out = await _run(*common, "-sess_out", str(session))
    assert "Cipher is ECDHE-ECDSA-AES128-CCM8" in out, out
    _code, out = await _run(*common, "-sess_in", str(session))
    assert "Reused, " in out, out
    stats = dtls_server.transport.dtls.stats
    assert stats.handshakes == 2 and stats.resumptions == 1 and stats.failed_handshakes == 0


async def test_client_hellos_from_many_ports_leave_no_state(dtls_server: LwM2MServer) -> None:
    """A ClientHello without a cookie gets a HelloVerifyRequest and creates no session (RFC 6347 4.2.1)."""
    _session, (hello, *_rest) = DtlsSession.connect(psk_device().context, ("::1", 1, 0, 0), 0.0)
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(200)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.sendto(hello, ("127.0.0.1", dtls_server.dtls_port))
        await until(lambda: dtls_server.transport.dtls.stats.cookies_sent == 200)
        await asyncio.sleep(0.05)
        answers = [sock.recv(2048) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(a[0] == 22 and a[RECORD_HEADER] == HELLO_VERIFY_REQUEST for a in answers)
    dtls = dtls_server.transport.dtls
    assert dtls.stats.cookies_sent == 200 and len(dtls._table) == 0


async def test_garbage_replays_and_wrong_epochs_break_nothing(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    client = await dtls_device("psk-dev", psk_device())
    interface = client.context.request_interfaces[0].token_interface.message_interface
    sent: list[bytes] = []
    original = interface._sendto

    def recording(datagrams: list[bytes], addr: Any) -> None:
        sent.extend(datagrams)
        original(datagrams, addr)

    interface._sendto = recording
    assert (await client.update()).code.dotted == "2.04"
    update = sent[-1]
    delivered: list[Any] = []
    server_side = dtls_server.transport.dtls
    deliver = server_side._deliver
    server_side._deliver = lambda session, plaintext: (delivered.append(plaintext), deliver(session, plaintext))
    target = ("::ffff:127.0.0.1", dtls_server.dtls_port, 0, 0)  # the client socket is IPv6
    wrong_epoch = update[:3] + b"\x00\x07" + update[5:]
    for datagram in (update, update, wrong_epoch, update[:20], b"\x17\xfe\xfd" + b"\x00" * 40, bytes(range(256))):
        interface._transport.sendto(datagram, target)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        for size in (0, 1, 13, 14, 300, 1500):
            stranger.sendto(b"\x16" * size, ("127.0.0.1", dtls_server.dtls_port))
    await asyncio.sleep(0.3)
    assert delivered == []  # the replays were dropped by the replay window, the rest as garbage
    assert (await dtls_server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
    assert (await client.update()).code.dotted == "2.04"
    assert server_side.session_count() == 1 and len(server_side._table) == 1


async def test_renegotiation_is_refused_and_breaks_nothing(dtls_server: LwM2MServer, dtls_device: Any) -> None:
    """openssl s_client's R asks for a renegotiation inside the session; the server refuses it."""
    _code, out = await _run(
        "openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{dtls_server.dtls_port}",
        "-psk_identity", "psk-id", "-psk", KEY.hex(), "-cipher", "PSK-AES128-CCM8:@SECLEVEL=0",
        stdin=b"R\n", timeout=30,
    )  # fmt: skip
    assert "RENEGOTIATING" in out and "no renegotiation" in out, out
    client = await dtls_device("psk-dev", psk_device())
    assert (await dtls_server.endpoint("psk-dev").read("/3/0/9")).value("/3/0/9") == 95
    assert client.location


async def test_a_client_without_a_shared_cipher_suite_is_refused(dtls_server: LwM2MServer) -> None:
    """openssl s_client offering only a suite LwM2M does not use (AES-256-GCM): no session, counted."""
    _code, out = await _run(
        "openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{dtls_server.dtls_port}",
        "-psk_identity", "psk-id", "-psk", KEY.hex(), "-cipher", "PSK-AES256-GCM-SHA384",
    )  # fmt: skip
    assert "Cipher is (NONE)" in out or "alert" in out, out
    await until(lambda: dtls_server.transport.dtls.stats.failed_handshakes == 1)
    assert dtls_server.transport.dtls.stats.refusals == {"handshake failed": 1}
