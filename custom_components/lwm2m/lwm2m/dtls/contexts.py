"""OpenSSL contexts for DTLS 1.2 with the cipher suites LwM2M requires.

pyOpenSSL has DTLS (methods, cookies, timeouts, memory BIOs) but no PSK; PSK comes from
cryptography's OpenSSL binding, which pyOpenSSL itself is built on. Where this reaches past
pyOpenSSL's public API, tests/core/test_dtls_internals.py fails loudly when a release moves it:
- the PSK callbacks are set on the Context's ``_context`` (an ``SSL_CTX *``);
- a callback finds its Connection in ``Connection._reverse_mapping`` (pyOpenSSL's own callbacks
  do the same), and the DTLS session in its app data.

A cffi callback must never raise (it would abort the process's view of the handshake with a
traceback on stderr): each catches everything and fails the handshake instead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.bindings.openssl.binding import Binding
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto

from ..security.credentials import Credentials, ServerIdentity, certificate_identity, psk_identity

_LOGGER = logging.getLogger(__name__)
_ffi: Any = Binding.ffi  # typed "Any | None" by some cryptography releases
_lib: Any = Binding.lib

DTLS1_2 = 0xFEFD
# LwM2M 1.1 (section 5.2.8): PSK with AES-128-CCM-8 (mandatory) and AES-128-CBC-SHA256;
# certificates with ECDHE-ECDSA AES-128-CCM-8. OpenSSL 3 ranks CCM-8 below its default
# security level: without @SECLEVEL=0 it finds "no shared cipher" (and clients fall back).
CIPHERS = "PSK-AES128-CCM8:PSK-AES128-CBC-SHA256:ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0"
SESSION_ID_CONTEXT = b"lwm2m-home-assistant"
RESUMPTION_LIFETIME = 24 * 3600  # seconds a session can be resumed
COOKIE_PERIOD = 60.0  # seconds: a cookie is good in its period and the next

_PSK_SERVER = "unsigned int (*)(SSL *, const char *, unsigned char *, unsigned int)"
_PSK_CLIENT = "unsigned int (*)(SSL *, const char *, char *, unsigned int, unsigned char *, unsigned int)"


def _app_data(ssl: Any) -> Any:
    """Return the app data (our session) of the Connection an SSL * belongs to."""
    return SSL.Connection._reverse_mapping[ssl].get_app_data()  # noqa: SLF001 - see the module docstring


def _base_context(method: int) -> SSL.Context:
    context = SSL.Context(method)
    context.set_min_proto_version(DTLS1_2)
    context.set_max_proto_version(DTLS1_2)
    options = SSL.OP_NO_QUERY_MTU | SSL.OP_NO_COMPRESSION
    options |= getattr(SSL, "OP_NO_RENEGOTIATION", 0)
    context.set_options(options)
    context.set_cipher_list(CIPHERS.encode())
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)  # an idle session gives its record buffers back (~34 KiB)
    return context


class ServerContext:
    """The server's DTLS context: PSK from the credentials, certificates pinned, stateless cookies.

    credentials is called at every handshake, so credentials added later count at once.
    """

    def __init__(self, credentials: Callable[[], Credentials], identity: ServerIdentity | None) -> None:
        """Build the OpenSSL context."""
        self._credentials = credentials
        self._cookie_secret = secrets.token_bytes(32)
        context = self.context = _base_context(SSL.DTLS_SERVER_METHOD)
        # Resumption by session id from OpenSSL's own cache (20,480 sessions, fewer than the
        # interface remembers identities of), not by tickets, which outlive any cache.
        context.set_options(SSL.OP_NO_TICKET)
        context.set_session_id(SESSION_ID_CONTEXT)
        context.set_timeout(RESUMPTION_LIFETIME)
        context.set_cookie_generate_callback(self._cookie)
        context.set_cookie_verify_callback(self._cookie_matches)
        self._psk_callback = _ffi.callback(_PSK_SERVER, self._psk)  # referenced as long as the context
        _lib.SSL_CTX_set_psk_server_callback(context._context, self._psk_callback)  # noqa: SLF001
        if identity is not None:
            context.use_certificate(_load_certificate(identity.certificate))
            context.use_privatekey(_load_key(identity.private_key))
            context.check_privatekey()
            verify = SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            context.set_verify(verify, self._verify)

    def _cookie(self, connection: SSL.Connection, period: int | None = None) -> bytes:
        """Return the cookie for a ClientHello: an HMAC of the peer's address and the minute, kept nowhere."""
        period = int(time.monotonic() // COOKIE_PERIOD) if period is None else period
        text = f"{connection.get_app_data().sockaddr!r} {period}".encode()
        return hmac.new(self._cookie_secret, text, hashlib.sha256).digest()[:16]

    def _cookie_matches(self, connection: SSL.Connection, cookie: bytes) -> bool:
        """Accept this minute's cookie or the last one's: a captured ClientHello is replayable briefly only."""
        now = int(time.monotonic() // COOKIE_PERIOD)
        return any(hmac.compare_digest(cookie, self._cookie(connection, period)) for period in (now, now - 1))

    def _psk(self, ssl: Any, identity: Any, psk: Any, max_psk_len: int) -> int:
        """OpenSSL asks for the key of the identity a client named: 0 refuses the handshake."""
        try:
            name = _ffi.string(identity) if identity != _ffi.NULL else b""
            key = self._credentials().psk_key(name)
            if key is None or len(key) > max_psk_len:
                session = _app_data(ssl)
                session.refusal = "unknown PSK identity"
                session.refusal_detail = repr(name[:64])
                return 0
            _ffi.memmove(psk, key, len(key))
            _app_data(ssl).identity = psk_identity(name)
            return len(key)
        except Exception:
            _LOGGER.exception("The PSK lookup failed")
            return 0

    def _verify(self, connection: SSL.Connection, certificate: crypto.X509, error: int, depth: int, ok: int) -> bool:
        """Accept a device's certificate when it is one a credential pins (whoever signed it)."""
        if depth > 0:
            return True  # the chain above the device's own certificate decides nothing here
        session = connection.get_app_data()
        try:
            der = crypto.dump_certificate(crypto.FILETYPE_ASN1, certificate)
        except Exception:  # noqa: BLE001 - a callback must not raise
            session.refusal = "unreadable certificate"
            return False
        identity = certificate_identity(der)
        if not self._credentials().knows(identity):
            session.refusal = "unknown certificate"
            session.refusal_detail = identity
            return False
        session.identity = identity
        return True


class ClientContext:
    """A device's DTLS context: a PSK identity and key, or a certificate and key (PEM).

    server_certificate (PEM) pins the server's certificate; without it any is accepted.
    """

    def __init__(
        self,
        *,
        psk: tuple[bytes, bytes] | None = None,
        certificate: tuple[str, str] | None = None,
        server_certificate: str | None = None,
    ) -> None:
        """Build the OpenSSL context."""
        self._psk_pair = psk
        context = self.context = _base_context(SSL.DTLS_CLIENT_METHOD)
        if psk is not None:
            self._psk_callback = _ffi.callback(_PSK_CLIENT, self._psk)
            _lib.SSL_CTX_set_psk_client_callback(context._context, self._psk_callback)  # noqa: SLF001
        if certificate is not None:
            context.use_certificate(_load_certificate(certificate[0]))
            context.use_privatekey(_load_key(certificate[1]))
        self._pinned = None
        if server_certificate is not None:
            self._pinned = _load_certificate(server_certificate).public_bytes(serialization.Encoding.DER)
        context.set_verify(SSL.VERIFY_PEER, self._verify)

    def _psk(self, ssl: Any, hint: Any, identity: Any, max_identity: int, psk: Any, max_psk: int) -> int:
        try:
            assert self._psk_pair is not None
            name, key = self._psk_pair
            if len(name) + 1 > max_identity or len(key) > max_psk:
                return 0
            _ffi.memmove(identity, name + b"\0", len(name) + 1)
            _ffi.memmove(psk, key, len(key))
            return len(key)
        except Exception:
            _LOGGER.exception("The PSK callback failed")
            return 0

    def _verify(self, connection: SSL.Connection, certificate: crypto.X509, error: int, depth: int, ok: int) -> bool:
        if depth > 0 or self._pinned is None:
            return True
        return certificate.to_cryptography().public_bytes(serialization.Encoding.DER) == self._pinned


def _load_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)
