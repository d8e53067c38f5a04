"""The real-Home-Assistant benchmark (tests/bench/bench_real_hass.py) still runs and prints its
figures, on a few devices (no timings asserted)."""

import re
import subprocess
import sys
from pathlib import Path

from tests.core.external import LIVE_HOME_ASSISTANT

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [LIVE_HOME_ASSISTANT.mark]


def test_the_real_home_assistant_benchmark_prints_its_figures() -> None:
    # a free port, not Home Assistant's default 8123 that someone's own instance may hold (the
    # http settings it then asks to confirm only matter to runs past 5 minutes)
    command = [sys.executable, "-m", "tests.bench.bench_real_hass", "--devices", "10", "--rates", "40"]
    command += ["--http-port", "0"]
    # the diagnostic and what-if options too (their settings reach Home Assistant's YAML: a bad
    # one would keep it from starting)
    command += ["--census", "--commit-interval", "2", "--refreeze", "--switch-interval", "0.005"]
    result = subprocess.run(
        [*command, "--seconds", "1", "--settle", "0.5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(
        r"storm: every device fully observed +[\d.]+ s \(30 observations; \d+ requests the server sent again\)", out
    ), out
    assert (
        re.search(r"storm: every entity created +[\d.]+ s", out)
        and "entities                             70 (7 per device)" in out
    ), out
    # every value of the few devices reaches a state, ours and the trivial integration's alike
    reached = re.findall(r"values that reached a state +([\d,]+) of ([\d,]+) \(([\d.]+) %\)", out)
    assert len(reached) == 2 and all(share == "100.0" for _n, _of, share in reached), out
    assert "entities ending on the last value  20 of 20" in out
    assert "KiB per device" in out
    # latency to the state and to the subscriber, the loop's lag inside Home Assistant, the ping
    assert len(re.findall(r"latency to the state \(last_changed\) p50 [-\d.]+ ms, p99 [-\d.]+ ms", out)) == 2, out
    assert len(re.findall(r"longest event-loop stall \(timer\) +\d+ ms \(p99 \d+ ms of [\d,]+ 20 ms timers", out)) == 2
    assert len(re.findall(r"ping round trip to the subscriber +\d+ ms", out)) == 2, out
    # ours only: what was coalesced (from the diagnostics) and dropped by the kernel: nothing, at 40 a second
    assert "coalesced (counted, the latest kept) 0: with the states, 40 of 40 (100.0 %)" in out, out
    assert "kernel drops on the LwM2M socket   0" in out, out
    assert len(re.findall(r"recorder done writing +[\d.]+ s after the phase", out)) == 2, out
    # Python's garbage collections in Home Assistant, timed by the benchmark's helper integration
    assert len(re.findall(r"garbage collections +[\d,]+, longest \d+ ms; \d+ full", out)) == 2, out
    # --census: what the collector walks after the storm and after each phase, by type
    assert re.search(r"objects the collector tracks after the storm, not frozen: [\d,]+", out), out
    assert (
        len(re.findall(r"objects the collector tracks once the recorder has written the phase, not frozen", out)) == 1
    )
