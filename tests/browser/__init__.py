"""The real Home Assistant UI in headless Chromium (Debian's), driven by Playwright."""
