"""The LwM2M bootstrap server (LwM2M 1.0-1.2, client-initiated bootstrap).

A device that knows only this server asks `POST /bs?ep=NAME`; the server answers 2.04, then
discovers what the device holds (Bootstrap-Discover of /), deletes its Security and Server
instances except the bootstrap account (Bootstrap-Delete of /0 and /1), writes one Security
instance (/0/x: the server URI, security mode, PSK identity and key, or the server's
certificate) and one Server instance (/1/x: short server id, lifetime, binding), and ends
with Bootstrap-Finish. Each step's failure ends the bootstrap with a reason.

Who may be given what: an endpoint's configuration names how it must ask. A configuration
with a bootstrap credential is handed out only through a DTLS session of that credential's
identity; one without is handed out over plain coap:// only when it carries no key (a NoSec
server account), so that nobody obtains a device's key by asking under its name.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiocoap import Message, resource
from aiocoap.numbers.codes import Code

from ..codecs import ContentFormat, encode
from ..events import BootstrapInfo, Event, EventBus, EventType
from ..limits import OnceLog
from ..model import ObjectModel
from ..nodes import build_node
from ..path import Path
from ..transport import CoapTransport, DtlsSettings, address_of
from .credentials import NOSEC, PSK, X509, Credential, CredentialError, Credentials, hex_key

_LOGGER = logging.getLogger(__name__)
# seconds a device has to answer one bootstrap request: CoAP's retransmissions of a CON
# request span 45 s (ACK_TIMEOUT 2 s, 4 retransmissions), and a cellular device may need them
STEP_TIMEOUT = 45.0
_INSTANCE_LINK = re.compile(rb"</(\d{1,5})/(\d{1,5})>")
SERVER_ID = 1  # the Short Server ID of the account the bootstrap writes
MODE_NUMBERS = {PSK: 0, X509: 2, NOSEC: 3}  # Security object /0/x/2
MAX_RUNNING = 100  # bootstraps in progress; more are answered 5.03
RESTART_SPACING = 10.0  # seconds between two bootstraps of one endpoint (unless it proves its bootstrap key)


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapConfig:
    """What one endpoint gets: the LwM2M server to register with, how, and how it must ask for it.

    uri is the server's coap:// or coaps:// URI; mode, identity and key the device's
    credential there; server_certificate (DER) the server's certificate for mode x509;
    bootstrap (optional) the device's credential towards this bootstrap server.
    """

    endpoint: str
    uri: str
    mode: str = NOSEC
    identity: str = ""
    key: bytes = field(default=b"", repr=False)
    server_certificate: bytes = b""
    lifetime: int = 300
    binding: str = "U"
    bootstrap: Credential | None = None

    @classmethod
    def from_dict(cls, endpoint: str, data: Mapping[str, Any]) -> BootstrapConfig:
        """Read one endpoint's entry of the runner's --bootstrap-config file."""
        if not isinstance(data, Mapping) or not isinstance(data.get("uri"), str):
            raise CredentialError(f"{endpoint}: a bootstrap entry needs the server's uri")
        uri, mode = data["uri"], data.get("mode", NOSEC)
        if not uri.startswith(("coap://", "coaps://")):
            raise CredentialError(f"{endpoint}: the uri is coap://host:port or coaps://host:port")
        if mode not in (NOSEC, PSK):
            raise CredentialError(f"{endpoint}: a bootstrap mode is nosec or psk")
        key = hex_key(data.get("key")) if mode == PSK else b""
        bootstrap = None
        if data.get("bootstrap_key") is not None:
            bootstrap = Credential(
                endpoint,
                PSK,
                psk_identity=str(data.get("bootstrap_identity", endpoint)),
                psk_key=hex_key(data["bootstrap_key"]),
            )
        lifetime = data.get("lifetime", 300)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
            raise CredentialError(f"{endpoint}: the lifetime is a positive number of seconds")
        return cls(
            endpoint=endpoint,
            uri=uri,
            mode=mode,
            identity=str(data.get("identity", endpoint)) if mode == PSK else "",
            key=key,
            lifetime=lifetime,
            bootstrap=bootstrap,
        )

    def server_credential(self) -> Credential | None:
        """Return the credential the LwM2M server needs for this device (None for NoSec)."""
        if self.mode == PSK:
            return Credential(self.endpoint, PSK, psk_identity=self.identity, psk_key=self.key)
        return None


class BootstrapFailed(Exception):
    """A bootstrap step failed; the message says which and how."""


class BootstrapServer:
    """A bootstrap server on its own port (coap://) and, with bootstrap credentials, a DTLS port."""

    def __init__(
        self,
        configs: Callable[[], Mapping[str, BootstrapConfig]],
        model: ObjectModel,
        *,
        host: str = "::",
        port: int = 5783,
        dtls_port: int | None = None,
        events: EventBus | None = None,
    ) -> None:
        """Serve the configurations configs() returns (read at each request)."""
        self._configs = configs
        self._model = model
        self.events = events or EventBus()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._started: dict[str, float] = {}  # when each endpoint's last bootstrap started
        self._held: tuple[Mapping[str, BootstrapConfig], Credentials] | None = None
        self._stopping = False
        self._log = OnceLog(_LOGGER)
        self.unknown_requests = 0  # Bootstrap-Requests of endpoints with no configuration
        site = resource.Site()
        site.add_resource(["bs"], _BootstrapRequest(self))
        dtls = None
        if dtls_port is not None:
            dtls = DtlsSettings(dtls_port, self._bootstrap_credentials)
        self.transport = CoapTransport(site, host, port, dtls=dtls)

    @property
    def port(self) -> int:
        """Return the coap:// port."""
        return self.transport.port

    @property
    def dtls_port(self) -> int:
        """Return the coaps:// port (0 without one)."""
        return self.transport.dtls_port

    def _bootstrap_credentials(self) -> Credentials:
        """Return the devices' bootstrap credentials (read at each handshake, built once per configuration set)."""
        configs = self._configs()
        if self._held is None or self._held[0] is not configs:
            held = Credentials()
            for config in configs.values():
                if config.bootstrap is None:
                    continue
                try:
                    held.add(config.bootstrap)
                except CredentialError as err:  # two devices with one bootstrap identity: the first keeps it
                    _LOGGER.warning("Not bootstrapping %s over coaps://: %s", config.endpoint, err)
            self._held = (configs, held)
        return self._held[1]

    async def start(self) -> None:
        """Bind the ports."""
        self._stopping = False
        await self.transport.start()

    async def stop(self) -> None:
        """Cancel the bootstraps in progress and unbind."""
        self._stopping = True  # a request that comes meanwhile starts nothing
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        await self.transport.stop()

    # -- the request ----------------------------------------------------------------------

    def accept(self, request: Message) -> Message:
        """Answer a Bootstrap-Request, and start the bootstrap it asks for."""
        query = dict(q.partition("=")[::2] for q in request.opt.uri_query)
        endpoint = query.get("ep", "")
        address = address_of(request.remote)
        config = self._configs().get(endpoint)
        if config is None:
            self.unknown_requests += 1
            self._log.warn(
                ("unknown",), "Bootstrap-Request of %r, which has no configuration, from %s", endpoint[:64], address
            )
            return Message(code=Code.BAD_REQUEST, payload=b"no bootstrap configuration for this endpoint")
        identity = self.transport.identity_of(request.remote)
        problem = self._refusal(config, identity)
        if problem is not None:
            self._log.warn(
                ("refused", endpoint), "Refusing the Bootstrap-Request of %s from %s: %s", endpoint, address, problem
            )
            return Message(code=Code.FORBIDDEN, payload=problem.encode())
        now = time.monotonic()
        running = self._running.get(endpoint)
        if running is not None and identity is not None:
            running.cancel()  # the device proved its bootstrap key and started over (a reboot): its new request wins
        elif running is not None or now - self._started.get(endpoint, -RESTART_SPACING) < RESTART_SPACING:
            # anyone may ask for a NoSec account over plain coap://: one run at a time, spaced
            return Message(code=Code.SERVICE_UNAVAILABLE, max_age=int(RESTART_SPACING))
        if self._stopping or len(self._running) >= MAX_RUNNING:
            return Message(code=Code.SERVICE_UNAVAILABLE, max_age=30)
        self._started[endpoint] = now
        if len(self._started) > 4 * MAX_RUNNING:
            self._started = {e: t for e, t in self._started.items() if now - t < RESTART_SPACING}
        fmt = _preferred(query.get("pct"))
        task = asyncio.get_running_loop().create_task(
            self._bootstrap(config, request.remote, fmt), name=f"lwm2m bootstrap {endpoint}"
        )
        self._running[endpoint] = task
        task.add_done_callback(
            lambda done: self._running.pop(endpoint) if self._running.get(endpoint) is done else None
        )
        return Message(code=Code.CHANGED)

    @staticmethod
    def _refusal(config: BootstrapConfig, identity: str | None) -> str | None:
        """Return why this request may not have config (None: it may)."""
        if config.bootstrap is not None:
            if identity != config.bootstrap.identity:
                return "this endpoint bootstraps over coaps:// with its bootstrap credential"
            return None
        if config.mode != NOSEC:
            return "this endpoint's keys are handed out only over coaps:// with a bootstrap credential"
        return None

    # -- the bootstrap --------------------------------------------------------------------

    async def _bootstrap(self, config: BootstrapConfig, remote: Any, fmt: int) -> None:
        endpoint, address = config.endpoint, address_of(remote)
        try:
            held = await self._discover(remote)
            for target in ("0", "1"):  # 4.04: nothing there to delete
                message = Message(code=Code.DELETE, uri_path=(target,))
                await self._ask(remote, message, f"Bootstrap-Delete of /{target}", ok=(Code.DELETED, Code.NOT_FOUND))
            security = _free_instance(held, 0)
            server = _free_instance(held, 1)
            await self._write(remote, Path.of(0, security), _security_values(config, security), fmt)
            await self._write(remote, Path.of(1, server), _server_values(config, server), fmt)
            await self._ask(remote, Message(code=Code.POST, uri_path=("bs",)), "Bootstrap-Finish")
        except BootstrapFailed as err:
            _LOGGER.info("Bootstrap of %s failed: %s", endpoint, err)
            self._emit(EventType.BOOTSTRAP_FAILED, endpoint, {"reason": str(err), "address": address})
            return
        _LOGGER.info("Bootstrapped %s: it registers with %s next", endpoint, config.uri)
        self._emit(EventType.BOOTSTRAPPED, endpoint, {"server": config.uri, "address": address})

    def _emit(self, kind: EventType, endpoint: str, details: dict[str, str]) -> None:
        self.events.emit(Event(type=kind, endpoint=endpoint, details=BootstrapInfo(**details)))

    async def _discover(self, remote: Any) -> list[Path]:
        """Return the object instances the device holds (Bootstrap-Discover of /).

        Read leniently: an LwM2M 1.0 device may answer `lwm2m="1.0",</0/1>...` with no `</>`
        first, and one without Bootstrap-Discover answers 4.xx; then nothing is known, and the
        instance ids written are 1 (the bootstrap account survives the deletes, at 0 on every
        client seen).
        """
        message = Message(code=Code.GET, uri_path=(), accept=ContentFormat.LINK_FORMAT)
        response = await self._ask(remote, message, "Bootstrap-Discover of /", ok=())
        if response.code != Code.CONTENT:
            _LOGGER.debug("Bootstrap-Discover answered %s; writing without knowing the instances", response.code)
            return []
        return [Path.of(int(o), int(i)) for o, i in _INSTANCE_LINK.findall(response.payload) if int(i) < 65535]

    async def _write(self, remote: Any, path: Path, values: dict[Path, Any], fmt: int) -> None:
        payload = encode(fmt, build_node(path, values), path, self._model)
        message = Message(code=Code.PUT, uri_path=tuple(str(i) for i in path.ids), payload=payload, content_format=fmt)
        await self._ask(remote, message, f"Bootstrap-Write of {path}")

    async def _ask(self, remote: Any, message: Message, what: str, ok: tuple[Code, ...] | None = None) -> Message:
        """Send one bootstrap request; BootstrapFailed unless its answer is one of ok (None: any success; (): any)."""
        message.remote = remote
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                response = await self.transport.request(message).response
        except TimeoutError:
            raise BootstrapFailed(f"no answer to {what} within {STEP_TIMEOUT:g} s") from None
        except Exception as err:  # noqa: BLE001 - a network error ends the bootstrap with its reason
            raise BootstrapFailed(f"{what} failed: {err.args[0] if err.args else err}") from None
        if (ok and response.code not in ok) or (ok is None and not response.code.is_successful()):
            raise BootstrapFailed(f"{response.code.dotted} on {what}")
        return response


class _BootstrapRequest(resource.Resource):
    """POST /bs?ep=NAME."""

    def __init__(self, server: BootstrapServer) -> None:
        super().__init__()
        self._server = server

    async def render_post(self, request: Message) -> Message:
        return self._server.accept(request)


def _preferred(pct: str | None) -> int:
    """Return the content format to write in: the device's preferred one (pct) if it is one we write, else TLV."""
    try:
        fmt = int(pct) if pct else ContentFormat.TLV
    except ValueError:
        return ContentFormat.TLV
    writable = (ContentFormat.TLV, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR)
    return fmt if fmt in writable else ContentFormat.TLV


def _free_instance(held: list[Path], object_id: int) -> int:
    """Return an instance id of object_id the device does not use (never 0: a bootstrap account's, often)."""
    used = {p.ids[1] for p in held if p.ids[0] == object_id}
    return next(i for i in range(1, 65535) if i not in used)


def _security_values(config: BootstrapConfig, instance: int) -> dict[Path, Any]:
    base = Path.of(0, instance)
    values: dict[Path, Any] = {
        base.child(0): config.uri,
        base.child(1): False,  # not a bootstrap server
        base.child(2): MODE_NUMBERS[config.mode],
        base.child(3): config.identity.encode(),
        base.child(4): config.server_certificate,
        base.child(5): config.key,
        base.child(10): SERVER_ID,
    }
    return values


def _server_values(config: BootstrapConfig, instance: int) -> dict[Path, Any]:
    base = Path.of(1, instance)
    return {
        base.child(0): SERVER_ID,
        base.child(1): config.lifetime,
        base.child(6): False,  # notification storing when disabled or offline
        base.child(7): config.binding,
    }
