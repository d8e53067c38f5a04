"""Which LwM2M resource becomes which Home Assistant entity: one table, like Matter's schemas.

A row maps (object id, resource id) to a platform and the entity's description. Resources
that no row names still get an entity from generic rules on their type and operations
(disabled by default when their object has rows of its own), and objects that no model
describes get entities named from their paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.const import EntityCategory, Platform

from .lwm2m.model import ObjectModel, ResourceDefinition
from .lwm2m.path import Path
from .lwm2m.values import DataType, Value, guess_type

TRACKER = Platform.DEVICE_TRACKER
SENSOR, BINARY, SWITCH, NUMBER, SELECT, TEXT, BUTTON, EVENT = (
    Platform.SENSOR,
    Platform.BINARY_SENSOR,
    Platform.SWITCH,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.TEXT,
    Platform.BUTTON,
    Platform.EVENT,
)
DIAGNOSTIC, CONFIG = EntityCategory.DIAGNOSTIC, EntityCategory.CONFIG
MEASUREMENT, TOTAL_INCREASING = "measurement", "total_increasing"

# SenML units (RFC 8428 and OMA's additions) as Home Assistant writes them, with the device
# class a sensor in that unit has.
SENML_UNITS: dict[str, tuple[str, str | None]] = {
    "Cel": ("°C", "temperature"),
    "Far": ("°F", "temperature"),
    "K": ("K", "temperature"),
    "%RH": ("%", "humidity"),
    "/100": ("%", None),
    "%": ("%", None),
    "V": ("V", "voltage"),
    "mV": ("mV", "voltage"),
    "A": ("A", "current"),
    "mA": ("mA", "current"),
    "W": ("W", "power"),
    "kW": ("kW", "power"),
    "Wh": ("Wh", "energy"),
    "kWh": ("kWh", "energy"),
    "J": ("J", None),
    "lx": ("lx", "illuminance"),
    "Pa": ("Pa", "pressure"),
    "hPa": ("hPa", "pressure"),
    "kPa": ("kPa", "pressure"),
    "bar": ("bar", "pressure"),
    "mbar": ("mbar", "pressure"),
    "dBm": ("dBm", "signal_strength"),
    "dB": ("dB", "sound_pressure"),
    "m": ("m", "distance"),
    "km": ("km", "distance"),
    "s": ("s", "duration"),
    "ms": ("ms", "duration"),
    "min": ("min", "duration"),
    "h": ("h", "duration"),
    "Hz": ("Hz", "frequency"),
    "ppm": ("ppm", None),
    "m/s": ("m/s", "speed"),
    "deg": ("°", None),
    "lat": ("°", None),
    "lon": ("°", None),
    "B": ("B", "data_size"),
    "KB": ("kB", "data_size"),
    "kB": ("kB", "data_size"),
}


@dataclass(frozen=True, kw_only=True)
class Row:
    """How one resource appears in Home Assistant."""

    platform: Platform
    translation_key: str | None = None
    device_class: str | None = None
    unit: str | None = None
    unit_resource: int | None = None  # a sibling resource whose value names the unit (5701)
    state_class: str | None = None
    entity_category: EntityCategory | None = None
    enabled: bool = True
    observe: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)  # number: min, max, step, mode


def _sensor_object(oid: int, device_class: str | None, unit: str, key: str) -> dict[tuple[int, int], Row]:
    """The IPSO sensor pattern: 5700 the value, 5701 its unit, 5601/5602 the extremes."""
    main = Row(
        platform=SENSOR,
        translation_key=key,
        device_class=device_class,
        unit=unit,
        unit_resource=5701,
        state_class=MEASUREMENT,
    )

    def extreme(which: str) -> Row:
        return Row(
            platform=SENSOR,
            translation_key=f"{key}_{which}",
            device_class=device_class,
            unit=unit,
            unit_resource=5701,
            state_class=MEASUREMENT,
            entity_category=DIAGNOSTIC,
            enabled=False,
            observe=False,
        )

    return {
        (oid, 5700): main,
        (oid, 5601): extreme("min"),
        (oid, 5602): extreme("max"),
        (oid, 5605): Row(platform=BUTTON, translation_key="reset_min_max", entity_category=CONFIG, enabled=False),
    }


TABLE: dict[tuple[int, int], Row] = {
    # Device (3)
    (3, 0): Row(
        platform=SENSOR, translation_key="manufacturer", entity_category=DIAGNOSTIC, enabled=False, observe=False
    ),
    (3, 1): Row(
        platform=SENSOR, translation_key="model_number", entity_category=DIAGNOSTIC, enabled=False, observe=False
    ),
    (3, 2): Row(
        platform=SENSOR, translation_key="serial_number", entity_category=DIAGNOSTIC, enabled=False, observe=False
    ),
    (3, 3): Row(
        platform=SENSOR, translation_key="firmware_version", entity_category=DIAGNOSTIC, enabled=False, observe=False
    ),
    (3, 4): Row(platform=BUTTON, translation_key="reboot", device_class="restart", entity_category=CONFIG),
    (3, 5): Row(platform=BUTTON, translation_key="factory_reset", entity_category=CONFIG, enabled=False),
    (3, 7): Row(
        platform=SENSOR,
        translation_key="supply_voltage",
        device_class="voltage",
        unit="mV",
        state_class=MEASUREMENT,
        entity_category=DIAGNOSTIC,
    ),
    (3, 8): Row(
        platform=SENSOR,
        translation_key="supply_current",
        device_class="current",
        unit="mA",
        state_class=MEASUREMENT,
        entity_category=DIAGNOSTIC,
        enabled=False,
    ),
    (3, 9): Row(platform=SENSOR, device_class="battery", unit="%", state_class=MEASUREMENT, entity_category=DIAGNOSTIC),
    (3, 10): Row(
        platform=SENSOR,
        translation_key="memory_free",
        device_class="data_size",
        unit="kB",
        state_class=MEASUREMENT,
        entity_category=DIAGNOSTIC,
        enabled=False,
        observe=False,
    ),
    (3, 11): Row(platform=SENSOR, translation_key="error_code", entity_category=DIAGNOSTIC),
    (3, 12): Row(platform=BUTTON, translation_key="reset_error_code", entity_category=CONFIG, enabled=False),
    (3, 13): Row(
        platform=SENSOR,
        translation_key="device_time",
        device_class="timestamp",
        entity_category=DIAGNOSTIC,
        enabled=False,
        observe=False,
    ),
    (3, 20): Row(platform=SENSOR, translation_key="battery_status", entity_category=DIAGNOSTIC),
    # Server (1)
    (1, 1): Row(
        platform=NUMBER,
        translation_key="lifetime",
        unit="s",
        entity_category=CONFIG,
        observe=False,
        extra={"min": 1, "max": 86400 * 30, "step": 1, "mode": "box"},
    ),
    # Connectivity Monitoring (4)
    (4, 2): Row(
        platform=SENSOR,
        translation_key="signal_strength",
        device_class="signal_strength",
        unit="dBm",
        state_class=MEASUREMENT,
        entity_category=DIAGNOSTIC,
    ),
    (4, 3): Row(platform=SENSOR, translation_key="link_quality", state_class=MEASUREMENT, entity_category=DIAGNOSTIC),
    # Location (6): one tracker from latitude, longitude and radius; altitude and speed beside it
    (6, 0): Row(platform=TRACKER, translation_key="location"),
    (6, 2): Row(
        platform=SENSOR,
        translation_key="altitude",
        device_class="distance",
        unit="m",
        state_class=MEASUREMENT,
        observe=False,
    ),
    (6, 6): Row(platform=SENSOR, device_class="speed", unit="m/s", state_class=MEASUREMENT, observe=False),
    # Digital input / output, presence, switches
    (3200, 5500): Row(platform=BINARY, translation_key="digital_input"),
    (3200, 5501): Row(platform=SENSOR, translation_key="counter", state_class=TOTAL_INCREASING, enabled=False),
    (3201, 5550): Row(platform=SWITCH, translation_key="digital_output"),
    (3202, 5600): Row(platform=SENSOR, translation_key="analog_input", state_class=MEASUREMENT),
    (3203, 5650): Row(platform=NUMBER, translation_key="analog_output", extra={"mode": "box"}),
    (3302, 5500): Row(platform=BINARY, device_class="occupancy"),
    (3311, 5850): Row(platform=SWITCH, translation_key="light"),
    (3311, 5851): Row(platform=NUMBER, translation_key="dimmer", unit="%", extra={"min": 0, "max": 100, "step": 1}),
    (3312, 5850): Row(platform=SWITCH, device_class="outlet"),
    (3312, 5851): Row(platform=NUMBER, translation_key="dimmer", unit="%", extra={"min": 0, "max": 100, "step": 1}),
    (3312, 5805): Row(platform=SENSOR, device_class="energy", unit="Wh", state_class=TOTAL_INCREASING),
    (3342, 5500): Row(platform=BINARY, translation_key="on_off_switch"),
    (3342, 5501): Row(platform=SENSOR, translation_key="counter", state_class=TOTAL_INCREASING, enabled=False),
    (3347, 5500): Row(platform=BINARY, translation_key="push_button"),
    (3347, 5501): Row(platform=EVENT, translation_key="push_button_event"),
    (3308, 5900): Row(platform=NUMBER, translation_key="set_point", unit_resource=5701, extra={"mode": "box"}),
    (3306, 5850): Row(platform=SWITCH, translation_key="actuation"),
    (3306, 5851): Row(platform=NUMBER, translation_key="dimmer", unit="%", extra={"min": 0, "max": 100, "step": 1}),
    (3338, 5850): Row(platform=SWITCH, translation_key="buzzer"),
    (3340, 5850): Row(platform=SWITCH, translation_key="timer"),
    (3341, 5527): Row(platform=TEXT, translation_key="display_text"),
    (3343, 5851): Row(platform=NUMBER, translation_key="dimmer", unit="%", extra={"min": 0, "max": 100, "step": 1}),
    # Battery (3411)
    (3411, 1): Row(platform=SENSOR, device_class="battery", unit="%", state_class=MEASUREMENT),
    (3411, 3): Row(platform=SENSOR, device_class="voltage", unit="V", state_class=MEASUREMENT),
    (3411, 6): Row(platform=BINARY, device_class="battery"),
    # IPSO sensors: value, unit, extremes
    **_sensor_object(3300, None, "", "generic_sensor"),
    **_sensor_object(3301, "illuminance", "lx", "illuminance"),
    **_sensor_object(3303, "temperature", "°C", "temperature"),
    **_sensor_object(3304, "humidity", "%", "humidity"),
    **_sensor_object(3315, "atmospheric_pressure", "hPa", "barometer"),
    **_sensor_object(3316, "voltage", "V", "voltage"),
    **_sensor_object(3317, "current", "A", "current"),
    **_sensor_object(3318, "frequency", "Hz", "frequency"),
    **_sensor_object(3319, "distance", "m", "depth"),
    **_sensor_object(3320, None, "%", "percentage"),
    **_sensor_object(3321, "distance", "m", "altitude"),
    **_sensor_object(3322, "weight", "kg", "load"),
    **_sensor_object(3323, "pressure", "Pa", "pressure"),
    **_sensor_object(3324, "sound_pressure", "dB", "loudness"),
    **_sensor_object(3325, None, "ppm", "concentration"),
    **_sensor_object(3326, "ph", "", "acidity"),
    **_sensor_object(3327, None, "S/m", "conductivity"),
    **_sensor_object(3328, "power", "W", "power"),
    **_sensor_object(3329, "power_factor", "", "power_factor"),
    **_sensor_object(3330, "distance", "m", "distance"),
    **_sensor_object(3346, None, "", "rate"),
}
TABLE[(3331, 5700)] = Row(
    platform=SENSOR,
    translation_key="energy",
    device_class="energy",
    unit="Wh",
    unit_resource=5701,
    state_class=TOTAL_INCREASING,
)
TABLE[(3331, 5822)] = Row(platform=BUTTON, translation_key="reset_energy", entity_category=CONFIG, enabled=False)
MAPPED_OBJECTS = frozenset(oid for oid, _rid in TABLE)


@dataclass(frozen=True, kw_only=True)
class EntitySpec:
    """One entity to create: where its value lives and how it is described."""

    endpoint: str
    path: Path
    row: Row
    name: str | None = None  # when no translation key (or device class) names it
    placeholders: Mapping[str, str] = field(default_factory=dict)
    unit: str | None = None
    device_class: str | None = None
    options: tuple[str, ...] = ()  # select
    enumeration: Mapping[int, str] = field(default_factory=dict)

    @property
    def unique_id(self) -> str:
        return f"{self.endpoint}_{'_'.join(map(str, self.path.ids))}"


def _generic_row(rdef: ResourceDefinition | None, value: Value | None, extra_of_mapped: bool) -> Row | None:
    dtype = rdef.type if rdef is not None else None
    writable = rdef is not None and rdef.operations.writable
    enabled = not extra_of_mapped
    category = DIAGNOSTIC if extra_of_mapped else None
    if rdef is not None and rdef.operations.executable:
        return Row(platform=BUTTON, entity_category=CONFIG, enabled=False)
    if rdef is not None and not rdef.operations.readable:
        return None  # write-only: reachable with the services
    kind = dtype or (guess_type(value) if value is not None else None)
    if kind is DataType.BOOLEAN:
        return Row(
            platform=SWITCH if writable else BINARY,
            entity_category=CONFIG if writable and not enabled else category,
            enabled=enabled,
        )
    if kind in (DataType.INTEGER, DataType.UNSIGNED_INTEGER, DataType.FLOAT):
        if rdef is not None and rdef.enumeration and writable:
            return Row(platform=SELECT, entity_category=CONFIG if extra_of_mapped else None, enabled=enabled)
        if writable:
            return Row(
                platform=NUMBER,
                entity_category=CONFIG if extra_of_mapped else None,
                enabled=enabled,
                extra={"mode": "box"},
            )
        return Row(platform=SENSOR, state_class=MEASUREMENT, entity_category=category, enabled=enabled)
    if kind is DataType.TIME:
        return Row(platform=SENSOR, device_class="timestamp", entity_category=DIAGNOSTIC, enabled=enabled)
    if kind in (DataType.STRING, DataType.CORELNK, DataType.OBJLNK):
        if writable:
            return Row(platform=TEXT, entity_category=CONFIG, enabled=enabled)
        return Row(platform=SENSOR, entity_category=DIAGNOSTIC, enabled=enabled)
    return Row(platform=SENSOR, entity_category=DIAGNOSTIC, enabled=False)  # opaque: raw bytes


def _name(
    leaf: Path, row: Row, object_name: str | None, resource_name: str | None, *, multiple: bool, mapped: bool
) -> tuple[str | None, dict[str, str]]:
    """(explicit name, translation placeholders); no name lets the translation or device class name it."""
    label = f"{object_name} {resource_name}" if object_name and resource_name else str(leaf)
    if leaf.depth == 4:
        index = str(leaf.ids[3])
        return (None, {"index": index}) if row.translation_key else (f"{label} {index}", {})
    if multiple and object_name:
        instance = f"{object_name} {leaf.ids[1]}"
        return (instance if mapped and (row.translation_key or row.device_class) else f"{instance} {resource_name}"), {}
    if row.translation_key or (mapped and row.device_class):
        return None, {}
    return label, {}


def unit_of(row: Row, resource_unit: str, sibling_unit: Value | None) -> tuple[str | None, str | None]:
    """The unit and device class of a sensor, from the device's own unit resource if it has one."""
    if isinstance(sibling_unit, str) and sibling_unit.strip():
        unit, device_class = senml_unit(sibling_unit.strip())
        if row.device_class is None or device_class == row.device_class or device_class is None:
            return unit, row.device_class or device_class
        return unit, None  # the device says another quantity than the table expects
    if row.unit is not None:
        return row.unit or None, row.device_class
    if not resource_unit:
        return None, row.device_class
    unit, device_class = senml_unit(resource_unit)
    return unit, row.device_class or device_class


