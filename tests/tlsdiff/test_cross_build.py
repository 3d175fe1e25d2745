"""The cross-build target (tlsdiff.target_cross): s2n on OpenSSL 3.0 against s2n on aws-lc, in two workers.

Both builds must be built (``tlsdiff build --profile openssl`` and ``--profile aws-lc``): CI builds both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from s2n_bridge._profile import cache_root
from tlsdiff import fuzzing
from tlsdiff.cross_oracle import compare_traces
from tlsdiff.cross_pool import WorkerDeath, WorkerPool
from tlsdiff.cross_protocol import Trace, decode_trace, encode_trace
from tlsdiff.findings import Finding, FindingStore
from tlsdiff.fuzz_scenario import Mutation, Peer, Scenario, Stage
from tlsdiff.harness import Role, Status
from tlsdiff.target_cross import SHARED_POLICIES, CrossBuildTarget, cross_lane
from tlsdiff.targets import TARGETS

# One CI pass (the OpenSSL one): the engine's draws are the OpenSSL build's, and both builds are there.
pytestmark = pytest.mark.openssl_engine

_SEEDS = Path(__file__).resolve().parents[2] / "corpus" / "cross_build_diff"
_REGRESSION = _SEEDS.parent / "regression" / "cross_build_diff"
_X25519 = Scenario(policy="20241106", seed=11)  # x25519 first: both builds draw alike
_P256 = Scenario(policy="default_tls13", seed=11)  # P-256 first: the builds' key shares differ
_TLSDIFF = [sys.executable, "-m", "tlsdiff.cli"]
_FAKE_WORKER = """
import json, os, runpy, signal, sys, time
from tlsdiff.cross_protocol import read_frame, write_frame

mode, victim, marker = sys.argv[1:4]
profile = os.environ["TLSDIFF_S2N_PROFILE"]
if profile != victim or (mode in ("once", "deaf") and os.path.exists(marker)):
    sys.argv = sys.argv[:1]
    runpy.run_module("tlsdiff.cross_worker", run_name="__main__")
write_frame(sys.stdout.buffer, json.dumps({"profile": profile, "libcrypto": "fake"}).encode())
if mode == "deaf":  # alive, but its stdin closed: the next write to it fails with EPIPE
    open(marker, "w").close()
    os.close(0)
    time.sleep(2)
    sys.exit(0)
while read_frame(sys.stdin.buffer) is not None:
    open(marker, "w").close()
    if mode == "hang":
        time.sleep(3600)
    os.kill(os.getpid(), signal.SIGSEGV)
