"""``tlsdiff fuzz`` and ``tlsdiff corpus``: run targets under libFuzzer with live progress, replay, keep corpora.

A fuzz run starts the target's script (``fuzz_targets/NAME.py``) as a child process with
libFuzzer's flags, reads its status lines, and prints one progress line a second:
execs/s, coverage (``cov``) and features (``ft``), corpus size, findings by signature.
New corpus entries go to a work directory (``--corpus``, default ``.tlsdiff/corpus/NAME``);
the checked-in seeds under ``corpus/NAME`` are read, never written.

With ``--jobs N`` the child is libFuzzer's ``-fork=N`` parent: it re-runs the script as
short-lived workers (jobs), each writing its output to ``JOB.log`` in the parent's
temporary directory, and prints one ``#EXECS: cov: .. job: ..`` line per finished job.
The runner tails those logs while the jobs run (the parent deletes each once merged), so
the findings (``==tlsdiff== finding`` lines) and executions of every worker are counted
and copied into ``findings/TARGET.log``. Every worker saves into the one findings
directory; the store's own atomic writes keep one directory per signature.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from tlsdiff.findings import FindingStore
from tlsdiff.fuzzing import FINDING_MARK

__all__ = [
    "MAX_LEN",
    "FuzzStats",
    "Observer",
    "add_commands",
    "fuzz_targets_dir",
    "known_targets",
    "project_root",
    "run_fuzz",
]

# One libFuzzer process: "#4096	pulse  cov: 91 ft: 84 corp: 19/3Kb lim: 4096 exec/s: 2048 rss: 70Mb".
_STATUS = re.compile(
    r"^#(?P<execs>\d+)\s+(?P<event>\w+)\s+cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: (?P<corp>\d+)/\S+"
    r"(?:.*?exec/s: (?P<rate>\d+))?"
)
# The -fork parent, once per merged job (FuzzerFork.cpp): execs summed over the merged jobs.
_FORK_STATUS = re.compile(
    r"^#(?P<execs>\d+): cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: (?P<corp>\d+) exec/s (?P<rate>\d+) "
    r"oom/timeout/crash: (?P<ooms>\d+)/(?P<timeouts>\d+)/(?P<crashes>\d+)"
)
_FORK_FOLDER = re.compile(r"^INFO: -fork=\d+: \d+ seed inputs, starting to fuzz in (?P<folder>\S+)")
_FINAL_EXECS = re.compile(r"^stat::number_of_executed_units: (?P<execs>\d+)")
_FORK_END = re.compile(r"^INFO: exiting: -?\d+ time:")  # the -fork parent's last line: its code is the last job's
_JOB_FAILED = "ERROR: libFuzzer:"  # a worker's crash, timeout or out-of-memory report
MAX_LEN = 4096  # libFuzzer's -max_len for every target (the packaged .options files too)
_PROGRESS_SECONDS = 1.0
_POLL_SECONDS = 0.1  # a job lives for at least the script's start-up (seconds): its log is never missed

Observer = Callable[["FuzzStats", int], None]
"""Called about once a second during a run with the stats so far and the child's process id."""


def project_root() -> Path:
    """The checkout the package runs from (fuzz_targets/ and corpus/ live there)."""
    return Path(__file__).resolve().parent.parent


def fuzz_targets_dir() -> Path:
    """Where the target scripts are."""
    return project_root() / "fuzz_targets"


@dataclass(frozen=True)
class _Worker:
    """One -fork job as its log tells it: executions so far (its final count once done), its exec/s."""

    execs: int = 0
    rate: int = 0
    done: bool = False
    failed: bool = False


