"""A worker of the cross-build target: one s2n build in one process (``python -m tlsdiff.cross_worker``).

``TLSDIFF_S2N_PROFILE`` picks the build, as for any process using ``s2n_bridge``. The
worker says hello (``tlsdiff.cross_protocol``), then answers each scenario it reads on
stdin with the ``Trace`` of one conversation: the scenario's s2n target, on this build,
against its own mutating engine peer, seeded as the lockstep driver seeds them. Each
build gets its own peer because the builds need not write the same bytes (an ECDHE key
share drawn from the same seed differs between OpenSSL and aws-lc: docs/fuzzing.md),
and a peer can only answer the flight it read.

The conversation is the handshake, stepped and named as ``tlsdiff.lockstep`` steps it:
``start`` (a client target's ClientHello), then ``flight0``, ``flight1``... (the peer's
flights), until the target ends or nobody has more to say. The worker exits at the end
of its stdin, so it never outlives the target process.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from s2n_bridge._native import BridgeNotBuiltError, native, profile
from tlsdiff.cross_protocol import CrashReport, Step, Trace, encode_trace, read_frame, write_frame
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.harness import Endpoint, Outcome, Role, Setup, endpoint_info, open_endpoint
from tlsdiff.peer import MutatingPeer

__all__ = ["TARGET_NAME", "converse", "main"]

TARGET_NAME = "cross_build_diff"
_MAX_FLIGHTS = 12  # a TLS 1.3 handshake takes at most 4 flights each way; more means a loop


def _setups(scenario: Scenario) -> tuple[Setup, Setup]:
    """The target's and the peer's setups (s2n has no compatibility switches: the target's compat is moot)."""
    target = Setup(scenario.role, scenario.policy, scenario.cert_type, scenario.seed, trust=scenario.trust)
    peer_role = Role.CLIENT if scenario.role is Role.SERVER else Role.SERVER
    peer = Setup(peer_role, scenario.peer_policy or scenario.policy, scenario.cert_type, scenario.seed,
                 compat=scenario.peer_compat)  # fmt: skip
    return target, peer


class _Conversation:
    """The target and its peer, the steps so far."""

    def __init__(self, target: Endpoint, peer: Endpoint) -> None:
        self.target = target
        self.peer = peer
        self.steps: list[Step] = []

    def _record(self, name: str, received: bytes, outcome: Outcome) -> Outcome:
        info = endpoint_info(self.target)
        self.steps.append(Step(name, received, outcome, info.group, info.cipher))
        return outcome

    def _answer(self, outcome: Outcome) -> bytes:
        """The peer's next flight, having read the target's output (nothing if the target said nothing)."""
        return self.peer.deliver(outcome.output).output if outcome.output else b""

    def run(self, role: Role) -> None:
        if role is Role.CLIENT:
            started = self._record("start", b"", self.target.start())
            if started.ended:
                return
            wire = self._answer(started)
        else:
            wire = self.peer.start().output
        for flight in range(_MAX_FLIGHTS):
            if not wire:
                return
            outcome = self._record(f"flight{flight}", wire, self.target.deliver(wire))
            if outcome.ended:
                return
            wire = self._answer(outcome)


def converse(scenario: Scenario, build: str, implementation: str = "s2n") -> Trace:
    """The trace of ``scenario``'s handshake between a target and a mutating engine peer: by default this
    process's s2n build (``build`` names it); ``implementation="engine"`` puts the engine in its place."""
    target_setup, peer_setup = _setups(scenario)
    peer = MutatingPeer(peer_setup, scenario.mutations)
    with open_endpoint(target_setup, implementation) as target:
        conversation = _Conversation(target, peer.endpoint)
        conversation.run(scenario.role)
    key_log = tuple(dict.fromkeys([*target.key_log, *peer.endpoint.key_log]))
    return Trace(build, scenario.role, tuple(conversation.steps), key_log)


def _trace(request: bytes, build: str) -> Trace:
    from tlsdiff.targets import crash_finding  # noqa: PLC0415  (targets builds the target that starts workers)

    scenario = Scenario.decode(request)
    try:
        return converse(scenario, build)
    except Exception as error:  # (anything but a TLSError out of the peer or the harness is a crash finding)
        finding = crash_finding(TARGET_NAME, scenario.role.value, error, scenario)
        crash = CrashReport(finding.signature, finding.summary, tuple(finding.diff_lines))
        return Trace(build, scenario.role, (), crash=crash)


def main() -> int:
    """Say hello, then answer scenarios until stdin ends."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Whatever else writes to stdout (a library's stray print) must not land among the frames.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        selected = profile()
        native()
    except (BridgeNotBuiltError, ValueError, RuntimeError) as error:
        write_frame(protocol, json.dumps({"error": str(error)}).encode())
        return 2
    # Ctrl-C reaches the whole process group: the target process decides, and the end of stdin ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        write_frame(protocol, json.dumps({"profile": selected.name, "libcrypto": selected.libcrypto}).encode())
        while (request := read_frame(sys.stdin.buffer)) is not None:
            write_frame(protocol, encode_trace(_trace(request, selected.name)))
    except BrokenPipeError:
        pass  # the target process is gone: nobody is left to answer
    return 0


if __name__ == "__main__":
    sys.exit(main())
