"""Operations on one registered endpoint: Read, Write, Execute, Observe and the rest.

Each operation is an awaitable that returns a typed Response or raises OperationError
(with the CoAP code) — DeviceTimeout when the device never answers, NotRegistered when
the endpoint has no registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiocoap import CON, NON, Message
from aiocoap import error as coap_error
from aiocoap.numbers.codes import Code

from .api import Response, check_attributes, meaning
from .blockwise import rest_of_answer
from .coap_internals import on_notifications
from .codecs import ContentFormat, decode, decode_values, encode, encode_paths, encode_values
from .codecs.link_format import parse_discover
from .errors import CodecError, DeviceTimeout, NotRegistered, OperationError
from .events import Event, EventType, ResponseInfo
from .nodes import MultipleResource, Node, ObjectInstance, Resource, ResourceInstance, flatten, node_for
from .observe import Observation
from .path import Path
from .registration import Registration
from .transport import FastTuning
from .values import Value

if TYPE_CHECKING:
    from .api import SourceStats
    from .config import ServerConfig
    from .events import EventBus
    from .limits import EventBudget
    from .model import ObjectModel
    from .observe import ObservationTable
    from .queue import SleepQueue
    from .registration import RegistrationStore
    from .transport import CoapTransport


class EndpointHost(Protocol):
    """What operations on a device need of the server that holds its registration."""

    config: ServerConfig
    model: ObjectModel
    events: EventBus
    registrations: RegistrationStore
    observations: ObservationTable
    queue: SleepQueue
    stats: SourceStats
    transport: CoapTransport
    budget: EventBudget
    clock: Callable[[], float]

    def on_notification(self, observation: Observation, message: Message) -> None: ...

    def on_observation_error(self, observation: Observation, exception: BaseException) -> None: ...


_LOGGER = logging.getLogger(__name__)
ONE_BLOCK = 1024  # bytes of payload a request carries without Block1
_FORMAT_NAMES: dict[int, str] = {
    ContentFormat.TEXT: "plain text",
    ContentFormat.OPAQUE: "opaque",
    ContentFormat.SENML_JSON: "SenML JSON",
    ContentFormat.SENML_CBOR: "SenML CBOR",
    ContentFormat.TLV: "TLV",
    ContentFormat.LWM2M_JSON: "LwM2M JSON",
    ContentFormat.LWM2M_CBOR: "LwM2M CBOR",
}
# What to ask for next when a device answers a Read or Observe with 4.06 Not Acceptable,
# by LwM2M version; plain text only for a single resource (or resource instance).
_FALLBACK_1_0 = (ContentFormat.TLV, ContentFormat.TEXT, ContentFormat.SENML_JSON, ContentFormat.LWM2M_JSON)
_FALLBACK_1_1 = (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV, ContentFormat.TEXT)
_COMPOSITE_FALLBACK = (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON)


def code_text(code: Code) -> str:
    return str(code.dotted)


def format_name(fmt: int | None) -> str:
    """Return a content format's name as people read it."""
    return "no content format" if fmt is None else _FORMAT_NAMES.get(fmt, f"content format {fmt}")


