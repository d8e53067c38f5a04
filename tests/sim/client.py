"""A simulated LwM2M client on aiocoap: registers, answers every operation, observes, sleeps.

Objects 1 (server), 3 (device, with reboot), 3303 (temperature) and 3311 (light) by
default, and 5 (firmware update, tests/sim/firmware.py) on request, as LwM2M 1.0 (TLV) or
1.1 (SenML CBOR, SenML JSON, TLV). It can sleep in queue mode (its socket closed), move to
another port (NAT rebinding), push notifications and Send, and misbehave on request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiocoap
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.resource import ObservableResource, PathCapable

from custom_components.lwm2m.lwm2m.coap_internals import prepare_context
from custom_components.lwm2m.lwm2m.codecs import (
    ContentFormat,
    decode,
    decode_paths,
    decode_values,
    encode,
    encode_values,
)
from custom_components.lwm2m.lwm2m.codecs.link_format import (
    Link,
    RegisteredObjects,
    format_links,
    format_registration,
)
from custom_components.lwm2m.lwm2m.dtls.client import dtls_client_context
from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.errors import CodecError
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.nodes import build_node
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.lwm2m.values import Value

from .firmware import SimFirmware

P = Path.parse
DEFAULT_VALUES: dict[Path, Value] = {
    P("/1/0/0"): 1,
    P("/1/0/1"): 60,
    P("/1/0/6"): False,
    P("/1/0/7"): "U",
    P("/3/0/0"): "Simulated Devices Inc.",
    P("/3/0/1"): "Sim-1",
    P("/3/0/2"): "SN-0001",
    P("/3/0/3"): "1.2.3",
    P("/3/0/7/0"): 3800,
    P("/3/0/7/1"): 5000,
    P("/3/0/9"): 95,
    P("/3/0/11/0"): 0,
    P("/3/0/13"): datetime.fromtimestamp(1_700_000_000, UTC),
    P("/3/0/16"): "U",
    P("/3/0/18"): "HW-2",
    P("/3303/0/5700"): 21.5,
    P("/3303/0/5701"): "Cel",
    P("/3311/0/5850"): False,
    P("/3311/0/5851"): 50,
}
EXECUTABLES = {P("/3/0/4"), P("/3/0/5"), P("/3/0/12")}
_FORMATS = {
    "1.0": (ContentFormat.TLV, ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.LWM2M_JSON),
    "1.1": (
        ContentFormat.SENML_CBOR,
        ContentFormat.SENML_JSON,
        ContentFormat.TLV,
        ContentFormat.TEXT,
        ContentFormat.OPAQUE,
        ContentFormat.LWM2M_JSON,
        ContentFormat.LWM2M_CBOR,
    ),
}


class SimClient:
    """One simulated device. Start it to register; every operation on it is recorded."""

    def __init__(
        self,
        endpoint: str,
        server_port: int,
        *,
        server_host: str = "127.0.0.1",
        version: str = "1.1",
        lifetime: int = 60,
        binding: str = "U",
        queue_mode: bool = False,
        values: Mapping[Path, Value] | None = None,
        executables: set[Path] | None = None,
        announce_formats: bool = False,
        local_port: int = 0,
        misbehave: str | None = None,
        refuse_formats: Iterable[int] = (),
        dtls: ClientContext | None = None,
        firmware: bool = False,
    ) -> None:
        self.endpoint = endpoint
        # dtls: the device's credentials; it then talks coaps:// to server_port (the DTLS port)
        self.dtls = dtls
        self.server = f"{'coaps' if dtls else 'coap'}://{server_host}:{server_port}"
        self.version = version
        self.lifetime = lifetime
        self.binding = binding
        self.queue_mode = queue_mode
        self.values: dict[Path, Value] = dict(DEFAULT_VALUES if values is None else values)
        self.executables = set(EXECUTABLES if executables is None else executables)
        self.announce_formats = announce_formats
        self.model = ObjectModel()
        self.context: aiocoap.Context | None = None
        self.local_port = local_port
        self.location: tuple[str, ...] = ()
        self.executed: list[tuple[Path, str]] = []
        self.written: list[tuple[str, Path, dict[Path, Value]]] = []
        self.attributes: dict[Path, dict[str, str | None]] = {}
        self.created: list[Path] = []
        self.deleted: list[Path] = []
        self.requests: list[tuple[str, str, int | None]] = []  # (method, path, accept)
        # "garbage", "error", "silent", or "resources-only" (refuses reads above a resource,
        # as lwm2m-node-lib does)
        self.misbehave: str | None = misbehave
        # Accept formats answered with 4.06 Not Acceptable, as a device that cannot produce them
        self.refuse_formats: set[int] = {int(f) for f in refuse_formats}
        self.bootstrapping = False  # between a Bootstrap-Request and Bootstrap-Finish
        self.bootstrap_finished = asyncio.Event()
        self.root = _Root(self)
        # object 5: its options and records are on client.firmware
        self.firmware: SimFirmware | None = SimFirmware(self) if firmware else None

    # -- life cycle --------------------------------------------------------------------

    async def _open(self, port: int) -> None:
        if self.dtls is not None:
            self.context, interface = await dtls_client_context(self.root, self.dtls, port=port)
            self.local_port = interface.port
            return
        self.context = await aiocoap.Context.create_server_context(self.root, bind=("::", port), transports=["udp6"])
        _dedup, self.local_port = prepare_context(self.context)

    async def _close(self) -> None:
        if self.context is not None:
            context, self.context = self.context, None
            await context.shutdown()

    async def start(self, register: bool = True) -> Message | None:
        await self._open(self.local_port)
        return await self.register() if register else None

    async def stop(self) -> None:
        if self.firmware is not None:
            await self.firmware.stop()
        self.root.end_observations()
        await self._close()

    async def _send(self, message: Message, timeout: float = 10.0) -> Message:
        assert self.context is not None, "start the client first"
        async with asyncio.timeout(timeout):
            return await self.context.request(message).response

    def registration_payload(self) -> bytes:
        instances = sorted({Path(p.ids[:2]) for p in [*self.values, *self.executables] if p.depth >= 3})
        objects = {p.ids[0]: ("1.1" if self.version != "1.0" and p.ids[0] == 3303 else None) for p in instances}
        formats = tuple(int(f) for f in _FORMATS[self.version][:2]) if self.announce_formats else ()
        return format_registration(RegisteredObjects("/", formats, objects, tuple(instances)))

    def query(self, extra: Mapping[str, str | None] | None = None) -> list[str]:
        items = {"ep": self.endpoint, "lt": str(self.lifetime), "lwm2m": self.version, "b": self.binding}
        if self.queue_mode and self.version != "1.0":
            items["Q"] = None
        items.update(extra or {})
        return [k if v is None else f"{k}={v}" for k, v in items.items()]

    async def register(self, query: list[str] | None = None, payload: bytes | None = None) -> Message:
        message = Message(
            code=Code.POST,
            uri=f"{self.server}/rd",
            content_format=ContentFormat.LINK_FORMAT,
            payload=self.registration_payload() if payload is None else payload,
        )
        message.opt.uri_query = tuple(self.query() if query is None else query)
        response = await self._send(message)
        if response.code == Code.CREATED:
            self.location = tuple(response.opt.location_path)
        return response

    async def update(self, lifetime: int | None = None, objects: bool = False, binding: str | None = None) -> Message:
        query = []
        if lifetime is not None:
            self.lifetime = lifetime
            query.append(f"lt={lifetime}")
        if binding is not None:
            self.binding = binding
            query.append(f"b={binding}")
        message = Message(
            code=Code.POST,
            uri=f"{self.server}/{'/'.join(self.location)}",
            payload=self.registration_payload() if objects else b"",
        )
        if objects:
            message.opt.content_format = ContentFormat.LINK_FORMAT
        message.opt.uri_query = tuple(query)
        return await self._send(message)

    async def deregister(self) -> Message:
        response = await self._send(Message(code=Code.DELETE, uri=f"{self.server}/{'/'.join(self.location)}"))
        self.root.end_observations()
        return response

    async def send(self, paths: list[Path], fmt: int = ContentFormat.SENML_CBOR) -> Message:
        values = {p: v for p, v in self.values.items() if any(p.startswith(q) for q in paths)}
        message = Message(
            code=Code.POST, uri=f"{self.server}/dp", content_format=fmt, payload=encode_values(fmt, values)
        )
        return await self._send(message)

    async def sleep(self) -> None:
        """Queue mode: close the socket; requests to the device go unanswered."""
        await self._close()

    async def wake(self) -> Message:
        """Open the same port again and tell the server (an Update)."""
        await self._open(self.local_port)
        return await self.update()

    async def move(self) -> Message:
        """Continue from a new UDP port, as behind a NAT that rebinds, and send an Update."""
        self.root.end_observations()
        await self._close()
        await self._open(0)
        return await self.update()

    # -- values and notifications -------------------------------------------------------------

    async def bootstrap(self, uri: str, dtls: ClientContext | None = None, timeout: float = 20.0) -> Message:
        """Ask the bootstrap server at uri (coap:// or coaps:// with dtls) for an account, and register with it.

        A factory-fresh device: the bootstrap account is /0/0; what the bootstrap server
        writes (a Security and a Server instance) says where to register and with which key.
        Returns the Bootstrap-Request's answer when it is refused, else the Register's.
        """
        self.values[P("/0/0/0")] = uri
        self.values[P("/0/0/1")] = True
        self.values[P("/0/0/2")] = 0 if dtls is not None else 3
        self.dtls, self.bootstrapping = dtls, True
        self.bootstrap_finished = asyncio.Event()
        await self._open(self.local_port)
        request = Message(code=Code.POST, uri=f"{uri}/bs")
        request.opt.uri_query = (f"ep={self.endpoint}",)
        answer = await self._send(request)
        if answer.code != Code.CHANGED:
            return answer
        await asyncio.wait_for(self.bootstrap_finished.wait(), timeout)
        self.bootstrapping = False
        await self._close()
        self._take_account()
        await self._open(0)
        return await self.register()

    def _take_account(self) -> None:
        """Point the device at the server account the bootstrap wrote (the Security instance that is no bootstrap account)."""
        values = self.values
        (instance,) = [p for p in values if p.depth == 3 and p.ids[0] == 0 and p.ids[2] == 1 and values[p] is False]
        base = instance.parent
        uri, mode = str(values[base.child(0)]), values[base.child(2)]
        self.server = uri.rstrip("/")
        if mode == 0:
            identity, key = values[base.child(3)], values[base.child(5)]
            assert isinstance(identity, bytes) and isinstance(key, bytes)
            self.dtls = ClientContext(psk=(identity, key))
        else:
            self.dtls = None
        lifetimes = [v for p, v in values.items() if p.depth == 3 and p.ids[0] == 1 and p.ids[2] == 1]
        if lifetimes and isinstance(lifetimes[0], int):
            self.lifetime = lifetimes[0]

    def set_value(self, path: Path | str, value: Value) -> None:
        path = P(path) if isinstance(path, str) else path
        self.values[path] = value
        self.root.changed(path)


class _Root(ObservableResource, PathCapable):
    """Every request the server sends the device arrives here."""

    def __init__(self, client: SimClient) -> None:
        super().__init__()
        self.client = client
        self.observers: list[tuple[tuple[Path, ...], Any]] = []

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        # a firmware push is taken block by block (streamed), not spooled by aiocoap
        return self.client.firmware is None or not self.client.firmware.takes_blocks(request)

    def _path(self, request: Message) -> Path:
        return Path.parse("/" + "/".join(request.opt.uri_path))

    async def add_observation(self, request: Message, serverobservation: Any) -> None:
        try:
            if request.code == Code.FETCH:
                paths = tuple(decode_paths(int(request.opt.content_format), request.payload))
            else:
                paths = (self._path(request),)
        except (CodecError, TypeError):
            return
        entry = (paths, serverobservation)
        self.observers.append(entry)

        def cancelled() -> None:
            if entry in self.observers:
                self.observers.remove(entry)

        serverobservation.accept(cancelled)

    def changed(self, path: Path) -> None:
        for paths, observation in list(self.observers):
            if any(path.startswith(p) or p.startswith(path) for p in paths):
                observation.trigger()

    def end_observations(self) -> None:
        for _paths, observation in list(self.observers):
            with contextlib.suppress(Exception):
                observation.trigger(Message(code=Code.SERVICE_UNAVAILABLE), is_last=True)
        self.observers.clear()

    def _values_below(self, path: Path) -> dict[Path, Value]:
        return {p: v for p, v in self.client.values.items() if p.startswith(path)}

    def _content(self, path: Path, accept: int | None) -> Message:
        client = self.client
        own = [f for f in _FORMATS[client.version] if f not in client.refuse_formats]
        fmt = accept if accept is not None else (own[0] if own else _FORMATS[client.version][0])
        if fmt not in own:
            return Message(code=Code.NOT_ACCEPTABLE)
        values = self._values_below(path)
        if not values:
            return Message(code=Code.NOT_FOUND)
        if client.misbehave == "garbage":
            return Message(code=Code.CONTENT, content_format=fmt, payload=b"\xff\x00garbage")
        try:
            node = build_node(path, values)
            if fmt in (ContentFormat.TEXT, ContentFormat.OPAQUE) and path.depth < 3:
                return Message(code=Code.NOT_ACCEPTABLE)
            payload = encode(fmt, node, path, client.model)
        except CodecError:
            return Message(code=Code.NOT_ACCEPTABLE)
        return Message(code=Code.CONTENT, content_format=fmt, payload=payload)

    async def render(self, request: Message) -> Message:
        client = self.client
        accept = request.opt.accept
        client.requests.append((str(request.code), "/" + "/".join(request.opt.uri_path), accept))
        if client.misbehave == "silent":
            await asyncio.sleep(3600)
        if client.misbehave == "error":
            return Message(code=Code.INTERNAL_SERVER_ERROR, payload=b"simulated failure")
        if client.bootstrapping:
            answer = self._bootstrap(request)
            if answer is not None:
                return answer
        try:
            path = self._path(request)
        except CodecError:
            return Message(code=Code.NOT_FOUND)
        if client.firmware is not None and path.ids[:2] == (5, 0):
            answer = await client.firmware.render(path, request)
            if answer is not None:
                return answer
        code = request.code
        if code == Code.GET:
            if accept == ContentFormat.LINK_FORMAT:
                return self._discover(path)
            if client.misbehave == "resources-only" and path.depth < 3:
                return Message(code=Code.NOT_FOUND)
            return self._content(path, accept)
        if code == Code.PUT and not request.payload:
            self.client.attributes[path] = {
                k: (v if sep else None) for k, sep, v in (q.partition("=") for q in request.opt.uri_query)
            }
            return Message(code=Code.CHANGED)
        if code in (Code.PUT, Code.POST) and path in client.executables:
            client.executed.append((path, request.payload.decode()))
            return Message(code=Code.CHANGED)
        if code == Code.POST and path.is_object:
            return self._create(path, request)
        if code in (Code.PUT, Code.POST):
            return self._write(path, request, "replace" if code == Code.PUT else "update")
        if code == Code.DELETE:
            below = self._values_below(path)
            if not path.is_instance or not below:
                return Message(code=Code.NOT_FOUND if not below else Code.METHOD_NOT_ALLOWED)
            for p in below:
                del client.values[p]
            client.deleted.append(path)
            return Message(code=Code.DELETED)
        if code == Code.FETCH:
            paths = decode_paths(int(request.opt.content_format), request.payload)
            values = {p: v for p, v in client.values.items() if any(p.startswith(q) for q in paths)}
            fmt = accept if accept is not None else int(request.opt.content_format)
            if fmt in client.refuse_formats:
                return Message(code=Code.NOT_ACCEPTABLE)
            return Message(code=Code.CONTENT, content_format=fmt, payload=encode_values(fmt, values))
        if code == Code.iPATCH:
            values = decode_values(int(request.opt.content_format), request.payload, client.model)
            client.values.update(values)
            client.written.append(("composite", Path(), values))
            for p in values:
                self.changed(p)
            return Message(code=Code.CHANGED)
        return Message(code=Code.METHOD_NOT_ALLOWED)

    def _bootstrap(self, request: Message) -> Message | None:
        """Bootstrap-Finish, Bootstrap-Delete and Bootstrap-Write; None for what is answered as usual."""
        client, code, segments = self.client, request.code, tuple(request.opt.uri_path)
        if code == Code.POST and segments == ("bs",):
            client.bootstrap_finished.set()
            return Message(code=Code.CHANGED)
        if code == Code.DELETE and segments in (("0",), ("1",), ()):
            account = {
                p.parent
                for p, v in client.values.items()
                if p.depth == 3 and p.ids[:1] == (0,) and p.ids[2] == 1 and v is True
            }
            for p in list(client.values):
                if p.ids[0] in (0, 1) and (not segments or p.ids[0] == int(segments[0])) and p.parent not in account:
                    del client.values[p]
            return Message(code=Code.DELETED)
        if code == Code.PUT and len(segments) == 2 and segments[0] in ("0", "1"):
            path = Path.parse("/" + "/".join(segments))
            try:
                values = decode(
                    int(request.opt.content_format or ContentFormat.TLV), request.payload, path, client.model
                )
            except CodecError as err:
                return Message(code=Code.BAD_REQUEST, payload=str(err).encode())
            for p in [p for p in client.values if p.startswith(path)]:
                del client.values[p]
            client.values.update(values)
            client.written.append(("bootstrap", path, values))
            return Message(code=Code.CHANGED)
        return None

    def _discover(self, path: Path) -> Message:
        below = sorted(
            {p if p.depth == 3 else p.parent for p in self._values_below(path)}
            | {p for p in self.client.executables if p.startswith(path)}
        )
        if not below:
            return Message(code=Code.NOT_FOUND)
        links = [Link(str(path), dict(self.client.attributes.get(path, {})))]
        links += [Link(str(p), dict(self.client.attributes.get(p, {}))) for p in below if p != path]
        return Message(code=Code.CONTENT, content_format=ContentFormat.LINK_FORMAT, payload=format_links(links))

    def _write(self, path: Path, request: Message, mode: str) -> Message:
        client = self.client
        fmt = request.opt.content_format
        try:
            values = decode(ContentFormat.TEXT if fmt is None else int(fmt), request.payload, path, client.model)
        except CodecError as err:
            return Message(code=Code.BAD_REQUEST, payload=str(err).encode())
        if not self._values_below(path.parent if path.depth == 4 else path) and path.depth >= 3:
            return Message(code=Code.NOT_FOUND)
        if mode == "replace" and path.depth == 3:
            for p in list(self._values_below(path)):
                del client.values[p]
        client.values.update(values)
        client.written.append((mode, path, values))
        for p in values:
            self.changed(p)
        return Message(code=Code.CHANGED)

    def _create(self, path: Path, request: Message) -> Message:
        client = self.client
        fmt = int(request.opt.content_format or ContentFormat.TLV)
        try:
            if fmt in (ContentFormat.TLV, ContentFormat.LEGACY_TLV):
                values = decode(fmt, request.payload, path, client.model)
            else:
                values = decode_values(fmt, request.payload, client.model)
        except CodecError as err:
            return Message(code=Code.BAD_REQUEST, payload=str(err).encode())
        if not values:
            return Message(code=Code.BAD_REQUEST, payload=b"no values")
        instance = Path(next(iter(values)).ids[:2])
        client.values.update(values)
        client.created.append(instance)
        return Message(code=Code.CREATED, location_path=tuple(str(i) for i in instance.ids))