"""


@pytest.fixture(scope="module")
def target() -> Iterator[CrossBuildTarget]:
    made = CrossBuildTarget(WorkerPool())
    yield made
    made.pool.close()


def _traces(target: CrossBuildTarget, scenario: Scenario) -> tuple[Trace, Trace]:
    left, right = target.traces(cross_lane(scenario))
    assert isinstance(left, Trace) and isinstance(right, Trace)
    return left, right


def _fake_pool(tmp_path: Path, mode: str, victim: str, timeout: float = 20.0) -> WorkerPool:
    script = tmp_path / "fake_worker.py"
    script.write_text(_FAKE_WORKER)
    return WorkerPool(command=(sys.executable, str(script), mode, victim, str(tmp_path / "seen")), timeout=timeout)


def _checked_with_fake(tmp_path: Path, mode: str, victim: str, timeout: float = 20.0) -> Finding | None:
    """The x25519 scenario checked on a pool whose ``victim`` worker is the fake one in ``mode``."""
    pool = _fake_pool(tmp_path, mode, victim, timeout)
    try:
        return CrossBuildTarget(pool).check(_X25519.encode())
    finally:
        pool.close()


# ---- the builds agree ----


def test_the_two_builds_agree_on_every_seed(target: CrossBuildTarget) -> None:
    seeds = sorted(_SEEDS.iterdir())
    assert len(seeds) >= 10
    roles = set()
    for path in seeds:
        data = path.read_bytes()
        roles.add(target.scenario(data).role)
        finding = target.check(data)
        assert finding is None, (path.name, finding.signature if finding else None)
    assert roles == {Role.SERVER, Role.CLIENT}


@pytest.mark.parametrize("role", list(Role))
def test_x25519_conversations_are_byte_identical(target: CrossBuildTarget, role: Role) -> None:
    left, right = _traces(target, replace(_X25519, role=role))
    assert left.profile == "openssl" and right.profile == "aws-lc"
    assert left.steps[-1].outcome.status is Status.COMPLETE and left.steps[-1].group == "x25519"
    assert left.transfers == right.transfers
    assert compare_traces(left, right).drawn_apart_at is None


@pytest.mark.parametrize(("role", "step"), [(Role.SERVER, "flight0"), (Role.CLIENT, "start")])
def test_p256_key_shares_draw_apart_and_the_rest_is_compared_by_content(
    target: CrossBuildTarget, role: Role, step: str
) -> None:
    left, right = _traces(target, replace(_P256, role=role))
    assert left.transfers != right.transfers
    comparison = compare_traces(left, right)
    assert comparison.divergence is None
    assert comparison.drawn_apart_at == step


def test_the_lane_keeps_policies_both_builds_offer_alike() -> None:
    assert "default_tls13" in SHARED_POLICIES and "20241106" in SHARED_POLICIES
    assert "default_pq" not in SHARED_POLICIES  # ML-KEM: aws-lc only
    lane = cross_lane(Scenario(policy="default_pq", peer=Peer.S2N, chunk=3))
    assert lane.policy in SHARED_POLICIES and lane.peer is Peer.ENGINE and lane.chunk == 0


def test_a_hybrid_form_key_share_is_told_apart_both_ways(target: CrossBuildTarget) -> None:
    """The pinned libcrypto difference: s2n on OpenSSL 3.0 takes a P-256 point in X9.62 hybrid form, on aws-lc not."""
    pins = sorted(_REGRESSION.glob("s2n-openssl-accepts-hybrid-point-*.json"))
    assert len(pins) == 2
    for pin in pins:
        finding = target.check(pin.with_suffix(".bin").read_bytes())
        assert finding is not None
        assert finding.signature == json.loads(pin.read_text())["signature"]
        assert finding.summary["openssl"]["status"] in ("complete", "waiting")  # OpenSSL's build goes on
        assert finding.summary["openssl"]["error"] == ""


# ---- the oracle can tell them apart ----


def _with_last_step(trace: Trace, status: Status, error: str, last_message: str | None = None) -> Trace:
    last = trace.steps[-1]
    outcome = replace(last.outcome, status=status, error=error, last_message=last_message or last.outcome.last_message)
    return replace(trace, steps=(*trace.steps[:-1], replace(last, outcome=outcome)))


def _with_output(trace: Trace, index: int, output: bytes) -> Trace:
    step = trace.steps[index]
    steps = list(trace.steps)
    steps[index] = replace(step, outcome=replace(step.outcome, output=output))
    return replace(trace, steps=tuple(steps))


def test_a_verdict_difference_is_found(target: CrossBuildTarget) -> None:
    left, right = _traces(target, _X25519)
    failed = _with_last_step(right, Status.FAILED, "S2N_ERR_BAD_MESSAGE", "CLIENT_FINISHED")
    divergence = compare_traces(left, failed).divergence
    assert divergence is not None
    assert divergence.signature == (
        "crossbuild/verdict/server/flight1/CLIENT_FINISHED/openssl=complete|aws-lc=S2N_ERR_BAD_MESSAGE"
    )


def test_a_byte_difference_is_named_by_its_field_while_the_builds_draw_alike(target: CrossBuildTarget) -> None:
    left, right = _traces(target, _X25519)
    output = bytearray(right.steps[0].outcome.output)
    output[5 + 4 + 2] ^= 1  # record header, handshake header, legacy_version: the first byte of the random
    divergence = compare_traces(left, _with_output(right, 0, bytes(output))).divergence
    assert divergence is not None
    assert divergence.signature == "crossbuild/bytes/server/flight0/ServerHello/ServerHello.random"


def test_once_drawn_apart_a_missing_record_is_still_found(target: CrossBuildTarget) -> None:
    left, right = _traces(target, _P256)
    records = right.steps[0].outcome.output
    last = records.rfind(b"\x17\x03\x03")  # the server's Finished, the last record of its flight
    divergence = compare_traces(left, _with_output(right, 0, records[:last])).divergence
    assert divergence is not None
    assert divergence.signature.startswith("crossbuild/bytes/server/flight0/records/")


def test_the_same_verdict_with_another_error_is_an_alert_difference(target: CrossBuildTarget) -> None:
    left, right = _traces(target, _X25519)
    ours = _with_last_step(left, Status.FAILED, "S2N_ERR_BAD_MESSAGE")
    theirs = _with_last_step(right, Status.FAILED, "S2N_ERR_DECODE_CERTIFICATE")
    divergence = compare_traces(ours, theirs).divergence
    assert divergence is not None
    assert divergence.signature.endswith("/error:S2N_ERR_BAD_MESSAGE|S2N_ERR_DECODE_CERTIFICATE")


def test_a_conversation_with_a_step_more_is_a_verdict(target: CrossBuildTarget) -> None:
    left, right = _traces(target, _X25519)
    divergence = compare_traces(left, replace(right, steps=right.steps[:1])).divergence
    assert divergence is not None
    assert divergence.signature == "crossbuild/verdict/server/flight1/conversation/openssl=2 steps|aws-lc=1 steps"


def test_traces_survive_the_pipe_encoding(target: CrossBuildTarget) -> None:
    for trace in _traces(target, replace(_P256, role=Role.CLIENT)):
        assert decode_trace(encode_trace(trace)) == trace


# ---- workers that die ----


def test_a_worker_that_crashes_on_an_input_is_a_crash_finding(tmp_path: Path) -> None:
    finding = _checked_with_fake(tmp_path, "segv", "aws-lc")
    assert finding is not None
    assert finding.signature == "crash/crossbuild/server/aws-lc-worker/SIGSEGV"
    assert finding.identifier.startswith("Crash_")


def test_a_worker_that_hangs_is_killed_and_reported(tmp_path: Path) -> None:
    finding = _checked_with_fake(tmp_path, "hang", "openssl", timeout=2.0)
    assert finding is not None
    assert finding.signature == "crash/crossbuild/server/openssl-worker/timeout"


def test_a_worker_that_dies_once_is_restarted_and_the_input_retried(tmp_path: Path) -> None:
    assert _checked_with_fake(tmp_path, "once", "aws-lc") is None
    assert (tmp_path / "seen").exists()  # the first worker did get the input, and died on it


def test_a_worker_whose_pipe_broke_before_the_input_is_restarted_without_a_finding(tmp_path: Path) -> None:
    """The race a SIGKILL between inputs can lose: the worker looks alive, but its stdin is gone."""
    assert _checked_with_fake(tmp_path, "deaf", "aws-lc") is None
    assert (tmp_path / "seen").exists()  # the deaf worker did run first


def test_a_worker_killed_between_inputs_is_restarted_without_a_finding(target: CrossBuildTarget) -> None:
    assert target.check(_X25519.encode()) is None
    worker = target.pool.workers["aws-lc"]
    before = worker.pid
    assert before is not None
    os.kill(before, signal.SIGKILL)
    assert target.check(_X25519.encode()) is None
    assert worker.pid not in (None, before)


def test_a_worker_killed_while_it_runs_an_input_is_retried(target: CrossBuildTarget) -> None:
    pending = target.pool.run_async(cross_lane(_X25519).encode())
    pid = target.pool.workers["openssl"].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    answers = pending()
    assert not any(isinstance(answer, WorkerDeath) for answer in answers.values())


# ---- replay and the command line ----


def test_replay_of_seeds_agrees() -> None:
    seeds = sorted(str(path) for path in _SEEDS.iterdir())[:3]
    done = subprocess.run([*_TLSDIFF, "fuzz", "cross_build_diff", "--replay", *seeds, "--json"], capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [result["signature"] for result in json.loads(done.stdout)] == [None] * len(seeds)


def test_replay_reproduces_a_saved_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _fake_pool(tmp_path, "segv", "openssl")
    monkeypatch.setitem(TARGETS, "cross_build_diff", CrossBuildTarget(pool))
    data = Scenario(seed=5, mutations=(Mutation(Stage.MESSAGE, 0, 0, 1, 3, 1),)).encode()
    try:
        finding = TARGETS["cross_build_diff"].check(data)
        assert finding is not None
        directory = FindingStore(tmp_path / "findings").save(finding, data)
        replayed = fuzzing.replay("cross_build_diff", [directory / "input.bin"])
    finally:
        pool.close()
    assert replayed == [(directory / "input.bin", "crash/crossbuild/server/openssl-worker/SIGSEGV")]
    document = json.loads((directory / "finding.json").read_text())
    assert document["reproduce"] == f"tlsdiff fuzz cross_build_diff --replay {directory / 'input.bin'}"
    assert document["build"] == "openssl"


def _cache_without_aws_lc(tmp_path: Path) -> dict[str, str]:
    cache = tmp_path / "cache" / cache_root().name
    cache.mkdir(parents=True)
    (cache / "openssl").symlink_to(cache_root() / "openssl")
    return dict(os.environ, TLSDIFF_CACHE=str(tmp_path / "cache"))


def test_a_missing_aws_lc_build_is_one_clear_line_on_replay(tmp_path: Path) -> None:
    seed = sorted(_SEEDS.iterdir())[0]
    done = subprocess.run([*_TLSDIFF, "fuzz", "cross_build_diff", "--replay", str(seed)], capture_output=True,
                          text=True, timeout=600, env=_cache_without_aws_lc(tmp_path), check=False)  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "aws-lc" in line and "tlsdiff build --profile aws-lc" in line


def test_a_missing_aws_lc_build_stops_a_fuzz_run_with_one_line(tmp_path: Path) -> None:
    findings, corpus = tmp_path / "findings", tmp_path / "corpus"
    corpus.mkdir()
    done = subprocess.run([*_TLSDIFF, "fuzz", "cross_build_diff", "--runs", "5", "--findings", str(findings),
                           "--corpus", str(corpus)], capture_output=True, text=True, timeout=600,
                          env=_cache_without_aws_lc(tmp_path), check=False)  # fmt: skip
    assert done.returncode != 0
    log = (findings / "cross_build_diff.log").read_text().strip().splitlines()
    assert "tlsdiff build --profile aws-lc" in log[-1]
    assert not list(findings.glob("artifacts-*")) and not list(findings.glob("*/finding.json"))


def test_a_tls12_key_exchange_after_a_stray_byte_still_draws_apart(target: CrossBuildTarget) -> None:
    # S2N-1 on both builds: a one-byte record in place of the TLS 1.2 ServerHello; the ServerKeyExchange
    # after it is P-256, where the builds draw apart, though reassembly cannot say so.
    data = (_REGRESSION / "harness-tls12-key-exchange-after-s2n-1-byte.bin").read_bytes()
    left, right = _traces(target, target.scenario(data))
    assert left.steps[-1].outcome.protocol == "TLSv1.2" and left.steps[-1].group == "secp256r1"
    assert left.transfers != right.transfers
    comparison = compare_traces(left, right)
    assert comparison.divergence is None and comparison.drawn_apart_at == "flight0"
