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


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_server_benchmark_steps_the_load_for_both_servers() -> None:
    out = _run(
        "tests.bench.bench_server",
        *("--devices", "10", "--rates", "200,400", "--register-rates", "100", "--seconds", "0.5"),
    )
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| raw") or line.startswith("| this")]
    names = [row[1].strip() for row in rows]
    assert names == ["raw aiocoap"] * 2 + ["this server"] * 2 + ["raw aiocoap", "this server", "this server, observing"]
    for row in rows[:4]:  # notifications: every one sent was delivered or coalesced, none lost
        assert int(row[-4].replace(",", "")) == 0, row
    assert "| notifications " in out and "| registrations " in out and "| registrations, observing" in out


def test_flood_benchmark_shows_the_bound() -> None:
    out = _run("tests.bench.bench_flood", "--requests", "400", "--ports", "20", "--bound", "100")
    assert "this server (bounded to 100)" in out
    kept = int(out.splitlines()[1].split()[5].replace(",", ""))
    assert kept <= 100


def test_emqx_benchmark_prints_every_path() -> None:
    out = _run("tests.bench.bench_emqx", "--seconds", "0.01")
    lines = out.splitlines()
    assert len(lines) == 5 and "bridge up" in lines[1] and "register" in lines[4]
    assert all(float(line.split()[-1].replace(",", "")) > 0 for line in lines[1:])


def test_dtls_benchmark_prints_handshakes_and_both_transports() -> None:
    out = _run("tests.bench.bench_dtls", "--devices", "5", "--notify", "10", "--rate", "500")
    assert "handshakes (PSK, cookie exchange): 5 in all" in out and "server memory per DTLS session" in out
    for transport in ("coaps:// (DTLS)", "coap:// (plain UDP)"):
        assert f"{transport} |        500 |" in out and f"{transport} |    unpaced |" in out
    assert "DTLS/plain notifications at saturation:" in out


def test_firmware_benchmark_prints_both_methods_over_both_transports() -> None:
    out = _run("tests.bench.bench_firmware", "--size", "0.05", "--dtls", "--no-heap")
    lines = out.splitlines()
    assert len(lines) == 5 and "aiocoap" in lines[0] and "50,000 bytes" in lines[0]
    for line, (method, transport) in zip(
        lines[1:], [("push", "coap"), ("pull", "coap"), ("push", "coaps"), ("pull", "coaps")], strict=True
    ):
        assert line.split()[:4] == [method, transport, "0.05", "MB"], line
        assert "s/MB" in line and "blocks/s" in line and "RSS +" in line
