"""Logbook lines for what happens to LwM2M devices outside their entities: bootstraps, refusals, firmware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN

EVENT_BOOTSTRAPPED = f"{DOMAIN}_bootstrapped"
EVENT_BOOTSTRAP_FAILED = f"{DOMAIN}_bootstrap_failed"
EVENT_REFUSED = f"{DOMAIN}_refused"
EVENT_FIRMWARE = f"{DOMAIN}_firmware"
_FIRMWARE_LINES = {
    "started": "firmware update of {endpoint} started ({method})",
    "downloaded": "{endpoint} downloaded firmware {version}",
    "updating": "{endpoint} is installing firmware {version}",
    "succeeded": "{endpoint} runs firmware {version} now",
    "failed": "firmware update of {endpoint} failed: {error}",
    "cancelled": "firmware update of {endpoint} was cancelled",
}


@callback
def async_describe_events(
    hass: HomeAssistant, async_describe_event: Callable[[str, str, Callable[..., Any]], None]
) -> None:
    """Describe the integration's events for the logbook."""

    @callback
    def describe(event: Event) -> dict[str, str]:
        data = event.data
        endpoint = data.get("endpoint", "?")
        if event.event_type == EVENT_BOOTSTRAPPED:
            message = f"{endpoint} was bootstrapped: it registers with {data.get('server', '?')} next"
        elif event.event_type == EVENT_BOOTSTRAP_FAILED:
            message = f"bootstrap of {endpoint} failed: {data.get('reason', '?')}"
        elif event.event_type == EVENT_FIRMWARE:
            fields = {"method": "", "version": "?", "error": "?"} | {k: v for k, v in data.items() if v is not None}
            message = _FIRMWARE_LINES.get(str(data.get("step")), "firmware update of {endpoint}: {step}").format(
                **(fields | {"endpoint": endpoint})
            )
        else:
            message = f"{endpoint} was refused: {data.get('reason', '?')}"
        return {"name": "LwM2M", "message": message}

    for event_type in (EVENT_BOOTSTRAPPED, EVENT_BOOTSTRAP_FAILED, EVENT_REFUSED, EVENT_FIRMWARE):
        async_describe_event(DOMAIN, event_type, describe)
