"""Active observations: one per (endpoint, path or set of paths), with its CoAP token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .path import Path


@dataclass(slots=True, kw_only=True, eq=False)
class Observation:
    """One observation a device holds for the server (hashed by identity: fast_notify keys on it)."""

    endpoint: str
    paths: tuple[Path, ...]  # one path, or several for Observe-Composite
    token: bytes
    request: Any  # aiocoap's request handle
    content_format: int | None = None
    composite: bool = False
    last_sequence: int | None = None
    last_arrival: float | None = None  # the host's clock (monotonic s) when last_sequence arrived
    notifications: int = 0
    reg_id: str = ""
    # (host, port) of a plain UDP device, whose notifications fast_notify takes by token
    sockaddr: tuple[str, int] | None = None
    # (message ID, Observe number) of the latest notification fast_notify took
    last_datagram: tuple[int, int | None] = (-1, None)

    @property
    def key(self) -> tuple[Path, ...]:
        """Return the key the observation is kept under: its paths."""
        return self.paths

    def cancel_locally(self) -> None:
        """Forget the observation in aiocoap without telling the device."""
        observation = getattr(self.request, "observation", None)
        if observation is not None and not observation.cancelled:
            observation.cancel()


class ObservationTable:
    """Observations by endpoint, then by the paths they cover."""

    def __init__(self) -> None:
        """Start with no observations."""
        self._by_endpoint: dict[str, dict[tuple[Path, ...], Observation]] = {}
        self.by_token: dict[bytes, Observation] = {}  # the observations of plain UDP devices (fast_notify)

    def add(self, observation: Observation) -> Observation | None:
        """Store observation; return the one it replaces (same endpoint and paths)."""
        table = self._by_endpoint.setdefault(observation.endpoint, {})
        old = table.get(observation.key)
        table[observation.key] = observation
        if old is not None:
            self._unroute(old)
        if observation.sockaddr is not None:
            self.by_token[observation.token] = observation
        return old

    def current(self, observation: Observation) -> bool:
        """Return whether observation is still the one kept for its endpoint and paths."""
        return self._by_endpoint.get(observation.endpoint, {}).get(observation.paths) is observation  # paths: its key

    def get(self, endpoint: str, paths: tuple[Path, ...]) -> Observation | None:
        """Return the observation of paths on endpoint, if there is one."""
        return self._by_endpoint.get(endpoint, {}).get(paths)

    def remove(self, observation: Observation) -> None:
        """Forget an observation unless another has taken its place."""
        table = self._by_endpoint.get(observation.endpoint)
        if table and table.get(observation.key) is observation:
            del table[observation.key]
            self._unroute(observation)
            if not table:
                del self._by_endpoint[observation.endpoint]

    def _unroute(self, observation: Observation) -> None:
        if self.by_token.get(observation.token) is observation:
            del self.by_token[observation.token]

    def of(self, endpoint: str) -> list[Observation]:
        """Return the observations of endpoint."""
        return list(self._by_endpoint.get(endpoint, {}).values())

    def drop_endpoint(self, endpoint: str) -> list[Observation]:
        """Forget (and locally cancel) every observation of endpoint."""
        dropped = list(self._by_endpoint.pop(endpoint, {}).values())
        for observation in dropped:
            self._unroute(observation)
            observation.cancel_locally()
        return dropped

    def __iter__(self) -> Iterator[Observation]:
        """Iterate over every observation."""
        return iter([o for table in self._by_endpoint.values() for o in table.values()])

    def __len__(self) -> int:
        """Return how many observations there are."""
        return sum(len(t) for t in self._by_endpoint.values())


def older(sequence: int, last: int) -> bool:
    """Return whether notification number sequence is older than last (RFC 7641 section 3.4, 24-bit wrap)."""
    if sequence == last:
        return False
    newer = (last < sequence and sequence - last < 2**23) or (last > sequence and last - sequence > 2**23)
    return not newer
