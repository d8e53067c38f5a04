"""The interop tests use the core tests' server fixtures."""

from tests.core.conftest import dtls_device, dtls_server, make_client, model, registry, server, udp  # noqa: F401
