"""The engine robustness target: the engine alone, in both compatibility modes, against a mutating peer.

No s2n here, so it runs several times faster than the differential targets: the only
question is whether anything but a ``TLSError`` escapes the engine (a crash finding),
with s2n's switches and with the RFC's.
"""

from __future__ import annotations

from dataclasses import replace

from tlsdiff.findings import Finding
from tlsdiff.fuzz_scenario import Peer, Scenario
from tlsdiff.harness import COMPAT_MODES
from tlsdiff.lockstep import run_scenario
from tlsdiff.scenario_mutator import ScenarioMutator

__all__ = ["RobustnessTarget"]


def _lane(scenario: Scenario) -> Scenario:
    return replace(scenario, peer=Peer.ENGINE)


class RobustnessTarget:
    """The ``engine_robustness`` target."""

    name = "engine_robustness"
    description = "engine only, both compat modes: any exception but TLSError is a crash"

    def __init__(self) -> None:
        self.mutator = ScenarioMutator(_lane, events=True)

    def check(self, data: bytes) -> Finding | None:
        """Run the input on the engine alone, both compat modes; a crash finding if anything but a TLSError escapes."""
        from tlsdiff.targets import crash_finding  # noqa: PLC0415  (targets imports this module)

        scenario = _lane(Scenario.decode(data))
        for compat in COMPAT_MODES:
            try:
                run_scenario(scenario, alone="engine", target_compat=compat)
            except Exception as error:  # (anything but a TLSError is the finding)
                return crash_finding(self.name, f"{scenario.role.value}-{compat}", error, scenario)
        return None
