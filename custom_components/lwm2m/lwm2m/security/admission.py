"""Admission: which endpoints may register at all, beside the identity binding of credentials.

- open: any endpoint; a name with a credential only through it (credentials.py);
- known: only endpoints with a credential (NoSec ones included: a list of known devices);
- strict: only endpoints with a DTLS credential (PSK or certificate).

An endpoint refused as unknown is reported to the server's listeners (the Home Assistant layer
asks the user about it), at most once per endpoint within REPORT_INTERVAL and at most
REPORTS_PER_MINUTE new ones a minute: a flood of made-up names costs a counter, not a flood
of questions.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum

from ..limits import TokenBucket
from .credentials import NOSEC, Credentials

REPORT_INTERVAL = 600.0  # seconds before the same unknown endpoint is reported again
REPORTS_PER_MINUTE = 10
MAX_REMEMBERED = 1024


class Admission(StrEnum):
    """Which endpoints may register."""

    OPEN = "open"
    KNOWN = "known"
    STRICT = "strict"


def refusal(policy: Admission, credentials: Credentials, endpoint: str) -> str | None:
    """Return why policy refuses a Register of endpoint (None: it may register)."""
    if policy is Admission.OPEN:
        return None
    credential = credentials.for_endpoint(endpoint)
    if credential is None:
        return f"{endpoint} is not a known device (only known devices may register here)"
    if policy is Admission.STRICT and credential.mode == NOSEC:
        return f"{endpoint} has no DTLS credential (only devices with a key or certificate may register here)"
    return None


def binding_problem(credentials: Credentials, endpoint: str, identity: str | None) -> str | None:
    """Return why endpoint may not be registered through identity (None: it may).

    A secured endpoint (one with a DTLS credential) only through the identity its credential
    proves; an identity only as the endpoint it is bound to.
    """
    if identity is None:
        if credentials.secured(endpoint):
            return f"{endpoint} has a credential: it registers over coaps:// with it, not over plain UDP"
        return None
    bound = credentials.endpoint_of(identity)
    if bound == endpoint:
        return None
    may = f"may register as {bound}" if bound is not None else "is no longer any device's credential"
    return f"{identity} {may}, not as {endpoint}"


class UnknownReports:
    """Decide which refused unknown endpoints are reported: bounded per endpoint and per minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Report nothing yet."""
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()
        self._bucket = TokenBucket(REPORTS_PER_MINUTE / 60.0, REPORTS_PER_MINUTE, clock())
        self.suppressed = 0

    def should_report(self, endpoint: str) -> bool:
        """Return whether to report endpoint now."""
        now = self._clock()
        last = self._last.get(endpoint)
        if last is not None and now - last < REPORT_INTERVAL:
            return False
        if self._bucket.take(now):
            self.suppressed += 1
            return False
        self._last[endpoint] = now
        self._last.move_to_end(endpoint)
        while len(self._last) > MAX_REMEMBERED:
            self._last.popitem(last=False)
        return True

    def forget(self, endpoint: str) -> None:
        """Report endpoint again the next time it is refused (the user removed it, say)."""
        self._last.pop(endpoint, None)
