"""``tlsdiff fuzz --jobs N`` (libFuzzer's -fork): workers' stats add up, findings land once in one directory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tlsdiff.findings import Finding, FindingStore
from tlsdiff.fuzz_cli import FuzzStats, run_fuzz

_TLSDIFF = [sys.executable, "-m", "tlsdiff.cli"]
_PLANTED_SIGNATURES = {f"planted/server/parse/ClientHello/bucket{n}" for n in range(3)}
_CRASH_AFTER = 50

# The real client_hello_parse target, with findings planted in one input in 16 (three signatures,
# so both workers keep meeting the same ones) and one real crash: job 2's 50th input raises.
_PLANTED_SCRIPT = f"""#!/usr/bin/env python3
import hashlib
import re
import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

from tlsdiff.findings import Finding
from tlsdiff.targets import TARGETS

REAL = TARGETS["client_hello_parse"]
JOB = next((match[1] for arg in sys.argv if (match := re.search(r"/C(\\d+)$", arg))), None)


class Planted:
    name, description, mutator = REAL.name, REAL.description, REAL.mutator
    calls = 0

    def check(self, data):
        self.calls += 1
        if JOB == "2" and self.calls == {_CRASH_AFTER}:
            raise RuntimeError("planted crash")
        digest = hashlib.sha256(data).digest()
        if digest[0] < 16:
            bucket = digest[1] % 3
            return Finding(REAL.name, f"planted/server/parse/ClientHello/bucket{{bucket}}", f"Planted_{{bucket}}", {{}})
        return REAL.check(data)


