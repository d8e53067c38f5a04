"""Device credentials: which endpoint name each PSK identity or certificate is bound to.

A device on coaps:// proves a security identity in its DTLS handshake; the identity is
bound to one endpoint name, and only that name may register through it. An endpoint with
a credential is "secured": it can never register over plain UDP, nor under another identity.

Identities are strings: ``psk:<PSK identity>`` or ``x509:<SHA-256 of the certificate's DER,
hex>``; events and registrations carry them, keys never.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

NOSEC, PSK, X509 = "nosec", "psk", "x509"
MODES = (NOSEC, PSK, X509)
MAX_PSK_IDENTITY = 128  # bytes (RFC 4279 allows 2^16-1; devices use short ones)
MIN_PSK_KEY, MAX_PSK_KEY = 8, 64  # bytes; LwM2M clients use 16 (AES-128)
GENERATED_KEY_BYTES = 16
REDACTED = "**REDACTED**"


class CredentialError(ValueError):
    """A credential that cannot be used, with a message saying why (field: which part is wrong)."""

    def __init__(self, message: str, field: str = "") -> None:
        """Say what is wrong, and with which field (endpoint, identity, key, certificate), if one."""
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Credential:
    """How one endpoint proves who it is.

    psk_identity and psk_key for PSK; certificate (DER) for X.509, pinned: the device's own
    certificate, whoever signed it.
    """

    endpoint: str
    mode: str = NOSEC
    psk_identity: str = ""
    psk_key: bytes = field(default=b"", repr=False)
    certificate: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        """Check that the credential is complete for its mode."""
        if not self.endpoint:
            raise CredentialError("a credential needs an endpoint name", "endpoint")
        if self.mode not in MODES:
            raise CredentialError(f"unknown security mode {self.mode!r}; use one of {', '.join(MODES)}", "mode")
        if self.mode == PSK:
            size = len(self.psk_identity.encode())
            if not 0 < size <= MAX_PSK_IDENTITY:
                raise CredentialError(f"a PSK identity has 1 to {MAX_PSK_IDENTITY} bytes", "identity")
            if not MIN_PSK_KEY <= len(self.psk_key) <= MAX_PSK_KEY:
                raise CredentialError(f"a PSK key has {MIN_PSK_KEY} to {MAX_PSK_KEY} bytes (16 is usual)", "key")
        if self.mode == X509 and not self.certificate:
            raise CredentialError("an X.509 credential needs the device's certificate", "certificate")

    @property
    def identity(self) -> str | None:
        """Return the security identity the credential proves (None for NoSec)."""
        if self.mode == PSK:
            return psk_identity(self.psk_identity.encode())
        if self.mode == X509:
            return certificate_identity(self.certificate)
        return None

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """Return the JSON form (from_dict reads it); redact hides the key."""
        data: dict[str, Any] = {"endpoint": self.endpoint, "mode": self.mode}
        if self.mode == PSK:
            data["identity"] = self.psk_identity
            data["key"] = REDACTED if redact else self.psk_key.hex()
        if self.mode == X509:
            data["certificate"] = certificate_pem(self.certificate)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Credential:
        """Read a credential: {"endpoint", "mode", "identity", "key" (hex), "certificate" (PEM)}."""
        if not isinstance(data, Mapping):
            raise CredentialError("a credential is a JSON object")
        endpoint = data.get("endpoint")
        mode = data.get("mode", PSK if "key" in data else NOSEC)
        if not isinstance(endpoint, str) or not isinstance(mode, str):
            raise CredentialError("a credential needs an endpoint name and a mode")
        if mode == PSK:
            identity = data.get("identity", endpoint)
            if not isinstance(identity, str):
                raise CredentialError(f"{endpoint}: the PSK identity is text", "identity")
            return cls(endpoint, PSK, psk_identity=identity, psk_key=hex_key(data.get("key")))
        if mode == X509:
            return cls(endpoint, X509, certificate=certificate_der(data.get("certificate")))
        return cls(endpoint, mode)


def psk_identity(identity: bytes) -> str:
    """Return the identity string of a PSK identity as a handshake shows it."""
    return "psk:" + identity.decode("utf-8", "backslashreplace")


def certificate_identity(der: bytes) -> str:
    """Return the identity string of a certificate (DER)."""
    return "x509:" + hashlib.sha256(der).hexdigest()


def hex_key(text: Any) -> bytes:
    """Read a PSK key written in hex; CredentialError saying what is wrong."""
    if not isinstance(text, str):
        raise CredentialError("a PSK key is written in hex", "key")
    try:
        key = binascii.unhexlify(text.strip().removeprefix("0x").replace(":", "").replace(" ", ""))
    except (binascii.Error, ValueError):
        raise CredentialError("a PSK key is written in hex (0-9, a-f), two digits a byte", "key") from None
    if not MIN_PSK_KEY <= len(key) <= MAX_PSK_KEY:
        raise CredentialError(
            f"a PSK key has {MIN_PSK_KEY} to {MAX_PSK_KEY} bytes (16 is usual), not {len(key)}", "key"
        )
    return key


def generate_key() -> str:
    """Return a new random PSK key (16 bytes) in hex."""
    return secrets.token_hex(GENERATED_KEY_BYTES)


def certificate_der(data: Any) -> bytes:
    """Read a device's certificate given as PEM text (or DER bytes); CredentialError if it is none.

    Its key must be ECDSA on P-256: the one certificate cipher suite LwM2M asks for
    (ECDHE-ECDSA with AES-128-CCM-8) can use no other, and such a device could never connect.
    """
    try:
        if isinstance(data, bytes):
            certificate = x509.load_der_x509_certificate(data)
        elif isinstance(data, str):
            certificate = x509.load_pem_x509_certificate(data.encode())
        else:
            raise CredentialError("a certificate is PEM text", "certificate")
        key = certificate.public_key()
    except ValueError as err:
        raise CredentialError(f"not a readable certificate: {err}", "certificate") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CredentialError("the certificate's key must be ECDSA on P-256 (secp256r1)", "certificate")
    return certificate.public_bytes(serialization.Encoding.DER)


def certificate_pem(der: bytes) -> str:
    """Return a certificate (DER) as PEM text."""
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def parse_psk_argument(text: str) -> Credential:
    """Read the runner's ``ENDPOINT:IDENTITY:HEXKEY``."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not all(parts):
        raise CredentialError("a --psk is written ENDPOINT:IDENTITY:HEXKEY")  # no echo: it may hold a key
    endpoint, identity, key = parts
    return Credential(endpoint, PSK, psk_identity=identity, psk_key=hex_key(key))


