"""Known causes: telling a new signature that is an old s2n bug reached another way.

One s2n bug can part from the engine at many places. S2N-7 (``docs/findings.md``: s2n's
client reads the server's protected messages from the ServerHello's plaintext record) lets
s2n go on past the point where the engine refuses, and then stop wherever the rest of the
mutated flight makes it stop; S2N-1 (s2n writes a peer's partial handshake message back as
its own next message) corrupts s2n's state wherever a peer's flight leaves bytes over. Every
such stopping point is a signature of its own, and a fuzz run meets dozens. Each known cause
here names the shape of its signatures and the evidence that tells its bug is at work in an
input, asked of the input's run:

- S2N-7, by ablation: the one feature of an input its bug needs (a coalesce of records
  across the key change) is taken out, and the two targets then agree;
- S2N-1, by observation: s2n's conversation holds a record of s2n's own that is the peer's
  bytes written back (a handshake record of at most 4 bytes, or a ChangeCipherSpec that is
  not ``01``, whose bytes the peer sent), which s2n writes nowhere else.

This only labels, for the person triaging: the oracle still reports the signature, it stays
new until it is pinned in the regression corpus, and CI still fails on it. An input whose
divergence survives the S2N-7 ablation is not explained (it may hide a second bug), nor is
one whose ablated form gives another finding.

    explain("client_diff", data, signature)  # -> KnownCause("S2N-7", ...) or None
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.wire.record import ContentType
from tlsdiff.decode import DecodedRecord, decode_conversation
from tlsdiff.fuzz_scenario import Mutation, Scenario, Stage
from tlsdiff.lockstep import target_direction
from tlsdiff.mutate import RecordOp, record_op
from tlsdiff.peer import ACROSS_EPOCHS

if TYPE_CHECKING:
    from tlsdiff.targets import LockstepTarget

__all__ = ["KNOWN_CAUSES", "KnownCause", "explain"]


@dataclass(frozen=True)
class KnownCause:
    """A finding of ``docs/findings.md``, the shape of its signatures, and what shows it in an input."""

    finding: str  # its name in docs/findings.md, e.g. "S2N-7"
    signatures: re.Pattern[str]  # the shape of its signatures (matched from the start)
    evidence: str  # what shows the bug at work, in words
    shown: Callable[[LockstepTarget, Scenario], bool]  # whether the evidence is there in this input

    def describe(self) -> str:
        """One line for the triage report."""
        return f"like {self.finding}: {self.evidence}"


def _without_crossing_coalesce(scenario: Scenario) -> Scenario | None:
    # Cleared, the bit leaves the same coalesce within one epoch: the records stay merged, the key
    # change is respected, so what remains is what the input does besides crossing it.
    def plain(mutation: Mutation) -> Mutation:
        if mutation.stage == Stage.RECORDS and record_op(mutation.op) is RecordOp.COALESCE:
            return replace(mutation, value=mutation.value & ~ACROSS_EPOCHS)
        return mutation

    mutations = tuple(map(plain, scenario.mutations))
    return replace(scenario, mutations=mutations) if mutations != scenario.mutations else None


def _agree_without_crossing_coalesce(target: LockstepTarget, scenario: Scenario) -> bool:
    ablated = _without_crossing_coalesce(scenario)
    return ablated is not None and target.check(ablated.encode()) is None


# No handshake message s2n writes in the lanes' TLS 1.3 is shorter than 5 bytes (EndOfEarlyData, 4,
# needs early data), and its ChangeCipherSpec holds 01: such a record, of bytes the peer sent, is theirs.
_MAX_REFLECTED = 4


def _reflected(record: DecodedRecord, peer_sent: bytes) -> bool:
    """Whether ``record`` (one of s2n's) is bytes the peer sent, written back as s2n's own message."""
    content = record.plaintext
    if not record.complete or not content or content not in peer_sent:
        return False
    if record.inner_type == ContentType.HANDSHAKE:
        return len(content) <= _MAX_REFLECTED
    return record.inner_type == ContentType.CHANGE_CIPHER_SPEC and content != b"\x01"


def _s2n_writes_peer_bytes_back(target: LockstepTarget, scenario: Scenario) -> bool:
    result = target.run(scenario.encode())
    records = decode_conversation(result.transfers["s2n"], [*result.key_logs["peer"], *result.key_logs["s2n"]])
    ours = target_direction(scenario.role)
    peer_sent = b"".join(record.plaintext or b"" for record in records if record.direction != ours)
    return any(_reflected(record, peer_sent) for record in records if record.direction == ours)


KNOWN_CAUSES = (
    KnownCause(
        "S2N-7",
        # The engine client refuses the first protected message at the key change; s2n reads on.
        re.compile(r"verdict/client/flight\d+/ENCRYPTED_EXTENSIONS(!=\w+)?/engine=UnexpectedMessageError\|"),
        "the targets agree once the coalesce of records across the key change is taken out",
        _agree_without_crossing_coalesce,
    ),
    KnownCause(
        "S2N-1",
        # Wherever s2n's corrupted state makes it stop: any tier but the engine's missing features.
        re.compile(r"(verdict|bytes|alert)/"),
        "s2n wrote the peer's own bytes back as a message of its own",
        _s2n_writes_peer_bytes_back,
    ),
)


def explain(target_name: str, data: bytes, signature: str) -> KnownCause | None:
    """The first known cause of ``signature``'s shape whose evidence ``data``'s run shows, if any."""
    from tlsdiff.targets import TARGETS, LockstepTarget  # noqa: PLC0415  (targets imports the harness)

    target = TARGETS[target_name]
    if not isinstance(target, LockstepTarget):
        return None
    scenario = target.scenario(data)
    for cause in (cause for cause in KNOWN_CAUSES if cause.signatures.match(signature)):
        if cause.shown(target, scenario):
            return cause
    return None
