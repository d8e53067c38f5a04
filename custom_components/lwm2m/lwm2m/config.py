"""The settings of an LwM2M server: port, lifetimes, queue mode, timeouts, bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blockwise import MAX_ANSWER
from .dtls.interface import DtlsLimits
from .firmware.update import FirmwareSettings
from .security.admission import Admission
from .security.credentials import Credentials, ServerIdentity

AUTO_OBSERVE_ALL = "all"


@dataclass(slots=True, kw_only=True)
class ServerConfig:
    """Settings of the built-in LwM2M server."""

    host: str = "::"
    port: int | None = 5683  # coap:// (None: none, coaps:// only)
    min_lifetime: int = 10
    max_lifetime: int = 86400  # EMQX's lifetime_max example; a longer one is clamped to it
    default_lifetime: int = 86400
    grace_period: float = 15.0  # seconds past the lifetime before a registration expires
    max_registrations: int = 10_000
    # Limits on what one device or address may cost (0: no limit); README "Limits and defences".
    max_registrations_per_host: int = 100  # registrations from one IP address (devices behind one NAT share it)
    registration_rate: float = 1000.0  # Registers a second, all devices together (EMQX's max_conn_rate)
    notification_rate: float = 10.0  # notifications and Sends a second per endpoint; beyond, values coalesce
    notification_burst: float = 20.0  # how many of those an endpoint may save up
    auto_observe: tuple[str, ...] | str = ()  # paths, or "all" for every announced instance
    queue_window: float = 30.0  # EMQX's qmode_time_window
    queue_expiry: float = 3600.0  # how long a queued request waits for a sleeping device
    max_queued: int = 100
    request_timeout: float = 10.0
    ack_timeout: float = 2.0
    max_retransmit: int = 2
    expiry_check_interval: float = 1.0
    max_body: int = 64 * 1024  # bytes of one request body (a Register's object list, a Send), Block1 or not
    max_answer: int = MAX_ANSWER  # bytes of a device's (block-wise) answer to a Read
    dedup_max: int = 20_000  # incoming requests remembered for duplicate detection (~3 KB each)
    # coaps:// (DTLS 1.2): the UDP port of its listener (None: no listener; 0: a free port),
    # the devices' credentials and the server's own certificate (made when devices use
    # certificates and none is given), and the bounds on handshakes and sessions.
    dtls_port: int | None = None
    admission: Admission = Admission.OPEN  # which endpoints may register at all (security/admission.py)
    credentials: Credentials = field(default_factory=Credentials)
    server_identity: ServerIdentity | None = None
    dtls_limits: DtlsLimits = field(default_factory=DtlsLimits)
    # Firmware updates: how they wait and push, and the host in pull links ("": the address
    # the system routes toward the device; a device across a NAT needs the public one).
    firmware: FirmwareSettings = field(default_factory=FirmwareSettings)
    download_host: str = ""