@dataclass
class FuzzStats:
    """What a run's child (and, with ``--jobs``, its workers) reported, kept up to date line by line.

    ``findings`` counts ``==tlsdiff== finding`` lines (one per execution that found something);
    ``stored`` is what the findings directory gained during the run (distinct inputs per signature),
    which also holds findings made where no log reaches (libFuzzer's initial merge of the seeds).
    """

    target: str
    jobs: int = 1
    reported_execs: int = 0  # libFuzzer's count: the process's own, or the -fork parent's sum over merged jobs
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    rate: int = 0
    crashes: int = 0
    timeouts: int = 0
    ooms: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    stored: dict[str, int] = field(default_factory=dict)
    workers: dict[str, _Worker] = field(default_factory=dict)
    fork_ended: bool = False
    started: float = field(default_factory=time.monotonic)
    updated: float = field(default_factory=time.monotonic)  # when the last status line came

    def feed(self, line: str) -> None:
        """Take in one line of the child's stderr."""
        if self._found(line):
            return
        match = _STATUS.match(line) or _FORK_STATUS.match(line)
        if match is None:
            self.fork_ended = self.fork_ended or _FORK_END.match(line) is not None
            return
        self.reported_execs, self.cov, self.ft = int(match["execs"]), int(match["cov"]), int(match["ft"])
        self.corpus = int(match["corp"])
        self.rate = int(match["rate"]) if match["rate"] else self.rate
        self.updated = time.monotonic()
        if match.re is _FORK_STATUS:
            self.ooms, self.timeouts, self.crashes = int(match["ooms"]), int(match["timeouts"]), int(match["crashes"])

    def feed_worker(self, job: str, line: str) -> None:
        """Take in one line of a -fork worker's log (its coverage is its own; the parent's is the run's)."""
        if self._found(line):
            return
        worker = self.workers.get(job, _Worker())
        final = _FINAL_EXECS.match(line)
        status = _STATUS.match(line)
        if _JOB_FAILED in line:
            worker = replace(worker, failed=True)
        elif final is not None:
            worker = replace(worker, execs=int(final["execs"]), done=True)
        elif status is not None:
            worker = replace(worker, execs=int(status["execs"]), rate=int(status["rate"] or worker.rate))
            self.updated = time.monotonic()
        self.workers[job] = worker

    def end_worker(self, job: str) -> None:
        """A worker's log is closed: it runs no more."""
        self.workers[job] = replace(self.workers.get(job, _Worker()), done=True)

    def _found(self, line: str) -> bool:
        if not line.startswith(FINDING_MARK):
            return False
        self.findings[line[len(FINDING_MARK) :].rsplit(" ", 1)[0]] += 1
        return True

    @property
    def execs(self) -> int:
        """Executions so far: every worker's (the parent only counts jobs it merged) or the one process's."""
        return max(self.reported_execs, sum(worker.execs for worker in self.workers.values()))

    @property
    def failed_jobs(self) -> int:
        """Jobs that crashed, timed out or ran out of memory: the parent's count (merged jobs) or the logs'."""
        return max(self.crashes + self.timeouts + self.ooms, sum(worker.failed for worker in self.workers.values()))

    @property
    def live_rate(self) -> int:
        """exec/s now: libFuzzer's, summed over the workers still running in fork mode."""
        if self.jobs == 1:
            return self.rate
        return sum(worker.rate for worker in self.workers.values() if not worker.done)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def _fork_part(self) -> str:
        if self.jobs == 1:
            return ""
        return f"  jobs {len(self.workers)} ({self.jobs} at once)  failed {self.failed_jobs}"

    def line(self) -> str:
        """The progress line."""
        found = sum(self.findings.values())
        return (
            f"[{self.target}] {self.elapsed:6.1f}s  execs {self.execs:>7}  exec/s {self.live_rate:>5}  "
            f"cov {self.cov:>5}  ft {self.ft:>6}  corpus {self.corpus:>4}  "
            f"findings {found} ({len(self.findings)} signatures){self._fork_part()}"
        )

    def summary(self) -> str:
        """The final line: totals and findings by signature."""
        found = ", ".join(f"{sig} x{count}" for sig, count in self.findings.most_common()) or "none"
        rate = self.execs / self.elapsed if self.elapsed else 0.0
        totals = f"{self.execs} execs ({rate:.0f}/s), cov {self.cov}, ft {self.ft}"
        if self.jobs > 1:
            totals += (f" from {len(self.workers)} jobs, {self.jobs} at once ({self.failed_jobs} failed: "
                       f"crashes {self.crashes}, timeouts {self.timeouts}, OOMs {self.ooms})")  # fmt: skip
        stored = f"; findings dir: {sum(self.stored.values())} new inputs, {len(self.stored)} signatures"
        return f"[{self.target}] done: {totals}; findings: {found}{stored}"

    def as_json(self) -> dict[str, Any]:
        """The final stats as one JSON object."""
        return {
            "target": self.target, "execs": self.execs, "seconds": round(self.elapsed, 1),
            "execs_per_second": round(self.execs / self.elapsed, 1) if self.elapsed else 0.0,
            "cov": self.cov, "ft": self.ft, "corpus": self.corpus, "findings": dict(self.findings),
            "stored": self.stored, "jobs": self.jobs,
            "workers": {job: worker.execs for job, worker in sorted(self.workers.items())},
            "crashes": self.crashes, "timeouts": self.timeouts, "ooms": self.ooms, "failed_jobs": self.failed_jobs,
        }  # fmt: skip