TARGETS["client_hello_parse"] = Planted()
run_target("client_hello_parse", sys.argv)
"""

# Lines as atheris's libFuzzer prints them: the -fork parent's, then a worker's.
_PARENT_LINES = (
    "INFO: -fork=2: 7 seed inputs, starting to fuzz in /tmp/libFuzzerTemp.FuzzWithFork6222.dir\n",
    "#1092: cov: 88 ft: 64 corp: 10 exec/s 521 oom/timeout/crash: 0/0/1 time: 9s job: 1 dft_time: 0\n",
    "#5628: cov: 90 ft: 83 corp: 17 exec/s 1134 oom/timeout/crash: 0/2/1 time: 16s job: 3 dft_time: 0\n",
)
_WORKER_LINES = (
    "#512\tpulse  cov: 22 ft: 52 corp: 15/36Kb lim: 4096 exec/s: 256 rss: 64Mb\n",
    "==tlsdiff== finding bytes/server/parse/ClientHello/ClientHello.cipher_suites /f/Divergence_x\n",
    "stat::number_of_executed_units: 4536\n",
)


def test_fork_status_lines_add_up_the_workers() -> None:
    stats = FuzzStats("client_hello_parse", jobs=2)
    for line in _PARENT_LINES:
        stats.feed(line)
    stats.feed_worker("3", _WORKER_LINES[0])
    assert (stats.execs, stats.live_rate) == (5628, 256)  # the parent's merged count leads while job 3 runs
    stats.feed_worker("4", _WORKER_LINES[0])
    for line in _WORKER_LINES[1:]:
        stats.feed_worker("3", line)
    assert (stats.cov, stats.ft, stats.corpus) == (90, 83, 17)
    assert (stats.ooms, stats.timeouts, stats.crashes) == (0, 2, 1)
    assert stats.execs == 5628  # jobs 3 and 4 (5048 so far) under the parent's sum: jobs 1 and 2 not read yet
    stats.feed_worker("1", "stat::number_of_executed_units: 1092\n")
    stats.feed_worker("2", "==6274== ERROR: libFuzzer: fuzz target exited\n")
    stats.feed_worker("2", "stat::number_of_executed_units: 50\n")
    assert stats.execs == 1092 + 50 + 4536 + 512
    assert stats.live_rate == 256  # only job 4 still runs
    assert stats.failed_jobs == 3 and not stats.fork_ended  # the parent's 2 timeouts and 1 crash
    stats.feed_worker("4", "==6275== ERROR: libFuzzer: out-of-memory (used: 4097Mb; exceeds: 4096Mb)\n")
    stats.feed_worker("5", "==6276== ERROR: libFuzzer: deadly signal\n")
    stats.feed("INFO: exiting: 77 time: 20s\n")
    assert stats.failed_jobs == 3 and stats.fork_ended
    stats.feed_worker("6", "==6277== ERROR: libFuzzer: timeout after 31 seconds\n")
    assert stats.failed_jobs == 4  # jobs 2, 4, 5, 6 by their logs (the parent had merged fewer)
    assert stats.findings == {"bytes/server/parse/ClientHello/ClientHello.cipher_suites": 1}


def _planted_run(tmp_path: Path) -> tuple[FuzzStats, int, Path]:
    script = tmp_path / "planted.py"
    script.write_text(_PLANTED_SCRIPT)
    script.chmod(0o755)  # -fork re-runs the script by its shebang
    corpus, findings = tmp_path / "corpus", tmp_path / "findings"
    corpus.mkdir()
    # Job 1 lives 1 s and job 2 dies at its 50th input: 4000 runs need later jobs, however loaded the machine.
    stats, code = run_fuzz("client_hello_parse", jobs=2, runs=4000, seconds=240, corpus=corpus, findings=findings,
                           quiet=True, script=script)  # fmt: skip
    return stats, code, findings


def test_two_workers_add_up_survive_a_crash_and_share_one_findings_directory(tmp_path: Path) -> None:
    stats, code, findings = _planted_run(tmp_path)
    log = (findings / "client_hello_parse.log").read_text()
    assert code == 1, log[-3000:]  # the run's code: a job failed (whichever job libFuzzer merged last)
    # The parent counts a crash after printing the job's line, so its count can lag; the logs' cannot.
    assert stats.failed_jobs == 1 and stats.crashes <= 1 and "[job 2] RuntimeError: planted crash" in log
    assert len(stats.workers) >= 3, "the run went on after job 2 crashed"
    assert stats.workers["2"].execs == _CRASH_AFTER
    assert stats.execs == sum(worker.execs for worker in stats.workers.values()) >= stats.reported_execs
    assert list(findings.glob("artifacts-crash-*")), "the crashing input is kept in the findings directory"
    assert set(stats.findings) == set(stats.stored) == set(FindingStore(findings).signatures()) == _PLANTED_SIGNATURES
    for job in stats.workers:
        if job != "2" and f"[job {job}] ==tlsdiff== finding" in log:
            assert f"[job {job}] stat::number_of_executed_units" in log, f"findings stopped job {job}"
    assert sorted(path.name for path in findings.iterdir() if path.is_dir()) == [f"Planted_{n}" for n in range(3)]
    assert not [path for path in findings.rglob(".*")], "temporary files left behind"
    for directory in findings.glob("Planted_*"):
        more = [path.read_bytes() for path in (directory / "more").iterdir()]
        inputs = [(directory / "input.bin").read_bytes(), *more]
        assert len(inputs) == len(set(inputs)), f"an input written twice in {directory.name}"
        assert json.loads((directory / "finding.json").read_text())["signature"] in _PLANTED_SIGNATURES


def test_two_workers_of_the_real_target_report_summed_stats(tmp_path: Path) -> None:
    command = [*_TLSDIFF, "fuzz", "client_hello_parse", "--jobs", "2", "--seconds", "8", "--json",
               "--findings", str(tmp_path / "findings"), "--corpus", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["jobs"] == 2 and len(stats["workers"]) >= 2 and stats["failed_jobs"] == 0
    assert stats["execs"] == sum(stats["workers"].values()) > 0
    assert stats["cov"] > 20 and stats["ft"] > 20 and stats["corpus"] > 0


def test_a_seed_with_jobs_is_refused_in_one_line() -> None:
    done = subprocess.run([*_TLSDIFF, "fuzz", "client_hello_parse", "--jobs", "2", "--seed", "3"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "--seed needs --jobs 1" in done.stderr and len(done.stderr.strip().splitlines()) == 1


_RACER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tlsdiff.findings import Finding, FindingStore
    store, go, tag = FindingStore(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3]
    while not go.exists():
        pass
    for n in range(int(sys.argv[4])):
        finding = Finding("t", f"race/{n}", f"Race_{n}", {}, diff_lines=("x" * 100,) * 2000)
        store.save(finding, b"shared")
        store.save(finding, b"own " + tag.encode())
""")


def test_two_processes_saving_the_same_signatures_at_once_write_each_input_once(tmp_path: Path) -> None:
    root, go, count = tmp_path / "findings", tmp_path / "go", 30
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(root), str(go), tag, str(count)]) for tag in "AB"]
    go.touch()
    assert [racer.wait(timeout=120) for racer in racers] == [0, 0]
    assert sorted(path.name for path in root.iterdir()) == sorted(f"Race_{n}" for n in range(count))
    for n in range(count):
        directory = root / f"Race_{n}"
        assert (directory / "input.bin").read_bytes() == b"shared"
        assert sorted(path.read_bytes() for path in (directory / "more").iterdir()) == [b"own A", b"own B"]
        assert json.loads((directory / "finding.json").read_text())["signature"] == f"race/{n}"
    assert FindingStore(root).signatures() == {f"race/{n}": 3 for n in range(count)}


def test_a_finding_saved_again_with_its_first_input_adds_nothing(tmp_path: Path) -> None:
    store = FindingStore(tmp_path)
    finding = Finding("t", "race/x", "Race_x", {})
    assert store.save(finding, b"first") == store.save(finding, b"first") == tmp_path / "Race_x"
    assert store.signatures() == {"race/x": 1}
