"""Which LwM2M resource becomes which Home Assistant entity: the rows' shape and the matcher.

Each platform module keeps one DISCOVERY_SCHEMAS list (Matter's way) of typed, frozen entity
descriptions extending Home Assistant's own; discovery.py gathers them into Tables. A row names
the objects and the resource it maps; a generic row stands for the resources no row names, by
what the object model says they are (disabled by default where their object has rows). The
matcher turns a device's instances and values into matches, each row specialised for the
resource it found (unit, limits, options, name) by the row's own `specialize`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Self

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import EntityCategory, Platform
from homeassistant.helpers.entity import Entity, EntityDescription

from .lwm2m.model import ObjectModel, ResourceDefinition
from .lwm2m.path import Path
from .lwm2m.values import DataType, Value, guess_type

MAX_STATE = 255  # characters a state can hold


def text_state(value: Value) -> str:
    """Show a value as text a state can hold."""
    return str(value)[:MAX_STATE]


def number_state(value: Value) -> float | None:
    """Show a numeric value as a float; anything else as unknown."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Kind(StrEnum):
    """What a resource no row names is, by its type and operations (or its value, unmodelled)."""

    COMMAND = "command"  # executable
    SWITCH = "switch"  # writable boolean
    FLAG = "flag"  # read-only boolean
    CHOICE = "choice"  # writable number with an enumeration
    SETTING = "setting"  # writable number
    MEASUREMENT = "measurement"  # read-only number
    TIME = "time"
    TEXT_SETTING = "text_setting"  # writable string or link
    TEXT = "text"  # read-only string or link
    OPAQUE = "opaque"  # raw bytes, or a type nothing says


_NUMBERS = (DataType.INTEGER, DataType.UNSIGNED_INTEGER, DataType.FLOAT)
_TEXTS = (DataType.STRING, DataType.CORELNK, DataType.OBJLNK)


def classify(definition: ResourceDefinition | None, value: Value | None) -> Kind | None:
    """Pick the generic row a resource falls to; None for write-only ones (the services reach them)."""
    if definition is not None and definition.operations.executable:
        return Kind.COMMAND
    if definition is not None and not definition.operations.readable:
        return None
    writable = definition is not None and definition.operations.writable
    kind = (definition.type if definition else None) or (guess_type(value) if value is not None else None)
    if kind is DataType.BOOLEAN:
        return Kind.SWITCH if writable else Kind.FLAG
    if kind in _NUMBERS:
        if writable:
            return Kind.CHOICE if definition is not None and definition.enumeration else Kind.SETTING
        return Kind.MEASUREMENT
    if kind is DataType.TIME:
        return Kind.TIME
    if kind in _TEXTS:
        return Kind.TEXT_SETTING if writable else Kind.TEXT
    return Kind.OPAQUE


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One resource (or resource instance) of one device, as the matcher found it."""

    path: Path
    definition: ResourceDefinition | None
    type: DataType | None  # from the object model, else guessed from the value
    values: Mapping[Path, Value | None]  # what was read of the device (units beside a value)

    def sibling(self, resource_id: int | None) -> Value | None:
        """Return the value of another resource of the same instance (a unit resource such as 5701)."""
        return None if resource_id is None else self.values.get(Path(self.path.ids[:2]).child(resource_id))


type ValueFn = Callable[[Value], Any] | None

# An entity class: built with the entry's hub and a match (the hub stands above this module,
# which is why its type is not named here).
type EntityClass = Callable[[Any, Match], Entity]


@dataclass(frozen=True, kw_only=True)
class LwM2MEntityDescription(EntityDescription):
    """A row of a platform's DISCOVERY_SCHEMAS: which resource, which entity class, observed or not.

    A row names objects + resource_id, or a generic kind; rows give a translation_key (or a
    device class) and never a name: only resources no row names get one, from the model.
    """

    entity_class: EntityClass
    objects: tuple[int, ...] = ()
    resource_id: int | None = None
    generic: Kind | None = None
    observe: bool = True  # observed once the device registers (if enabled by default)
    watch: tuple[int, ...] = ()  # other resources of the instance the entity shows (then the instance is observed)
    unit_resource: int | None = None  # a resource of the instance whose value names the unit (5701)
    value_fn: ValueFn = None  # the device's value as the entity shows it, where they differ

    def specialize(self, resource: Resource) -> Self:
        """Return the row for one resource of one device (a platform adds units, limits, options)."""
        return self


@dataclass(frozen=True, slots=True)
class Match:
    """One entity the matcher found: on which endpoint, which platform, described how."""

    endpoint: str
    platform: Platform
    description: LwM2MEntityDescription
    path: Path | None = None  # None: the device itself (status sensors, Send events)

    @property
    def unique_id(self) -> str:
        """Return the entity's unique id."""
        if self.path is None:
            return f"{self.endpoint}_status_{self.description.key}"
        return f"{self.endpoint}_{'_'.join(map(str, self.path.ids))}"


