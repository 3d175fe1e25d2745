"""The fuzz targets: what each one feeds the engine and s2n, and how it turns a difference into a finding.

Each target has a name (the script under ``fuzz_targets/`` of the same name runs it
under atheris), ``check(data) -> Finding | None`` (total over byte strings: any input
is valid) and an optional custom mutator; its dictionary is ``corpus/dicts/NAME.dict``.

Lockstep targets decode the input to a ``Scenario`` and pin it to their lane with a
``shape`` (server under test, client under test, conversation after the handshake...).
An exception other than ``TLSError`` out of the engine is a crash finding, never
swallowed: its signature names the exception type and the engine frame it came from.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import Protocol

from tlsdiff.decode import describe_record
from tlsdiff.findings import Finding, LazyLines
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Peer, Scenario, Stage
from tlsdiff.harness import COMPAT_MODES, Outcome, Role
from tlsdiff.locate import locate, side_by_side_lines
from tlsdiff.lockstep import RunResult, run_scenario, target_direction
from tlsdiff.oracle import divergence_error_class
from tlsdiff.peer import FLIGHT_MODULUS
from tlsdiff.scenario_mutator import ScenarioMutator

__all__ = ["TARGETS", "LockstepTarget", "Target", "crash_finding", "outcome_summary"]

Mutator = Callable[[bytes, int, int], bytes]


class Target(Protocol):
    """What the runner needs of a target."""

    @property
    def name(self) -> str:
        """The target's name, as ``tlsdiff fuzz --list`` prints it."""

    @property
    def description(self) -> str:
        """One line on what the target compares."""

    @property
    def mutator(self) -> Mutator | None:
        """The structure-aware custom mutator, or None for libFuzzer's own."""

    def check(self, data: bytes) -> Finding | None:
        """Run one input; the finding if it makes one, else None."""


def outcome_summary(outcome: Outcome) -> dict[str, object]:
    """An outcome as finding.json shows it."""
    return {
        "status": outcome.status.value,
        "error": outcome.error,
        "meaning": outcome.meaning,
        "peer_alert": outcome.peer_alert,
        "last_message": outcome.last_message,
        "handshake_type": outcome.handshake_type,
        "output_records": [f"{r[0]}:{len(r)}" for r in outcome.records],
    }


