"""What the DTLS code takes from pyOpenSSL, cryptography and aiocoap beyond their documented
APIs (dtls/contexts.py, coap_internals.add_message_interface and fail_request): each fails here,
loudly, when a release moves it."""

from __future__ import annotations

import inspect

import aiocoap
from aiocoap.messagemanager import MessageManager
from aiocoap.tokenmanager import TokenManager
from cryptography.hazmat.bindings.openssl.binding import Binding
from OpenSSL import SSL

from custom_components.lwm2m.lwm2m.dtls.contexts import DTLS1_2, ClientContext


def test_pyopenssl_keeps_what_the_psk_callbacks_reach() -> None:
    context = ClientContext(psk=(b"id", bytes(16))).context
    assert Binding.ffi.typeof(context._context).cname == "SSL_CTX *"
    connection = SSL.Connection(context, None)
    assert SSL.Connection._reverse_mapping[connection._ssl] is connection
    for name in ("SSL_CTX_set_psk_server_callback", "SSL_CTX_set_psk_client_callback"):
        assert hasattr(Binding.lib, name), name
    for name in ("DTLSv1_listen", "DTLSv1_get_timeout", "DTLSv1_handle_timeout", "set_ciphertext_mtu", "master_key"):
        assert hasattr(SSL.Connection, name), name
    assert DTLS1_2 == 0xFEFD and hasattr(SSL, "OP_NO_TICKET") and hasattr(SSL, "MODE_RELEASE_BUFFERS")


def test_aiocoap_keeps_what_the_dtls_transport_reaches() -> None:
    # add_message_interface: a second transport under its own token and message managers
    assert hasattr(aiocoap.Context, "_append_tokenmanaged_messagemanaged_transport")
    source = inspect.getsource(aiocoap.Context._append_tokenmanaged_messagemanaged_transport)
    assert "request_interfaces.append(tman)" in source and "mman.message_interface = transport" in source
    # fail_request: one outgoing request, found by (token, remote) through the message manager
    assert "self.token_manager = token_manager" in inspect.getsource(MessageManager.__init__)
    assert "key = (msg.token, msg.remote)" in inspect.getsource(TokenManager.request)
