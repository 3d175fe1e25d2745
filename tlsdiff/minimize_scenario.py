"""Minimising a lockstep target's input as the scenario it decodes to, not as bytes.

Each pass proposes simpler scenarios and keeps one only when its compact encoding
(``compact``) is simpler (``Oracle.improves``: shorter, or as long and lower) and the
finding's signature survives: the target's own lane, fewer mutations and events (ddmin
over each list), no delivery or event chunking, shorter mutation data, smaller
mutation operands and event sizes, then the header's choices moved toward the first
one (role, peer, switches, trust anchors, seed, policy, certificate). Rounds repeat
until one changes nothing or the oracle's budget is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from engine.policies import TLS13_POLICY_NAMES
from tlsdiff.certs import CERT_TYPES, TRUST_CHOICES
from tlsdiff.ddmin import Oracle, ddmin, smaller_values
from tlsdiff.fuzz_scenario import Event, Mutation, Peer, Scenario
from tlsdiff.harness import Role

__all__ = ["compact", "minimize_scenario"]

Lane = Callable[[Scenario], Scenario]

# Each other policy or certificate tried costs a whole handshake; their order means nothing past "the
# first is the plainest", so only the first few are offered.
_CHOICES_TRIED = 8
_MUTATION_OPERANDS = ("flight", "target", "op", "node", "value")
_EVENT_OPERANDS = ("chunk", "size")


def compact(scenario: Scenario) -> bytes:
    """The shortest bytes that decode to ``scenario``.

    Missing bytes read as zero, so the last item's trailing zero bytes can go; decoding
    keeps mutations and events apart (by their tag), so either may come last. Of the two
    orders, the shorter wins (a tie keeps ``encode``'s: mutations first).

    >>> compact(Scenario())
    b'\\x00\\x01'
    >>> Scenario.decode(compact(Scenario())) == Scenario()
    True
    """
    mutations_first = scenario.encode()
    header_size = len(replace(scenario, mutations=(), events=()).encode())
    events = replace(scenario, mutations=()).encode()[header_size:]
    events_first = (
        mutations_first[:header_size] + events + mutations_first[header_size : len(mutations_first) - len(events)]
    )
    candidates = (_stripped(scenario, mutations_first), _stripped(scenario, events_first))
    return min(candidates, key=lambda data: (len(data), candidates.index(data)))


def _stripped(scenario: Scenario, data: bytes) -> bytes:
    while data.endswith(b"\x00") and Scenario.decode(data[:-1]) == scenario:
        data = data[:-1]
    return data


class _Minimiser:
    """The scenario found so far and its compact bytes; ``take`` moves to a simpler one that still diverges."""

    def __init__(self, oracle: Oracle, scenario: Scenario, data: bytes) -> None:
        self.oracle = oracle
        self.scenario = scenario
        self.data = data

    def take(self, candidate: Scenario) -> bool:
        encoded = compact(candidate)
        if not self.oracle.improves(self.data, encoded):
            return False
        self.scenario, self.data = candidate, encoded
        return True

    def first(self, candidates: Iterable[Scenario]) -> bool:
        """Take the first candidate that is kept (they come simplest first)."""
        return any(self.take(candidate) for candidate in candidates)

    def keeps(self, candidate: Scenario) -> bool:
        return self.oracle.keeps(compact(candidate))


def minimize_scenario(data: bytes, oracle: Oracle, lane: Lane | None = None) -> bytes:
    """The simplest scenario bytes the passes reach from ``data`` (no longer than it) with the signature kept.

    ``lane`` is the target's own shaping of a scenario (``LockstepTarget.shape``), tried first.
    """
    state = _Minimiser(oracle, Scenario.decode(data), data)
    state.take(state.scenario)  # the canonical form: trailing junk and overlong numbers go
    if lane is not None:
        state.take(lane(state.scenario))
    while not oracle.exhausted:
        before = state.data
        for simplify in (_drop_items, _unchunk, _shorten_mutations, _shrink_events, _plain_header):
            simplify(state)
        if state.data == before:
            break
    return state.data


def _drop_items(state: _Minimiser) -> None:
    """ddmin over the mutations, then over the events."""
    mutations = ddmin(
        state.scenario.mutations, lambda kept: state.keeps(replace(state.scenario, mutations=kept)), state.oracle
    )
    state.take(replace(state.scenario, mutations=mutations))
    events = ddmin(state.scenario.events, lambda kept: state.keeps(replace(state.scenario, events=kept)), state.oracle)
    state.take(replace(state.scenario, events=events))


def _unchunk(state: _Minimiser) -> None:
    """The peer's flights delivered in fewer, larger pieces (0: whole)."""
    state.first(replace(state.scenario, chunk=chunk) for chunk in smaller_values(state.scenario.chunk))


def _with_item(scenario: Scenario, items: str, index: int, item: Mutation | Event) -> Scenario:
    """``scenario`` with entry ``index`` of its ``items`` ("mutations" or "events") replaced by ``item``."""
    listed: tuple[Mutation | Event, ...] = getattr(scenario, items)
    changes: dict[str, Any] = {items: (*listed[:index], item, *listed[index + 1 :])}
    return replace(scenario, **changes)


def _shrink_operands(state: _Minimiser, items: str, operands: tuple[str, ...]) -> None:
    """Each integer ``operand`` of each of the scenario's ``items`` made smaller, simplest value first."""
    for index in range(len(getattr(state.scenario, items))):
        for operand in operands:
            item = getattr(state.scenario, items)[index]
            changes: list[dict[str, Any]] = [{operand: value} for value in smaller_values(getattr(item, operand))]
            state.first(_with_item(state.scenario, items, index, replace(item, **change)) for change in changes)


def _shorten_mutations(state: _Minimiser) -> None:
    """Each mutation's data cut down (ddmin over its bytes), then each operand made smaller."""
    for index in range(len(state.scenario.mutations)):
        _shorten_data(state, index)
    _shrink_operands(state, "mutations", _MUTATION_OPERANDS)


def _shorten_data(state: _Minimiser, index: int) -> None:
    mutation = state.scenario.mutations[index]

    def with_data(kept: tuple[int, ...]) -> Scenario:
        return _with_item(state.scenario, "mutations", index, replace(mutation, data=bytes(kept)))

    kept = ddmin(mutation.data, lambda candidate: state.keeps(with_data(candidate)), state.oracle)
    state.take(with_data(kept))


def _shrink_events(state: _Minimiser) -> None:
    """Each event's chunking dropped and its payload made smaller."""
    _shrink_operands(state, "events", _EVENT_OPERANDS)


def _earlier(choices: tuple[str, ...], current: str) -> tuple[str, ...]:
    """The first few choices before ``current`` (a name missing from ``choices`` has none)."""
    position = choices.index(current) if current in choices else 0
    return choices[: min(position, _CHOICES_TRIED)]


def _plain_header(state: _Minimiser) -> None:
    """The header's choices moved toward the first, plainest one: each tried alone, simplest first."""
    state.take(replace(state.scenario, role=Role.SERVER))
    state.take(replace(state.scenario, peer=Peer.ENGINE))
    state.take(replace(state.scenario, peer_compat="s2n"))
    state.take(replace(state.scenario, peer_policy=None))
    state.first(replace(state.scenario, trust=trust) for trust in _earlier(TRUST_CHOICES, state.scenario.trust))
    state.first(replace(state.scenario, seed=seed) for seed in smaller_values(state.scenario.seed))
    policies = _earlier(TLS13_POLICY_NAMES, state.scenario.policy)
    state.first(replace(state.scenario, policy=policy) for policy in policies)
    state.first(replace(state.scenario, cert_type=cert) for cert in _earlier(CERT_TYPES, state.scenario.cert_type))
    if state.scenario.peer_policy is not None:
        peer_policies = _earlier(TLS13_POLICY_NAMES, state.scenario.peer_policy)
        state.first(replace(state.scenario, peer_policy=policy) for policy in peer_policies)
