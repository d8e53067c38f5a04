"""Every error the Home Assistant side raises to a user is translated: read from the source (AST),
each translation key exists in strings.json "exceptions" with exactly the placeholders the code
passes; and the services' and entity actions' error paths raise those keys."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.lwm2m.hub import LwM2MHub
from custom_components.lwm2m.lwm2m.errors import (
    CodecError,
    DeviceTimeout,
    LwM2MError,
    NotRegistered,
    OperationError,
    QueueFull,
)
from custom_components.lwm2m.lwm2m.path import Path as LwM2MPath
from custom_components.lwm2m.services import ATTR_TIMEOUT, ATTR_WAIT, Target

PACKAGE = Path(__file__).parents[3] / "custom_components" / "lwm2m"
HA_LAYER = sorted(PACKAGE.glob("*.py"))  # the protocol core (lwm2m/) raises no Home Assistant errors
EXCEPTIONS: dict[str, dict[str, str]] = json.loads((PACKAGE / "strings.json").read_text(encoding="utf-8"))["exceptions"]


def _placeholders(message: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(message) if name)


class _Use:
    def __init__(self, where: str, key: str, placeholders: frozenset[str] | None) -> None:
        self.where, self.key, self.placeholders = where, key, placeholders


def _trees() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in HA_LAYER}


# Home Assistant's own refusals of a user (the firmware services are for administrators): they
# take no translation key, and the frontend words them itself.
AUTH_ERRORS = frozenset({"Unauthorized", "UnknownUser"})


def _exception_classes(trees: dict[str, ast.Module]) -> set[str]:
    """Home Assistant's exception classes the HA layer imports, and its own subclasses of them."""
    names = {
        alias.asname or alias.name
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "homeassistant.exceptions"
        for alias in node.names
    } - AUTH_ERRORS
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for cls in classes:
            if cls.name not in names and any(isinstance(b, ast.Name) and b.id in names for b in cls.bases):
                names.add(cls.name)
                grew = True
    return names


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _helpers(trees: dict[str, ast.Module], classes: set[str]) -> dict[str, int]:
    """Functions that pass their own parameter on as translation_key (services' _invalid):
    name -> position of that parameter. Their **kwargs are the placeholders."""
    found: dict[str, int] = {}
    for tree in trees.values():
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            params = [a.arg for a in func.args.args]
            for call in ast.walk(func):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in classes:
                    key = _keyword(call, "translation_key")
                    if isinstance(key, ast.Name) and key.id in params:
                        found[func.name] = params.index(key.id)
    return found


def _uses() -> tuple[list[_Use], list[str]]:
    """Every translation key the HA layer raises, and every raise that is not translated."""
    trees = _trees()
    classes = _exception_classes(trees)
    helpers = _helpers(trees, classes)
    uses: list[_Use] = []
    problems: list[str] = []
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) and node.exc.id in classes:
                problems.append(f"{file}:{node.lineno}: raise {node.exc.id} without a translation")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            where = f"{file}:{node.lineno}"
            name = node.func.id
            if name in helpers:
                index = helpers[name]
                key = node.args[index] if len(node.args) > index else _keyword(node, "translation_key")
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    problems.append(f"{where}: {name}() needs a literal translation key")
                    continue
                names = frozenset(kw.arg for kw in node.keywords if kw.arg and kw.arg != "translation_key")
                if any(kw.arg is None for kw in node.keywords):
                    problems.append(f"{where}: {name}() placeholders must be named")
                uses.append(_Use(where, key.value, names))
            elif name in classes:
                key = _keyword(node, "translation_key")
                if isinstance(key, ast.Name) and any(
                    isinstance(f, ast.FunctionDef) and f.name in helpers and node in ast.walk(f) for f in ast.walk(tree)
                ):
                    continue  # inside a helper: its callers are checked
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    problems.append(f"{where}: {name} raised without a literal translation_key")
                    continue
                domain = _keyword(node, "translation_domain")
                if not (isinstance(domain, ast.Name) and domain.id == "DOMAIN"):
                    problems.append(f"{where}: {name} needs translation_domain=DOMAIN")
                given = _keyword(node, "translation_placeholders")
                placeholders: frozenset[str] | None = frozenset()
                if isinstance(given, ast.Dict):
                    keys = [k.value if isinstance(k, ast.Constant) else None for k in given.keys]
                    placeholders = None if None in keys else frozenset(str(k) for k in keys)
                elif given is not None:
                    placeholders = None
                if placeholders is None:
                    problems.append(f"{where}: write translation_placeholders as a dict with literal keys")
                    continue
                uses.append(_Use(where, key.value, placeholders))
    return uses, problems