# SenML units (RFC 8428 and OMA's additions) that Home Assistant writes otherwise; the others
# it writes as they are.
_HA_UNITS = {"Cel": "°C", "Far": "°F", "%RH": "%", "/100": "%", "KB": "kB", "deg": "°", "lat": "°", "lon": "°"}
# The device class of a sensor in a SenML unit.
_DEVICE_CLASSES: dict[str, SensorDeviceClass] = {
    unit: device_class
    for device_class, units in (
        (SensorDeviceClass.TEMPERATURE, ("Cel", "Far", "K")),
        (SensorDeviceClass.HUMIDITY, ("%RH",)),
        (SensorDeviceClass.VOLTAGE, ("V", "mV")),
        (SensorDeviceClass.CURRENT, ("A", "mA")),
        (SensorDeviceClass.POWER, ("W", "kW")),
        (SensorDeviceClass.ENERGY, ("Wh", "kWh")),
        (SensorDeviceClass.ILLUMINANCE, ("lx",)),
        (SensorDeviceClass.PRESSURE, ("Pa", "hPa", "kPa", "bar", "mbar")),
        (SensorDeviceClass.SIGNAL_STRENGTH, ("dBm",)),
        (SensorDeviceClass.SOUND_PRESSURE, ("dB",)),
        (SensorDeviceClass.DISTANCE, ("m", "km")),
        (SensorDeviceClass.DURATION, ("s", "ms", "min", "h")),
        (SensorDeviceClass.FREQUENCY, ("Hz",)),
        (SensorDeviceClass.SPEED, ("m/s",)),
        (SensorDeviceClass.DATA_SIZE, ("B", "KB", "kB")),
    )
    for unit in units
}


def senml_unit(senml: str) -> tuple[str, SensorDeviceClass | None]:
    """Translate a SenML unit to Home Assistant's spelling, with the device class it implies."""
    return _HA_UNITS.get(senml, senml), _DEVICE_CLASSES.get(senml)


def unit_of(
    unit: str | None, device_class: SensorDeviceClass | None, resource: Resource, unit_resource: int | None
) -> tuple[str | None, SensorDeviceClass | None]:
    """Pick a row's unit and device class for one resource.

    The device's own unit resource wins, then the row's unit, then the model's.
    """
    reported = resource.sibling(unit_resource)
    if isinstance(reported, str) and reported.strip():
        found, implied = senml_unit(reported.strip())
        if device_class is None or implied in (device_class, None):
            return found, device_class or implied
        return found, None  # the device says another quantity than the row expects
    model_unit = resource.definition.units if resource.definition else ""
    if unit is not None or not model_unit:
        return unit, device_class
    found, implied = senml_unit(model_unit)
    return found, device_class or implied


type Row = tuple[Platform, LwM2MEntityDescription]
_ACTIONS = (Platform.BUTTON, Platform.NUMBER, Platform.SELECT, Platform.SWITCH, Platform.TEXT)