class _WorkerLogs:
    """The -fork workers' logs (``JOB.log`` in the parent's temporary folder), read as they grow.

    libFuzzer deletes a job's log once it has merged the job, and the whole folder at the end;
    an open descriptor still reads a deleted file, so each log is opened as soon as it appears.
    """

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._open: dict[str, tuple[int, bytearray]] = {}
        self._seen: set[str] = set()

    def poll(self) -> Iterator[tuple[str, str | None]]:
        """(job, line) for every new line of every worker, then (job, None) when a worker's log ends."""
        if self.folder is not None:
            for path in sorted(self.folder.glob("*.log")):
                if path.stem not in self._seen:
                    try:
                        self._open[path.stem] = (os.open(path, os.O_RDONLY | os.O_CLOEXEC), bytearray())
                    except FileNotFoundError:
                        continue
                    self._seen.add(path.stem)
        for job in list(self._open):
            yield from self._read(job, last=False)

    def close(self) -> Iterator[tuple[str, str | None]]:
        """The rest of every log still open (the run is over)."""
        for job in list(self._open):
            yield from self._read(job, last=True)

    def _read(self, job: str, *, last: bool) -> Iterator[tuple[str, str | None]]:
        descriptor, pending = self._open[job]
        # Deleted before this read started means the job had exited: this read gets all it wrote.
        ended = last or os.fstat(descriptor).st_nlink == 0
        while chunk := os.read(descriptor, 1 << 16):
            pending += chunk
        *lines, rest = bytes(pending).split(b"\n")
        pending[:] = rest
        for line in lines:
            yield job, line.decode(errors="replace") + "\n"
        if ended:
            if pending:
                yield job, pending.decode(errors="replace") + "\n"
            os.close(descriptor)
            del self._open[job]
            yield job, None


@dataclass
class _Watch:
    """Where a run's lines go: the stats, the log file, the terminal, the observer."""

    stats: FuzzStats
    log: IO[str]
    quiet: bool
    observe: Observer | None
    workers: _WorkerLogs = field(default_factory=_WorkerLogs)
    last_progress: float = 0.0
    last_poll: float = 0.0

    def parent_line(self, line: str) -> None:
        self.log.write(line)
        fork = _FORK_FOLDER.match(line)
        if fork is not None:
            self.workers.folder = Path(fork["folder"])
        self._announce(line, lambda: self.stats.feed(line))

    def worker_line(self, job: str, line: str | None) -> None:
        if line is None:
            self.stats.end_worker(job)
            return
        self.log.write(f"[job {job}] {line}")
        self._announce(line, lambda: self.stats.feed_worker(job, line))

    def _announce(self, line: str, feed: Callable[[], None]) -> None:
        known = len(self.stats.findings)
        feed()
        if len(self.stats.findings) > known and not self.quiet:
            print(f"[{self.stats.target}] new finding: {line[len(FINDING_MARK) :].strip()}", flush=True)

    def tick(self, pid: int) -> None:
        now = time.monotonic()
        if now - self.last_poll >= _POLL_SECONDS:
            self.last_poll = now
            for job, line in self.workers.poll():
                self.worker_line(job, line)
        if now - self.last_progress >= _PROGRESS_SECONDS:
            self.last_progress = now
            if not self.quiet:
                print(self.stats.line(), flush=True)
            if self.observe is not None:
                self.observe(self.stats, pid)

    def finish(self) -> None:
        for job, line in self.workers.close():
            self.worker_line(job, line)


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _watch(child: subprocess.Popen[str], watch: _Watch) -> None:
    stream = child.stderr
    if stream is None:
        return
    lines: queue.Queue[str | None] = queue.Queue()
    # The -fork parent prints once per job: the progress line and the worker logs need their own clock.
    threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            watch.parent_line(line)
        watch.tick(child.pid)
    watch.finish()


def known_targets() -> list[str]:
    """The target names: one script each under ``fuzz_targets/``."""
    return sorted(path.stem for path in fuzz_targets_dir().glob("*.py") if not path.stem.startswith("_"))


@dataclass(frozen=True)
class _Budget:
    seconds: int | None
    runs: int | None
    seed: int | None
    jobs: int


def _libfuzzer_args(target: str, budget: _Budget, *, findings: Path, work: Path) -> list[str]:
    flags = [f"-max_len={MAX_LEN}", "-print_final_stats=1", "-timeout=30",
             f"-artifact_prefix={findings.resolve()}/artifacts-", "-rss_limit_mb=4096"]  # fmt: skip
    if budget.jobs > 1:
        # -ignore_crashes: a crashing job is counted and replaced, the others run on.
        flags += [f"-fork={budget.jobs}", "-ignore_crashes=1"]
    if budget.seed is not None:
        flags.append(f"-seed={budget.seed}")
    if budget.seconds is not None:
        flags.append(f"-max_total_time={budget.seconds}")
    if budget.runs is not None:
        flags.append(f"-runs={budget.runs}")
    dictionary = project_root() / "corpus" / "dicts" / f"{target}.dict"
    if dictionary.is_file():
        flags.append(f"-dict={dictionary}")
    seeds = project_root() / "corpus" / target
    return [str(work)] + ([str(seeds)] if seeds.is_dir() else []) + flags


