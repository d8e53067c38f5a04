"""Queue mode: requests for a sleeping device wait until it next talks to the server."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from .errors import DeviceTimeout, QueueFull


class SleepQueue:
    """Per endpoint: when the device is awake until, and the requests waiting for it.

    A device in queue mode listens for `window` seconds after each message it sends
    (EMQX's qmode_time_window); outside that window requests wait here, at most
    `max_queued` per endpoint, each for at most its own expiry.
    """

    def __init__(self, window: float, max_queued: int) -> None:
        """Keep a device awake for window seconds after it talks; hold at most max_queued requests."""
        self.window = window
        self.max_queued = max_queued
        self._awake_until: dict[str, float] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    def is_awake(self, endpoint: str) -> bool:
        """Return whether the device talked within the window."""
        return time.monotonic() < self._awake_until.get(endpoint, 0.0)

    def queued(self, endpoint: str) -> int:
        """Return how many requests wait for the device."""
        return len(self._waiting.get(endpoint, ()))

    def wake(self, endpoint: str) -> None:
        """Release, in order, what waits for a device that just talked to us."""
        self._awake_until[endpoint] = time.monotonic() + self.window
        for future in self._waiting.pop(endpoint, ()):
            if not future.done():
                future.set_result(None)

    def sleep(self, endpoint: str) -> None:
        """Take the device to be asleep until it talks again."""
        self._awake_until.pop(endpoint, None)

    async def wait_awake(self, endpoint: str, expiry: float, timeout: float | None = None) -> None:
        """Wait until the device talks; QueueFull when too many requests already wait.

        The request waits at most expiry seconds, or timeout (the caller's) if that is sooner;
        then DeviceTimeout, and it leaves the queue (as it does when its caller cancels it).
        """
        if self.is_awake(endpoint):
            return
        waiting = self._waiting.setdefault(endpoint, deque())
        if len(waiting) >= self.max_queued:
            raise QueueFull(f"{endpoint} is asleep and already has {len(waiting)} queued requests")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(future)
        by_caller = timeout is not None and timeout < expiry
        try:
            async with asyncio.timeout(timeout if by_caller else expiry):
                await future
        except TimeoutError:
            if by_caller:
                raise DeviceTimeout(
                    f"{endpoint} is asleep and did not wake up within the request's timeout of {timeout:g} s; "
                    "the queued request was withdrawn"
                ) from None
            raise DeviceTimeout(f"{endpoint} did not wake up within {expiry:g} s; the queued request expired") from None
        finally:
            if future in waiting:
                waiting.remove(future)

    def forget(self, endpoint: str, reason: str) -> None:
        """Fail whatever waits for an endpoint that is gone."""
        self._awake_until.pop(endpoint, None)
        for future in self._waiting.pop(endpoint, ()):
            if not future.done():
                future.set_exception(DeviceTimeout(f"{endpoint} {reason}; the queued request was dropped"))

    def clear(self) -> None:
        """Fail every waiting request: the server stopped."""
        for endpoint in list(self._waiting):
            self.forget(endpoint, "the server stopped")
