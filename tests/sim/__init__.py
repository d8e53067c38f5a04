"""A simulated LwM2M client (aiocoap) for tests, benchmarks and trying the integration."""

from .client import SimClient

__all__ = ["SimClient"]