def _child_env(findings: Path, coverage: bool = False) -> dict[str, str]:
    """The environment of a target script, and of every copy libFuzzer starts (-fork, -merge).

    ``coverage``: on s2n's coverage build (``s2n_bridge.coverage``: its preloads and atheris).
    """
    env = dict(os.environ, TLSDIFF_FINDINGS=str(findings.resolve()), TLSDIFF_KEEP_GOING="1")
    # libFuzzer re-runs the script by its shebang: this interpreter must come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{project_root()}{os.pathsep}{env.get('PYTHONPATH', '')}"
    if coverage:
        from s2n_bridge._profile import selected_profile  # noqa: PLC0415
        from s2n_bridge.coverage import coverage_env  # noqa: PLC0415

        return coverage_env(env, selected_profile())
    return env


def _new_in_store(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {signature: count - before.get(signature, 0) for signature, count in sorted(after.items())
            if count > before.get(signature, 0)}  # fmt: skip


def run_fuzz(
    target: str,
    *,
    seconds: int | None = None,
    runs: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    coverage: bool = False,
    corpus: Path | None = None,
    findings: Path = Path("findings"),
    quiet: bool = False,
    script: Path | None = None,
    observe: Observer | None = None,
) -> tuple[FuzzStats, int]:
    """Run ``target`` under libFuzzer with live progress; (stats, the child's exit code).

    ``jobs`` above 1 runs libFuzzer's ``-fork=jobs``; a job that fails is replaced and the run
    goes on, and once it is over the code is 1 if any job failed, else 0. ``seed`` (default 1 for one process)
    must be None then: libFuzzer hands every worker the parent's ``-seed``, so they would all
    mutate alike; without it each draws its own. ``script`` replaces ``fuzz_targets/TARGET.py``.
    ``coverage`` runs on s2n's coverage build, so libFuzzer also counts s2n's C edges.
    """
    if jobs < 1:
        raise ValueError("--jobs must be at least 1")
    if jobs > 1 and seed is not None:
        raise ValueError("--seed needs --jobs 1: libFuzzer gives every -fork worker the same -seed")
    env = _child_env(findings, coverage)  # first: a missing coverage build is refused before anything is written
    script = script or fuzz_targets_dir() / f"{target}.py"
    store = FindingStore(findings)
    work = corpus or project_root() / ".tlsdiff" / "corpus" / target
    work.mkdir(parents=True, exist_ok=True)
    budget = _Budget(seconds, runs, 1 if seed is None and jobs == 1 else seed, jobs)
    command = [sys.executable, str(script), *_libfuzzer_args(target, budget, findings=findings, work=work)]
    if coverage:
        from s2n_bridge.coverage import LIBFUZZER_FLAGS  # noqa: PLC0415

        command += LIBFUZZER_FLAGS
    stats = FuzzStats(target, jobs=jobs)
    before = store.signatures()
    with (findings / f"{target}.log").open("a", encoding="utf-8") as log:
        child = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                 env=env, errors="replace")  # fmt: skip
        try:
            _watch(child, _Watch(stats, log, quiet, observe))
        finally:
            code = child.wait()
    stats.stored = _new_in_store(before, store.signatures())
    if stats.fork_ended:
        code = 1 if stats.failed_jobs else 0
    return stats, code


def _fuzz(args: argparse.Namespace) -> int:
    findings = Path(args.findings)
    corpus = Path(args.corpus) if args.corpus else None
    stats, code = run_fuzz(args.target, seconds=args.seconds, runs=args.runs, seed=args.seed, jobs=args.jobs,
                           coverage=args.coverage, corpus=corpus, findings=findings, quiet=args.json)  # fmt: skip
    if args.json:
        print(json.dumps(stats.as_json()))
    else:
        print(stats.line())
        print(stats.summary())
    if code != 0:
        failed = f": {stats.failed_jobs} jobs failed, inputs in {findings}/artifacts-*" if stats.failed_jobs else ""
        log = findings / (args.target + ".log")
        print(f"tlsdiff fuzz: {args.target} exited with {code}{failed} (see {log}){_last_line(log)}", file=sys.stderr)
        return 1
    return 0


