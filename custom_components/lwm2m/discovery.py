"""Every platform's DISCOVERY_SCHEMAS in one place, indexed for the matcher (mapping.Tables)."""

from __future__ import annotations

from homeassistant.const import Platform

from .binary_sensor import DISCOVERY_SCHEMAS as BINARY_SENSOR_SCHEMAS
from .button import DISCOVERY_SCHEMAS as BUTTON_SCHEMAS
from .device_tracker import DISCOVERY_SCHEMAS as DEVICE_TRACKER_SCHEMAS
from .event import DEVICE_SCHEMAS as EVENT_DEVICE_SCHEMAS
from .event import DISCOVERY_SCHEMAS as EVENT_SCHEMAS
from .mapping import Tables
from .number import DISCOVERY_SCHEMAS as NUMBER_SCHEMAS
from .select import DISCOVERY_SCHEMAS as SELECT_SCHEMAS
from .sensor import DEVICE_SCHEMAS as SENSOR_DEVICE_SCHEMAS
from .sensor import DISCOVERY_SCHEMAS as SENSOR_SCHEMAS
from .switch import DISCOVERY_SCHEMAS as SWITCH_SCHEMAS
from .text import DISCOVERY_SCHEMAS as TEXT_SCHEMAS
from .update import DISCOVERY_SCHEMAS as UPDATE_SCHEMAS

TABLES = Tables(
    {
        Platform.BINARY_SENSOR: BINARY_SENSOR_SCHEMAS,
        Platform.BUTTON: BUTTON_SCHEMAS,
        Platform.DEVICE_TRACKER: DEVICE_TRACKER_SCHEMAS,
        Platform.EVENT: EVENT_SCHEMAS,
        Platform.NUMBER: NUMBER_SCHEMAS,
        Platform.SELECT: SELECT_SCHEMAS,
        Platform.SENSOR: SENSOR_SCHEMAS,
        Platform.SWITCH: SWITCH_SCHEMAS,
        Platform.TEXT: TEXT_SCHEMAS,
        Platform.UPDATE: UPDATE_SCHEMAS,
    },
    # What every device gets once: its status, its Send events.
    {Platform.SENSOR: SENSOR_DEVICE_SCHEMAS, Platform.EVENT: EVENT_DEVICE_SCHEMAS},
)
