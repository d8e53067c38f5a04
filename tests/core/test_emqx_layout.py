"""How the EMQX side is built: the gateway is a device source like the server (checked by mypy
and at run time), the consumer never loads aiocoap, no import cycles, and the JSON's field
names live in one codec."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path as FsPath

import pytest

from custom_components.lwm2m.lwm2m.api import DeviceOperations, DeviceSource
from custom_components.lwm2m.lwm2m.emqx import EmqxGateway, EmqxSettings, GatewayEndpoint
from custom_components.lwm2m.lwm2m.emqx.codec import RegisterMessage
from custom_components.lwm2m.lwm2m.model import ObjectModel

ROOT = FsPath(__file__).parents[2]
PRODUCT = ROOT / "custom_components" / "lwm2m"
EMQX_MODULES = [
    "custom_components.lwm2m.lwm2m.emqx",
    "custom_components.lwm2m.lwm2m.emqx.bridge",
    "custom_components.lwm2m.lwm2m.emqx.codec",
    "custom_components.lwm2m.lwm2m.emqx.device",
    "custom_components.lwm2m.lwm2m.emqx.gateway",
    "custom_components.lwm2m.lwm2m.emqx.settings",
]
OURS = [*EMQX_MODULES, "custom_components.lwm2m.mqtt_bridge", "custom_components.lwm2m.mqtt_consumer"]


# -- the device-source interface ---------------------------------------------------------------------


def as_source(source: DeviceSource) -> DeviceSource:
    """mypy checks the calls below: an EmqxGateway is a DeviceSource."""
    return source


def as_operations(device: DeviceOperations) -> DeviceOperations:
    return device


def _gateway() -> EmqxGateway:
    async def publish(topic: str, payload: str, qos: int) -> None:
        return None

    return EmqxGateway(EmqxSettings(), ObjectModel(), publish)


def _same_members(implementation: object, protocol: type) -> None:
    for name in sorted(typing.get_protocol_members(protocol)):
        assert inspect.getattr_static(implementation, name, None) is not None, name
        wanted = inspect.getattr_static(protocol, name, None)
        if inspect.isfunction(wanted):
            have = inspect.signature(getattr(implementation, name))
            want = inspect.signature(wanted)
            params = [(p.name, p.kind) for p in want.parameters.values() if p.name != "self"]
            assert [(p.name, p.kind) for p in have.parameters.values()] == params, name
            assert inspect.iscoroutinefunction(getattr(implementation, name)) == inspect.iscoroutinefunction(wanted)


def test_the_gateway_is_a_device_source_and_its_devices_device_operations() -> None:
    emqx = _gateway()
    emqx.handle("lwm2m/far/up/resp", json.dumps(RegisterMessage(lifetime=60).encode()))
    gateway = as_source(emqx)
    device = as_operations(gateway.endpoint("far"))
    assert device.registration.endpoint == "far"
    _same_members(gateway, DeviceSource)
    _same_members(device, DeviceOperations)
    assert isinstance(device, GatewayEndpoint) and device.name == "far"


def test_mypy_agrees() -> None:
    """The two calls above type-check only if the classes fit the protocols."""
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary", __file__],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- what gets imported ----------------------------------------------------------------------------------


def test_the_consumer_never_loads_aiocoap() -> None:
    code = (
        "import json, sys\n"
        + "".join(f"import {module}\n" for module in EMQX_MODULES)
        + "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in ('aiocoap', 'homeassistant'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def _module_name(file: FsPath) -> str:
    parts = list(file.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(file: FsPath, modules: set[str]) -> set[str]:
    """Product modules file imports at module level (under TYPE_CHECKING too; not in functions)."""
    name = _module_name(file)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    body = list(ast.parse(file.read_text()).body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If):
            body.extend(node.body + node.orelse)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
            assert target is not None
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found & modules


def test_no_import_cycles_through_our_modules() -> None:
    files = {_module_name(f): f for f in PRODUCT.rglob("*.py")}
    graph = {name: _imports(file, set(files)) for name, file in files.items()}

    def reaches(start: str, goal: str) -> bool:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo.extend(graph[here])
        return False

    assert all(module in graph for module in OURS)
    cycles = [module for module in OURS if reaches(module, module)]
    assert cycles == []
    for module in ("custom_components.lwm2m.mqtt_bridge", "custom_components.lwm2m.mqtt_consumer"):
        assert "custom_components.lwm2m.hub" not in graph[module]
    assert "custom_components.lwm2m.lwm2m.emqx.gateway" not in graph["custom_components.lwm2m.lwm2m.emqx.device"]


def test_the_json_field_names_live_in_the_codec() -> None:
    files = {_module_name(f): f for f in PRODUCT.rglob("*.py")}
    holders = sorted(name for name, file in files.items() if '"msgType"' in file.read_text())
    assert holders == ["custom_components.lwm2m.lwm2m.emqx.codec"]
    for field in ('"reqID"', '"basePath"', '"codeMsg"', '"objectList"', '"seqNum"', '"reqPath"'):
        assert [m for m in OURS if field in files[m].read_text()] == ["custom_components.lwm2m.lwm2m.emqx.codec"], field