def _last_line(log: Path) -> str:
    """The log's last line, after a colon (a target that refuses to start says why there), or nothing."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1].strip()}" if lines else ""


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
    targets = known_targets()
    if args.list:
        print("\n".join(targets))
        return 0
    if args.target is None:
        raise ValueError("name a target (tlsdiff fuzz --list shows them)")
    if args.target not in targets:
        raise ValueError(f"unknown target {args.target!r} (known: {', '.join(targets)})")
    if args.corpus and not Path(args.corpus).is_dir():
        raise OSError(f"corpus directory {args.corpus} does not exist")
    if args.coverage and args.replay:
        raise ValueError("--coverage is for fuzzing; --replay runs in this process, on the plain build")
    return _replay(args) if args.replay else _fuzz(args)


def _cmd_corpus(args: argparse.Namespace) -> int:
    from tlsdiff.corpus import generate, merge, minimize  # noqa: PLC0415

    if args.action == "generate":
        counts = generate(Path(args.out))
        for name, count in sorted(counts.items()):
            print(f"{name}: {count} seeds")
        return 0
    if args.target not in known_targets():
        raise ValueError(f"unknown target {args.target!r}")
    script, env = fuzz_targets_dir() / f"{args.target}.py", _child_env(Path(args.findings), args.coverage)
    into = Path(args.into) if args.into else None
    if args.action == "merge":
        if not args.dirs:
            raise ValueError("corpus merge: name the directories to merge in")
        before, after = merge(args.target, [Path(d) for d in args.dirs], script, into, env=env)
        print(f"{args.target}: corpus {before} -> {after} inputs")
        return 0
    if len(args.dirs) > 1:
        raise ValueError("corpus minimize: one directory at most (default corpus/TARGET)")
    folder = Path(args.dirs[0]) if args.dirs else project_root() / "corpus" / args.target
    result = minimize(script, folder, env=env, into=into)
    written = f"{into}: " if into else ""
    print(f"{args.target}: {folder} {result.before} -> {written}{result.after} inputs ({result.how})")
    return 0


def add_commands(commands: Any, seed_type: Any) -> None:
    """Add ``fuzz`` and ``corpus`` to the ``tlsdiff`` parser."""
    fuzz = commands.add_parser("fuzz", help="run a fuzz target (live progress), list targets, or replay inputs")
    fuzz.add_argument("target", nargs="?", help="target name (see --list)")
    fuzz.add_argument("--list", action="store_true", help="print one target name per line")
    fuzz.add_argument("--seconds", type=int, help="stop after this many seconds")
    fuzz.add_argument("--runs", type=int, help="stop after this many executions (with --jobs: summed, per job end)")
    fuzz.add_argument("--jobs", type=int, default=1, help="workers at once: libFuzzer's -fork=N (default 1)")
    coverage_help = "on s2n's coverage build (tlsdiff build --coverage): libFuzzer counts s2n's C edges, under ASan"
    fuzz.add_argument("--coverage", action="store_true", help=coverage_help)
    fuzz.add_argument("--seed", type=seed_type, help="libFuzzer's -seed, default 1 (reproducible; not with --jobs)")
    fuzz.add_argument("--corpus", help="work corpus directory (new inputs go there)")
    fuzz.add_argument("--findings", default="findings", help="findings directory (default: findings)")
    fuzz.add_argument("--replay", nargs="+", metavar="FILE", help="run these inputs once and print their signatures")
    fuzz.add_argument("--save", action="store_true", help="with --replay: save findings too")
    fuzz.add_argument("--json", action="store_true", help="print the final stats (or replay results) as JSON")
    fuzz.set_defaults(run=_cmd_fuzz)
    corpus = commands.add_parser("corpus", help="generate the seed corpora, merge inputs into one, or minimize one")
    corpus.add_argument("action", choices=("generate", "merge", "minimize"))
    corpus.add_argument("target", nargs="?", help="merge, minimize: the target whose script measures coverage")
    corpus.add_argument("dirs", nargs="*", help="merge: directories to merge in; minimize: the folder (corpus/TARGET)")
    corpus.add_argument("--out", default=str(project_root() / "corpus"), help="generate: where the folders go")
    corpus.add_argument(
        "--into",
        help="merge: the corpus to merge into (default corpus/TARGET); "
        "minimize: write the covering set there (new or empty) instead of replacing the folder",
    )
    corpus.add_argument("--findings", default="findings", help="merge, minimize: where findings met on the way go")
    corpus.add_argument("--coverage", action="store_true", help="merge, minimize: measure on s2n's coverage build")
    corpus.set_defaults(run=_cmd_corpus)
