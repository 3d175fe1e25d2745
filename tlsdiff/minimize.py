"""Minimising a finding: the smallest input the passes reach that still gives the same signature.

Delta debugging at the level the target reads its input, then on bytes:

1. a lockstep target's input (``server_diff``, ``client_diff``, ``conversation_diff``,
   ``cert_chain_diff``, ``engine_robustness``) is minimised as its
   scenario (``tlsdiff.minimize_scenario``): canonical re-encoding, the target's lane,
   fewer mutations and events, no chunking, shorter data, smaller operands, plainer
   header choices;
2. a ``record_diff`` input as its records and edits (``tlsdiff.minimize_record``): fewer
   of each, shorter contents, less padding, plainer delivery;
3. a ``client_hello_parse`` input through its field tree (``tlsdiff.minimize_hello``):
   fields, extensions and list elements removed, values shortened;
4. for every target, a last byte-level ddmin (remove chunks, halving down to single
   bytes), with at least a quarter of the runs kept for it; a scenario input is then
   written back in its compact canonical form.

Every step is kept only if the target's ``check`` still returns a finding with the same
signature; the target runs at most ``max_checks`` times in all, the original included.
The same input gives the same output (no randomness; the targets are deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsdiff.ddmin import Oracle, ddmin
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.minimize_hello import minimize_client_hello
from tlsdiff.minimize_record import minimize_records
from tlsdiff.minimize_scenario import compact, minimize_scenario
from tlsdiff.target_hello import ClientHelloParseTarget
from tlsdiff.target_record import RecordLayerTarget
from tlsdiff.target_robust import RobustnessTarget
from tlsdiff.targets import TARGETS, LockstepTarget, Target

__all__ = ["Minimized", "minimize", "minimize_counted"]

DEFAULT_MAX_CHECKS = 2000
_BYTE_PASS_SHARE = 4  # 1/4 of the runs are kept back from the structural passes for the byte pass
_TIDY_RUNS = 1  # and one for the canonical form after the byte pass


@dataclass(frozen=True)
class Minimized:
    """A minimised input and the number of target runs it took."""

    data: bytes
    checks: int


def minimize(target: str, data: bytes, signature: str, *, max_checks: int = DEFAULT_MAX_CHECKS) -> bytes:
    """An input no larger than ``data`` for which ``TARGETS[target].check`` still gives ``signature``.

    Raises ValueError for an unknown target, a ``max_checks`` below 1, or a ``data``
    that does not give ``signature`` itself.
    """
    return minimize_counted(target, data, signature, max_checks=max_checks).data


def minimize_counted(target: str, data: bytes, signature: str, *, max_checks: int = DEFAULT_MAX_CHECKS) -> Minimized:
    """``minimize``, with the number of target runs it made."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r} (tlsdiff fuzz --list names them)")
    if max_checks < 1:
        raise ValueError(f"max_checks must be at least 1, not {max_checks}")
    chosen = TARGETS[target]
    oracle = Oracle(chosen.check, signature, max_checks)
    found = oracle.signature_of(data)
    if found != signature:
        given = "no finding" if found is None else f"the signature {found!r}"
        raise ValueError(f"the input gives {given} on {target}, not {signature!r}: nothing to minimise")
    oracle.limit = max_checks - max_checks // _BYTE_PASS_SHARE - _TIDY_RUNS
    current = _structural(chosen, data, oracle)
    oracle.limit = max_checks - _TIDY_RUNS
    current = bytes(ddmin(current, lambda kept: oracle.keeps(bytes(kept)), oracle))
    oracle.limit = max_checks
    if _reads_scenarios(chosen):
        tidy = compact(Scenario.decode(current))
        current = tidy if oracle.improves(current, tidy) else current
    return Minimized(current, oracle.checks)


def _reads_scenarios(target: Target) -> bool:
    return isinstance(target, LockstepTarget | RobustnessTarget)


def _structural(target: Target, data: bytes, oracle: Oracle) -> bytes:
    """The passes that know how ``target`` reads its input (none for a target they do not know)."""
    if isinstance(target, ClientHelloParseTarget):
        return minimize_client_hello(data, oracle)
    if isinstance(target, RecordLayerTarget):
        return minimize_records(data, oracle)
    if isinstance(target, LockstepTarget):
        return minimize_scenario(data, oracle, target.shape)
    if isinstance(target, RobustnessTarget):
        return minimize_scenario(data, oracle)
    return data