class Endpoint:
    """The operations on one endpoint.

    It looks the registration up anew for each request, so a device that moved (NAT rebinding)
    or re-registered is reached where it is now.
    """

    def __init__(self, server: EndpointHost, name: str) -> None:
        """Address the registered endpoint name on server."""
        self._server = server
        self.name = name

    @property
    def registration(self) -> Registration:
        """Return the endpoint's registration; NotRegistered once it is gone."""
        reg = self._server.registrations.by_endpoint(self.name)
        if reg is None:
            raise NotRegistered(f"{self.name} is not registered", "4.04")
        return reg

    # -- content formats ---------------------------------------------------------------

    def preferred_format(self) -> int:
        """Pick the richest format the device announced, else the default of its LwM2M version."""
        reg = self.registration
        announced = reg.objects.content_formats
        for fmt in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV, ContentFormat.LWM2M_JSON):
            if fmt in announced:
                return fmt
        return ContentFormat.SENML_CBOR if reg.version_tuple >= (1, 1) else ContentFormat.TLV

    def accept_candidates(self, path: Path, *, composite: bool = False) -> list[int]:
        """List the Accept formats a Read or Observe of path tries in turn, until one is not refused with 4.06.

        The preferred format comes first, then what the device's version allows, less the formats
        this registration already refused.
        """
        reg = self.registration
        if composite:
            first = _senml(self.preferred_format())
            chain: tuple[int, ...] = _COMPOSITE_FALLBACK
            if reg.version_tuple >= (1, 2):
                chain += (ContentFormat.LWM2M_CBOR,)
        else:
            first = self.preferred_format()
            chain = _FALLBACK_1_1 if reg.version_tuple >= (1, 1) else _FALLBACK_1_0
            if path.depth < 3:
                chain = tuple(f for f in chain if f != ContentFormat.TEXT)
        ordered = list(dict.fromkeys((first, *chain)))
        # Everything refused before (e.g. only text worked, and this is an instance): ask the
        # first once more, so the 4.06 that comes back is today's answer.
        return [f for f in ordered if f not in reg.refused_formats] or ordered[:1]

    async def _negotiate(
        self, candidates: list[int], attempt: Callable[[int, bool], Awaitable[tuple[Message, Any]]]
    ) -> tuple[Message, Any, tuple[int, ...]]:
        """Run attempt(accept, tolerate_4_06) with each candidate until one is not refused with 4.06.

        Once another format worked, remember on the registration what the device refused.
        """
        refused: list[int] = []
        for index, fmt in enumerate(candidates):
            last = index == len(candidates) - 1
            try:
                response, request = await attempt(fmt, not last)
            except OperationError as err:
                if refused and err.code == "4.06":
                    tried = ", ".join(format_name(f) for f in (*refused, fmt))
                    raise OperationError(f"{err} (tried {tried})", err.code) from None
                raise
            if response.code != Code.NOT_ACCEPTABLE:
                break
            refused.append(fmt)
        if refused:
            used = response.opt.content_format
            self._remember_refused(refused, fmt if used is None else int(used))
        return response, request, tuple(refused)

    def _remember_refused(self, refused: list[int], used: int) -> None:
        reg = self.registration
        new = [f for f in refused if f not in reg.refused_formats]
        if not new:
            return
        first_time = not reg.refused_formats
        reg.refused_formats.update(new)
        _LOGGER.log(
            logging.INFO if first_time else logging.DEBUG,
            "device %s cannot produce %s; using %s",
            self.name,
            ", ".join(format_name(f) for f in new),
            format_name(used),
        )

    def _write_format(self, path: Path, node: Node) -> int:
        reg = self.registration
        if reg.version_tuple < (1, 1) and isinstance(node, (Resource, ResourceInstance)):
            # Every 1.0 client reads a single value as plain text (or opaque bytes).
            return ContentFormat.OPAQUE if isinstance(node.value, bytes) else ContentFormat.TEXT
        return self.preferred_format()

    # -- the request path ----------------------------------------------------------------

    async def _request(
        self,
        code: Code,
        path: Path,
        *,
        payload: bytes = b"",
        content_format: int | None = None,
        accept: int | None = None,
        query: Iterable[str] = (),
        observe: int | None = None,
        timeout: float | None = None,
        operation: str,
        tolerate_not_acceptable: bool = False,
        block1: tuple[int, bool, int] | None = None,
        size1: int | None = None,
    ) -> tuple[Message, Any]:
        """Send one request; raise on an error answer, except a 4.06 when told to tolerate it.

        Content negotiation then asks again with another Accept. With block1, the request is
        one block of a block-wise Write (which the caller drives): aiocoap does not split it,
        and a 4.13 (the device asking for smaller blocks, or refusing the size) comes back.
        """
        server = self._server
        reg = self.registration
        # A caller's timeout bounds the whole request, the wait for a sleeping device included;
        # without one, a queued request waits up to the queue's expiry, then the usual timeout.
        loop = asyncio.get_running_loop()
        started = loop.time()
        if reg.queue_mode:
            await server.queue.wait_awake(self.name, server.config.queue_expiry, timeout)
            reg = self.registration
        if timeout is None:
            timeout, started = server.config.request_timeout, loop.time()
        message = Message(
            code=code,
            uri_path=reg.uri_path(path),
            uri_query=tuple(query),
            payload=payload,
            transport_tuning=FastTuning(server.config.ack_timeout, server.config.max_retransmit),
        )
        if content_format is not None:
            message.opt.content_format = content_format
        if accept is not None:
            message.opt.accept = accept
        if observe is not None:
            message.opt.observe = observe
        if block1 is not None:
            message.opt.block1 = block1
            message.opt.size1 = size1
        _address(message, reg, server)
        reg.stats.messages_out += 1
        server.stats.requests_out += 1
        # A Read's block-wise answer is put together here, bounded (blockwise.py); an
        # observation (its notifications may come block-wise) and a Write too large for one
        # datagram go block-wise through aiocoap. The rest go out as they are, in the order
        # they were made (aiocoap's block-wise requests start a task first).
        own_blocks = block1 is None and observe is None and code in (Code.GET, Code.FETCH)
        aiocoap_blocks = block1 is None and (observe is not None or len(payload) > ONE_BLOCK)
        request = server.transport.request(message, blockwise=aiocoap_blocks)
        try:
            async with asyncio.timeout_at(started + timeout):
                response = await request.response
                if own_blocks and response.code.is_successful() and response.opt.block2 is not None:
                    response = await rest_of_answer(self._send_block, message, response, server.config.max_answer)
        except TimeoutError:
            self._failed(reg)
            raise DeviceTimeout(f"{self.name} did not answer {operation} {path} within {timeout:g} s") from None
        except coap_error.Error as err:
            self._failed(reg)
            raise DeviceTimeout(f"{self.name} did not answer {operation} {path}: {_network_reason(err)}") from None
        except OperationError as err:  # a broken block-wise answer (blockwise.py)
            reg.stats.errors += 1
            server.stats.errors += 1
            raise OperationError(
                f"{self.name} gave an unusable answer to {operation} {path}: {err}", err.code
            ) from None
        except Exception as err:  # aiocoap asserts on some broken block-wise answers
            reg.stats.errors += 1
            server.stats.errors += 1
            _LOGGER.debug("%s gave an unusable answer to %s %s", self.name, operation, path, exc_info=True)
            raise OperationError(
                f"{self.name} gave an unusable answer to {operation} {path} ({type(err).__name__})"
            ) from None
        self._heard(reg)
        if tolerate_not_acceptable and response.code == Code.NOT_ACCEPTABLE:
            return response, request
        if block1 is not None and response.code == Code.REQUEST_ENTITY_TOO_LARGE:
            return response, request
        if not response.code.is_successful():
            text = code_text(response.code)
            reg.stats.errors += 1
            detail = response.payload.decode("utf-8", "replace")[:200] if response.payload else ""
            self._emit_response(operation, path, text, {})
            message = f"{self.name} answered {operation} {path} with {text} ({meaning(text)})"
            raise OperationError(f"{message}: {detail}" if detail else message, text)
        return response, request

    async def _send_block(self, message: Message) -> Message:
        self.registration.stats.messages_out += 1
        response: Message = await self._server.transport.request(message, blockwise=False).response
        return response

    def _heard(self, reg: Registration) -> None:
        reg.stats.messages_in += 1
        reg.stats.last_seen = time.time()
        if reg.queue_mode:
            self._server.queue.wake(self.name)

    def _failed(self, reg: Registration) -> None:
        reg.stats.errors += 1
        self._server.stats.errors += 1
        if reg.queue_mode:
            self._server.queue.sleep(self.name)

    def _emit_response(
        self,
        operation: str,
        path: Path,
        code: str,
        values: Mapping[Path, Value],
        content_format: int | None = None,
        fallback_from: tuple[int, ...] = (),
    ) -> None:
        details = ResponseInfo(operation=operation, content_format=content_format, fallback_from=fallback_from)
        if values:  # newer than what the notification budget holds of the same paths
            self._server.budget.supersede(self.name, values)
        self._server.events.emit(
            Event(
                type=EventType.RESPONSE,
                endpoint=self.name,
                path=path,
                values=values,
                code=code,
                details=details,
            )
        )

    def _decode(self, response: Message, path: Path) -> dict[Path, Value]:
        if not response.payload:
            return {}
        fmt = response.opt.content_format
        fmt = ContentFormat.TEXT if fmt is None else int(fmt)
        try:
            return decode(fmt, response.payload, path, self._server.model)
        except CodecError as err:
            self.registration.stats.errors += 1
            raise OperationError(f"{self.name} sent an unreadable answer for {path}: {err}", "2.05") from None

    def _decode_multi(self, response: Message) -> dict[Path, Value]:
        if not response.payload:
            return {}
        fmt = response.opt.content_format
        try:
            return decode_values(None if fmt is None else int(fmt), response.payload, self._server.model)
        except CodecError as err:
            raise OperationError(f"{self.name} sent an unreadable answer: {err}", "2.05") from None

    def _finish(
        self, operation: str, path: Path, response: Message, values: Mapping[Path, Value] | None = None, **extra: Any
    ) -> Response:
        code = code_text(response.code)
        values = values or {}
        fmt = None if response.opt.content_format is None else int(response.opt.content_format)
        self._emit_response(operation, path, code, values, fmt, extra.get("fallback_from", ()))
        return Response(code, values, fmt, response.payload, **extra)

    # -- typed values from what a user gave -----------------------------------------------

    def node_for(self, path: Path, value: object) -> Node:
        """Build the node a Write sends from a user's value (dicts for instances and multi-resources)."""
        return node_for(self._server.model, path, value)

    # -- operations ----------------------------------------------------------------------

    async def read(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Read path, in the richest format the device takes."""
        path = _path(path)
        response, _, refused = await self._get(path, content_format, timeout, "read")
        return self._finish("read", path, response, self._decode(response, path), fallback_from=refused)

    async def _get(
        self,
        target: Path | tuple[Path, ...],
        content_format: int | None,
        timeout: float | None,
        operation: str,
        *,
        observe: bool = False,
    ) -> tuple[Message, Any, tuple[int, ...]]:
        """Send a Read or Observe (GET), or its composite form (FETCH of several paths).

        Ask in the device's formats in turn until one is not refused with 4.06.
        """
        composite = isinstance(target, tuple)
        path = target if isinstance(target, Path) else Path()
        if content_format is not None:
            candidates = [content_format]
        else:
            candidates = self.accept_candidates(path, composite=composite)

        def attempt(fmt: int, tolerate: bool) -> Awaitable[tuple[Message, Any]]:
            body: dict[str, Any] = {}
            if isinstance(target, tuple):
                body_format = _composite_body(fmt)
                body = {"payload": encode_paths(body_format, target), "content_format": body_format}
            return self._request(
                Code.FETCH if composite else Code.GET,
                path,
                accept=fmt,
                observe=0 if observe else None,
                timeout=timeout,
                operation=operation,
                tolerate_not_acceptable=tolerate,
                **body,
            )

        return await self._negotiate(candidates, attempt)

    async def discover(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Discover the attributes at path."""
        path = _path(path)
        response, _ = await self._request(
            Code.GET, path, accept=ContentFormat.LINK_FORMAT, timeout=timeout, operation="discover"
        )
        try:
            attributes = parse_discover(response.payload)
        except CodecError as err:
            raise OperationError(f"{self.name} sent an unreadable Discover answer: {err}", "2.05") from None
        return self._finish("discover", path, response, attributes=attributes)

    async def write(
        self,
        path: Path | str,
        value: object,
        *,
        replace: bool = True,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Write a resource (replace: PUT) or update an instance partially (POST)."""
        path = _path(path)
        node = (
            value
            if isinstance(value, (Resource, MultipleResource, ResourceInstance, ObjectInstance))
            else self.node_for(path, value)
        )
        fmt = self._write_format(path, node) if content_format is None else content_format
        payload = encode(fmt, node, path, self._server.model)
        response, _ = await self._request(
            Code.PUT if replace else Code.POST,
            path,
            payload=payload,
            content_format=fmt,
            timeout=timeout,
            operation="write",
        )
        return self._finish("write", path, response, flatten(node, path))

    async def write_block(
        self,
        path: Path | str,
        payload: bytes,
        block1: tuple[int, bool, int],
        *,
        size1: int | None = None,
        content_format: int = ContentFormat.OPAQUE,
        timeout: float | None = None,
    ) -> Message:
        """Send one block (Block1: number, more, size exponent) of a Write of path; return the answer.

        The answer is 2.31 Continue for a block with more to come, 2.04 for the last one, or 4.13
        (its Block1 the size the device takes, its Size1 the largest body); any other error
        raises. Block-wise pushes (firmware) go through this; no response event is emitted.
        """
        path = _path(path)
        response, _ = await self._request(
            Code.PUT,
            path,
            payload=payload,
            content_format=content_format,
            timeout=timeout,
            operation="write",
            block1=block1,
            size1=size1,
        )
        return response

    async def write_attributes(
        self, path: Path | str, attributes: Mapping[str, float | int | None], *, timeout: float | None = None
    ) -> Response:
        """Set notification attributes; a None value clears that attribute."""
        path = _path(path)
        query = [
            name if value is None else f"{name}={value}" if isinstance(value, int) else f"{name}={value:g}"
            for name, value in check_attributes(attributes).items()
        ]
        response, _ = await self._request(Code.PUT, path, query=query, timeout=timeout, operation="write-attributes")
        return self._finish("write-attributes", path, response)

    async def execute(
        self, path: Path | str, arguments: str | None = None, *, timeout: float | None = None
    ) -> Response:
        """Execute the resource at path."""
        path = _path(path)
        if not path.is_resource:
            raise CodecError(f"Execute needs a resource path, not {path}")
        payload = arguments.encode() if arguments else b""
        response, _ = await self._request(
            Code.POST,
            path,
            payload=payload,
            content_format=ContentFormat.TEXT if payload else None,
            timeout=timeout,
            operation="execute",
        )
        return self._finish("execute", path, response)

    async def create(
        self,
        path: Path | str,
        values: Mapping[Any, object],
        *,
        instance_id: int | None = None,
        content_format: int | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Create an object instance under /O with resource values {resource id: value}."""
        path = _path(path)
        if not path.is_object:
            raise CodecError(f"Create needs an object path, not {path}")
        if instance_id is None:
            instance_id = self.registration.objects.free_instance_id(path.ids[0])
        node = self.node_for(path.child(instance_id), dict(values))
        fmt = self.preferred_format() if content_format is None else content_format
        payload = encode(
            fmt,
            node,
            path if fmt in (ContentFormat.TLV, ContentFormat.LEGACY_TLV) else path.child(instance_id),
            self._server.model,
        )
        response, _ = await self._request(
            Code.POST, path, payload=payload, content_format=fmt, timeout=timeout, operation="create"
        )
        location = path.child(instance_id)
        segments = [s for s in response.opt.location_path if s]
        if len(segments) >= 2 and all(s.isdigit() for s in segments[-2:]):
            with contextlib.suppress(CodecError):
                location = Path.parse("/" + "/".join(segments[-2:]))
        return self._finish("create", path, response, location=location)

    async def delete(self, path: Path | str, *, timeout: float | None = None) -> Response:
        """Delete the instance at path."""
        path = _path(path)
        response, _ = await self._request(Code.DELETE, path, timeout=timeout, operation="delete")
        return self._finish("delete", path, response)

    async def read_composite(
        self, paths: Iterable[Path | str], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Read several paths in one FETCH."""
        plist = tuple(_path(p) for p in paths)
        response, _, refused = await self._get(plist, content_format, timeout, "read-composite")
        return self._finish("read-composite", Path(), response, self._decode_multi(response), fallback_from=refused)

    async def write_composite(
        self, values: Mapping[Path | str, object], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Write several paths in one iPATCH."""
        typed = {(p := _path(k)): self._server.model.typed(p, v) for k, v in values.items()}
        for p in typed:
            if p.depth < 3:
                raise CodecError(f"Write-Composite needs resource paths, not {p}")
        fmt = _senml(self.preferred_format()) if content_format is None else content_format
        response, _ = await self._request(
            Code.iPATCH,
            Path(),
            payload=encode_values(fmt, typed),
            content_format=fmt,
            timeout=timeout,
            operation="write-composite",
        )
        return self._finish("write-composite", Path(), response, typed)

    # -- observation -----------------------------------------------------------------------

    async def observe(
        self, path: Path | str, *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Start observing path; notifications arrive as events."""
        path = _path(path)
        response, request, refused = await self._get(path, content_format, timeout, "observe", observe=True)
        values = self._decode(response, path)
        self._track(request, response, (path,), composite=False)
        return self._finish("observe", path, response, values, fallback_from=refused)

    async def observe_composite(
        self, paths: Iterable[Path | str], *, content_format: int | None = None, timeout: float | None = None
    ) -> Response:
        """Start observing several paths in one FETCH; notifications arrive as events."""
        plist = tuple(_path(p) for p in paths)
        response, request, refused = await self._get(plist, content_format, timeout, "observe-composite", observe=True)
        values = self._decode_multi(response)
        self._track(request, response, plist, composite=True)
        return self._finish("observe-composite", Path(), response, values, fallback_from=refused)

    def _track(self, request: Any, response: Message, paths: tuple[Path, ...], *, composite: bool) -> None:
        server = self._server
        if response.opt.observe is None:
            _LOGGER.debug("%s answered the Observe of %s without observing", self.name, paths)
            return
        reg = self.registration
        observation = Observation(
            endpoint=self.name,
            paths=paths,
            token=response.token,
            request=request,
            content_format=response.opt.content_format,
            composite=composite,
            last_sequence=response.opt.observe,
            last_arrival=server.clock(),
            reg_id=reg.reg_id,
            sockaddr=server.transport.serves_fast(response.remote),
            # a separate (CON or NON) answer sent again is a duplicate, not a notification
            last_datagram=(response.mid, response.opt.observe) if response.mtype in (CON, NON) else (-1, None),
        )
        old = server.observations.add(observation)
        if old is not None:
            old.cancel_locally()

        on_notifications(
            request,
            functools.partial(server.on_notification, observation),
            functools.partial(server.on_observation_error, observation),
        )

    async def cancel_observe(
        self, path: Path | str | Iterable[Path | str], *, timeout: float | None = None
    ) -> Response:
        """Cancel an observation with a GET carrying Observe=1 and the observation's token."""
        if isinstance(path, (str, Path)):
            paths: tuple[Path, ...] = (_path(path),)
        else:
            paths = tuple(_path(p) for p in path)
        server = self._server
        observation = server.observations.get(self.name, paths)
        if observation is None:
            raise OperationError(f"{self.name} has no observation of {', '.join(map(str, paths))}", "4.04")
        server.observations.remove(observation)
        observation.cancel_locally()
        reg = self.registration
        if observation.composite:
            fmt = observation.content_format or _senml(self.preferred_format())
            body = _composite_body(fmt)
            message = Message(
                code=Code.FETCH,
                uri_path=reg.uri_path(Path()),
                observe=1,
                payload=encode_paths(body, paths),
                content_format=body,
                accept=fmt,
            )
        else:
            message = Message(code=Code.GET, uri_path=reg.uri_path(paths[0]), observe=1)
            if observation.content_format is not None:
                message.opt.accept = observation.content_format
        _address(message, reg, server)
        message.transport_tuning = FastTuning(server.config.ack_timeout, server.config.max_retransmit)
        reg.stats.messages_out += 1
        server.stats.requests_out += 1
        request = server.transport.request_with_token(message, observation.token)
        try:
            async with asyncio.timeout(timeout if timeout is not None else server.config.request_timeout):
                response = await request.response
        except (TimeoutError, coap_error.Error):
            self._failed(reg)
            raise DeviceTimeout(f"{self.name} did not answer the cancellation of {paths[0]}") from None
        self._heard(reg)
        return self._finish("cancel-observe", paths[0], response)

    async def cancel_all_observations(self) -> int:
        """Cancel every observation of the device; return how many there were."""
        count = 0
        for observation in self._server.observations.of(self.name):
            try:
                await self.cancel_observe(observation.paths)
            except OperationError as err:
                _LOGGER.debug("Cancelling %s on %s: %s", observation.paths, self.name, err)
            count += 1
        return count

    def observations(self) -> list[dict[str, Any]]:
        """Return the device's observations in JSON-friendly form."""
        return [
            {
                "paths": [str(p) for p in o.paths],
                "composite": o.composite,
                "token": o.token.hex(),
                "notifications": o.notifications,
                "last_sequence": o.last_sequence,
            }
            for o in self._server.observations.of(self.name)
        ]


def _path(path: Path | str) -> Path:
    return path if isinstance(path, Path) else Path.parse(path)


def _senml(fmt: int) -> int:
    """Composite operations need SenML; keep CBOR or JSON as the device prefers."""
    return fmt if fmt in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON) else ContentFormat.SENML_JSON


def _composite_body(accept: int) -> int:
    """Pick the SenML format of a composite request's path list; LwM2M CBOR answers get a CBOR one."""
    return accept if accept in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON) else ContentFormat.SENML_CBOR


__all__ = ["Endpoint", "format_name"]


def _address(message: Message, reg: Registration, server: Any) -> None:
    """Address message to the device: its remote, or (restored, not heard from yet) its saved address."""
    message.remote = reg.remote
    if message.remote is None:
        if reg.transport == "dtls":
            message.remote = server.transport.address_for(reg.address, reg.identity)
        else:
            message.unresolved_remote = reg.address


def _network_reason(err: BaseException) -> str:
    """Say why a request failed on the network: the socket error behind aiocoap's NetworkError.

    ICMP port unreachable (the device's port closed: it went away, restarted on another port
    or its NAT mapping expired) arrives as ECONNREFUSED.
    """
    if isinstance(err, coap_error.MessageError):  # aiocoap's failure on an RST from the device
        return "it reset the request (RST): it does not know it, or was restarted"
    cause = err.__cause__
    if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
        return "its port is closed (ICMP port unreachable: the device went away or now uses another port)"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    if isinstance(err, coap_error.NetworkError) and err.args and isinstance(err.args[0], str):
        return err.args[0]  # a reason of ours (DTLS); aiocoap's str() names only the class
    return str(err)
