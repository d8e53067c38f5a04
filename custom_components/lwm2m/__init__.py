"""LwM2M for Home Assistant.

This module imports Home Assistant only inside its functions, so that the protocol core
below it (custom_components.lwm2m.lwm2m) also runs, and is tested, without Home Assistant.
"""

DOMAIN = "lwm2m"
