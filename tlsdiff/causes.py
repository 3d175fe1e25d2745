"""Known causes: telling a new signature that is an old s2n bug reached another way, by ablation.

One s2n bug can part from the engine at many places. S2N-7 (``docs/findings.md``: s2n's
client reads the server's protected messages from the ServerHello's plaintext record) lets
s2n go on past the point where the engine refuses, and then stop wherever the rest of the
mutated flight makes it stop: every such stopping point is a signature of its own, and a
fuzz run meets dozens. Each known cause here names the shape of its signatures (where the
engine stops, and why), the one feature of an input its bug needs, and a way to take that
feature out. ``explain`` asks both: a signature of that shape whose input, run again without
the feature, makes the two targets agree is shown as explained by that finding.

This only labels, for the person triaging: the oracle still reports the signature, it stays
new until it is pinned in the regression corpus, and CI still fails on it. An input whose
divergence survives the ablation is not explained (it may hide a second bug), nor is one
whose ablated form gives another finding.

    explain("client_diff", data, signature)  # -> KnownCause("S2N-7", ...) or None
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from tlsdiff.fuzz_scenario import Mutation, Scenario, Stage
from tlsdiff.mutate import RecordOp, record_op
from tlsdiff.peer import ACROSS_EPOCHS

__all__ = ["KNOWN_CAUSES", "KnownCause", "explain"]


@dataclass(frozen=True)
class KnownCause:
    """A finding of ``docs/findings.md``, the input feature its bug needs, and how to take it out."""

    finding: str  # its name in docs/findings.md, e.g. "S2N-7"
    signatures: re.Pattern[str]  # the shape of its signatures (matched from the start)
    feature: str  # what an input must hold to reach the bug, in words
    without: Callable[[Scenario], Scenario | None]  # the scenario without the feature; None if it has none

    def describe(self) -> str:
        """One line for the triage report."""
        return f"like {self.finding}: the targets agree once {self.feature} is taken out"


def _without_crossing_coalesce(scenario: Scenario) -> Scenario | None:
    # Cleared, the bit leaves the same coalesce within one epoch: the records stay merged, the key
    # change is respected, so what remains is what the input does besides crossing it.
    def plain(mutation: Mutation) -> Mutation:
        if mutation.stage == Stage.RECORDS and record_op(mutation.op) is RecordOp.COALESCE:
            return replace(mutation, value=mutation.value & ~ACROSS_EPOCHS)
        return mutation

    mutations = tuple(map(plain, scenario.mutations))
    return replace(scenario, mutations=mutations) if mutations != scenario.mutations else None


KNOWN_CAUSES = (
    KnownCause(
        "S2N-7",
        # The engine client refuses the first protected message at the key change; s2n reads on.
        re.compile(r"verdict/client/flight\d+/ENCRYPTED_EXTENSIONS(!=\w+)?/engine=UnexpectedMessageError\|"),
        "the coalesce of records across the key change",
        _without_crossing_coalesce,
    ),
)


def explain(target_name: str, data: bytes, signature: str) -> KnownCause | None:
    """The known cause of ``signature``'s shape whose feature ``data`` needs to part the two targets, if any."""
    from tlsdiff.targets import TARGETS, LockstepTarget  # noqa: PLC0415  (targets imports the harness)

    target = TARGETS[target_name]
    if not isinstance(target, LockstepTarget):
        return None
    scenario = target.scenario(data)
    for cause in (cause for cause in KNOWN_CAUSES if cause.signatures.match(signature)):
        ablated = cause.without(scenario)
        if ablated is not None and target.check(ablated.encode()) is None:
            return cause
    return None
