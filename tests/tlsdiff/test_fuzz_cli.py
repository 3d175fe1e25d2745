"""``tlsdiff fuzz`` from the outside: list, bad input, replay, a short run, findings that survive SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlsdiff.fuzz_scenario import Mutation, Scenario, Stage

pytestmark = pytest.mark.openssl_engine

_TLSDIFF = [sys.executable, "-m", "tlsdiff.cli"]
_TARGETS = {"server_diff", "client_diff", "conversation_diff", "record_diff", "client_hello_parse", "cross_build_diff",
            "cert_chain_diff", "engine_robustness"}  # fmt: skip
# A bit flipped in the client's protected Finished: s2n answers close_notify, the RFC engine bad_record_mac.
_ALERT_INPUT = Scenario(seed=10, mutations=(Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40),)).encode()


def _tlsdiff(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_TLSDIFF, *args], capture_output=True, text=True, timeout=300, env=env, check=False)


def test_list_prints_one_target_per_line() -> None:
    done = _tlsdiff("fuzz", "--list")
    assert done.returncode == 0
    assert set(done.stdout.split()) == _TARGETS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fuzz", "no_such_target"), "unknown target 'no_such_target'"),
        (("fuzz", "server_diff", "--corpus", "/nonexistent/dir"), "does not exist"),
        (("fuzz", "server_diff", "--replay", "/nonexistent/input"), "cannot read"),
    ],
)
def test_bad_input_gets_one_line_and_a_nonzero_exit(args: tuple[str, ...], message: str) -> None:
    done = _tlsdiff(*args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_bad_flag_is_refused() -> None:
    assert _tlsdiff("fuzz", "server_diff", "--runs", "many").returncode == 2


def test_replay_prints_each_inputs_verdict(tmp_path: Path) -> None:
    agreeing, diverging = tmp_path / "agree.bin", tmp_path / "alert.bin"
    agreeing.write_bytes(Scenario(seed=3).encode())
    diverging.write_bytes(_ALERT_INPUT)
    assert _tlsdiff("fuzz", "server_diff", "--replay", str(agreeing)).stdout.strip() == f"{agreeing}: agree"
    env = dict(os.environ, TLSDIFF_TARGET_COMPAT="rfc")
    done = _tlsdiff("fuzz", "server_diff", "--replay", str(diverging), "--json", env=env)
    [result] = json.loads(done.stdout)
    assert result["signature"].startswith("alert/server/flight1/")


def test_a_short_run_reports_execs_and_coverage(tmp_path: Path) -> None:
    done = _tlsdiff("fuzz", "engine_robustness", "--runs", "40", "--seed", "1", "--json",
                    "--findings", str(tmp_path / "findings"), "--corpus", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["execs"] >= 40 and stats["cov"] > 100 and stats["ft"] > 100


def test_a_finding_survives_sigkill_right_after_it_is_reported(tmp_path: Path) -> None:
    corpus, findings = tmp_path / "corpus", tmp_path / "findings"
    corpus.mkdir()
    (corpus / "alert").write_bytes(_ALERT_INPUT)
    env = dict(os.environ, TLSDIFF_TARGET_COMPAT="rfc")
    child = subprocess.Popen([*_TLSDIFF, "fuzz", "server_diff", "--runs", "100000", "--corpus", str(corpus),
                              "--findings", str(findings)], stdout=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)  # fmt: skip
    assert child.stdout is not None
    deadline = time.monotonic() + 240
    reported = ""
    for line in child.stdout:
        if "new finding:" in line:
            reported = line
            break
        if time.monotonic() > deadline:
            break
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert reported, "no finding within the deadline"
    directory = Path(reported.split()[-1])
    document = json.loads((directory / "finding.json").read_text())
    assert document["signature"] in reported
    for name in ("input.bin", "scenario.json", "diff.txt", "conversations.pcapng", "reproduce.sh"):
        assert (directory / name).stat().st_size > 0, name
    assert (directory / "keylog.txt").is_file()  # empty when no side got as far as a secret (a TLS 1.2 answer)
    replayed = _tlsdiff("fuzz", "server_diff", "--replay", str(directory / "input.bin"), env=env)
    assert document["signature"] in replayed.stdout


def test_corpus_merge_keeps_what_adds_coverage(tmp_path: Path) -> None:
    into, source = tmp_path / "into", tmp_path / "source"
    source.mkdir()
    (source / "a").write_bytes(Scenario(seed=1).encode())
    (source / "b").write_bytes(Scenario(seed=1).encode() + b"")  # the same input twice adds nothing
    (source / "c").write_bytes(b"\x01")  # a client under test: other code
    done = _tlsdiff("corpus", "merge", "engine_robustness", str(source), "--into", str(into))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("engine_robustness: corpus 0 -> ")
    assert 1 <= len(list(into.iterdir())) <= 2


def test_corpus_generate_writes_every_target_and_its_dictionary(tmp_path: Path) -> None:
    done = _tlsdiff("corpus", "generate", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for target in _TARGETS:
        assert len(list((tmp_path / target).iterdir())) >= 20, target
        assert (tmp_path / "dicts" / f"{target}.dict").read_text().count("\n") > 100
