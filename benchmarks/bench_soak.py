"""Soak: one target for a long time through the fuzz runner (one worker); memory and open files must stay flat.

Every ``--interval`` seconds it samples the fuzzing child's process tree: resident memory
(``VmRSS`` of ``/proc/PID/status``, summed) and open file descriptors (the entries of
``/proc/PID/fd``), with libFuzzer's execution count. It prints a row per sample, exec/s
over the first and the last interval, and a verdict per resource: a least-squares line
through the second half of the samples (the first half is warm-up: imports, caches, the
corpus and the handshake snapshots filling up) is "flat" when the growth it predicts over
that half stays under max(4 MiB, 3% of the mean) for RSS, under one descriptor for fds.

What the run finds is kept, as in any fuzz run, under ``--findings`` (default
``soak-findings/TARGET``), and each signature is listed with its count.

libFuzzer reports its execution count only on status lines (new coverage, and at powers of
two), so exec/s over an interval is measured between the status lines seen at its ends.

    python benchmarks/bench_soak.py [--target server_diff] [--minutes 30] [--interval 60] [--findings DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tlsdiff.fuzz_cli import FuzzStats, run_fuzz

_RSS_TOLERANCE_KIB, _RSS_TOLERANCE_SHARE = 4096, 0.03
_FD_TOLERANCE = 1.0
_MIN_FIT_SAMPLES = 3


@dataclass(frozen=True)
class Sample:
    """The process tree at one moment, and what libFuzzer had reported by then."""

    seconds: float  # since the run started
    status_seconds: float  # when libFuzzer's last status line (execs) came, since the run started
    execs: int
    rss_kib: int
    fds: int
    processes: int
    cov: int
    ft: int
    corpus: int


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _tree(pid: int) -> list[int]:
    children, tree = _children(), [pid]
    for member in tree:
        tree += children.get(member, [])
    return tree


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass
class _Sampler:
    """The runner's observer: a sample at the first call, then one every ``interval`` seconds."""

    interval: float
    quiet: bool
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __call__(self, stats: FuzzStats, pid: int) -> None:
        now = time.monotonic() - self.started
        if self.samples and now - self.samples[-1].seconds < self.interval:
            return
        tree = _tree(pid)
        sample = Sample(round(now, 1), round(stats.updated - self.started, 1), stats.execs,
                        sum(map(_rss_kib, tree)), sum(map(_fds, tree)), len(tree), stats.cov, stats.ft,
                        stats.corpus)  # fmt: skip
        self.samples.append(sample)
        if not self.quiet:
            print(_row(sample, _rate(self.samples[-2:])), flush=True)


def _rate(pair: Sequence[Sample]) -> float | None:
    """exec/s between two samples, timed by the status lines they saw."""
    if len(pair) < 2 or pair[1].status_seconds <= pair[0].status_seconds:
        return None
    return (pair[1].execs - pair[0].execs) / (pair[1].status_seconds - pair[0].status_seconds)


_HEADER = f"{'time':>7} {'execs':>9} {'exec/s':>7} {'RSS MiB':>8} {'fds':>5} {'procs':>5} {'cov':>6} {'ft':>7} corpus"


def _row(sample: Sample, rate: float | None) -> str:
    shown = f"{rate:7.0f}" if rate is not None else f"{'-':>7}"
    minutes, seconds = divmod(round(sample.seconds), 60)
    return (f"{minutes:4}:{seconds:02} {sample.execs:9} {shown} {sample.rss_kib / 1024:8.1f} {sample.fds:5} "
            f"{sample.processes:5} {sample.cov:6} {sample.ft:7} {sample.corpus}")  # fmt: skip


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def _verdict(samples: Sequence[Sample], name: str, tolerance: float) -> dict[str, Any]:
    """Fit ``name`` over the second half of the run: slope per minute, growth over that half, flat or growing."""
    half = [s for s in samples if s.seconds >= samples[-1].seconds / 2] if samples else []
    if len(half) < _MIN_FIT_SAMPLES:
        return {"verdict": "too short", "samples": len(half)}
    minutes = [s.seconds / 60 for s in half]
    values = [float(getattr(s, name)) for s in half]
    slope = _slope(minutes, values)
    growth = slope * (minutes[-1] - minutes[0])
    limit = max(tolerance, _RSS_TOLERANCE_SHARE * sum(values) / len(values)) if name == "rss_kib" else tolerance
    verdict = "flat" if growth < limit else "growing"
    return {"verdict": verdict, "slope_per_minute": round(slope, 2), "growth": round(growth, 1),
            "limit": round(limit, 1), "first": values[0], "last": values[-1], "samples": len(half)}  # fmt: skip


def _report(target: str, samples: Sequence[Sample], stats: FuzzStats, code: int) -> dict[str, Any]:
    with_execs = [s for s in samples if s.execs > 0]
    return {
        "target": target,
        "exit_code": code,
        "seconds": round(stats.elapsed, 1),
        "execs": stats.execs,
        "execs_per_second": {"start": _rate(with_execs[:2]), "end": _rate(with_execs[-2:])},
        "rss": _verdict(samples, "rss_kib", _RSS_TOLERANCE_KIB),
        "fds": _verdict(samples, "fds", _FD_TOLERANCE),
        "findings": dict(stats.findings),
        "samples": [asdict(s) for s in samples],
    }


def _print_verdicts(report: dict[str, Any]) -> None:
    rates = report["execs_per_second"]
    shown = {key: f"{value:.0f}" if value is not None else "-" for key, value in rates.items()}
    print(f"exec/s: first interval {shown['start']}, last interval {shown['end']}")
    for label, key, unit in (("RSS", "rss", "KiB"), ("open fds", "fds", "fds")):
        fit = report[key]
        if fit["verdict"] == "too short":
            print(f"{label}: too short for a verdict ({fit['samples']} samples in the second half)")
            continue
        print(f"{label}: {fit['verdict']} ({fit['first']:.0f} -> {fit['last']:.0f} {unit} over the second half; "
              f"fit {fit['slope_per_minute']:+.2f} {unit}/min, {fit['growth']:+.1f} against a limit of "
              f"{fit['limit']:.1f})")  # fmt: skip
    found = sum(report["findings"].values())
    print(f"run: {report['execs']} execs in {report['seconds']} s, exit code {report['exit_code']}, "
          f"{found} findings ({len(report['findings'])} signatures) in {report['findings_dir']}")  # fmt: skip
    for signature, count in sorted(report["findings"].items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {signature}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="server_diff")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--corpus", help="work corpus (default: a fresh temporary one, so every soak starts alike)")
    # A soak is a fuzz run: what it finds is kept like any run's (triage it with tlsdiff triage).
    parser.add_argument("--findings", help="where its findings go (default: soak-findings/TARGET)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()
    sampler = _Sampler(args.interval, quiet=args.json)
    if not args.json:
        print(f"soak: {args.target} for {args.minutes} min, a sample every {args.interval:.0f} s")
        print(_HEADER)
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(args.corpus) if args.corpus else Path(folder) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        findings = Path(args.findings or Path("soak-findings") / args.target)
        stats, code = run_fuzz(args.target, seconds=round(args.minutes * 60), corpus=corpus,
                               findings=findings, quiet=True, observe=sampler)  # fmt: skip
    report = {**_report(args.target, sampler.samples, stats, code), "findings_dir": str(findings)}
    if args.json:
        print(json.dumps(report))
    else:
        _print_verdicts(report)


if __name__ == "__main__":
    main()
