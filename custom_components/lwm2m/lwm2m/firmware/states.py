"""What object 5's numbers mean: the update state (/5/0/3), its result (/5/0/5), protocols and delivery.

The texts are OMA's (object 5, version 1.2) in the words people read in an error.
"""

from __future__ import annotations

from enum import IntEnum

from ..path import Path

PACKAGE = Path.of(5, 0, 0)
PACKAGE_URI = Path.of(5, 0, 1)
UPDATE = Path.of(5, 0, 2)
STATE = Path.of(5, 0, 3)
RESULT = Path.of(5, 0, 5)
PKG_NAME = Path.of(5, 0, 6)
PKG_VERSION = Path.of(5, 0, 7)
PROTOCOLS = Path.of(5, 0, 8)
DELIVERY = Path.of(5, 0, 9)
INSTANCE = Path.of(5, 0)
DEVICE_VERSION = Path.of(3, 0, 3)  # Firmware Version of the Device object


class State(IntEnum):
    """/5/0/3 Update State."""

    IDLE = 0
    DOWNLOADING = 1
    DOWNLOADED = 2
    UPDATING = 3


STATE_NAMES = {
    State.IDLE: "idle",
    State.DOWNLOADING: "downloading",
    State.DOWNLOADED: "downloaded",
    State.UPDATING: "updating",
}

SUCCESS = 1
DEFERRED = 11  # the device (its user) put the update off: it installs later
# /5/0/5 Update Result: 0 is "nothing yet" (reset when a download starts), 1 success, the rest failures.
RESULTS: dict[int, str] = {
    0: "initial value",
    1: "firmware updated successfully",
    2: "not enough flash memory for the new firmware package",
    3: "out of RAM during the download",
    4: "connection lost during the download",
    5: "integrity check failure for the new firmware package",
    6: "unsupported package type",
    7: "invalid URI",
    8: "firmware update failed",
    9: "unsupported protocol",
    10: "firmware update cancelled",
    11: "firmware update deferred",
}
# The same as short keys, for translations and automations.
RESULT_KEYS: dict[int, str] = {
    0: "initial",
    1: "success",
    2: "not_enough_flash",
    3: "out_of_ram",
    4: "connection_lost",
    5: "integrity_check_failure",
    6: "unsupported_package_type",
    7: "invalid_uri",
    8: "update_failed",
    9: "unsupported_protocol",
    10: "cancelled",
    11: "deferred",
}


class PullProtocol(IntEnum):
    """/5/0/8 Firmware Update Protocol Support: how the device can pull."""

    COAP = 0
    COAPS = 1
    HTTP = 2
    HTTPS = 3
    COAP_TCP = 4
    COAP_TLS = 5


class Delivery(IntEnum):
    """/5/0/9 Firmware Update Delivery Method."""

    PULL = 0
    PUSH = 1
    BOTH = 2


def result_text(result: int | None) -> str:
    """Return what an Update Result means ("integrity check failure for ...")."""
    if result is None:
        return "no update result"
    return RESULTS.get(result, f"update result {result}")


def result_key(result: int | None) -> str:
    """Return an Update Result's short key ("integrity_check_failure"); "unknown" past the table."""
    return "unknown" if result is None else RESULT_KEYS.get(result, "unknown")


def state_name(state: int | None) -> str | None:
    """Return an Update State's name ("downloading"); None when unknown."""
    try:
        return None if state is None else STATE_NAMES[State(state)]
    except ValueError:
        return None
