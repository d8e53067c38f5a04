"""The matcher and its rows, without a device on the network: a new object is one row, two rows
for one resource are refused, resources beyond the rows fall to the generic rows."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import EntityCategory, Platform

from custom_components.lwm2m.discovery import TABLES
from custom_components.lwm2m.lwm2m.model import ObjectModel
from custom_components.lwm2m.lwm2m.path import Path
from custom_components.lwm2m.mapping import Kind, Match, Tables
from custom_components.lwm2m.sensor import DEVICE_SCHEMAS, DISCOVERY_SCHEMAS, LwM2MSensorDescription

P = Path.parse
MODEL = ObjectModel()


def _resource_matches(tables: Tables, instances: list[Path], values: dict[Path, Any]) -> dict[str, Match]:
    found = tables.match("dev", instances, values, MODEL)
    return {str(m.path): m for m in found if m.path is not None}


def test_a_new_object_is_one_row() -> None:
    """An object no row knew (40001) gets its entity from one more row in a platform's list."""
    row = LwM2MSensorDescription(
        key="co2",
        objects=(40001,),
        resource_id=1,
        translation_key="co2",
        device_class=SensorDeviceClass.CO2,
        native_unit_of_measurement="ppm",
    )
    tables = Tables({Platform.SENSOR: [*DISCOVERY_SCHEMAS, row]}, {Platform.SENSOR: DEVICE_SCHEMAS})
    matches = _resource_matches(tables, [P("/40001/0")], {P("/40001/0/1"): 410, P("/40001/0/2"): 7})
    co2 = matches["/40001/0/1"]
    assert co2.platform is Platform.SENSOR and co2.description.translation_key == "co2"
    assert co2.description.device_class is SensorDeviceClass.CO2 and co2.unique_id == "dev_40001_0_1"
    # the object's other resource: there, generic, and out of the way now that its object has a row
    other = matches["/40001/0/2"]
    assert other.description.generic is Kind.MEASUREMENT and other.description.name == "/40001/0/2"
    assert not other.description.entity_registry_enabled_default
    assert other.description.entity_category is EntityCategory.DIAGNOSTIC
    # without the row, both are generic and enabled
    plain = _resource_matches(TABLES, [P("/40001/0")], {P("/40001/0/1"): 410, P("/40001/0/2"): 7})
    assert all(m.description.generic is Kind.MEASUREMENT for m in plain.values())
    assert all(m.description.entity_registry_enabled_default for m in plain.values())


def test_two_rows_for_one_resource_are_refused() -> None:
    twice = LwM2MSensorDescription(key="again", objects=(3303,), resource_id=5700, translation_key="temperature")
    with pytest.raises(ValueError, match="two rows map /3303/\\*/5700"):
        Tables({Platform.SENSOR: [*DISCOVERY_SCHEMAS, twice]}, {})


def test_every_device_gets_its_status_once() -> None:
    found = TABLES.match("dev", [], {}, MODEL)
    assert sorted(m.unique_id for m in found) == sorted(
        [
            f"dev_status_{key}"
            for key in ("last_seen", "lifetime", "binding", "security", "address", "messages_in", "messages_out")
        ]
        + ["dev_status_send"]
    )
    assert all(m.path is None for m in found)


def test_a_row_is_specialised_for_the_resource_it_found() -> None:
    """The unit a device reports (5701) wins over the row's; a number gets the model's range."""
    matches = _resource_matches(
        TABLES, [P("/3303/0"), P("/1/0")], {P("/3303/0/5700"): 70.0, P("/3303/0/5701"): "Far", P("/1/0/1"): 60}
    )
    temperature = matches["/3303/0/5700"].description
    assert temperature.native_unit_of_measurement == "°F"
    assert temperature.device_class is SensorDeviceClass.TEMPERATURE
    lifetime = matches["/1/0/1"].description
    assert (lifetime.native_min_value, lifetime.native_max_value, lifetime.integer) == (1.0, 86400.0 * 30, True)
