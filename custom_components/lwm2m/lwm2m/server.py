"""The LwM2M server: registrations, their lifetimes, notifications and Send, as events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiocoap import Message
from aiocoap.numbers.codes import Code

from .api import SourceStats
from .block1 import Block1Spool
from .client import Endpoint
from .codecs import ContentFormat, decode, decode_values
from .config import AUTO_OBSERVE_ALL, ServerConfig
from .errors import CodecError, LwM2MError, NotRegistered
from .events import Event, EventBus, EventType, NotificationInfo, RefusalInfo
from .firmware.downloads import Downloads
from .firmware.links import CoapLinks
from .firmware.update import FirmwareUpdates
from .limits import EventBudget, OnceLog, TokenBucket, retry_after
from .model import ObjectModel
from .observe import Observation, ObservationTable, older
from .path import Path
from .queue import SleepQueue
from .registration import Registration, RegistrationStore, host_part, new_registration_id, readable_registrations
from .security.admission import UnknownReports, binding_problem, refusal
from .security.certificates import new_server_identity
from .security.credentials import Credentials
from .site import LwM2MSite, Refused, RegisterParams
from .transport import CoapTransport, DtlsSettings, address_of

_LOGGER = logging.getLogger(__name__)
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
# RFC 7641 section 3.4: a notification more than 128 s after the last one is fresh whatever
# its Observe number (the numbers may have wrapped, or the device restarted its counter).
OBSERVE_FRESHNESS = 128.0
LIMIT_RETRY = 300  # Max-Age (s) of a 5.03 for a Register over a cap: it will not clear at once
SEND_KEY = ("send",)  # the notification budget coalesces an endpoint's Sends under this key


class LwM2MServer:
    """An LwM2M server on one UDP port. Start it, subscribe to its events, operate endpoints."""

    def __init__(self, config: ServerConfig | None = None, model: ObjectModel | None = None) -> None:
        """Prepare the server with config and model; start() binds it."""
        self.config = config or ServerConfig()
        self.model = model or ObjectModel()
        self.events = EventBus()
        self.registrations = RegistrationStore()
        self.observations = ObservationTable()
        self.queue = SleepQueue(self.config.queue_window, self.config.max_queued)
        self.stats = SourceStats()
        config = self.config
        self.budget = EventBudget(config.notification_rate, config.notification_burst, self.events.emit, self.stats)
        rate = self.config.registration_rate
        self._register_rate = TokenBucket(rate, max(rate, 1.0), time.monotonic()) if rate else None
        self._refusals = OnceLog(_LOGGER)
        self.unknown_reports = UnknownReports()
        self.site = LwM2MSite(self, Block1Spool(self.config.max_body))
        self.downloads = Downloads()
        self.firmware = FirmwareUpdates(self, self.config.firmware)
        self.firmware.links.append(CoapLinks(self))
        self.transport = CoapTransport(
            self.site, self.config.host, self.config.port, dedup_max=self.config.dedup_max, dtls=self._dtls_settings()
        )
        self.transport.routes = self.observations.by_token
        self.transport.deliver = self.on_fast_notification
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._expiry_task: asyncio.Task[None] | None = None
        self.clock: Callable[[], float] = time.monotonic  # when notifications arrive; tests replace it

    def _dtls_settings(self) -> DtlsSettings | None:
        config = self.config
        if config.dtls_port is None:
            return None
        if config.server_identity is None and config.credentials.wants_certificates:
            config.server_identity = new_server_identity()
        return DtlsSettings(
            config.dtls_port, lambda: self.config.credentials, config.server_identity, config.dtls_limits
        )

    # -- life cycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """Return the UDP port the server listens on."""
        return self.transport.port

    @property
    def dtls_port(self) -> int:
        """Return the coaps:// port (0 without a DTLS listener)."""
        return self.transport.dtls_port

    @property
    def running(self) -> bool:
        """Return whether the server is started."""
        return self.transport.context is not None

    async def start(self) -> None:
        """Bind the server and start expiring registrations."""
        self._stopping = False
        await self.transport.start()
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop(), name="lwm2m expiry")
        _LOGGER.debug("LwM2M server listening on UDP port %s, DTLS port %s", self.port, self.dtls_port)

    async def stop(self) -> None:
        """Stop expiring registrations, fail queued requests and unbind."""
        self._stopping = True  # a request still handled meanwhile starts no new background job
        await self.firmware.stop()
        self.downloads.clear()
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
            self._expiry_task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for observation in list(self.observations):
            self.observations.remove(observation)
            observation.cancel_locally()
        self.queue.clear()
        self.budget.close()  # held values go out now; any later one at once
        await self.transport.stop()

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any] | None:
        """Run a background job the server owns (and cancels when it stops); none while it stops."""
        if self._stopping:
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- endpoints ----------------------------------------------------------------------

    def is_awake(self, endpoint: str) -> bool:
        """Return whether requests to the device go out now (not queued)."""
        reg = self.registrations.by_endpoint(endpoint)
        return reg is None or not reg.queue_mode or self.queue.is_awake(endpoint)

    def queued(self, endpoint: str) -> int:
        """Return how many requests wait for the device."""
        return self.queue.queued(endpoint)

    def diagnostics(self) -> dict[str, Any]:
        """Return what a diagnostics download shows of the server."""
        return {
            "mode": "server",
            "port": self.port,
            "malformed_datagrams": self.transport.malformed.count,
            "observations": len(self.observations),
            "refused_registrations": self.stats.refused,
            "coalesced_notifications": self.stats.coalesced,
            "notifications_coalesced_on_arrival": self.transport.reader.coalesced if self.transport.reader else 0,
            "queued_requests": sum(self.queue.queued(reg.endpoint) for reg in self.registrations),
            "dtls": self._dtls_diagnostics(),
        }

    def _dtls_diagnostics(self) -> dict[str, Any] | None:
        dtls = self.transport.dtls
        if dtls is None:
            return None
        return {
            "port": dtls.port,
            "sessions": dtls.session_count(),
            **dtls.stats.to_dict(),
            "credentials": self.config.credentials.to_list(redact=True),
        }

    def endpoint(self, name: str) -> Endpoint:
        """Return the operations on a registered device; NotRegistered if there is none."""
        if name not in self.registrations:
            raise NotRegistered(f"{name} is not registered", "4.04")
        return Endpoint(self, name)

    def restore(self, saved: Iterable[dict[str, Any]]) -> list[Registration]:
        """Take back registrations saved earlier (Registration.to_dict) that have not expired."""
        now = time.time()
        restored = [
            reg
            for reg in readable_registrations(saved)
            if reg.expires_at + self.config.grace_period > now
            and reg.endpoint not in self.registrations
            and self._serves(reg.transport)  # a transport that was switched off takes nobody back
            and self._still_admitted(reg)
        ]
        for reg in restored:
            self.registrations.add(reg)
        return restored

    def _still_admitted(self, reg: Registration) -> bool:
        """Return whether a saved registration may come back under the credentials and policy of now."""
        credentials = self.config.credentials
        problem = binding_problem(credentials, reg.endpoint, reg.identity) or refusal(
            self.config.admission, credentials, reg.endpoint
        )
        if problem is not None:
            _LOGGER.info("Not taking back the registration of %s: %s", reg.endpoint, problem)
        return problem is None

    def _serves(self, transport: str) -> bool:
        """Return whether the server listens on a transport ("udp" or "dtls")."""
        return (self.config.dtls_port if transport == "dtls" else self.config.port) is not None

    # -- the registration interface (called by the site) --------------------------------------

    def _lifetime(self, requested: int | None) -> int:
        lifetime = requested if requested is not None else self.config.default_lifetime
        return max(self.config.min_lifetime, min(self.config.max_lifetime, lifetime))

    def handle_register(self, request: Message, params: RegisterParams) -> Message:
        """Register a device."""
        version = params.version or "1.0"
        if version not in SUPPORTED_VERSIONS:
            raise Refused(
                f"LwM2M version {version} is not supported; use one of {', '.join(SUPPORTED_VERSIONS)}",
                Code.PRECONDITION_FAILED,
            )
        assert params.endpoint is not None and params.objects is not None
        identity = self._check_identity(request, params.endpoint)
        self._check_admission(request, params.endpoint, identity)
        self._admit(request, params.endpoint)
        binding = params.binding or "U"
        reg = Registration(
            reg_id=new_registration_id(),
            endpoint=params.endpoint,
            lifetime=self._lifetime(params.lifetime),
            lwm2m_version=version,
            binding=binding,
            sms=params.sms,
            queue_mode=params.queue_mode or "Q" in binding,
            objects=params.objects,
            remote=request.remote,
            address=address_of(request.remote),
            transport="udp" if identity is None else "dtls",
            identity=identity,
        )
        old = self.registrations.register(reg)
        if old is not None:
            self._forget(old)
        self.stats.registrations += 1
        if reg.queue_mode:
            self.queue.wake(reg.endpoint)
        self.events.emit(Event(type=EventType.REGISTERED, endpoint=reg.endpoint, details=reg.info()))
        if self.config.auto_observe:
            self.spawn(self._auto_observe(reg), f"lwm2m auto-observe {reg.endpoint}")
        self._tell_lifetime(reg, params.lifetime)
        return Message(code=Code.CREATED, location_path=("rd", reg.reg_id))

    def _tell_lifetime(self, reg: Registration, requested: int | None) -> None:
        """Write the granted lifetime to the device's Server object when it asked for more.

        A Register's answer cannot say that the lifetime was shortened: without this the device
        would send its next Update too late and find itself expired in between.
        """
        if requested is None or requested <= reg.lifetime:
            return
        servers = reg.objects.instance_ids(1)
        if len(servers) != 1:  # several servers: which Server object instance is this one is unknown
            _LOGGER.info(
                "%s asked for a lifetime of %d s and was granted %d s; it has %d Server objects, so none was "
                "written: it must update within %d s or it expires",
                reg.endpoint,
                requested,
                reg.lifetime,
                len(servers),
                reg.lifetime,
            )
            return
        self.spawn(self._write_lifetime(reg, Path.of(1, servers[0], 1)), f"lwm2m lifetime {reg.endpoint}")

    async def _write_lifetime(self, reg: Registration, path: Path) -> None:
        try:
            await Endpoint(self, reg.endpoint).write(path, reg.lifetime)
        except LwM2MError as err:
            _LOGGER.info(
                "%s was granted a lifetime of %d s, shorter than it asked for; writing it to %s failed: %s",
                reg.endpoint,
                reg.lifetime,
                path,
                err,
            )

    def _check_identity(self, request: Message, endpoint: str) -> str | None:
        """Return the security identity of a Register; 4.03 when it may not register endpoint."""
        identity = self.transport.identity_of(request.remote)
        problem = binding_problem(self.config.credentials, endpoint, identity)
        if problem is not None:
            kind = "nosec" if identity is None else "identity"
            self._forbid((kind, endpoint, identity), problem, address_of(request.remote))
        return identity

    def _check_admission(self, request: Message, endpoint: str, identity: str | None) -> None:
        """Refuse (4.03) a Register the admission policy does not let in; report an unknown endpoint."""
        problem = refusal(self.config.admission, self.config.credentials, endpoint)
        if problem is None:
            return
        unknown = self.config.credentials.for_endpoint(endpoint) is None
        address = address_of(request.remote)
        if not unknown or self.unknown_reports.should_report(endpoint):
            info = RefusalInfo(
                reason=problem,
                address=address,
                transport="udp" if identity is None else "dtls",
                identity=identity,
                unknown=unknown,
            )
            self.events.emit(Event(type=EventType.REFUSED, endpoint=endpoint, details=info))
        self._forbid(("admission", "unknown" if unknown else "strict"), problem, address)

    def _check_same_identity(self, request: Message, reg: Registration, what: str) -> None:
        """Refuse (4.03) an Update or De-register that does not come through the registration's identity.

        Nor through one its endpoint's credential no longer names (the credentials changed since).
        """
        identity = self.transport.identity_of(request.remote)
        problem = binding_problem(self.config.credentials, reg.endpoint, identity)
        if problem is not None:
            self._forbid(("binding", reg.endpoint, identity), problem, address_of(request.remote))
        if identity != reg.identity:
            self._forbid(
                ("other identity", reg.endpoint, identity),
                f"{what} of {reg.endpoint} through {identity or 'plain UDP'}, but it registered through "
                f"{reg.identity or 'plain UDP'}",
                address_of(request.remote),
            )

    def _forbid(self, key: tuple[Any, ...], reason: str, source: str) -> None:
        self.stats.refused += 1
        self._refusals.warn(key, "Refusing a request from %s: %s (4.03)", source, reason)
        raise Refused(reason, Code.FORBIDDEN)

    def _admit(self, request: Message, endpoint: str) -> None:
        """Refuse a Register over a limit: 5.03 with Max-Age (when to try again), logged once per cause."""
        address = address_of(request.remote)
        host = host_part(address)
        known = self.registrations.by_endpoint(endpoint)
        new_here = known is None or host_part(known.address) != host
        limit = self.config.max_registrations_per_host
        if new_here and limit and self.registrations.at_host(host) >= limit:
            self._refuse(("host", host), f"{host} holds its maximum of {limit} registrations", LIMIT_RETRY)
        if known is None and len(self.registrations) >= self.config.max_registrations:
            most = self.config.max_registrations
            self._refuse(("total",), f"the server holds its maximum of {most} registrations", LIMIT_RETRY)
        if self._register_rate is not None:
            wait = self._register_rate.take(time.monotonic())
            if wait:
                reason = f"more than {self.config.registration_rate:g} registrations a second"
                self._refuse(("rate",), reason, retry_after(wait))

    def _refuse(self, key: tuple[str, ...], reason: str, max_age: int) -> None:
        self.stats.refused += 1
        self._refusals.warn(key, "Refusing registrations: %s (5.03, try again in %d s)", reason, max_age)
        raise Refused(f"{reason}; try again later", Code.SERVICE_UNAVAILABLE, max_age=max_age)

    def handle_update(self, request: Message, reg_id: str, params: RegisterParams) -> Message:
        """Update a device's registration."""
        reg = self.registrations.by_id(reg_id)
        if reg is None:
            raise Refused(f"no registration {reg_id}; register again", Code.NOT_FOUND)
        self._check_same_identity(request, reg, "an Update")
        moved = self.registrations.move(reg, request.remote, address_of(request.remote))
        if params.lifetime is not None:
            reg.lifetime = self._lifetime(params.lifetime)
            self._tell_lifetime(reg, params.lifetime)
        if params.binding is not None:
            reg.binding = params.binding
            reg.queue_mode = params.queue_mode or "Q" in params.binding
        elif params.queue_mode:
            reg.queue_mode = True
        if params.sms is not None:
            reg.sms = params.sms
        objects_changed = params.objects is not None and params.objects != reg.objects
        if params.objects is not None:
            reg.objects = params.objects
        reg.updated_at = reg.stats.last_seen = time.time()
        reg.stats.messages_in += 1
        self.stats.updates += 1
        if reg.queue_mode:
            self.queue.wake(reg.endpoint)
        details = reg.info(moved=moved, objects_changed=objects_changed)
        self.events.emit(Event(type=EventType.UPDATED, endpoint=reg.endpoint, details=details))
        if moved:
            self._follow(reg)
        return Message(code=Code.CHANGED)

    def handle_deregister(self, request: Message, reg_id: str) -> Message:
        """Deregister a device."""
        reg = self.registrations.by_id(reg_id)
        if reg is None:
            raise Refused(f"no registration {reg_id}", Code.NOT_FOUND)
        self._check_same_identity(request, reg, "a De-register")
        self.registrations.remove(reg)
        self._forget(reg)
        self.stats.deregistrations += 1
        self.events.emit(Event(type=EventType.DEREGISTERED, endpoint=reg.endpoint, details=reg.info()))
        return Message(code=Code.DELETED)

    def handle_send(self, request: Message) -> Message:
        """Take the values a device sends with Send."""
        identity = self.transport.identity_of(request.remote)
        candidates = [
            reg for reg in self.registrations.at_address(address_of(request.remote)) if reg.identity == identity
        ]
        if not candidates:
            raise Refused("Send from an address with no registration; register first", Code.NOT_FOUND)
        fmt = request.opt.content_format
        if fmt not in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR):
            raise Refused(
                f"Send needs SenML JSON (110), SenML CBOR (112) or LwM2M CBOR (11544), not {fmt}",
                Code.UNSUPPORTED_CONTENT_FORMAT,
            )
        try:
            values = decode_values(int(fmt), request.payload, self.model)
        except Exception as err:  # a decoder's bug too: the device gets 4.00 as for any unreadable payload
            for reg in candidates:
                reg.stats.errors += 1
            if isinstance(err, CodecError):
                raise Refused(f"unreadable Send payload: {err}") from None
            _LOGGER.warning("Decoding a Send from %s failed", address_of(request.remote), exc_info=True)
            raise Refused("unreadable Send payload") from None
        reg = _sender(candidates, values)
        reg.stats.messages_in += 1
        reg.stats.last_seen = time.time()
        self.stats.sends += 1
        if reg.queue_mode:
            self.queue.wake(reg.endpoint)
        self.budget.offer(SEND_KEY, Event(type=EventType.SEND, endpoint=reg.endpoint, values=values))
        return Message(code=Code.CHANGED)

    async def handle_download(self, request: Message, token: str) -> Message:
        """Serve a block of an image a device pulls (a firmware update's link)."""
        return await self.downloads.serve(request, token, self.transport.identity_of(request.remote))

    def _forget(self, reg: Registration) -> None:
        """Drop the observations and queue of a registration that ended or was replaced."""
        self.observations.drop_endpoint(reg.endpoint)
        self.queue.forget(reg.endpoint, "is no longer registered")
        self.budget.forget(reg.endpoint)  # what it holds goes out now, before the event that ends it

    def _follow(self, reg: Registration) -> None:
        """Observe again, at its new address, what a device that moved (NAT rebinding) was observed for.

        aiocoap takes a notification only from the address its observation was made with: the
        device's next notifications, from the new port, would be refused with RST. The old
        observations end here (the device ends its own on that RST); new ones start at once.
        """
        moved = self.observations.drop_endpoint(reg.endpoint)
        if moved:
            self.spawn(self._observe_again(reg, moved), f"lwm2m re-observe {reg.endpoint}")

    async def _observe_again(self, reg: Registration, observations: list[Observation]) -> None:
        endpoint = Endpoint(self, reg.endpoint)
        for observation in observations:
            if self.registrations.by_endpoint(reg.endpoint) is not reg:
                return  # re-registered or gone meanwhile
            try:
                if observation.composite:
                    await endpoint.observe_composite(observation.paths, content_format=observation.content_format)
                else:
                    await endpoint.observe(observation.paths[0], content_format=observation.content_format)
            except LwM2MError as err:
                _LOGGER.info(
                    "%s moved to %s; observing %s there failed: %s",
                    reg.endpoint,
                    reg.address,
                    ", ".join(map(str, observation.paths)),
                    err,
                )

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_check_interval)
            self.expire_now()
            self.transport.malformed.summarize()  # the last datagrams of a flood get their line too

    def expire_now(self, now: float | None = None) -> list[Registration]:
        """Drop the registrations that expired; return them."""
        expired = self.registrations.expired(time.time() if now is None else now, self.config.grace_period)
        for reg in expired:
            self.registrations.remove(reg)
            self._forget(reg)
            self.stats.expirations += 1
            self.events.emit(Event(type=EventType.EXPIRED, endpoint=reg.endpoint, details=reg.info()))
        return expired

    def use_credentials(self, credentials: Credentials) -> list[Registration]:
        """Take a new set of credentials at once (no restart); return the registrations it no longer allows.

        Those end as if de-registered: the device must register again, under the new rules.
        New handshakes, Registers and Updates meet the new credentials from now on.
        """
        self.config.credentials = credentials
        revoked = [reg for reg in self.registrations if not self._still_admitted(reg)]
        for reg in revoked:
            self.registrations.remove(reg)
            self._forget(reg)
            self.events.emit(Event(type=EventType.DEREGISTERED, endpoint=reg.endpoint, details=reg.info()))
        return revoked

    # -- observation --------------------------------------------------------------------

    def on_notification(self, observation: Observation, message: Message) -> None:
        """Emit a notification of an observation that came through aiocoap as an event."""
        fmt = message.opt.content_format
        self.notified(
            observation,
            message.opt.observe,
            None if fmt is None else int(fmt),
            message.payload,
            code=message.code,
        )

    def on_fast_notification(
        self, observation: Observation, sequence: int | None, fmt: int | None, payload: bytes, replaced: int
    ) -> None:
        """Emit a notification fast_notify took (replaced: the earlier ones it stood in for, under overload)."""
        if self.observations.current(observation):
            self.notified(observation, sequence, fmt, payload, replaced=replaced)

    def notified(
        self,
        observation: Observation,
        sequence: int | None,
        fmt: int | None,
        payload: bytes,
        *,
        code: Code = Code.CONTENT,
        replaced: int = 0,
    ) -> None:
        """Decode a notification (Observe number sequence, Content-Format fmt) and offer its event."""
        reg = self.registrations.by_endpoint(observation.endpoint)
        if reg is None or reg.reg_id != observation.reg_id:
            return
        reg.stats.messages_in += 1 + replaced
        reg.stats.last_seen = time.time()
        if reg.queue_mode:
            self.queue.wake(reg.endpoint)
        now = self.clock()
        if sequence is not None and observation.last_sequence is not None and _stale(observation, sequence, now):
            return  # reordered: an older notification after a newer one
        observation.last_sequence, observation.last_arrival = sequence, now
        observation.notifications += 1 + replaced
        self.stats.notifications += 1 + replaced
        self.stats.coalesced += replaced
        if not code.is_successful():
            self.observations.remove(observation)
            return
        try:
            if observation.composite:
                values = decode_values(fmt, payload, self.model)
            else:
                path = observation.paths[0]
                values = decode(ContentFormat.TEXT if fmt is None else fmt, payload, path, self.model)
        except CodecError as err:
            reg.stats.errors += 1
            _LOGGER.debug("Unreadable notification from %s for %s: %s", reg.endpoint, observation.paths, err)
            return
        except Exception:  # a decoder's bug must not end the observation (aiocoap would)
            reg.stats.errors += 1
            _LOGGER.warning(
                "Decoding a notification from %s for %s failed", reg.endpoint, observation.paths, exc_info=True
            )
            return
        self.budget.offer(
            observation.paths,  # its key
            Event(
                type=EventType.NOTIFICATION,
                endpoint=reg.endpoint,
                path=observation.paths[0],
                values=values,
                sequence=sequence,
                code=str(code.dotted),
                details=NotificationInfo(paths=observation.paths),
                coalesced=replaced,
            ),
        )

    def on_observation_error(self, observation: Observation, exception: BaseException) -> None:
        """Forget an observation that aiocoap ended."""
        _LOGGER.debug("Observation of %s on %s ended: %s", observation.paths, observation.endpoint, exception)
        self.observations.remove(observation)

    async def _auto_observe(self, reg: Registration) -> None:
        endpoint = Endpoint(self, reg.endpoint)
        if self.config.auto_observe == AUTO_OBSERVE_ALL:
            paths = list(reg.objects.instances) or [Path.of(oid) for oid in reg.objects.objects]
        else:
            paths = [Path.parse(p) for p in self.config.auto_observe]
            announced = set(reg.objects.objects)
            paths = [p for p in paths if p.object_id in announced]
        for path in paths:
            current = self.registrations.by_endpoint(reg.endpoint)
            if current is not reg:
                return  # re-registered meanwhile; that registration observes for itself
            try:
                await endpoint.observe(path)
            except LwM2MError as err:
                _LOGGER.debug("Auto-observe of %s on %s failed: %s", path, reg.endpoint, err)


def _sender(candidates: list[Registration], values: dict[Path, Any]) -> Registration:
    """Return which of the endpoints talking from one address sent values (a Send names no endpoint).

    The one whose registration announced every object the values belong to; among several
    (or none), the one heard from last.
    """
    if len(candidates) == 1:
        return candidates[0]
    objects = {path.object_id for path in values}
    announcing = [reg for reg in candidates if objects <= set(reg.objects.objects)] or candidates
    return max(announcing, key=lambda reg: reg.stats.last_seen)


def _stale(observation: Observation, sequence: int | None, now: float) -> bool:
    """Return whether a notification numbered sequence, arriving at now, is older than the last one taken.

    RFC 7641 section 3.4: by its number, unless more than 128 s passed since the last one.
    """
    if sequence is None or observation.last_sequence is None:
        return False
    if observation.last_arrival is not None and now > observation.last_arrival + OBSERVE_FRESHNESS:
        return False
    return older(sequence, observation.last_sequence)