def senml_unit(senml: str) -> tuple[str, str | None]:
    """A SenML unit as Home Assistant writes it, with the device class it implies."""
    return SENML_UNITS.get(senml, (senml, None))


def entities_for(
    endpoint: str,
    instances: list[Path],
    values: Mapping[Path, Value | None],
    model: ObjectModel,
    multi_instance_objects: set[int],
) -> list[EntitySpec]:
    """Entity specs for one endpoint, from its announced instances and the values read."""
    specs: list[EntitySpec] = []
    for inst in instances:
        oid = inst.ids[0]
        present = {p for p in values if p.startswith(inst)}
        obj = model.object(oid)
        resource_paths: set[Path] = {Path(p.ids[:3]) for p in present}
        # Executables and table rows cannot all be seen in a read: add what the table names
        # and the model defines, when the object was announced.
        if obj is not None:
            for (t_oid, t_rid), t_row in TABLE.items():
                if t_oid == oid and t_rid in obj.resources and (t_row.platform is BUTTON or not present):
                    resource_paths.add(inst.child(t_rid))
        for rpath in sorted(resource_paths):
            rid = rpath.ids[2]
            rdef = obj.resources.get(rid) if obj is not None else None
            # A multiple resource not read yet: its first instance, which is what devices have
            # (and what names with an {index} need).
            unread = [rpath.child(0) if rdef is not None and rdef.multiple else rpath]
            leaves = sorted(p for p in present if p.startswith(rpath)) or unread
            found = TABLE.get((oid, rid)) or _generic_row(rdef, values.get(leaves[0]), oid in MAPPED_OBJECTS)
            if found is None:
                continue
            row = found
            unit, device_class = row.unit, row.device_class
            if row.platform in (SENSOR, NUMBER):
                unit, device_class = unit_of(
                    row,
                    rdef.units if rdef else "",
                    values.get(inst.child(row.unit_resource)) if row.unit_resource else None,
                )
            for leaf in leaves if row.platform is not BUTTON else [rpath]:
                name, placeholders = _name(
                    leaf,
                    row,
                    obj.name if obj else None,
                    rdef.name if rdef else None,
                    multiple=oid in multi_instance_objects,
                    mapped=(oid, rid) in TABLE,
                )
                options: tuple[str, ...] = ()
                enumeration: dict[int, str] = {}
                if row.platform is SELECT and rdef is not None and rdef.enumeration:
                    enumeration = dict(rdef.enumeration)
                    options = tuple(enumeration.values())
                specs.append(
                    EntitySpec(
                        endpoint=endpoint,
                        path=leaf,
                        row=row,
                        name=name,
                        placeholders=placeholders,
                        unit=unit,
                        device_class=device_class,
                        options=options,
                        enumeration=enumeration,
                    )
                )
    return specs
