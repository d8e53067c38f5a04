"""The object model's compact form (objects.json) and its other ways in: what a definition keeps."""

from __future__ import annotations

from custom_components.lwm2m.lwm2m.model import ObjectModel, Operations, parse_object_xml
from custom_components.lwm2m.lwm2m.model.definitions import ObjectDefinition, ResourceDefinition
from custom_components.lwm2m.lwm2m.values import DataType


def _definition() -> ObjectDefinition:
    mode = ResourceDefinition(
        id=1,
        name="Mode",
        operations=Operations.RW,
        type=DataType.INTEGER,
        mandatory=True,
        range_min=0,
        range_max=2,
        enumeration={0: "off", 1: "heat", 2: "cool"},
    )
    codes = ResourceDefinition(id=2, name="Codes", operations=Operations.R, type=DataType.INTEGER, multiple=True)
    return ObjectDefinition(
        id=33000,
        name="Heater",
        version="1.2",
        lwm2m_version="1.1",
        urn="urn:oma:lwm2m:x:33000:1.2",
        multiple=True,
        mandatory=False,
        resources={1: mode, 2: codes},
    )


def test_compact_form_round_trip_keeps_every_fact() -> None:
    """objects.json is written with to_dict and read with from_dict: nothing may get lost."""
    original = _definition()
    again = ObjectDefinition.from_dict(original.id, original.to_dict())
    assert again == original
    assert again.version == "1.2" and again.urn == "urn:oma:lwm2m:x:33000:1.2"
    assert again.resources[1].enumeration == {0: "off", 1: "heat", 2: "cool"}
    assert again.resources[1].mandatory and not again.resources[1].multiple
    assert again.resources[2].multiple and not again.resources[2].mandatory


def test_compact_form_of_an_enumeration_names_its_values() -> None:
    compact = _definition().resources[1].to_dict()
    assert compact == {
        "name": "Mode",
        "ops": "RW",
        "type": "Integer",
        "mandatory": True,
        "min": 0,
        "max": 2,
        "enum": {"0": "off", "1": "heat", "2": "cool"},
    }


def test_a_minimal_compact_definition_takes_the_defaults() -> None:
    """Keys left out of the compact form mean what the object XML's defaults mean."""
    minimal = ObjectDefinition.from_dict(33001, {"name": "Bare", "resources": {"4": {"name": "Reboot", "ops": "E"}}})
    assert (minimal.version, minimal.lwm2m_version, minimal.urn) == ("1.0", "1.0", "")
    assert not minimal.multiple and not minimal.mandatory
    reboot = minimal.resources[4]
    assert reboot.type is DataType.NONE and reboot.operations.executable
    assert not reboot.multiple and not reboot.mandatory and reboot.enumeration is None


def test_bundled_model_keeps_the_registry_facts() -> None:
    model = ObjectModel()
    device = model.object(3)
    assert device is not None and device.version != "1.0"  # the bundled Device object is a later version
    assert device.urn.startswith("urn:oma:lwm2m:oma:3")
    error_code = model.resource((3, 11))
    assert error_code is not None and error_code.multiple and error_code.mandatory
    assert model.resource((3, 0)) is not None and not model.resource((3, 0)).multiple


def test_a_model_lists_its_objects_by_id() -> None:
    late = ObjectDefinition(id=40000, name="Late")
    early = ObjectDefinition(id=3, name="Early")
    model = ObjectModel([late, early], bundled=False)
    assert [d.id for d in model] == [3, 40000]
    model.add([ObjectDefinition(id=10, name="Middle")])
    assert [d.name for d in model] == ["Early", "Middle", "Late"]


def test_comments_inside_an_object_xml_element_are_left_out() -> None:
    """Vendors' object files carry comments; a comment inside a name must not cut the name."""
    xml = b"""<?xml version="1.0" encoding="utf-8"?>
<LWM2M><Object ObjectType="MODefinition">
  <Name>Vendor<!-- internal name: vx -->Sensor</Name><ObjectID>33002</ObjectID><ObjectURN>urn:x</ObjectURN>
  <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>
  <Resources>
    <Item ID="1"><Name>Level<!-- in % --></Name><Operations>R</Operations>
      <MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Integer</Type>
      <RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
  </Resources>
</Object></LWM2M>"""
    (definition,) = parse_object_xml(xml)
    assert definition.name == "VendorSensor"
    assert definition.resources[1].name == "Level"
