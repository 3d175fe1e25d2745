"""The cross-build differential ``cross_build_diff``: s2n on OpenSSL 3.0 against s2n on aws-lc.

The same s2n-tls source, built against two libcryptos, gets the same scenario: each
build in its own worker process (``tlsdiff.cross_pool``), each against its own mutating
engine peer seeded alike (``tlsdiff.cross_worker``). The traces are compared step by
step (``tlsdiff.cross_oracle``): every difference is a libcrypto-dependent behaviour of
s2n, reported as a finding of the usual format with a ``crossbuild/TIER/...`` signature.

The lane: the handshake only, either role, every mutation stage, the peer always the
engine (an s2n peer would be of the worker's build, and change with it); the target's
policy is one of ``SHARED_POLICIES``, those whose ClientHello is the same on both
libcryptos: the post-quantum policies (ML-KEM needs aws-lc) and RC4's are left out, a
known difference and not a finding.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from engine.policies import AWS_LC, OPENSSL_3, TLS13_POLICY_NAMES, client_hello_offer, policy
from s2n_bridge._profile import PROFILES as BUILD_PROFILES
from tlsdiff.cross_oracle import Comparison, CrossDivergence, compare_traces
from tlsdiff.cross_pool import PROFILES, CrossBuildUnavailableError, WorkerDeath, WorkerPool
from tlsdiff.cross_protocol import Step, Trace, decode_trace
from tlsdiff.cross_worker import TARGET_NAME, converse
from tlsdiff.decode import decode_conversation, describe_record
from tlsdiff.findings import Finding, LazyLines
from tlsdiff.fuzz_scenario import Peer, Scenario, Stage
from tlsdiff.locate import side_by_side_lines
from tlsdiff.oracle import divergence_error_class
from tlsdiff.peer import FLIGHT_MODULUS
from tlsdiff.scenario_mutator import ScenarioMutator
from tlsdiff.targets import crash_finding, outcome_summary

__all__ = ["SHARED_POLICIES", "CrossBuildTarget", "cross_lane"]

SHARED_POLICIES = tuple(
    name
    for name in TLS13_POLICY_NAMES
    if client_hello_offer(policy(name), OPENSSL_3) == client_hello_offer(policy(name), AWS_LC)
)
"""The TLS 1.3 policies whose offer is the same on OpenSSL 3.0 and aws-lc, in ``TLS13_POLICY_NAMES`` order."""


def _shared(name: str) -> str:
    """``name`` itself if both libcryptos offer it alike, else a shared policy picked by its index."""
    if name in SHARED_POLICIES:
        return name
    return SHARED_POLICIES[TLS13_POLICY_NAMES.index(name) % len(SHARED_POLICIES)]


def cross_lane(scenario: Scenario) -> Scenario:
    """``scenario`` in this target's lane: a shared policy, the engine peer, the whole handshake, nothing after."""
    return replace(scenario, policy=_shared(scenario.policy), peer=Peer.ENGINE, chunk=0, events=())


def _finding(
    signature: str, summary: dict[str, Any], lines: Sequence[str], scenario: Scenario, **extra: Any
) -> Finding:
    identifier = divergence_error_class(signature).__name__
    return Finding(TARGET_NAME, signature, identifier, summary, lines, scenario.to_json(), **extra)


def _death_finding(scenario: Scenario, death: WorkerDeath) -> Finding:
    role = scenario.role.value
    signature = f"crash/crossbuild/{role}/{death.profile}-worker/{death.how}"
    seen = "gave no answer in time and was killed" if death.how == "timeout" else "died on this input twice"
    lines = [f"the worker running s2n on {BUILD_PROFILES[death.profile].libcrypto} {seen} ({death.how});",
             "its stderr (a native stack, if any) is in the run's log beside the findings"]  # fmt: skip
    summary = {"tier": "crash", "role": role, "build": death.profile, "how": death.how}
    return _finding(signature, summary, lines, scenario)


def _crash_finding(scenario: Scenario, crashed: Sequence[Trace]) -> Finding:
    crash = crashed[0].crash
    if crash is None:
        raise ValueError("a crash finding needs a trace with a crash")
    summary = {**crash.summary, "builds": [trace.profile for trace in crashed]}
    return _finding(crash.signature, summary, crash.lines, scenario)


def _step_summary(step: Step | None) -> dict[str, object] | None:
    if step is None:
        return None
    return {"step": step.name, **outcome_summary(step.outcome), "group": step.group, "cipher": step.cipher}


def _cell(trace: Trace, index: int) -> str:
    if index >= len(trace.steps):
        return "-"
    step = trace.steps[index]
    outcome = step.outcome
    return f"{outcome.status.value} {outcome.error} at {outcome.last_message} ({step.group})"


def _step_lines(traces: Sequence[Trace]) -> list[str]:
    """Each step's outcome in both builds, side by side."""
    left, right = traces
    lines = [f"{'step':<10} {left.profile:<52} | {right.profile}"]
    for index in range(max(len(left.steps), len(right.steps))):
        name = next(trace.steps[index].name for trace in traces if index < len(trace.steps))
        lines.append(f"{name:<10} {_cell(left, index):<52} | {_cell(right, index)}")
    return lines


