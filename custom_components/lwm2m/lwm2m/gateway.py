"""Moved to .emqx; kept while hub.py imports EmqxGateway from here."""

from .emqx.gateway import EmqxGateway, GatewayConfig

__all__ = ["EmqxGateway", "GatewayConfig"]