def _innermost_frame(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/engine/" in frame.filename] or frames
    if not ours:
        return "unknown"
    frame = ours[-1]
    return f"{frame.filename.rsplit('/', 2)[-2]}.{frame.name}"


def crash_finding(target: str, role: str, error: BaseException, scenario: Scenario | None) -> Finding:
    """A finding for an exception that is not a TLSError: a bug wherever it came from."""
    signature = f"crash/{role}/{type(error).__name__}/{_innermost_frame(error)}"
    lines = traceback.format_exception(error)
    return Finding(
        target=target,
        signature=signature,
        identifier=divergence_error_class(signature).__name__,
        summary={"tier": "crash", "role": role, "exception": repr(error)},
        diff_lines=[line.rstrip("\n") for line in lines],
        scenario_json=scenario.to_json() if scenario is not None else None,
    )


def _key_log(result: RunResult) -> list[bytes]:
    lines: dict[bytes, None] = {}
    for name in ("peer", "engine", "s2n"):
        lines.update(dict.fromkeys(result.key_logs[name]))
    return list(lines)


def _side_by_side(result: RunResult) -> list[str]:
    difference, engine, s2n = locate(result.transfers, result.key_logs, target_direction(result.scenario.role))
    lines = side_by_side_lines(difference) if difference is not None else ["the targets wrote the same records"]
    lines += ["", "conversation with the engine target:", *map(describe_record, engine)]
    return [*lines, "", "conversation with the s2n target:", *map(describe_record, s2n)]


def divergence_finding(target: str, result: RunResult) -> Finding | None:
    """The finding a run's divergence makes (None when the two agreed)."""
    divergence = result.divergence
    if divergence is None:
        return None
    scenario = result.scenario
    summary = {
        "tier": divergence.tier.value, "role": divergence.role.value, "step": divergence.step,
        "message": divergence.message, "field_path": divergence.field_path, "steps": list(result.steps),
        "engine": outcome_summary(divergence.engine), "s2n": outcome_summary(divergence.s2n),
        "compat": {"target": "s2n", "peer": scenario.peer_compat}, "peer": scenario.peer.value,
    }  # fmt: skip
    return Finding(
        target=target,
        signature=divergence.signature,
        identifier=divergence_error_class(divergence.signature).__name__,
        summary=summary,
        diff_lines=LazyLines(lambda: [*divergence.detail, "", *_side_by_side(result)]),
        scenario_json=scenario.to_json(),
        transfers={f"peer<->{name} target": transfers for name, transfers in result.transfers.items()},
        key_log=_key_log(result),
    )


@dataclass(frozen=True)
class LockstepTarget:
    """A differential target over scenarios, kept in its lane by ``shape``."""

    name: str
    description: str
    shape: Callable[[Scenario], Scenario]
    stages: tuple[Stage, ...] = tuple(Stage)
    events: bool = False
    # The engine target's switches: "s2n" (the product), or "rfc" to map every place the RFC and s2n part.
    target_compat: str = "s2n"

    @property
    def mutator(self) -> Mutator:
        """The scenario mutator, built on first use."""
        return ScenarioMutator(self.shape, stages=self.stages, events=self.events)

    def scenario(self, data: bytes) -> Scenario:
        """The scenario ``data`` stands for in this target's lane."""
        return self.shape(Scenario.decode(data))

    def run(self, data: bytes) -> RunResult:
        """Run the input's scenario in lockstep (exceptions propagate)."""
        return run_scenario(self.scenario(data), target_compat=self.target_compat)

    def check(self, data: bytes) -> Finding | None:
        """Decode the input to a scenario, run it in lockstep; the finding if the two part."""
        scenario = self.scenario(data)
        try:
            result = run_scenario(scenario, target_compat=self.target_compat)
        except Exception as error:  # (anything but a TLSError is a finding)
            return crash_finding(self.name, scenario.role.value, error, scenario)
        return divergence_finding(self.name, result)


# The peer's flights 0 and 1 are the handshake (ClientHello; Finished, or the second ClientHello after a
# HelloRetryRequest, whose Finished is then flight 2: those runs mutate the handshake's end as well).
_FIRST_FLIGHT_AFTER_HANDSHAKE = 2


def _server_lane(scenario: Scenario) -> Scenario:
    return replace(scenario, role=Role.SERVER, events=())


def _client_lane(scenario: Scenario) -> Scenario:
    return replace(scenario, role=Role.CLIENT, events=())


# The conversation and record targets test what follows the handshake, not its randomness: their
# seeds are folded, so that one handshake snapshot (lockstep.run_scenario) serves many inputs.
_AFTER_HANDSHAKE_SEEDS = 64
# Something always follows the handshake there (a scenario without events is server_diff's work).
_DEFAULT_EVENTS = (Event(Action.PEER_DATA, 64),)


def _after_handshake(scenario: Scenario, mutations: tuple[Mutation, ...], events: tuple[Event, ...]) -> Scenario:
    return replace(scenario, peer=Peer.ENGINE, seed=scenario.seed % _AFTER_HANDSHAKE_SEEDS, mutations=mutations,
                   events=events or _DEFAULT_EVENTS)  # fmt: skip


def _conversation_lane(scenario: Scenario) -> Scenario:
    # The handshake itself is left alone: the target is what follows it.
    after = tuple(m for m in scenario.mutations if m.flight % FLIGHT_MODULUS >= _FIRST_FLIGHT_AFTER_HANDSHAKE)
    return _after_handshake(scenario, after, scenario.events)


def _targets() -> dict[str, Target]:
    from tlsdiff.target_chain import CertificateChainTarget  # noqa: PLC0415
    from tlsdiff.target_cross import CrossBuildTarget  # noqa: PLC0415
    from tlsdiff.target_hello import ClientHelloParseTarget  # noqa: PLC0415
    from tlsdiff.target_record import RecordLayerTarget  # noqa: PLC0415
    from tlsdiff.target_robust import RobustnessTarget  # noqa: PLC0415

    targets: list[Target] = [
        LockstepTarget("server_diff", "server under test: mutated ClientHello and later client flights", _server_lane),
        LockstepTarget("client_diff", "client under test: mutated server flights", _client_lane),
        LockstepTarget("conversation_diff", "after the handshake: data, KeyUpdate, alerts, close, fragmentation",
                       _conversation_lane, events=True),
        RecordLayerTarget(),
        ClientHelloParseTarget(),
        CertificateChainTarget(),
        RobustnessTarget(),
        CrossBuildTarget(),
    ]  # fmt: skip
    compat = os.environ.get("TLSDIFF_TARGET_COMPAT", "s2n")
    if compat not in COMPAT_MODES:
        raise ValueError(f"TLSDIFF_TARGET_COMPAT must be one of {', '.join(COMPAT_MODES)}")
    targets = [replace(t, target_compat=compat) if isinstance(t, LockstepTarget) else t for t in targets]
    return {target.name: target for target in targets}


class _LazyTargets(MutableMapping[str, Target]):
    """Targets are built on first use (the s2n ones need the bridge), whichever way they are asked for."""

    def __init__(self) -> None:
        self._built: dict[str, Target] | None = None

    def _all(self) -> dict[str, Target]:
        if self._built is None:
            self._built = _targets()
        return self._built

    def __getitem__(self, name: str) -> Target:
        return self._all()[name]

    def __setitem__(self, name: str, target: Target) -> None:
        self._all()[name] = target

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


TARGETS: MutableMapping[str, Target] = _LazyTargets()
