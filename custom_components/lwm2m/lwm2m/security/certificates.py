"""Self-signed P-256 certificates: the server's own, made when none is given, and test devices'."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .credentials import ServerIdentity

VALIDITY_DAYS = 3650


def self_signed(common_name: str, *, days: int = VALIDITY_DAYS) -> tuple[str, str]:
    """Return a new self-signed ECDSA P-256 certificate for common_name and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def new_server_identity(common_name: str = "Home Assistant LwM2M server") -> ServerIdentity:
    """Return a new server certificate and key, for devices that use certificates."""
    certificate, key = self_signed(common_name)
    return ServerIdentity(certificate, key)
