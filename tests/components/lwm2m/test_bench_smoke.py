"""The Home Assistant benchmark still runs and prints its figures (no timings asserted)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_home_assistant_benchmark_prints_its_figures() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/bench/bench_hass.py",
            "-s",
            "-q",
            "-p",
            "no:cacheprovider",
            "--devices",
            "5",
            "--seconds",
            "1",
            "--rate",
            "200",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "time until every device and entity" in result.stdout
    assert "notification-to-state latency" in result.stdout
