"""The CoAP resources a device talks to: /rd (Register, Update, De-register) and /dp (Send).

Parsing and validation only; what a registration means is the server's business.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.resource import PathCapable, Resource

from .api import SourceStats
from .block1 import Block1Spool, WholeResponses
from .coap_internals import use_blockwise
from .codecs import ContentFormat
from .codecs.link_format import RegisteredObjects, parse_registration
from .errors import CodecError, shown
from .firmware.downloads import PREFIX as DOWNLOADS
from .registration import endpoint_name_problem

_LOGGER = logging.getLogger(__name__)
_BINDING_LETTERS = set("UMHTSNQ")


class Refused(Exception):
    """A device's request is refused; the text goes back as the diagnostic payload."""

    def __init__(self, message: str, code: Code = Code.BAD_REQUEST, *, max_age: int | None = None) -> None:
        """Refuse a request with a reason and a CoAP code (and, for 5.03, when to come back)."""
        super().__init__(message)
        self.code = code
        self.max_age = max_age


@dataclass(slots=True, kw_only=True)
class RegisterParams:
    """The query parameters of a Register or Update."""

    endpoint: str | None = None
    lifetime: int | None = None
    version: str | None = None
    binding: str | None = None
    sms: str | None = None
    queue_mode: bool = False
    objects: RegisteredObjects | None = None


def parse_params(request: Message, *, register: bool) -> RegisterParams:
    """Parse the query of a Register or Update; Refused names what is wrong."""
    params = RegisterParams()
    seen: set[str] = set()
    for item in request.opt.uri_query:
        key, sep, value = item.partition("=")
        if key in seen:
            raise Refused(f"query parameter {shown(key)} appears twice")
        seen.add(key)
        match key:
            case "ep":
                if not register:
                    raise Refused("the endpoint name cannot change in an Update")
                params.endpoint = _endpoint_name(value)
            case "lt":
                if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**32:
                    raise Refused(f"lt must be a lifetime in seconds, got {shown(value)}")
                params.lifetime = int(value)
            case "lwm2m":
                params.version = value
            case "b":
                if not value or not set(value) <= _BINDING_LETTERS:
                    raise Refused(f"b must be a binding such as U or UQ, got {shown(value)}")
                params.binding = value
            case "sms":
                params.sms = value
            case "Q":
                if sep:
                    raise Refused("Q takes no value")
                params.queue_mode = True
            case _:
                pass  # ignore extensions (e.g. "et", "d") rather than refusing devices
    if register and params.endpoint is None:
        raise Refused("the ep (endpoint name) query parameter is missing")
    if request.payload:
        fmt = request.opt.content_format
        if fmt not in (None, ContentFormat.LINK_FORMAT):
            raise Refused(f"the object list must be link format (40), not {fmt}", Code.UNSUPPORTED_CONTENT_FORMAT)
        try:
            params.objects = parse_registration(request.payload)
        except CodecError as err:
            raise Refused(f"bad object list: {err}") from None
    elif register:
        params.objects = RegisteredObjects()
    return params


def _endpoint_name(value: str) -> str:
    """Return value if it can be an endpoint name; Refused says why not."""
    problem = endpoint_name_problem(value)
    if problem is not None:
        raise Refused(f"ep {problem}")
    return value


def _error(err: Refused) -> Message:
    message = Message(code=err.code, payload=str(err).encode()[:512], content_format=0)
    if err.max_age is not None:
        message.opt.max_age = err.max_age
    return message


class RegistrationInterface(Protocol):
    """The server side of /rd and /dp: what a checked request means."""

    stats: SourceStats

    def handle_register(self, request: Message, params: RegisterParams) -> Message:
        """Register a device."""

    def handle_update(self, request: Message, reg_id: str, params: RegisterParams) -> Message:
        """Update a device's registration."""

    def handle_deregister(self, request: Message, reg_id: str) -> Message:
        """Deregister a device."""

    def handle_send(self, request: Message) -> Message:
        """Take the values a device sends with Send."""

    async def handle_download(self, request: Message, token: str) -> Message:
        """Serve a block of a firmware image a device pulls."""


class LwM2MSite(Resource, PathCapable):
    """Every request a device sends to the server lands here."""

    def __init__(self, server: RegistrationInterface, block1: Block1Spool | None = None) -> None:
        """Route requests to server; reassemble block-wise uploads in block1."""
        super().__init__()
        self._server = server
        self.block1 = block1 if block1 is not None else Block1Spool()
        use_blockwise(self, self.block1, WholeResponses())

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        """Return True but for downloads: a Register or Send may span several blocks.

        A download (/fw/<token>) answers the block asked for itself.
        """
        return _download_token(request.opt.uri_path) is None

    async def render(self, request: Message) -> Message:
        """Answer a device's request."""
        server = self._server
        server.stats.requests_in += 1
        path = request.opt.uri_path
        token = _download_token(path)
        if token is not None:
            return await server.handle_download(request, token)
        try:
            return _route(server, request, path)
        except Refused as err:
            server.stats.errors += 1
            _LOGGER.debug("Refused %s /%s from %s: %s", request.code, "/".join(path), request.remote, err)
            return _error(err)


def _download_token(path: tuple[str, ...]) -> str | None:
    """Return the token of a download's path (fw/<token>), else None."""
    return path[1] if len(path) == 2 and path[0] == DOWNLOADS else None


def _route(server: RegistrationInterface, request: Message, path: tuple[str, ...]) -> Message:
    """Hand a request to the server's handler for its path and method; Refused if there is none."""
    if path == ("rd",) and request.code == Code.POST:
        return server.handle_register(request, parse_params(request, register=True))
    if len(path) == 2 and path[0] == "rd":
        if request.code == Code.POST:
            return server.handle_update(request, path[1], parse_params(request, register=False))
        if request.code == Code.DELETE:
            return server.handle_deregister(request, path[1])
        raise Refused("use POST (Update) or DELETE (De-register)", Code.METHOD_NOT_ALLOWED)
    if path == ("dp",) and request.code == Code.POST:
        return server.handle_send(request)
    if path in (("rd",), ("dp",)):
        raise Refused("use POST", Code.METHOD_NOT_ALLOWED)
    raise Refused(f"no resource at /{'/'.join(path)}", Code.NOT_FOUND)
