"""The LwM2M device browser in Home Assistant's sidebar (administrators only).

A web component with no build step (frontend/lwm2m-panel.js), served from the integration's
folder and registered as a custom panel, /lwm2m. It talks to websocket_api.py.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.components import panel_custom
from homeassistant.components.http import StaticPathConfig  # type: ignore[attr-defined,unused-ignore]
from homeassistant.core import HomeAssistant

from .const import DOMAIN

URL_PATH = "lwm2m"
STATIC_URL = "/lwm2m_static"
FILE = Path(__file__).parent / "frontend" / "lwm2m-panel.js"
_REGISTERED = f"{DOMAIN}_panel"


async def async_register_panel(hass: HomeAssistant) -> None:
    """Serve the panel's script and put the panel in the sidebar, once; not without a frontend."""
    if hass.data.get(_REGISTERED) or "frontend" not in hass.config.components or not FILE.is_file():
        return
    hass.data[_REGISTERED] = True
    await hass.http.async_register_static_paths([StaticPathConfig(STATIC_URL, str(FILE.parent), cache_headers=False)])
    version = int(FILE.stat().st_mtime)  # a new script is fetched anew after an update
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=URL_PATH,
        webcomponent_name="lwm2m-panel",
        sidebar_title="LwM2M",
        sidebar_icon="mdi:access-point-network",
        module_url=f"{STATIC_URL}/lwm2m-panel.js?v={version}",
        require_admin=True,
        config={},
    )
