"""The object model: every registry XML file parses; the bundled model is generated from it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from custom_components.lwm2m.lwm2m.errors import ModelError
from custom_components.lwm2m.lwm2m.model import ObjectModel, Operations, parse_object_file, parse_object_xml
from custom_components.lwm2m.lwm2m.model.xml import parse_range
from custom_components.lwm2m.lwm2m.values import DataType

ROOT = Path(__file__).resolve().parents[2]
ISSUE_OBJECTS = [
    *range(0, 8),
    *range(3200, 3204),
    *range(3300, 3305),
    3306,
    *range(3311, 3318),
    3323,
    3328,
    3331,
    3336,
    3338,
    3340,
    3341,
    3342,
    3347,
    3348,
    3411,
]


def test_every_registry_file_parses(registry: Path) -> None:
    files = sorted(registry.glob("*.xml"))
    assert len(files) > 300
    objects = 0
    resources = 0
    for file in files:
        definitions = parse_object_file(file)
        raw = file.read_bytes()
        if b'ObjectType="MODefinition"' in raw:
            assert definitions, file.name
            for d in definitions:
                assert d.name and 0 <= d.id <= 65534, file.name
                # Each file is named for its object (some with a version suffix).
                assert re.match(rf"^{d.id}(\D|$)", file.stem), (file.name, d.id)
                for r in d.resources.values():
                    assert r.type in DataType
                    if r.type is DataType.NONE and r.operations:
                        assert r.operations.executable or r.operations == Operations.NONE or r.name, file.name
            objects += len(definitions)
            resources += sum(len(d.resources) for d in definitions)
        else:
            assert definitions == [], file.name
    assert objects > 300
    assert resources > 3000


def test_registry_index_agrees_with_files(registry: Path) -> None:
    """DDF.xml, the registry's own index, names the object each file holds."""
    index = etree.parse(str(registry / "DDF.xml"))
    checked = 0
    for item in index.getroot().iter("Item"):
        ddf = (item.findtext("DDF") or "").strip()
        if not ddf or "/" in ddf or not (registry / ddf).exists():
            continue
        (definition,) = parse_object_file(registry / ddf)
        assert definition.id == int(item.findtext("ObjectID") or -1), ddf
        checked += 1
    assert checked > 250


def test_sample_facts(registry: Path) -> None:
    model = ObjectModel(bundled=False)
    for oid in (3, 3303, 3311):
        model.add(parse_object_file(registry / f"{oid}.xml"))
    temp = model.resource((3303, 5700))
    assert temp is not None
    assert temp.name == "Sensor Value" and temp.type is DataType.FLOAT
    assert temp.operations == Operations.R and temp.operations.readable and not temp.operations.writable
    reboot = model.resource((3, 4))
    assert reboot is not None and reboot.operations.executable and reboot.type is DataType.NONE
    battery = model.resource((3, 9))
    assert battery is not None
    assert (battery.type, battery.range_min, battery.range_max, battery.unit) == (DataType.INTEGER, 0, 100, "%")
    device = model.object(3)
    assert device is not None and not device.multiple and device.mandatory and device.version == "1.2"
    assert device.resources[7].multiple and device.resources[7].type is DataType.INTEGER
    on_off = model.resource((3311, 5850))
    assert on_off is not None and on_off.type is DataType.BOOLEAN and on_off.operations == Operations.RW


def test_bundled_model_covers_the_mapped_objects() -> None:
    model = ObjectModel()
    for oid in ISSUE_OBJECTS:
        assert oid in model, oid
    temp = model.resource((3303, 5700))
    assert temp is not None and temp.type is DataType.FLOAT and temp.name == "Sensor Value"
    battery = model.resource((3, 9))
    assert battery is not None and battery.unit == "%" and battery.range_max == 100
    assert model.object(12345) is None and model.resource((12345, 0)) is None


