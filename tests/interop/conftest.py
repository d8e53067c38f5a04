"""The interop tests use the core tests' server fixtures."""

from tests.core.conftest import make_client, model, registry, server, udp  # noqa: F401