class Credentials:
    """The credentials of a server: by endpoint name, by PSK identity and by certificate."""

    def __init__(self, credentials: Iterable[Credential] = ()) -> None:
        """Hold credentials; CredentialError when two share an endpoint, a PSK identity or a certificate."""
        self._by_endpoint: dict[str, Credential] = {}
        self._by_identity: dict[str, Credential] = {}
        self._psk_keys: dict[bytes, bytes] = {}
        for credential in credentials:
            self.add(credential)

    def add(self, credential: Credential) -> None:
        """Add one credential; CredentialError when its endpoint or identity is taken."""
        if credential.endpoint in self._by_endpoint:
            raise CredentialError(f"{credential.endpoint} has two credentials", "exists")
        identity = credential.identity
        if identity is not None and identity in self._by_identity:
            other = self._by_identity[identity].endpoint
            raise CredentialError(f"{credential.endpoint} and {other} share a security identity", "exists")
        self._by_endpoint[credential.endpoint] = credential
        if identity is not None:
            self._by_identity[identity] = credential
        if credential.mode == PSK:
            self._psk_keys[credential.psk_identity.encode()] = credential.psk_key

    def psk_key(self, identity: bytes) -> bytes | None:
        """Return the key of a PSK identity (as the handshake gives it), None if it is unknown."""
        return self._psk_keys.get(identity)

    def knows(self, identity: str) -> bool:
        """Return whether a security identity belongs to a device."""
        return identity in self._by_identity

    def endpoint_of(self, identity: str) -> str | None:
        """Return the endpoint name an identity is bound to."""
        credential = self._by_identity.get(identity)
        return credential.endpoint if credential is not None else None

    def for_endpoint(self, endpoint: str) -> Credential | None:
        """Return the credential of an endpoint name, if it has one."""
        return self._by_endpoint.get(endpoint)

    def secured(self, endpoint: str) -> bool:
        """Return whether endpoint may register only through its own DTLS identity."""
        credential = self._by_endpoint.get(endpoint)
        return credential is not None and credential.mode != NOSEC

    @property
    def wants_certificates(self) -> bool:
        """Return whether any device proves itself with a certificate."""
        return any(c.mode == X509 for c in self._by_endpoint.values())

    def __iter__(self) -> Iterator[Credential]:
        """Iterate over the credentials."""
        return iter(list(self._by_endpoint.values()))

    def __len__(self) -> int:
        """Return how many credentials there are."""
        return len(self._by_endpoint)

    def to_list(self, *, redact: bool = False) -> list[dict[str, Any]]:
        """Return the credentials in JSON form."""
        return [c.to_dict(redact=redact) for c in self]

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> Credentials:
        """Read credentials in JSON form."""
        return cls(Credential.from_dict(item) for item in items)

    @classmethod
    def readable(cls, items: Iterable[Any]) -> tuple[Credentials, list[str]]:
        """Read what can be read of saved credentials; return them and why the others were skipped."""
        held, problems = cls(), []
        for item in items:
            try:
                held.add(Credential.from_dict(item))
            except CredentialError as err:
                name = item.get("endpoint") if isinstance(item, Mapping) else None
                problems.append(f"{name or 'a credential'}: {err}")
        return held, problems


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """The server's own certificate and private key (PEM), for devices that use certificates."""

    certificate: str
    private_key: str = field(repr=False)


def load_credentials_file(path: str | Path) -> tuple[Credentials, ServerIdentity | None]:
    """Read the runner's --credentials file.

    ``{"devices": [credential, ...], "server": {"certificate": PEM, "private_key": PEM}}``, or
    a bare list of credentials.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise CredentialError(f"cannot read {path}: {err}") from None
    if isinstance(data, list):
        return Credentials.from_list(data), None
    if not isinstance(data, dict):
        raise CredentialError(f"{path}: a list of credentials, or an object with devices and server", "file")
    server = data.get("server")
    identity = None
    if server is not None:
        if not isinstance(server, dict) or not all(
            isinstance(server.get(k), str) for k in ("certificate", "private_key")
        ):
            raise CredentialError(f"{path}: server needs certificate and private_key, both PEM")
        identity = ServerIdentity(server["certificate"], server["private_key"])
    return Credentials.from_list(data.get("devices", [])), identity
