"""The device browser's panel: registered once; a sidebar path another integration holds costs
only the browser (logged once), never the integration's set-up on a later reload."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock, patch

import pytest

from custom_components.lwm2m import panel


async def test_a_taken_panel_path_is_logged_once_and_its_script_route_added_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    http = SimpleNamespace(async_register_static_paths=AsyncMock())
    hass = SimpleNamespace(data={}, config=SimpleNamespace(components={"frontend"}), http=http)
    taken = AsyncMock(side_effect=ValueError("Overwriting panel lwm2m"))
    with patch.object(panel.panel_custom, "async_register_panel", taken):
        await panel.async_register_panel(hass)  # type: ignore[arg-type]
        await panel.async_register_panel(hass)  # the entry reloaded: nothing is added again
    assert http.async_register_static_paths.await_count == 1
    (paths,) = http.async_register_static_paths.await_args.args
    assert [p.url_path for p in paths] == ["/lwm2m_static/lwm2m-panel.js"]
    assert taken.await_count == 1
    warnings = [r for r in caplog.records if "device browser is not in the sidebar" in r.getMessage()]
    assert len(warnings) == 1 and "Overwriting panel lwm2m" in warnings[0].getMessage()


async def test_without_a_frontend_there_is_no_panel() -> None:
    http = SimpleNamespace(async_register_static_paths=AsyncMock())
    hass = SimpleNamespace(data={}, config=SimpleNamespace(components=set()), http=http)
    await panel.async_register_panel(hass)  # type: ignore[arg-type]
    assert http.async_register_static_paths.await_count == 0 and hass.data == {}
