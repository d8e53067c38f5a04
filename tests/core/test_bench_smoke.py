"""The codec benchmark still runs and prints a figure for every format (no timings asserted)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codec_benchmark_prints_every_format() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_codecs", "--seconds", "0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in ("TLV", "LWM2M_JSON", "SENML_JSON", "SENML_CBOR", "LWM2M_CBOR", "TEXT", "LINK_FORMAT"):
        assert name in result.stdout
    assert len(result.stdout.splitlines()) == 1 + 5 + 5 + 6 + 1 + 1
