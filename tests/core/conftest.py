"""Fixtures of the protocol core tests."""

from pathlib import Path

import pytest

from custom_components.lwm2m.lwm2m.model import ObjectModel

REGISTRY = Path(__file__).resolve().parents[2].parent / "shared" / "lwm2m-registry"


@pytest.fixture(scope="session")
def model() -> ObjectModel:
    return ObjectModel()


@pytest.fixture(scope="session")
def registry() -> Path:
    if not REGISTRY.is_dir():
        pytest.skip(f"the OMA registry is not at {REGISTRY}")
    return REGISTRY
