"""Like a user: log in, add the integration through "Add integration", watch the virtual
device appear with its values, and switch its light from the device page.

A real Home Assistant runs in its own process (tests/live/hass.py); Playwright drives
Debian's Chromium (/usr/bin/chromium: Playwright's own browser download cannot work here).
With LWM2M_SCREENSHOTS=1 the screenshots go to docs/screenshots/ for README.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path as FsPath
from typing import Any

import pytest

from custom_components.lwm2m.lwm2m.dtls.contexts import ClientContext
from custom_components.lwm2m.lwm2m.path import Path
from tests.core.external import LIVE_HOME_ASSISTANT, Needs, importable
from tests.live.broker import free_udp_port
from tests.live.hass import ROOT, HassProcess
from tests.sim import SimClient
from tests.sim.firmware import write_image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER, PASSWORD = "tester", "a-long-test-password"
# A missing piece fails this test, with the command that installs it; LWM2M_LIVE=0 or
# LWM2M_SKIP_MISSING=1 skips it instead (tests/core/external.py).
pytestmark = [
    LIVE_HOME_ASSISTANT.mark,
    Needs(
        "Chromium and Playwright (the browser test)",
        lambda: FsPath(CHROMIUM).exists() and importable("playwright"),
        "apt-get install chromium, and pip install -r requirements_live.txt (scripts/setup does both)",
        live=True,
    ).mark,
]


def _post(url: str, data: dict[str, Any], token: str | None = None, form: bool = False) -> Any:
    body = urllib.parse.urlencode(data).encode() if form else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded" if form else "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def onboard(base: str) -> str:
    """The onboarding a new user does first (owner account, location, analytics), over its API; its token."""
    client_id = base + "/"
    code = _post(
        base + "/api/onboarding/users",
        {"client_id": client_id, "name": "Tester", "username": USER, "password": PASSWORD, "language": "en"},
    )["auth_code"]
    token = _post(
        base + "/auth/token", {"grant_type": "authorization_code", "code": code, "client_id": client_id}, form=True
    )["access_token"]
    _post(base + "/api/onboarding/core_config", {}, token)
    _post(base + "/api/onboarding/analytics", {}, token)
    _post(base + "/api/onboarding/integration", {"client_id": client_id, "redirect_uri": client_id}, token)
    return str(token)


async def login(page: Any, base: str) -> None:
    """Log in as the onboarded user."""
    await page.goto(base + "/")
    await page.get_by_role("textbox", name="Username").fill(USER)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "auth/authorize" not in url)
    # The frontend trades the login's code for tokens after that redirect; leaving the page
    # before it stored them ("Keep me logged in") shows the login form again.
    await page.wait_for_function("() => window.localStorage.getItem('hassTokens') !== null")


def _shots(tmp_path: FsPath) -> FsPath:
    return ROOT / "docs" / "screenshots" if os.environ.get("LWM2M_SCREENSHOTS") == "1" else tmp_path


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_add_the_integration_and_use_the_device(
    home_assistant: HassProcess, tmp_path: FsPath, expected_lingering_timers: bool
) -> None:
    from playwright.async_api import async_playwright, expect

    base = home_assistant.url
    onboard(base)
    shots = _shots(tmp_path)
    lwm2m_port = free_udp_port()
    device = SimClient("demo-1", lwm2m_port, lifetime=120, firmware=True)
    image = tmp_path / "demo-2.0.0.bin"
    write_image(image, "2.0.0", 200_000)
    await device.start(register=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        try:
            await login(page, base)

            await page.goto(base + "/config/integrations/dashboard")
            await _add_integration(page)
            await page.wait_for_timeout(1000)
            await page.keyboard.type("LwM2M")
            await page.get_by_text("LwM2M", exact=True).first.click()
            await page.get_by_text("An LwM2M server in Home Assistant").click()
            await page.get_by_role("spinbutton", name="UDP port").fill(str(lwm2m_port))
            dtls_port = free_udp_port()
            await page.get_by_role("spinbutton", name="DTLS port (coaps://)").fill(str(dtls_port))
            await page.screenshot(path=str(shots / "config-flow.png"))
            await page.get_by_role("button", name="Submit").click()
            await page.get_by_role("button", name="Finish").click()

            # New entries ask about unknown devices: the device is refused, and shows up as a
            # discovered device; one click on Add lets it in.
            response = await device.register()
            assert response.code.dotted == "4.03", response.code
            await page.goto(base + "/config/integrations/dashboard")
            await expect(page.get_by_text("LwM2M device demo-1").first).to_be_visible()
            await expect(page.get_by_text("Loading")).to_have_count(0)
            await page.wait_for_timeout(500)
            await page.screenshot(path=str(shots / "discovered-device.png"))
            await page.get_by_role("button", name="Add", exact=True).first.click()
            await page.get_by_role("button", name="Submit").click()
            await expect(page.get_by_text("demo-1 may register now").first).to_be_visible()
            await page.keyboard.press("Escape")
            for _ in range(40):  # the server restarts with its new device list
                response = await device.register()
                if response.code.is_successful():
                    break
                await page.wait_for_timeout(250)
            assert response.code.is_successful(), response.code
            await page.goto(base + "/config/devices/dashboard")
            await page.get_by_text("demo-1").first.click()
            await expect(page.get_by_text("Simulated Devices Inc.")).to_be_visible()
            await expect(page.get_by_text("21.5 °C")).to_be_visible()
            await expect(page.get_by_text("95%").first).to_be_visible()
            light = page.get_by_role("switch").first
            await expect(light).not_to_be_checked()
            await page.wait_for_timeout(500)
            await page.screenshot(path=str(shots / "device-page.png"), full_page=True)

            # Switching the light in the UI reaches the device.
            await light.click(force=True)  # the switch's thumb covers its input, as for a real pointer
            await expect(light).to_be_checked()  # the frontend's toggle turns at once; the write follows
            for _ in range(40):
                if device.values[Path.parse("/3311/0/5850")] is True:
                    break
                await page.wait_for_timeout(250)
            assert device.values[Path.parse("/3311/0/5850")] is True

            await _update_firmware(page, base, image, device, shots)

            # A device with a key: Add device on the entry's page; the key is made up and shown once.
            await page.goto(base + "/config/integrations/integration/lwm2m")
            await _add_device(page)
            await page.get_by_role("textbox", name="Endpoint name").fill("secure-1")
            await page.get_by_role("button", name="Submit").click()
            await expect(page.get_by_text("PSK key (hex)").first).to_be_visible()
            await page.wait_for_timeout(300)
            await page.screenshot(path=str(shots / "device-key.png"))
            key = (await page.get_by_text(re.compile(r"^[0-9a-f]{32}$")).first.inner_text()).strip()
            await page.get_by_role("button", name="Submit").click()
            await page.get_by_role("button", name="Finish").click()
            secure = SimClient("secure-1", dtls_port, dtls=ClientContext(psk=(b"secure-1", bytes.fromhex(key))))
            await secure.start(register=False)
            try:
                for _ in range(40):  # the server restarts with the device in its list
                    with contextlib.suppress(Exception):
                        response = await secure.register()
                        if response.code.is_successful():
                            break
                    await page.wait_for_timeout(250)
                assert response.code.is_successful(), response.code
                await page.goto(base + "/config/devices/dashboard")
                await expect(page.get_by_text("secure-1").first).to_be_visible()
            finally:
                await secure.stop()
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"))
            await browser.close()
            await device.stop()


async def _update_firmware(page: Any, base: str, image: FsPath, device: SimClient, shots: FsPath) -> None:
    """Add firmware for the device on the entry's page, then Install it from its update entity."""
    from playwright.async_api import expect

    await page.goto(base + "/config/integrations/integration/lwm2m")
    await _add_device(page, "Add firmware")
    await page.locator("input[type=file]").set_input_files(str(image))
    await expect(page.get_by_text(image.name).first).to_be_visible()  # uploaded
    await page.get_by_role("textbox", name="Version").fill("2.0.0")
    await page.get_by_role("textbox", name="Release notes").fill("Brighter light.")
    await _pick(page, "For", "demo-1")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(shots / "add-firmware.png"))  # README shows it
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_role("button", name="Finish").click()

    await page.goto(base + "/config/devices/dashboard")
    await page.get_by_text("demo-1").first.click()
    await expect(page.get_by_text("1.2.3").first).to_be_visible()  # the firmware it runs
    await page.get_by_text("Firmware", exact=True).first.click()  # the update entity: its dialog
    await expect(page.get_by_text("2.0.0").first).to_be_visible()  # the new version is available
    await page.wait_for_timeout(500)
    await page.screenshot(path=str(shots / "firmware-update.png"))
    assert device.firmware is not None
    device.firmware.update_delay = 2.0  # the device takes a moment to install: the dialog shows it
    # "Install" on Home Assistant 2025.4, "Update" on 2026
    await page.get_by_role("button", name=re.compile("^(Install|Update)$")).click()
    await expect(page.get_by_role("progressbar").first).to_be_visible()  # how far the update is
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(shots / "firmware-progress.png"))
    for _ in range(300):
        if device.firmware.installed:
            break
        await page.wait_for_timeout(100)
    assert device.firmware.installed == ["2.0.0"], device.firmware.installed
    await expect(page.get_by_text("Up-to-date").first).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.get_by_text("Firmware: 2.0.0").first).to_be_visible()  # the device page