def _diff_lines(divergence: CrossDivergence, traces: Sequence[Trace], comparison: Comparison) -> list[str]:
    compared = comparison.drawn_apart_at
    lines = [divergence.signature, *divergence.detail,
             "no key share drew apart: bytes compared at every step to here" if compared is None else
             f"bytes compared until {compared}: there the builds' key shares drew apart (docs/fuzzing.md)",
             "", *_step_lines(traces)]  # fmt: skip
    if divergence.difference is not None:
        legend = f"left ('engine') is s2n on {traces[0].profile}, right ('s2n') is s2n on {traces[1].profile}"
        lines += ["", legend, *side_by_side_lines(divergence.difference)]
    for trace in traces:
        records = decode_conversation(trace.transfers, trace.key_log)
        lines += ["", f"conversation with s2n on {trace.profile}:", *map(describe_record, records)]
    return lines


def _divergence_finding(scenario: Scenario, traces: Sequence[Trace], comparison: Comparison) -> Finding:
    divergence = comparison.divergence
    if divergence is None:
        raise ValueError("a divergence finding needs a divergence")
    summary = {
        "tier": divergence.tier.value, "role": divergence.role.value, "step": divergence.step,
        "message": divergence.message, "field_path": divergence.field_path,
        "steps": {trace.profile: [step.name for step in trace.steps] for trace in traces},
        "bytes_compared_until": comparison.drawn_apart_at or "every step",
        traces[0].profile: _step_summary(divergence.left), traces[1].profile: _step_summary(divergence.right),
        "compat": {"peer": scenario.peer_compat}, "peer": scenario.peer.value,
    }  # fmt: skip
    transfers = {f"peer<->s2n on {trace.profile}": trace.transfers for trace in traces}
    key_log = list(dict.fromkeys(line for trace in traces for line in trace.key_log))
    lines = LazyLines(lambda: _diff_lines(divergence, traces, comparison))
    return _finding(divergence.signature, summary, lines, scenario, transfers=transfers, key_log=key_log)


class CrossBuildTarget:
    """The ``cross_build_diff`` target; its workers start on first use and live as long as the process."""

    name = TARGET_NAME
    description = "s2n on OpenSSL 3.0 vs s2n on aws-lc, each against its own engine peer: verdicts, alerts, bytes"

    def __init__(self, pool: WorkerPool | None = None) -> None:
        self._pool = pool

    @property
    def pool(self) -> WorkerPool:
        """The workers (made on first use)."""
        if self._pool is None:
            self._pool = WorkerPool(PROFILES)
            atexit.register(self._pool.close)
        return self._pool

    @property
    def mutator(self) -> ScenarioMutator:
        """The scenario mutator. A fuzz run asks for it before its first input, so the workers start here:
        a missing build ends the run at once with one line (``SystemExit``), not with a crash of every input."""
        try:
            self.pool.start()
        except CrossBuildUnavailableError as error:
            raise SystemExit(f"{self.name}: {error}") from None
        return ScenarioMutator(cross_lane, stages=tuple(Stage), events=False)

    def scenario(self, data: bytes) -> Scenario:
        """The scenario ``data`` stands for in this target's lane."""
        return cross_lane(Scenario.decode(data))

    def traces(self, scenario: Scenario) -> list[Trace | WorkerDeath]:
        """Both builds' traces of ``scenario`` (or how a worker died), in ``PROFILES`` order.

        While the workers run it, this process runs it too, with the engine as the target: the
        workers' code is not instrumented, and the engine's edges (it parses what s2n parses,
        the way s2n does) are what libFuzzer steers by, as in the other targets. An exception
        out of the engine propagates (``check`` makes it a crash finding).
        """
        pending = self.pool.run_async(scenario.encode())
        try:
            converse(scenario, "engine", implementation="engine")
        finally:
            answers = pending()
        return [answer if isinstance(answer, WorkerDeath) else decode_trace(answer) for answer in answers.values()]

    def check(self, data: bytes) -> Finding | None:
        """Run one input on both s2n builds; the finding if they part, else None."""
        scenario = self.scenario(data)
        try:
            answers = self.traces(scenario)
        except CrossBuildUnavailableError:
            raise
        except Exception as error:  # (anything but a TLSError out of the engine is a finding)
            return crash_finding(self.name, scenario.role.value, error, scenario)
        traces = [answer for answer in answers if isinstance(answer, Trace)]
        deaths = [answer for answer in answers if isinstance(answer, WorkerDeath)]
        if deaths:
            return _death_finding(scenario, deaths[0])
        crashed = [trace for trace in traces if trace.crash is not None]
        if crashed:
            return _crash_finding(scenario, crashed)
        left, right = traces
        comparison = compare_traces(left, right, frozenset(m.flight % FLIGHT_MODULUS for m in scenario.mutations))
        return None if comparison.divergence is None else _divergence_finding(scenario, traces, comparison)
