"""Run both fuzz campaigns and print what they found (scripts/fuzz).

    python -m tests.fuzz.campaign --decoder-inputs 1000000 --datagrams 200000 --seed 13

Exit status 1 when there are findings that known.py does not list, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TextIO

from . import datagrams, decoders
from .known import known


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def print_decoders(report: decoders.DecoderReport, out: TextIO) -> int:
    """Print a decoder campaign's report; return how many findings are new."""
    w = out.write
    w(f"inputs: {report.inputs:,} in {report.elapsed:.1f} s ({report.inputs / max(report.elapsed, 1e-9):,.0f}/s)\n")
    w("inputs by generator: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_kind.items())) + "\n")
    w(f"{'target':34} {'inputs':>10} {'decoded':>9}  raised\n")
    for name, calls in report.calls.items():
        outcomes = dict(report.outcomes[name])
        ok = outcomes.pop("ok", 0)
        raised = ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))
        w(f"{name:34} {calls:>10,} {ok:>9,}  {raised}\n")
    w(f"decoder calls: {sum(report.calls.values()):,}\n")
    slow = report.slowest
    w(f"slowest single decode: {slow[0] * 1000:.1f} ms in {slow[1]} (input starts {slow[2][:64]})\n")
    exceptions = report.exceptions_by_type
    w(
        "exceptions other than the documented ones, by type: "
        + (", ".join(f"{k} {v:,}" for k, v in exceptions.items()) or "none")
        + "\n"
    )
    new = 0
    w(f"findings: {len(report.findings)}\n")
    for finding in sorted(report.findings.values(), key=lambda f: (f.kind, -f.count)):
        entry = known(finding.kind, f"{finding.error} {finding.where}")
        new += entry is None
        label = f"KNOWN ({entry.name})" if entry else "NEW"
        w(f"- [{label}] {finding.kind}: {finding.error} at {finding.where}\n")
        w(f"  {finding.count:,} inputs, targets: {', '.join(sorted(finding.targets))}\n")
        w(f"  message: {finding.message[:300]}\n")
        w(f"  reproducer ({len(finding.data):,} bytes): {finding.reproducer()[:1200]}\n")
        if finding.kind == "exception":
            w("  " + finding.traceback.replace("\n", "\n  ")[-1500:] + "\n")
    return new


def print_datagrams(report: datagrams.DatagramReport, out: TextIO) -> int:
    """Print a datagram campaign's report; return how many findings are new."""
    w = out.write
    w(f"datagrams sent: {report.datagrams:,} in {report.elapsed:.1f} s from {report.ports:,} source ports\n")
    w("by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_kind.items(), key=lambda kv: -kv[1])) + "\n")
    w(
        "server answers to the fuzzer, by code: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(report.answers.items()))
        + "\n"
    )
    w(f"requests the server sent to fuzzer devices: {report.server_requests:,}\n")
    w("API calls on fuzzer devices: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.operations.items())) + "\n")
    legit = report.legit
    w(
        f"legitimate device: registered {'yes' if legit.registered else 'NO'}; reads ok {legit.reads_ok:,} / failed "
        f"{legit.reads_failed:,}; notifications ok {legit.notifications_ok:,} / failed {legit.notifications_failed:,}; "
        f"updates ok {legit.updates_ok:,} / failed {legit.updates_failed:,}; "
        f"{'stayed served' if legit.served else 'NOT SERVED THROUGHOUT'}\n"
    )
    for failure in legit.failures[-10:]:
        w(f"  {failure}\n")
    w(
        f"RSS before {_mib(report.rss_before)}, after {_mib(report.rss_after)} "
        f"({(report.rss_after - report.rss_before) / 1024:+.1f} MiB), peak {_mib(report.rss_peak)}\n"
    )
    w(f"datagrams the kernel dropped at the server's socket: {report.kernel_drops}\n")
    w("server state at the end: " + ", ".join(f"{k} {v:,}" for k, v in report.server_state.items()) + "\n")
    if report.warnings:
        w("WARNING log records (no traceback; not findings):\n")
        for template, count in sorted(report.warnings.items(), key=lambda kv: -kv[1]):
            w(f"  {count:,} x {report.warning_examples.get(template, template)[:300]}\n")
    new = 0
    w(f"findings: {len(report.findings)}\n")
    for finding in sorted(report.findings.values(), key=lambda f: (f.kind, -f.count)):
        entry = known(finding.kind, f"{finding.key} {finding.example}")
        new += entry is None
        label = f"KNOWN ({entry.name})" if entry else "NEW"
        w(f"- [{label}] {finding.kind}: {finding.key} ({finding.count:,} times)\n")
        w("  " + finding.example[-2000:].replace("\n", "\n  ") + "\n")
        if finding.reproducer:
            w(
                "  the last datagrams sent before it (hex):\n    "
                + finding.reproducer.replace("\n", "\n    ")[:2000]
                + "\n"
            )
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder-inputs", type=int, default=1_000_000)
    parser.add_argument("--datagrams", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--sockets", type=int, default=64, help="UDP sockets open at once (one is replaced every 50 datagrams)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    out = sys.stdout
    started = time.perf_counter()
    new = 0

    def progress_decoders(report: decoders.DecoderReport) -> None:
        if not args.quiet:
            print(
                f"  ... {report.inputs:,} inputs, {report.elapsed:.0f} s, {len(report.findings)} findings",
                file=sys.stderr,
                flush=True,
            )

    def progress_datagrams(report: datagrams.DatagramReport) -> None:
        if not args.quiet:
            legit = report.legit
            print(
                f"  ... {report.datagrams:,} datagrams, {report.elapsed:.0f} s, reads {legit.reads_ok}/{legit.reads_failed}, "
                f"notifications {legit.notifications_ok}/{legit.notifications_failed}, {len(report.findings)} findings, "
                f"RSS {_mib(datagrams.rss_kib())}",
                file=sys.stderr,
                flush=True,
            )

    out.write(f"fuzz campaign, seed {args.seed}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    if args.decoder_inputs:
        out.write(f"\n== decoders: {args.decoder_inputs:,} inputs, each to every target ==\n")
        report = decoders.run(args.decoder_inputs, args.seed, progress=progress_decoders)
        new += print_decoders(report, out)
        out.flush()
    if args.datagrams:
        out.write(f"\n== datagrams: {args.datagrams:,} to a running server ==\n")
        dreport = asyncio.run(
            datagrams.run(args.datagrams, args.seed, sockets=args.sockets, progress=progress_datagrams)
        )
        new += print_datagrams(dreport, out)
    out.write(f"\nelapsed: {time.perf_counter() - started:.1f} s; new findings: {new}\n")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
