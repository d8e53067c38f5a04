"""Print the Python requirements of the integrations a plain Home Assistant loads at start
(frontend, cloud, backup, ...) plus MQTT, from the installed Home Assistant's manifests.

The test harness needs none of them; a real Home Assistant process does (scripts/develop,
the browser test and the two-instance MQTT test), and it is started with --skip-pip.
"""

from __future__ import annotations

import json
from pathlib import Path

import homeassistant
from homeassistant import bootstrap

COMPONENTS = Path(homeassistant.__file__).parent / "components"
WANTED = {"mqtt", "config", "onboarding", "auth", "lovelace", "device_automation", "search"}


def main() -> None:
    names: set[str] = set(WANTED)
    for attribute in dir(bootstrap):
        value = getattr(bootstrap, attribute)
        if attribute.isupper() and attribute.endswith("INTEGRATIONS") and isinstance(value, (set, tuple, list)):
            names.update(str(v) for v in value)
    todo, seen, requirements = list(names), set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        manifest = COMPONENTS / name / "manifest.json"
        if not manifest.exists():
            continue
        data = json.loads(manifest.read_text())
        requirements.update(data.get("requirements", []))
        todo.extend(data.get("dependencies", []))
    print("\n".join(sorted(requirements)))


if __name__ == "__main__":
    main()
