"""``tlsdiff fuzz`` and ``tlsdiff corpus``: run targets under libFuzzer with live progress, replay, keep corpora.

A fuzz run starts the target's script (``fuzz_targets/NAME.py``) as a child process with
libFuzzer's flags, reads its status lines, and prints one progress line a second:
execs/s, coverage (``cov``) and features (``ft``), corpus size, findings by signature.
New corpus entries go to a work directory (``--corpus``, default ``.tlsdiff/corpus/NAME``);
the checked-in seeds under ``corpus/NAME`` are read, never written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tlsdiff.fuzzing import FINDING_MARK

__all__ = ["FuzzStats", "add_commands", "fuzz_targets_dir", "project_root", "run_fuzz"]

_STATUS = re.compile(
    r"^#(?P<execs>\d+)\s+(?P<event>\w+)\s+cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: (?P<corp>\d+)/\S+"
    r"(?:.*?exec/s: (?P<rate>\d+))?"
)
_MAX_LEN = 4096


def project_root() -> Path:
    """The checkout the package runs from (fuzz_targets/ and corpus/ live there)."""
    return Path(__file__).resolve().parent.parent


def fuzz_targets_dir() -> Path:
    """Where the target scripts are."""
    return project_root() / "fuzz_targets"


@dataclass
class FuzzStats:
    """What a run's child reported, kept up to date line by line."""

    target: str
    execs: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    rate: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def feed(self, line: str) -> None:
        """Take in one line of the child's stderr."""
        if line.startswith(FINDING_MARK):
            signature = line[len(FINDING_MARK) :].rsplit(" ", 1)[0]
            self.findings[signature] += 1
            return
        match = _STATUS.match(line)
        if match is not None:
            self.execs, self.cov, self.ft = int(match["execs"]), int(match["cov"]), int(match["ft"])
            self.corpus = int(match["corp"])
            self.rate = int(match["rate"]) if match["rate"] else self.rate

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        """The progress line."""
        found = sum(self.findings.values())
        return (
            f"[{self.target}] {self.elapsed:6.1f}s  execs {self.execs:>7}  exec/s {self.rate:>5}  cov {self.cov:>5}  "
            f"ft {self.ft:>6}  corpus {self.corpus:>4}  findings {found} ({len(self.findings)} signatures)"
        )

    def summary(self) -> str:
        """The final line: totals and findings by signature."""
        found = ", ".join(f"{sig} x{count}" for sig, count in self.findings.most_common()) or "none"
        rate = self.execs / self.elapsed if self.elapsed else 0.0
        totals = f"{self.execs} execs ({rate:.0f}/s), cov {self.cov}, ft {self.ft}"
        return f"[{self.target}] done: {totals}; findings: {found}"

    def as_json(self) -> dict[str, Any]:
        """The final stats as one JSON object."""
        return {
            "target": self.target, "execs": self.execs, "seconds": round(self.elapsed, 1),
            "execs_per_second": round(self.execs / self.elapsed, 1) if self.elapsed else 0.0,
            "cov": self.cov, "ft": self.ft, "corpus": self.corpus, "findings": dict(self.findings),
        }  # fmt: skip


def _known_targets() -> list[str]:
    return sorted(path.stem for path in fuzz_targets_dir().glob("*.py") if not path.stem.startswith("_"))


def _libfuzzer_args(
    target: str, *, seconds: int | None, runs: int | None, seed: int, findings: Path, work: Path
) -> list[str]:
    flags = [f"-max_len={_MAX_LEN}", "-print_final_stats=1", f"-seed={seed}", "-timeout=30",
             f"-artifact_prefix={findings.resolve()}/artifacts-", "-rss_limit_mb=4096"]  # fmt: skip
    if seconds is not None:
        flags.append(f"-max_total_time={seconds}")
    if runs is not None:
        flags.append(f"-runs={runs}")
    dictionary = project_root() / "corpus" / "dicts" / f"{target}.dict"
    if dictionary.is_file():
        flags.append(f"-dict={dictionary}")
    seeds = project_root() / "corpus" / target
    return [str(work)] + ([str(seeds)] if seeds.is_dir() else []) + flags


def _child_env(findings: Path) -> dict[str, str]:
    env = dict(os.environ, TLSDIFF_FINDINGS=str(findings.resolve()), TLSDIFF_KEEP_GOING="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{project_root()}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _watch(child: subprocess.Popen[str], stats: FuzzStats, quiet: bool, log: IO[str]) -> None:
    last = 0.0
    stream = child.stderr
    if stream is None:
        return
    for line in stream:
        log.write(line)
        known = len(stats.findings)
        stats.feed(line)
        if len(stats.findings) > known and not quiet:
            print(f"[{stats.target}] new finding: {line[len(FINDING_MARK) :].strip()}", flush=True)
        if not quiet and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            print(stats.line(), flush=True)


def run_fuzz(
    target: str,
    *,
    seconds: int | None = None,
    runs: int | None = None,
    seed: int = 1,
    corpus: Path | None = None,
    findings: Path = Path("findings"),
    quiet: bool = False,
) -> tuple[FuzzStats, int]:
    """Run ``target`` under libFuzzer with live progress; (stats, the child's exit code)."""
    script = fuzz_targets_dir() / f"{target}.py"
    findings.mkdir(parents=True, exist_ok=True)
    work = corpus or project_root() / ".tlsdiff" / "corpus" / target
    work.mkdir(parents=True, exist_ok=True)
    stats = FuzzStats(target)
    flags = _libfuzzer_args(target, seconds=seconds, runs=runs, seed=seed, findings=findings, work=work)
    command = [sys.executable, str(script), *flags]
    with (findings / f"{target}.log").open("a", encoding="utf-8") as log:
        child = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                 env=_child_env(findings), errors="replace")  # fmt: skip
        try:
            _watch(child, stats, quiet, log)
        finally:
            code = child.wait()
    return stats, code


