"""Real processes the tests (and scripts/develop) run: Mosquitto and Home Assistant itself."""
