"""Parse OMA LwM2M object definition XML (schema 1.0, 1.1 and later) with lxml."""

from __future__ import annotations

import re
from pathlib import Path as FsPath

from lxml import etree

from ..errors import ModelError
from ..values import DataType
from .definitions import ObjectDefinition, Operations, ResourceDefinition

# No entities, no network, no huge trees: object files may come from a user's folder.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:\.\.|\s-\s|-|to)\s*({_NUMBER})\b")
_ENUM_LINE = re.compile(r"^\s*(-?\d+)\s*[:=]\s*(\S.*?)\s*$")
_NUMERIC = (DataType.INTEGER, DataType.UNSIGNED_INTEGER, DataType.FLOAT)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(elem: etree._Element, name: str) -> str:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _child(elem: etree._Element, name: str) -> etree._Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_range(text: str, dtype: DataType) -> tuple[float | None, float | None, dict[int, str] | None]:
    """Read a RangeEnumeration cell: a numeric range, or an enumeration of "N: label" lines."""
    text = text.strip()
    if not text:
        return None, None, None
    lines = [m for m in (_ENUM_LINE.match(line) for line in text.splitlines()) if m]
    if len(lines) >= 2:
        return None, None, {int(m.group(1)): m.group(2) for m in lines}
    if dtype not in _NUMERIC:
        return None, None, None
    match = _RANGE.match(text)
    if match:
        low, high = _number(match.group(1)), _number(match.group(2))
        if low <= high:
            return low, high, None
        return None, None, None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) >= 2 and all(re.fullmatch(r"-?\d+", p) for p in parts):
        return None, None, {int(p): p for p in parts}
    return None, None, None


def _resource(item: etree._Element, where: str) -> ResourceDefinition:
    try:
        rid = int(item.get("ID", ""))
    except ValueError as err:
        raise ModelError(f"{where}: resource without a numeric ID") from err
    try:
        dtype = DataType.from_xml(_child_text(item, "Type"))
        ops = Operations.parse(_child_text(item, "Operations"))
    except ValueError as err:
        raise ModelError(f"{where}, resource {rid}: {err}") from err
    low, high, enum = parse_range(_child_text(item, "RangeEnumeration"), dtype)
    return ResourceDefinition(
        id=rid,
        name=_child_text(item, "Name") or f"Resource {rid}",
        operations=ops,
        type=dtype,
        multiple=_child_text(item, "MultipleInstances").lower() == "multiple",
        mandatory=_child_text(item, "Mandatory").lower() == "mandatory",
        range_min=low,
        range_max=high,
        enumeration=enum,
        units=_child_text(item, "Units"),
    )


def _object(elem: etree._Element, where: str) -> ObjectDefinition:
    try:
        oid = int(_child_text(elem, "ObjectID"))
    except ValueError as err:
        raise ModelError(f"{where}: object without a numeric ObjectID") from err
    resources: dict[int, ResourceDefinition] = {}
    container = _child(elem, "Resources")
    for item in container if container is not None else ():
        if _local(item.tag) == "Item":
            res = _resource(item, f"{where}, object {oid}")
            resources[res.id] = res
    return ObjectDefinition(
        id=oid,
        name=_child_text(elem, "Name") or f"Object {oid}",
        version=_child_text(elem, "ObjectVersion") or "1.0",
        lwm2m_version=_child_text(elem, "LWM2MVersion") or "1.0",
        urn=_child_text(elem, "ObjectURN"),
        multiple=_child_text(elem, "MultipleInstances").lower() == "multiple",
        mandatory=_child_text(elem, "Mandatory").lower() == "mandatory",
        resources=resources,
    )


def parse_object_xml(data: bytes, where: str = "<xml>") -> list[ObjectDefinition]:
    """All object definitions in one document; [] when it holds none (an index, units)."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as err:
        raise ModelError(f"{where}: not well-formed XML: {err}") from err
    if root is None:
        raise ModelError(f"{where}: empty document")
    if _local(root.tag) != "LWM2M":
        return []
    # ObjectType "CommonResources" (Common.xml) lists reusable resources, not an object.
    return [
        _object(obj, where)
        for obj in root
        if _local(obj.tag) == "Object" and obj.get("ObjectType", "MODefinition") == "MODefinition"
    ]


def parse_object_file(path: str | FsPath) -> list[ObjectDefinition]:
    """Read the object definitions of one OMA object XML file."""
    path = FsPath(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"{path}: cannot read: {err}") from err
    return parse_object_xml(data, str(path.name))
