"""The device browser, like a user: open the LwM2M panel, find the virtual device, read, write,
execute, observe the temperature change live; read in a chosen content format, read several
resources at once (Read-Composite), update an instance partially; and reach it from the device page.

With LWM2M_SCREENSHOTS=1 the screenshots go to docs/screenshots/ for README.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path as FsPath
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.path import Path
from tests.live.broker import free_udp_port
from tests.live.hass import HassProcess
from tests.sim import SimClient

from .test_ui import CHROMIUM, CHROMIUM_ARGS, _post, _shots, login, onboard
from .test_ui import pytestmark as _needs

pytestmark = _needs
P = Path.parse


async def _server_entry(base: str, token: str, port: int) -> None:
    """Set the integration up over the config flow's API (the UI's own flow is test_ui's)."""
    flow = _post(base + "/api/config/config_entries/flow", {"handler": "lwm2m"}, token)
    flow = _post(base + f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "server"}, token)
    done = _post(
        base + f"/api/config/config_entries/flow/{flow['flow_id']}",
        {"port": port, "dtls_port": free_udp_port(), "admission": "open"},
        token,
    )
    assert done["type"] == "create_entry", done


async def _confirm_http_settings(page: Any) -> None:
    """Home Assistant 2026 asks once to confirm the http settings configuration.yaml set."""
    confirm = page.get_by_role("button", name="Confirm")
    for _ in range(12):
        if await confirm.is_visible():
            with contextlib.suppress(Exception):
                await confirm.click(timeout=2000)
            return
        await page.wait_for_timeout(250)


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_browse_a_device(home_assistant: HassProcess, tmp_path: FsPath, expected_lingering_timers: bool) -> None:
    from playwright.async_api import async_playwright, expect

    base = home_assistant.url
    token = onboard(base)
    shots = _shots(tmp_path)
    port = free_udp_port()
    await _server_entry(base, token, port)
    device = SimClient("demo-1", port, lifetime=120, firmware=True)
    await device.start(register=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1800, "height": 1000})  # the log in a side column
        page.set_default_timeout(30_000)
        try:
            for _ in range(40):
                with contextlib.suppress(Exception):
                    if (await device.register()).code.is_successful():
                        break
                await page.wait_for_timeout(250)
            await login(page, base)
            await page.goto(base + "/lwm2m")
            await _confirm_http_settings(page)
            # the list, searched
            await page.get_by_label("Search devices").fill("DEMO")
            await expect(page.get_by_role("link", name="demo-1")).to_be_visible()
            await page.get_by_role("link", name="demo-1").click()
            await page.wait_for_url("**/lwm2m/device/demo-1")

            manufacturer = page.locator('[data-path="/3/0/0"]')
            await manufacturer.locator('[data-op="read"]').click()
            await expect(manufacturer.get_by_text("2.05")).to_be_visible()
            await expect(manufacturer.get_by_text("Simulated Devices Inc.").first).to_be_visible()

            light = page.locator('[data-path="/3311/0/5850"]')
            await light.locator("input[type=checkbox]:not(.pick)").check()  # the value, not the selection
            await light.locator('[data-op="write"]').click()
            await expect(light.get_by_text("2.04")).to_be_visible()
            assert device.values[P("/3311/0/5850")] is True  # the device has it
            assert device.written[-1][1] == P("/3311/0/5850")

            reboot = page.locator('[data-path="/3/0/4"]')
            await reboot.locator('[data-op="execute"]').click()
            await expect(reboot.get_by_text("2.04")).to_be_visible()
            assert device.executed[-1][0] == P("/3/0/4")

            temperature = page.locator('[data-path="/3303/0/5700"]')
            await temperature.locator('[data-op="observe"]').click()
            await expect(temperature.get_by_text("2.05")).to_be_visible()
            device.set_value("/3303/0/5700", 30.5)  # the device notifies: the row follows
            await expect(temperature.get_by_text("30.5").first).to_be_visible()
            await expect(page.get_by_text("notification").first).to_be_visible()  # in the message log
            await page.mouse.move(900, 500)
            await page.mouse.wheel(0, -20_000)  # back to the device's header
            await page.wait_for_timeout(500)
            await page.screenshot(path=str(shots / "device-browser.png"))

            # a content format of the user's choice: the answer says which one came
            await page.get_by_label("Content format", exact=True).select_option(label="TLV")
            sensor = page.locator('[data-path="/3303/0"]')  # the instance's own row
            await sensor.locator('[data-op="read"]').click()
            await expect(sensor.locator(".result.ok")).to_contain_text("2.05")
            await expect(sensor.locator(".result.ok")).to_contain_text("TLV")

            # Read-Composite of the resources ticked, shown in the bar above the tree
            await page.get_by_label("Content format", exact=True).select_option(label="Device's choice")
            await page.get_by_label("Select /3/0/9", exact=True).check()
            await page.get_by_label("Select /3303/0/5700", exact=True).check()
            bar = page.locator('[data-path="composite"]')
            await bar.locator('[data-op="read_composite"]').click()
            await expect(bar.locator(".result.ok")).to_contain_text("/3/0/9 = 95")
            await expect(bar.locator(".result.ok")).to_contain_text("/3303/0/5700 = 30.5")
            # Observe-Composite of the same two: a notification of both reaches the tree
            await bar.locator('[data-op="observe_composite"]').click()
            await expect(bar.locator(".result.ok")).to_contain_text("Observe composite")
            device.set_value("/3/0/9", 80)
            await expect(page.locator('[data-path="/3/0/9"] .val')).to_contain_text("80")
            await bar.locator('[data-op="cancel_observe_composite"]').click()
            await expect(bar.locator(".result.ok")).to_contain_text("Cancel observe composite")

            # Write of an instance, a partial update: the form starts from the known values
            light_instance = page.locator('[data-path="/3311/0"]')
            await light_instance.locator('[data-op="write_instance"]').click()
            values = light_instance.get_by_label("Instance values (JSON)")
            await expect(values).to_have_value(re.compile(r'"5850": true'))
            await values.fill('{"5851": 70}')
            await expect(light_instance.get_by_label("Replace the whole instance")).not_to_be_checked()
            await light_instance.locator('[data-op="write_instance_submit"]').click()
            await expect(light_instance.locator(".result.ok")).to_contain_text("2.04")
            assert device.values[P("/3311/0/5851")] == 70
            assert device.values[P("/3311/0/5850")] is True  # kept: a partial update
            await expect(page.locator('[data-path="/3311/0/5851"] .val')).to_contain_text("70")

            # Write-Attributes (one cleared) and Discover of the temperature
            await temperature.locator('[data-op="write_attributes"]').click()
            await temperature.get_by_label("pmin", exact=True).fill("5")
            await temperature.get_by_label("Clear st").check()
            await temperature.locator('[data-op="write_attributes_submit"]').click()
            await expect(temperature.locator(".result.ok")).to_contain_text("2.04")
            assert device.attributes[P("/3303/0/5700")] == {"pmin": "5", "st": None}
            await temperature.locator('[data-op="discover"]').click()
            await expect(temperature.locator(".result.ok")).to_contain_text("pmin")

            # Create an instance, then Delete it (after the browser's confirmation)
            sensors = page.locator('[data-path="/3303"]')
            await sensors.locator('[data-op="create"]').click()
            await sensors.get_by_label("Instance id").fill("1")
            await sensors.get_by_label("Resource values (JSON)").fill('{"5700": 19.5}')
            await sensors.locator('[data-op="create_submit"]').click()
            await expect(sensors.get_by_text("2.01")).to_be_visible()
            await expect(page.locator('[data-path="/3303/1"]')).to_be_visible()
            assert device.values[P("/3303/1/5700")] == 19.5
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.locator('[data-path="/3303/1"] [data-op="delete"]').click()
            await expect(page.locator('[data-path="/3303/1"]')).to_have_count(0)
            assert P("/3303/1") in device.deleted

            # a device that does not answer: the request gives up after the Timeout chosen
            await page.get_by_label("Timeout (s)", exact=True).fill("2")
            device.misbehave = "silent"
            await manufacturer.locator('[data-op="read"]').click()
            await expect(manufacturer.get_by_text("did not answer read /3/0/0 within 2 s")).to_be_visible()
            device.misbehave = None

            # the device page links to the browser
            await page.goto(base + "/config/devices/dashboard")
            await page.get_by_text("demo-1").first.click()
            link = page.locator('a[href$="/lwm2m/device/demo-1"]').first
            await expect(link).to_be_attached()
            await link.click()
            await page.wait_for_url("**/lwm2m/device/demo-1")
            await expect(page.locator('[data-path="/3/0/0"]')).to_be_visible()
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"))
            await browser.close()
            await device.stop()