class Tables:
    """Every platform's rows, indexed for the matcher.

    They are indexed by (object, resource) and by kind, beside the rows every device gets once
    (its status, its Send events).
    """

    def __init__(
        self,
        schemas: Mapping[Platform, Sequence[LwM2MEntityDescription]],
        device_schemas: Mapping[Platform, Sequence[LwM2MEntityDescription]],
    ) -> None:
        """Index the rows of every platform."""
        self.rows: dict[tuple[int, int], Row] = {}
        self.generic: dict[Kind, Row] = {}
        for platform, descriptions in schemas.items():
            for description in descriptions:
                keys = [
                    (oid, description.resource_id) for oid in description.objects if description.resource_id is not None
                ]
                for key in keys:
                    if key in self.rows:
                        raise ValueError(f"two rows map /{key[0]}/*/{key[1]}")
                    self.rows[key] = (platform, description)
                if description.generic is not None:
                    self.generic[description.generic] = (platform, description)
        self.device = [(platform, d) for platform, descriptions in device_schemas.items() for d in descriptions]
        self.mapped_objects = frozenset(oid for oid, _rid in self.rows)

    def match(
        self, endpoint: str, instances: Sequence[Path], values: Mapping[Path, Value | None], model: ObjectModel
    ) -> list[Match]:
        """Find the entities of one device, from its announced instances and what was read of it."""
        found = [Match(endpoint, platform, description) for platform, description in self.device]
        counts: dict[int, int] = {}
        for inst in instances:
            counts[inst.ids[0]] = counts.get(inst.ids[0], 0) + 1
        for inst in instances:
            oid = inst.ids[0]
            obj = model.object(oid)
            present = {p for p in values if p.startswith(inst)}
            resource_paths = {Path(p.ids[:3]) for p in present}
            # Executables and rows cannot all be seen in a read: add what the rows name and the
            # model defines, when the object was announced.
            for (row_oid, rid), (platform, _row) in self.rows.items():
                if (
                    row_oid == oid
                    and obj is not None
                    and rid in obj.resources
                    and (platform is Platform.BUTTON or not present)
                ):
                    resource_paths.add(inst.child(rid))
            for rpath in sorted(resource_paths):
                rid = rpath.ids[2]
                definition = obj.resources.get(rid) if obj is not None else None
                # A multiple resource not read yet: its first instance, which is what devices have
                # (and what names with an {index} need).
                unread = [rpath.child(0) if definition is not None and definition.multiple else rpath]
                leaves = sorted(p for p in present if p.startswith(rpath)) or unread
                row = self.rows.get((oid, rid))
                mapped = row is not None
                if row is None:
                    kind = classify(definition, values.get(leaves[0]))
                    row = self.generic.get(kind) if kind is not None else None
                if row is None:
                    continue
                platform, description = row
                if not mapped and oid in self.mapped_objects:
                    # Beyond its object's rows: there, but not in the way.
                    description = replace(
                        description,
                        entity_registry_enabled_default=False,
                        entity_category=description.entity_category
                        or (EntityCategory.CONFIG if platform in _ACTIONS else EntityCategory.DIAGNOSTIC),
                    )
                labels = (obj.name if obj else None, definition.name if definition else None)
                multiple = counts[oid] > 1
                for leaf in leaves if platform is not Platform.BUTTON else [rpath]:
                    resource = Resource(
                        path=leaf,
                        definition=definition,
                        type=(definition.type if definition else None) or _guess(values.get(leaf)),
                        values=values,
                    )
                    named = _named(description, leaf, labels, multiple=multiple, mapped=mapped)
                    found.append(Match(endpoint, platform, named.specialize(resource), leaf))
        return found


def _guess(value: Value | None) -> DataType | None:
    return guess_type(value) if value is not None else None


def _named(
    description: LwM2MEntityDescription,
    leaf: Path,
    labels: tuple[str | None, str | None],
    *,
    multiple: bool,
    mapped: bool,
) -> LwM2MEntityDescription:
    """Name the row for one resource by its translation (with the resource instance as {index}).

    Where no translation or device class names it, the name comes from the model (or the path).
    """
    object_name, resource_name = labels
    label = f"{object_name} {resource_name}" if object_name and resource_name else str(leaf)
    translated = description.translation_key is not None
    if leaf.depth == 4:
        if translated:
            return replace(description, translation_placeholders={"index": str(leaf.ids[3])})
        return replace(description, name=f"{label} {leaf.ids[3]}")
    if multiple and object_name:
        instance = f"{object_name} {leaf.ids[1]}"
        named_by_row = mapped and (translated or description.device_class is not None)
        return replace(
            description, name=instance if named_by_row else f"{instance} {resource_name}", translation_key=None
        )
    if translated or (mapped and description.device_class is not None):
        return description
    return replace(description, name=label)
