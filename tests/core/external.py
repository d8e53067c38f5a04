"""External pieces some tests need (Mosquitto, Node.js with lwm2m-node-lib, a live Home
Assistant runtime, Chromium with Playwright), and what a missing one does to them.

A missing piece FAILS every test that needs it, with the command that installs it, unless
whoever runs the tests opts out:

    LWM2M_SKIP_MISSING=1   skip instead every test whose piece is missing
    LWM2M_LIVE=0           skip the tests that start a real Home Assistant (its runtime and
                           frontend; for the browser test also Chromium and Playwright) when
                           they are missing: a venv made with LIVE=0 scripts/setup

    pytestmark = Needs("Mosquitto", mosquitto_present, "apt-get install mosquitto").mark

The marker is an ordinary skipif whose condition is only looked at when each test is set
up, so a missing piece costs nothing at collection and fails just the tests that need it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import pytest

SKIP_MISSING = "LWM2M_SKIP_MISSING"
LIVE = "LWM2M_LIVE"


def opt_out(live: bool) -> str | None:
    """The environment setting that says to skip a missing piece, if one is set."""
    if os.environ.get(SKIP_MISSING) == "1":
        return f"{SKIP_MISSING}=1"
    if live and os.environ.get(LIVE) == "0":
        return f"{LIVE}=0"
    return None


class Needs:
    """A piece some tests need; false while it is there, true (skip) when it is missing and
    the run opted out, and a test failure when it is missing otherwise."""

    def __init__(self, piece: str, present: Callable[[], bool], install: str, *, live: bool = False) -> None:
        self.piece = piece
        self.install = install
        self.live = live
        self._present = present
        self._known: bool | None = None

    @property
    def present(self) -> bool:
        if self._known is None:
            self._known = bool(self._present())
        return self._known

    def __bool__(self) -> bool:
        if self.present:
            return False
        if opt_out(self.live):
            return True
        others = f" or {LIVE}=0" if self.live else ""
        pytest.fail(
            f"{self.piece} is missing; install it: {self.install}\n"
            f"(to skip the tests that need it instead, set {SKIP_MISSING}=1{others})",
            pytrace=False,
        )

    @property
    def mark(self) -> pytest.MarkDecorator:
        others = f" or {LIVE}=0" if self.live else ""
        return pytest.mark.skipif(self, reason=f"{self.piece} is missing ({SKIP_MISSING}=1{others} skips)")


def importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


LIVE_HOME_ASSISTANT = Needs(
    "Home Assistant's runtime with its frontend (for a real Home Assistant process)",
    lambda: importable("hass_frontend"),
    "scripts/setup (without LIVE=0)",
    live=True,
)


def _mosquitto() -> bool:
    from tests.live.broker import MOSQUITTO

    return os.path.exists(MOSQUITTO)


MOSQUITTO = Needs(
    "Mosquitto (the MQTT broker)",
    _mosquitto,
    "apt-get install mosquitto (scripts/setup does, as root)",
)