def test_every_raise_is_translated() -> None:
    uses, problems = _uses()
    assert not problems
    assert len({u.key for u in uses}) >= 10  # the scan found the services' and the hub's errors


def test_every_key_exists_with_the_placeholders_passed() -> None:
    uses, _ = _uses()
    wrong = []
    for use in uses:
        if use.key not in EXCEPTIONS:
            wrong.append(f"{use.where}: {use.key} is not in strings.json exceptions")
            continue
        expected = _placeholders(EXCEPTIONS[use.key]["message"])
        if use.placeholders != expected:
            wrong.append(
                f"{use.where}: {use.key} gets {sorted(use.placeholders or ())}, its text uses {sorted(expected)}"
            )
    assert not wrong


def test_every_exception_text_is_used() -> None:
    uses, _ = _uses()
    assert set(EXCEPTIONS) - {u.key for u in uses} == set()


def _check(err: HomeAssistantError, key: str) -> None:
    """err carries key, and its text renders with the placeholders it carries."""
    assert err.translation_domain == "lwm2m"
    assert err.translation_key == key
    placeholders = err.translation_placeholders or {}
    assert set(placeholders) == _placeholders(EXCEPTIONS[key]["message"])
    assert "{" not in EXCEPTIONS[key]["message"].format_map(placeholders)


def _target(queue_mode: bool = False) -> Target:
    """A target whose call waits 5 s for device dev-1 (the hub is not used on these paths)."""
    device: Any = SimpleNamespace(registration=SimpleNamespace(queue_mode=queue_mode))
    call: Any = SimpleNamespace(data={ATTR_TIMEOUT: 5.0, ATTR_WAIT: True, "path": "/3/0/9"}, service="read")
    hub: Any = SimpleNamespace()
    return Target(call, hub, "dev-1", device)


@pytest.mark.parametrize(
    ("error", "cls", "key"),
    [
        (TimeoutError(), HomeAssistantError, "timeout"),
        (CodecError("bad value"), ServiceValidationError, "invalid_value"),
        (QueueFull("queue full", "5.03"), HomeAssistantError, "queue_full"),
        (NotRegistered("gone"), ServiceValidationError, "unknown_endpoint"),
        (DeviceTimeout("no answer"), HomeAssistantError, "no_answer"),
        (OperationError("not found", "4.04"), HomeAssistantError, "refused"),
        (OperationError("nothing came back"), HomeAssistantError, "refused"),
        (LwM2MError("something else"), HomeAssistantError, "failed"),
    ],
)
async def test_service_errors_are_translated(error: Exception, cls: type[HomeAssistantError], key: str) -> None:
    async def operation() -> Any:
        raise error

    with pytest.raises(cls) as info:
        await _target().run(operation())
    _check(info.value, key)


class _Endpoint:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def node_for(self, path: LwM2MPath, value: object) -> object:
        raise self.error

    async def execute(self, path: LwM2MPath, arguments: str | None) -> None:
        raise self.error


def _hub(error: Exception) -> LwM2MHub:
    hub = LwM2MHub.__new__(LwM2MHub)  # only its device source is used on these paths
    hub.source = SimpleNamespace(endpoint=lambda endpoint: _Endpoint(error))  # type: ignore[assignment]
    return hub


@pytest.mark.parametrize(
    ("error", "cls", "key"),
    [
        (CodecError("not a number"), ServiceValidationError, "invalid_value"),
        (OperationError("refused", "4.05"), HomeAssistantError, "refused"),
        (NotRegistered("gone"), ServiceValidationError, "unknown_endpoint"),
    ],
)
async def test_entity_write_errors_are_translated(error: Exception, cls: type[HomeAssistantError], key: str) -> None:
    """Entity actions and services share one translator: the same error, the same key."""
    with pytest.raises(cls) as info:
        await _hub(error).async_write("dev-1", LwM2MPath.parse("/3/0/13"), 1)
    _check(info.value, key)


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (TimeoutError(), "timeout"),
        (OperationError("refused", "4.05"), "refused"),
        (DeviceTimeout("asleep"), "no_answer"),
        (QueueFull("queue full", "5.03"), "queue_full"),
        (LwM2MError("something else"), "failed"),
    ],
)
async def test_entity_execute_errors_are_translated(error: Exception, key: str) -> None:
    with pytest.raises(HomeAssistantError) as info:
        await _hub(error).async_execute("dev-1", LwM2MPath.parse("/3/0/4"))
    _check(info.value, key)
