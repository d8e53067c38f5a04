"""The sessions of a DTLS listener, by peer, with every bound kept in one place (no I/O here).

A peer has at most one current session, handshaking or established. A verified ClientHello
from a peer that has an established session starts a *replacement* beside it: the old
session keeps working until the new one is established (RFC 6347 section 4.2.8), so a
replayed ClientHello cannot end a device's session.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from .session import DtlsSession


def host_of(sockaddr: Any) -> str:
    """Return the IP address of a socket address."""
    return str(sockaddr[0])


class SessionTable:
    """Current sessions and replacements by peer, handshakes by host, established ones by identity."""

    def __init__(self) -> None:
        """Start empty."""
        self._current: OrderedDict[Any, DtlsSession] = OrderedDict()  # least recently used first
        self._replacing: dict[Any, DtlsSession] = {}
        self._by_identity: dict[str | None, OrderedDict[Any, None]] = {}
        self._handshakes_by_host: dict[str, int] = {}
        self.handshaking = 0
        self.established = 0

    def get(self, sockaddr: Any) -> DtlsSession | None:
        """Return the peer's current session."""
        return self._current.get(sockaddr)

    def replacement(self, sockaddr: Any) -> DtlsSession | None:
        """Return the handshake that will replace the peer's established session, if one runs."""
        return self._replacing.get(sockaddr)

    def holds(self, session: DtlsSession) -> bool:
        """Return whether session is still the peer's current session or its replacement."""
        sockaddr = session.sockaddr
        return self._current.get(sockaddr) is session or self._replacing.get(sockaddr) is session

    def handshakes_from(self, sockaddr: Any) -> int:
        """Return how many handshakes the peer's host has in progress."""
        return self._handshakes_by_host.get(host_of(sockaddr), 0)

    def touch(self, session: DtlsSession, now: float) -> None:
        """Note that the session's peer was heard from (it becomes the most recently used)."""
        session.last_seen = now
        if self._current.get(session.sockaddr) is session:
            self._current.move_to_end(session.sockaddr)

    def start(self, session: DtlsSession) -> None:
        """Add a handshake: the peer's current session, or the replacement of its established one."""
        sockaddr = session.sockaddr
        current = self._current.get(sockaddr)
        if current is not None and current.established:
            old = self._replacing.get(sockaddr)
            if old is not None:
                self.forget(old)
            self._replacing[sockaddr] = session
        else:
            if current is not None:
                self.forget(current)
            self._current[sockaddr] = session
        self.handshaking += 1
        host = host_of(sockaddr)
        self._handshakes_by_host[host] = self._handshakes_by_host.get(host, 0) + 1

    def establish(self, session: DtlsSession) -> DtlsSession | None:
        """Count a finished handshake; a replacement takes its peer's place. Return the session it replaced."""
        self._handshake_ended(session)
        self.established += 1
        sockaddr = session.sockaddr
        replaced = None
        if self._replacing.get(sockaddr) is session:
            del self._replacing[sockaddr]
            replaced = self._current.get(sockaddr)
            if replaced is not None:
                self.forget(replaced)
            self._current[sockaddr] = session
        self._by_identity.setdefault(session.identity, OrderedDict())[sockaddr] = None
        return replaced

    def surplus_of(self, session: DtlsSession, most: int) -> list[DtlsSession]:
        """Return the identity's least recently used sessions beyond most (never session itself)."""
        held: dict[Any, None] = self._by_identity.get(session.identity) or {}
        extra = len(held) - most
        out: list[DtlsSession] = []
        for sockaddr in held:
            if extra <= 0:
                break
            other = self._current.get(sockaddr)
            if other is not None and other is not session:
                out.append(other)
                extra -= 1
        return out

    def least_recently_used(self, count: int, keep: DtlsSession) -> list[DtlsSession]:
        """Return up to count established sessions, least recently used first (never keep)."""
        out: list[DtlsSession] = []
        for other in self._current.values():
            if len(out) >= count:
                break
            if other.established and other is not keep:
                out.append(other)
        return out

    def forget(self, session: DtlsSession) -> None:
        """Drop a session (its timer too), wherever the table holds it."""
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        sockaddr = session.sockaddr
        if self._replacing.get(sockaddr) is session:
            del self._replacing[sockaddr]
        elif self._current.get(sockaddr) is session:
            del self._current[sockaddr]
        else:
            return
        if not session.established:
            self._handshake_ended(session)
            return
        self.established -= 1
        held = self._by_identity.get(session.identity)
        if held is not None:
            held.pop(sockaddr, None)
            if not held:
                del self._by_identity[session.identity]

    def _handshake_ended(self, session: DtlsSession) -> None:
        self.handshaking -= 1
        host = host_of(session.sockaddr)
        left = self._handshakes_by_host.get(host, 1) - 1
        if left > 0:
            self._handshakes_by_host[host] = left
        else:
            self._handshakes_by_host.pop(host, None)

    def idle(self, now: float, limit: float) -> list[DtlsSession]:
        """Return the established sessions silent for more than limit seconds."""
        return [s for s in self._current.values() if s.established and now - s.last_seen > limit]

    def __iter__(self) -> Iterator[DtlsSession]:
        """Iterate over every session, replacements too."""
        return iter([*self._current.values(), *self._replacing.values()])

    def __len__(self) -> int:
        """Return how many sessions (handshaking or established) the table holds."""
        return len(self._current) + len(self._replacing)
