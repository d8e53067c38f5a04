"""An aiocoap context that speaks coaps:// as a DTLS client (a device's side), on one socket.

The simulated devices and the benchmark use it; requests to ``coaps://host:port`` start a
handshake with the server, and the server's own requests come back through the session.
"""

from __future__ import annotations

import asyncio

import aiocoap

from ..coap_internals import add_message_interface, prepare_context
from .contexts import ClientContext
from .interface import DtlsInterface


async def dtls_client_context(
    site: object, dtls: ClientContext, *, port: int = 0, loggername: str = "coap-dtls-client"
) -> tuple[aiocoap.Context, DtlsInterface]:
    """Return a context serving site over DTLS from local port (0: a free one), and its interface."""
    context = aiocoap.Context(loop=asyncio.get_running_loop(), serversite=site, loggername=loggername)
    interface = await add_message_interface(
        context, lambda mman: DtlsInterface.create(mman, dtls.context, ("::", port), server=False)
    )
    prepare_context(context)
    return context, interface
