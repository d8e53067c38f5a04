"""The LwM2M device browser in Home Assistant's sidebar (administrators only).

A web component with no build step (frontend/lwm2m-panel.js), served from the integration's
folder and registered as a custom panel, /lwm2m. It talks to browser_api.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.components import panel_custom
from homeassistant.components.http import StaticPathConfig  # type: ignore[attr-defined,unused-ignore]
from homeassistant.core import HomeAssistant

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

URL_PATH = "lwm2m"
STATIC_URL = "/lwm2m_static"
FILE = Path(__file__).parent / "frontend" / "lwm2m-panel.js"
_REGISTERED = f"{DOMAIN}_panel"


async def async_register_panel(hass: HomeAssistant) -> None:
    """Serve the panel's script and put the panel in the sidebar, once; not without a frontend."""
    if hass.data.get(_REGISTERED) or "frontend" not in hass.config.components or not FILE.is_file():
        return
    script = f"{STATIC_URL}/{FILE.name}"
    await hass.http.async_register_static_paths([StaticPathConfig(script, str(FILE), cache_headers=False)])
    hass.data[_REGISTERED] = True  # a route is added once (a second one for the path would raise)
    version = int(FILE.stat().st_mtime)  # a new script is fetched anew after an update
    try:
        await panel_custom.async_register_panel(
            hass,
            frontend_url_path=URL_PATH,
            webcomponent_name="lwm2m-panel",
            sidebar_title="LwM2M",
            sidebar_icon="mdi:access-point-network",
            module_url=f"{script}?v={version}",
            require_admin=True,
            config={},
        )
    except ValueError as err:  # another panel has the path: the integration works without its browser
        _LOGGER.warning("The LwM2M device browser is not in the sidebar: %s", err)
