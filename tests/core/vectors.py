"""Payloads from the OMA LwM2M specification's examples (Device object /3/0), shared by tests."""

from datetime import UTC, datetime

from custom_components.lwm2m.lwm2m.path import Path

# OMA-TS-LightweightM2M Core, TLV example: Read /3/0 of a single-instance Device object.
DEVICE_TLV = bytes.fromhex(
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "860641000141 0105".replace(" ", "")
    + "88070842000ED84201138887 08 41 00 7D 42 01 03 84".replace(" ", "")
    + "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055"
)

DEVICE_VALUES = {
    Path.parse("/3/0/0"): "Open Mobile Alliance",
    Path.parse("/3/0/1"): "Lightweight M2M Client",
    Path.parse("/3/0/2"): "345000123",
    Path.parse("/3/0/3"): "1.0",
    Path.parse("/3/0/6/0"): 1,
    Path.parse("/3/0/6/1"): 5,
    Path.parse("/3/0/7/0"): 3800,
    Path.parse("/3/0/7/1"): 5000,
    Path.parse("/3/0/8/0"): 125,
    Path.parse("/3/0/8/1"): 900,
    Path.parse("/3/0/9"): 100,
    Path.parse("/3/0/10"): 15,
    Path.parse("/3/0/11/0"): 0,
    Path.parse("/3/0/13"): datetime.fromtimestamp(1367491215, UTC),
    Path.parse("/3/0/14"): "+02:00",
    Path.parse("/3/0/16"): "U",
}

# The same read in the LwM2M 1.0 JSON format, as the specification shows it.
DEVICE_JSON = b"""{"bn":"/3/0/","e":[
{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},
{"n":"2","sv":"345000123"},{"n":"3","sv":"1.0"},
{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},
{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},
{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}"""
