"""Home Assistant tests (pytest-homeassistant-custom-component)."""
