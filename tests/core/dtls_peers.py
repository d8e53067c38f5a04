"""What the coaps:// tests share: the devices' keys and certificate, and a wait helper."""

from __future__ import annotations

import asyncio
from typing import Any

from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.security.certificates import self_signed
from custom_components.lwm2m.lwm2m.security.credentials import (
    PSK,
    X509,
    Credential,
    Credentials,
    certificate_der,
)

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
TEXT_KEY = b"0123456789abcdef"  # libcoap's coap-client takes a key as text
DEVICE_CERT = self_signed("cert-dev")


def psk_device(identity: str = "psk-id", key: bytes = KEY) -> ClientContext:
    return ClientContext(psk=(identity.encode(), key))


def credentials() -> Credentials:
    """psk-dev, cert-dev, other-dev (another PSK) and lib-dev (a text key, for libcoap)."""
    return Credentials(
        [
            Credential("psk-dev", PSK, psk_identity="psk-id", psk_key=KEY),
            Credential("cert-dev", X509, certificate=certificate_der(DEVICE_CERT[0])),
            Credential("other-dev", PSK, psk_identity="other-id", psk_key=KEY[::-1]),
            Credential("lib-dev", PSK, psk_identity="lib-id", psk_key=TEXT_KEY),
        ]
    )


async def until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
