"""Object and resource definitions: the facts of the OMA object model, no prose."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Flag, auto
from typing import Any

from ..values import DataType

# SenML unit codes (RFC 8428, OMA's additions) that people write differently.
SENML_UNITS = {"/100": "%", "%RH": "%", "%EL": "%", "Cel": "°C", "Far": "°F", "deg": "°", "lat": "°", "lon": "°"}


class Operations(Flag):
    """What a server may do with a resource."""

    NONE = 0
    R = auto()
    W = auto()
    E = auto()
    RW = R | W

    @classmethod
    def parse(cls, text: str | None) -> Operations:
        """Parse the Operations element of an object XML ("RW", "E", empty)."""
        ops = cls.NONE
        for ch in (text or "").strip().upper():
            if ch == "R":
                ops |= cls.R
            elif ch == "W":
                ops |= cls.W
            elif ch == "E":
                ops |= cls.E
            elif not ch.isspace():
                raise ValueError(f"unknown operation {ch!r} in {text!r}")
        return ops

    def __str__(self) -> str:
        """Return the operations as the object XML writes them."""
        return "".join(
            ch for ch, flag in (("R", Operations.R), ("W", Operations.W), ("E", Operations.E)) if flag in self
        )

    @property
    def readable(self) -> bool:
        """Return whether the resource can be read."""
        return Operations.R in self

    @property
    def writable(self) -> bool:
        """Return whether the resource can be written."""
        return Operations.W in self

    @property
    def executable(self) -> bool:
        """Return whether the resource can be executed."""
        return Operations.E in self


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceDefinition:
    """One resource of an object, as its object XML defines it."""

    id: int
    name: str
    operations: Operations
    type: DataType
    multiple: bool = False
    mandatory: bool = False
    range_min: float | None = None
    range_max: float | None = None
    enumeration: dict[int, str] | None = None
    units: str = ""

    @property
    def unit(self) -> str:
        """The unit as people write it ("%" for SenML's "/100")."""
        return SENML_UNITS.get(self.units, self.units)

    def to_dict(self) -> dict[str, Any]:
        """Return the definition in its compact, JSON-friendly form."""
        out: dict[str, Any] = {"name": self.name, "ops": str(self.operations), "type": self.type.value}
        if self.multiple:
            out["multiple"] = True
        if self.mandatory:
            out["mandatory"] = True
        if self.range_min is not None:
            out["min"] = self.range_min
        if self.range_max is not None:
            out["max"] = self.range_max
        if self.enumeration:
            out["enum"] = {str(k): v for k, v in self.enumeration.items()}
        if self.units:
            out["units"] = self.units
        return out

    @classmethod
    def from_dict(cls, rid: int, data: dict[str, Any]) -> ResourceDefinition:
        """Build a definition from its compact form (to_dict)."""
        enum = data.get("enum")
        return cls(
            id=rid,
            name=data["name"],
            operations=Operations.parse(data.get("ops", "")),
            type=DataType(data.get("type", DataType.NONE.value)),
            multiple=bool(data.get("multiple", False)),
            mandatory=bool(data.get("mandatory", False)),
            range_min=data.get("min"),
            range_max=data.get("max"),
            enumeration={int(k): v for k, v in enum.items()} if enum else None,
            units=data.get("units", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectDefinition:
    """One LwM2M object, as its object XML defines it."""

    id: int
    name: str
    version: str = "1.0"
    lwm2m_version: str = "1.0"
    urn: str = ""
    multiple: bool = False
    mandatory: bool = False
    resources: dict[int, ResourceDefinition] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the definition in its compact, JSON-friendly form."""
        return {
            "name": self.name,
            "version": self.version,
            "lwm2m": self.lwm2m_version,
            "urn": self.urn,
            "multiple": self.multiple,
            "mandatory": self.mandatory,
            "resources": {str(rid): r.to_dict() for rid, r in sorted(self.resources.items())},
        }

    @classmethod
    def from_dict(cls, oid: int, data: dict[str, Any]) -> ObjectDefinition:
        """Build a definition from its compact form (to_dict)."""
        return cls(
            id=oid,
            name=data["name"],
            version=data.get("version", "1.0"),
            lwm2m_version=data.get("lwm2m", "1.0"),
            urn=data.get("urn", ""),
            multiple=bool(data.get("multiple", False)),
            mandatory=bool(data.get("mandatory", False)),
            resources={int(rid): ResourceDefinition.from_dict(int(rid), r) for rid, r in data["resources"].items()},
        )