def test_bundled_model_is_generated_from_the_registry(registry: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import generate_model  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    expected = generate_model.generate(registry)
    bundled = (ROOT / "custom_components/lwm2m/lwm2m/model/objects.json").read_text(encoding="utf-8")
    assert bundled == expected, "run: python scripts/generate_model.py"
    doc = json.loads(bundled)
    # Facts only: no description prose travels into the product.
    keys = {k for obj in doc["objects"].values() for r in obj["resources"].values() for k in r}
    assert keys <= {"name", "ops", "type", "multiple", "mandatory", "min", "max", "enum", "units"}
    assert "Human readable manufacturer name" not in bundled


def test_generator_runs_as_a_script(tmp_path: Path, registry: Path) -> None:
    """The script, run as a script, writes the committed model. It writes beside itself
    (../custom_components/...), so a copy runs in a temporary folder: nothing tracked changes."""
    bundled = ROOT / "custom_components/lwm2m/lwm2m/model/objects.json"
    committed = bundled.read_bytes()
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "generate_model.py"
    script.write_bytes((ROOT / "scripts/generate_model.py").read_bytes())
    output = tmp_path / "custom_components/lwm2m/lwm2m/model/objects.json"
    output.parent.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, str(script), str(registry)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # the integration's code, from the repository
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote custom_components/lwm2m/lwm2m/model/objects.json"
    assert output.read_bytes() == committed, "run: python scripts/generate_model.py"
    assert bundled.read_bytes() == committed


OVERRIDE = b"""<?xml version="1.0"?>
<LWM2M><Object ObjectType="MODefinition">
  <Name>Custom Meter</Name><ObjectID>3303</ObjectID><ObjectVersion>9.9</ObjectVersion>
  <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
  <Resources>
    <Item ID="1"><Name>Reading</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
      <Mandatory>Mandatory</Mandatory><Type>Unsigned Integer</Type><RangeEnumeration>0..500</RangeEnumeration>
      <Units>Wh</Units></Item>
    <Item ID="2"><Name>Mode</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>
      <Mandatory>Optional</Mandatory><Type>Integer</Type><RangeEnumeration>0: off
1: eco
2: boost</RangeEnumeration><Units></Units></Item>
  </Resources></Object></LWM2M>"""


def test_user_folder_extends_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "meter.xml").write_bytes(OVERRIDE.replace(b"<ObjectID>3303", b"<ObjectID>40001"))
    (tmp_path / "temp.xml").write_bytes(OVERRIDE)
    (tmp_path / "broken.xml").write_bytes(b"<LWM2M><Object>")
    model, problems = ObjectModel.with_folder(tmp_path)
    assert len(problems) == 1 and "broken.xml" in problems[0]
    meter = model.object(40001)
    assert meter is not None and meter.name == "Custom Meter" and meter.multiple
    reading = model.resource((40001, 1))
    assert reading is not None and reading.type is DataType.UNSIGNED_INTEGER and reading.range_max == 500
    mode = model.resource((40001, 2))
    assert mode is not None and mode.enumeration == {0: "off", 1: "eco", 2: "boost"}
    overridden = model.object(3303)
    assert overridden is not None and overridden.version == "9.9"
    assert model.resource((3, 9)) is not None  # the rest of the bundled model stays
    missing, problems = ObjectModel.with_folder(tmp_path / "nope")
    assert problems and len(missing) == len(ObjectModel())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<LWM2M><Object><ObjectID>x</ObjectID></Object></LWM2M>",
        b"<LWM2M><Object><ObjectID>1</ObjectID><Resources><Item ID='a'/></Resources></Object></LWM2M>",
        b"<LWM2M><Object><ObjectID>1</ObjectID><Resources><Item ID='1'><Type>Weird</Type></Item></Resources></Object></LWM2M>",
        b"<LWM2M><Object><ObjectID>1</ObjectID><Resources><Item ID='1'><Operations>RX</Operations></Item></Resources></Object></LWM2M>",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><LWM2M><Object><ObjectID>&e;</ObjectID></Object></LWM2M>',
    ],
)
def test_bad_xml_raises_model_error(data: bytes) -> None:
    with pytest.raises(ModelError):
        parse_object_xml(data, "bad.xml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        parse_object_file(tmp_path / "missing.xml")


@pytest.mark.parametrize(
    ("text", "dtype", "expected"),
    [
        ("0..100", DataType.INTEGER, (0, 100, None)),
        ("-40.0..85.5", DataType.FLOAT, (-40.0, 85.5, None)),
        ("0-255", DataType.UNSIGNED_INTEGER, (0, 255, None)),
        ("0..255 bytes", DataType.STRING, (None, None, None)),
        ("10,26", DataType.INTEGER, (None, None, {10: "10", 26: "26"})),
        (
            "0: CONFIGURED_ON\n1: CONFIGURED_OFF",
            DataType.INTEGER,
            (None, None, {0: "CONFIGURED_ON", 1: "CONFIGURED_OFF"}),
        ),
        ("100..1", DataType.INTEGER, (None, None, None)),
        ("", DataType.INTEGER, (None, None, None)),
        ("64", DataType.INTEGER, (None, None, None)),
    ],
)
def test_parse_range(text: str, dtype: DataType, expected: tuple[object, object, object]) -> None:
    assert parse_range(text, dtype) == expected


def test_a_value_no_resource_can_take_is_named() -> None:
    from custom_components.lwm2m.lwm2m.errors import CodecError
    from custom_components.lwm2m.lwm2m.path import Path as LwM2MPath

    model = ObjectModel()
    with pytest.raises(CodecError) as err:
        model.typed(LwM2MPath.parse("/33999/0/1"), [1])
    assert str(err.value) == "/33999/0/1: [1] is not a value this resource can take"
    with pytest.raises(CodecError) as err:
        model.typed(LwM2MPath.parse("/3/0/4"), {"a": 1})
    assert str(err.value) == "/3/0/4: {'a': 1} is not a value this resource can take"
