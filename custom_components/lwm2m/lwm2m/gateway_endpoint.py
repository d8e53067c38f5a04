"""Moved to .emqx; kept while hub.py and services.py import GatewayEndpoint from here."""

from .emqx.device import GatewayEndpoint

__all__ = ["GatewayEndpoint"]