async def _pick(page: Any, label: str, choice: str) -> None:
    """Choose in a form's dropdown: a combobox (Home Assistant 2025.4) or a picker list item (2026)."""
    combobox = page.get_by_role("combobox", name=re.compile(f"^{label}"))
    if await combobox.count():
        await combobox.first.click()
        await page.get_by_role("option", name=choice, exact=True).click()
        return
    await page.locator("ha-selector-select").filter(has_text=label).first.click()  # a select field
    await page.wait_for_timeout(300)
    for role in ("option", "menuitem"):
        found = page.get_by_role(role, name=choice, exact=True)
        if await found.count():
            await found.first.click()
            return
    await page.locator("ha-selector-select").get_by_text(choice, exact=True).last.click()


async def _add_device(page: Any, action: str = "Add device") -> None:
    """Press Add device (or Add firmware): a button on the entry's page (Home Assistant 2026), or in its menu (2025.4)."""
    button = page.get_by_role("button", name=action)
    await page.wait_for_timeout(1500)
    if await button.count() and await button.first.is_visible():
        await button.first.click()
        return
    await page.get_by_role("button", name=re.compile("menu", re.IGNORECASE)).first.click()
    await page.get_by_text(action, exact=True).first.click()


async def _add_integration(page: Any) -> None:
    """Press "Add integration" once the page is ready. Home Assistant 2026 first asks, once, to
    confirm the http settings that configuration.yaml set; that dialog may come at any moment."""
    add = page.get_by_role("button", name="Add integration")
    confirm = page.get_by_role("button", name="Confirm")
    for _ in range(240):
        if await confirm.is_visible():
            with contextlib.suppress(Exception):  # it shows a spinner and goes
                await confirm.click(timeout=2000)
        elif await add.is_visible():
            try:
                await add.click(timeout=2000)
            except Exception:  # covered for a moment (the dialog arriving): try again
                continue
            await page.wait_for_timeout(1000)
            if not await confirm.is_visible():
                return
        await page.wait_for_timeout(250)
    raise AssertionError("the Add integration button never became usable")
