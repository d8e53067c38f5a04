"""What one device, or one address, may cost the server: rates, caps and a notification budget.

- TokenBucket: a rate with a burst (registrations per second, notifications per endpoint).
- EventBudget: notifications and Sends of one endpoint beyond its rate are coalesced, the
  latest value of each path winning, and delivered as soon as the budget allows: never lost.
- OnceLog: a limit that refuses a device is logged once per device (or address), not per datagram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from .events import Event
from .path import Path

_LOGGER = logging.getLogger(__name__)


class TokenBucket:
    """rate tokens a second, up to burst of them saved up."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        """Start full."""
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now

    def take(self, now: float) -> float:
        """Take a token: return 0.0 if there was one, else the seconds until there will be."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def retry_after(wait: float) -> int:
    """Return wait seconds as a Max-Age: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


class OnceLog:
    """Log a warning the first time a key meets a limit; later times are debug lines."""

    def __init__(self, logger: logging.Logger, max_keys: int = 1024) -> None:
        """Remember up to max_keys keys (the oldest are forgotten, and may be logged again)."""
        self._logger = logger
        self._max = max_keys
        self._seen: OrderedDict[Hashable, None] = OrderedDict()

    def warn(self, key: Hashable, message: str, *args: Any) -> None:
        """Log message once for key."""
        if key in self._seen:
            self._logger.debug(message, *args)
            return
        self._seen[key] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        self._logger.warning(message + " (logged once)", *args)


class EventBudget:
    """Notifications and Sends per endpoint: rate a second (burst saved up); the rest coalesced.

    offer() delivers an event at once while the endpoint's budget lasts. Beyond it, events are
    held by key (an observation's paths, or Send), a later one's values merged over an earlier
    one's, and delivered when the budget refills: a value may be replaced by a newer one of the
    same path, never dropped. rate 0 means no budget: every event is delivered at once.
    """

    def __init__(self, rate: float, burst: float, deliver: Callable[[Event], None], stats: Any = None) -> None:
        """Deliver events through deliver, rate a second per endpoint with burst saved up.

        stats, if given, has a `coalesced` counter (SourceStats) kept up to date.
        """
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._deliver = deliver
        self.clock: Callable[[], float] = time.monotonic  # tests replace it
        self._buckets: dict[str, TokenBucket] = {}
        self._held: dict[str, dict[Hashable, Event]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.stats = stats
        self.closed = False
        self.log = OnceLog(_LOGGER)

    def offer(self, key: Hashable, event: Event) -> bool:
        """Deliver event now if the endpoint's budget allows (True); else hold it, coalesced (False)."""
        if not self.rate or self.closed:
            self._deliver(event)
            return True
        endpoint, now = event.endpoint, self.clock()
        held = self._held.get(endpoint)
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            bucket = self._buckets[endpoint] = TokenBucket(self.rate, self.burst, now)
        if held is None:
            wait = bucket.take(now)
            if not wait:
                self._deliver(event)
                return True
            held = self._held[endpoint] = {}
            self._timers[endpoint] = asyncio.get_running_loop().call_later(wait, self._release, endpoint)
        earlier = held.pop(key, None)  # re-inserted last: held events go out in the order of their latest
        if earlier is not None:
            self._coalesced(endpoint)
            event = dataclasses.replace(
                event, values={**earlier.values, **event.values}, coalesced=earlier.coalesced + event.coalesced + 1
            )
        self.supersede(endpoint, event.values)  # another held event's older values of these paths
        held[key] = event
        return False

    def supersede(self, endpoint: str, paths: Iterable[Path]) -> None:
        """Drop the values of paths from endpoint's held events: a newer value of each is on its way.

        offer() calls it for the event it holds (a Send and a notification, or an instance's
        and a resource's observation, may carry the same path); call it before emitting, past
        the budget, a newer value of those paths (the answer to a read).
        """
        held = self._held.get(endpoint)
        if not held:
            return
        newer = set(paths)
        for key, event in list(held.items()):
            if newer.isdisjoint(event.values):
                continue
            values = {p: v for p, v in event.values.items() if p not in newer}
            if values:
                held[key] = dataclasses.replace(event, values=values)
            else:  # all of it superseded: it is folded into the newer values
                del held[key]
                self._coalesced(endpoint)

    def _coalesced(self, endpoint: str) -> None:
        if self.stats is not None:
            self.stats.coalesced += 1
        self.log.warn(
            ("budget", endpoint),
            "%s sends more than %g notifications a second; values in between are coalesced (the latest wins)",
            endpoint,
            self.rate,
        )

    def _release(self, endpoint: str) -> None:
        """Deliver held events of endpoint while its budget lasts; wait for the rest."""
        self._timers.pop(endpoint, None)
        held = self._held.get(endpoint)
        bucket = self._buckets.get(endpoint)
        if held is None or bucket is None:
            return
        now = self.clock()
        while held:
            wait = bucket.take(now)
            if wait:
                self._timers[endpoint] = asyncio.get_running_loop().call_later(wait, self._release, endpoint)
                return
            key = next(iter(held))
            self._deliver(held.pop(key))
        del self._held[endpoint]

    def forget(self, endpoint: str) -> None:
        """Deliver what endpoint's events hold now (its registration ended) and drop its budget."""
        timer = self._timers.pop(endpoint, None)
        if timer is not None:
            timer.cancel()
        self._buckets.pop(endpoint, None)
        for event in self._held.pop(endpoint, {}).values():
            self._deliver(event)

    def close(self) -> None:
        """Deliver everything held (the server stops); from now on every event goes out at once."""
        self.closed = True
        for endpoint in list(self._held):
            self.forget(endpoint)
        self._buckets.clear()

    def held(self, endpoint: str) -> int:
        """Return how many coalesced events wait for endpoint's budget."""
        return len(self._held.get(endpoint, ()))
