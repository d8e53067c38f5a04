"""Options of the benchmarks that run under pytest."""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--devices", type=int, default=1000, help="bench_hass: how many devices")
    parser.addoption("--rate", type=float, default=2000, help="bench_hass: notifications per second offered")
    parser.addoption("--seconds", type=float, default=10, help="bench_hass: how long notifications are sent")
    parser.addoption(
        "--settle",
        type=float,
        default=2,
        help="bench_hass: seconds between the last observation and the first notification",
    )