def _fuzz(args: argparse.Namespace) -> int:
    findings = Path(args.findings)
    corpus = Path(args.corpus) if args.corpus else None
    stats, code = run_fuzz(args.target, seconds=args.seconds, runs=args.runs, seed=args.seed, corpus=corpus,
                           findings=findings, quiet=args.json)  # fmt: skip
    if args.json:
        print(json.dumps(stats.as_json()))
    else:
        print(stats.line())
        print(stats.summary())
    if code != 0:
        print(f"tlsdiff fuzz: {args.target} exited with {code} (see {findings / (args.target + '.log')})",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _replay(args: argparse.Namespace) -> int:
    from tlsdiff.fuzzing import replay  # noqa: PLC0415

    paths = [Path(name) for name in args.replay]
    for path in paths:
        if not path.is_file():
            raise OSError(f"cannot read {path}")
    findings = Path(args.findings) if args.save else None
    results = replay(args.target, paths, findings)
    if args.json:
        print(json.dumps([{"input": str(path), "signature": signature} for path, signature in results]))
    else:
        for path, signature in results:
            print(f"{path}: {signature or 'agree'}")
    return 0


def _cmd_fuzz(args: argparse.Namespace) -> int:
    targets = _known_targets()
    if args.list:
        print("\n".join(targets))
        return 0
    if args.target is None:
        raise ValueError("name a target (tlsdiff fuzz --list shows them)")
    if args.target not in targets:
        raise ValueError(f"unknown target {args.target!r} (known: {', '.join(targets)})")
    if args.corpus and not Path(args.corpus).is_dir():
        raise OSError(f"corpus directory {args.corpus} does not exist")
    return _replay(args) if args.replay else _fuzz(args)


def _cmd_corpus(args: argparse.Namespace) -> int:
    from tlsdiff.corpus import generate, merge  # noqa: PLC0415

    if args.action == "generate":
        counts = generate(Path(args.out))
        for name, count in sorted(counts.items()):
            print(f"{name}: {count} seeds")
        return 0
    if args.target not in _known_targets():
        raise ValueError(f"unknown target {args.target!r}")
    if not args.dirs:
        raise ValueError("corpus merge: name the directories to merge in")
    into = Path(args.into) if args.into else None
    before, after = merge(args.target, [Path(d) for d in args.dirs], fuzz_targets_dir() / f"{args.target}.py", into)
    print(f"{args.target}: corpus {before} -> {after} inputs")
    return 0


def add_commands(commands: Any, seed_type: Any) -> None:
    """Add ``fuzz`` and ``corpus`` to the ``tlsdiff`` parser."""
    fuzz = commands.add_parser("fuzz", help="run a fuzz target (live progress), list targets, or replay inputs")
    fuzz.add_argument("target", nargs="?", help="target name (see --list)")
    fuzz.add_argument("--list", action="store_true", help="print one target name per line")
    fuzz.add_argument("--seconds", type=int, help="stop after this many seconds")
    fuzz.add_argument("--runs", type=int, help="stop after this many executions")
    fuzz.add_argument("--seed", type=seed_type, default=1, help="libFuzzer's -seed (reproducible runs)")
    fuzz.add_argument("--corpus", help="work corpus directory (new inputs go there)")
    fuzz.add_argument("--findings", default="findings", help="findings directory (default: findings)")
    fuzz.add_argument("--replay", nargs="+", metavar="FILE", help="run these inputs once and print their signatures")
    fuzz.add_argument("--save", action="store_true", help="with --replay: save findings too")
    fuzz.add_argument("--json", action="store_true", help="print the final stats (or replay results) as JSON")
    fuzz.set_defaults(run=_cmd_fuzz)
    corpus = commands.add_parser("corpus", help="generate the seed corpora, or merge inputs into one")
    corpus.add_argument("action", choices=("generate", "merge"))
    corpus.add_argument("target", nargs="?", help="merge: the target whose corpus/NAME gets the inputs")
    corpus.add_argument("dirs", nargs="*", help="merge: directories of inputs to merge in")
    corpus.add_argument("--out", default=str(project_root() / "corpus"), help="generate: where the folders go")
    corpus.add_argument("--into", help="merge: the corpus directory to merge into (default corpus/TARGET)")
    corpus.set_defaults(run=_cmd_corpus)
