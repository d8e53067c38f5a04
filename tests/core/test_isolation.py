"""The protocol core never imports Home Assistant."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import custom_components.lwm2m.lwm2m as core

ROOT = Path(__file__).resolve().parents[2]


def test_every_core_module_imports_without_homeassistant() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(core.__path__, core.__name__ + "."))
    assert "custom_components.lwm2m.lwm2m.codecs.tlv" in modules
    script = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'homeassistant' or name.startswith('homeassistant.'):\n"
        "            raise ImportError('homeassistant is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.startswith('homeassistant') for m in sys.modules), 'homeassistant was imported'\n"
        "print('ok', len(" + repr(modules) + "))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_blocking_really_blocks() -> None:
    """The same harness fails when a module does import homeassistant."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'homeassistant':\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import homeassistant.core\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "blocked" in result.stderr
