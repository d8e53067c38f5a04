"""Protocol core tests; Home Assistant is not imported here."""
