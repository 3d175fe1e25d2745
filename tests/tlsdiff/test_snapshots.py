"""Runs from a snapshot of the handshake are the runs from the start, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tlsdiff.corpus import scenario_seeds
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Scenario, Stage
from tlsdiff.lockstep import RunResult, run_scenario
from tlsdiff.mutate import WireOp
from tlsdiff.oracle import Tier

pytestmark = pytest.mark.openssl_engine

_EXTRA = [
    # Post-handshake mutations land on later flights of the restored peer.
    Scenario(seed=41, mutations=(Mutation(Stage.RECORDS, 2, 0, 1, 0, 3),), events=(Event(Action.PEER_DATA, 300),)),
    Scenario(
        seed=42,
        mutations=(Mutation(Stage.WIRE, 2, 0, WireOp.FLIP_BIT, 0, 9),),
        events=(Event(Action.PEER_DATA, 30), Event(Action.TARGET_DATA, 5)),
    ),
    Scenario(
        seed=43,
        events=(Event(Action.PEER_KEY_UPDATE, 1), Event(Action.TARGET_KEY_UPDATE, 3), Event(Action.PEER_ALERT, 40)),
    ),
]
_SCENARIOS = [s for s in scenario_seeds("conversation_diff") if s.events] + _EXTRA


def _view(result: RunResult) -> tuple[object, ...]:
    signature = result.divergence.signature if result.divergence is not None else None
    return signature, result.steps, result.transfers, result.key_logs, result.handshake_complete


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=lambda s: s.encode().hex()[:24])
def test_a_run_from_a_snapshot_is_the_run_from_the_start(scenario: Scenario) -> None:
    full = run_scenario(scenario, snapshots=False)
    first = run_scenario(scenario)  # takes the snapshot, then runs from it
    again = run_scenario(scenario)  # from the kept snapshot
    assert _view(first) == _view(full)
    assert _view(again) == _view(full)


def test_other_events_after_the_same_handshake_share_its_snapshot() -> None:
    base = Scenario(seed=44, events=(Event(Action.PEER_DATA, 10),))
    other = Scenario(seed=44, events=(Event(Action.TARGET_DATA, 700, 3), Event(Action.PEER_CLOSE)))
    run_scenario(base)
    assert _view(run_scenario(other)) == _view(run_scenario(other, snapshots=False))


def test_a_handshake_snapshot_serves_other_post_handshake_mutations() -> None:
    # The record target's mutations all land after the handshake: one snapshot serves them all.
    events = (Event(Action.PEER_DATA, 200), Event(Action.PEER_DATA, 50))
    first = Scenario(seed=45, mutations=(Mutation(Stage.RECORDS, 2, 0, 1, 0, 3),), events=events)
    run_scenario(first)
    for op in range(6):
        later = Scenario(seed=45, mutations=(Mutation(Stage.WIRE, 2 + op % 2, 0, op, 0, 5, b"\x01"),), events=events)
        assert _view(run_scenario(later)) == _view(run_scenario(later, snapshots=False))


_HANDSHAKES = [s for s in scenario_seeds("server_diff") + scenario_seeds("client_diff") if not s.events]


@pytest.mark.parametrize("scenario", _HANDSHAKES, ids=lambda s: s.encode().hex()[:24])
def test_a_handshake_from_its_opening_is_the_handshake_from_the_start(scenario: Scenario) -> None:
    full = run_scenario(scenario, snapshots=False)
    run_scenario(scenario)  # keeps the opening
    assert _view(run_scenario(scenario)) == _view(full)
    # Later flights of the peer mutated: the same opening serves them.
    for op in range(3):
        later = replace(scenario, mutations=(*scenario.mutations, Mutation(Stage.MESSAGE, 1, 0, op, 2, 7, b"\x05")))
        assert _view(run_scenario(later)) == _view(run_scenario(later, snapshots=False))


def test_a_restored_s2n_that_parts_from_the_live_one_is_the_snapshot_tier() -> None:
    # S2N-5 (docs/findings.md): a TLS 1.3 client restored by s2n_connection_deserialize ignores a HelloRequest
    # that the client which made the handshake refuses, as the engine does. From the start both targets agree;
    # from the snapshot only s2n's side changed: the snapshot tier, its own signature, not a crash.
    path = (
        Path(__file__).parents[2]
        / "corpus/regression/conversation_diff/s2n-deserialized-client-ignores-hello-request.bin"
    )
    with open(path, "rb") as source:
        scenario = Scenario.decode(source.read())
    assert run_scenario(scenario, snapshots=False).divergence is None
    found = run_scenario(scenario).divergence
    assert found is not None and found.tier is Tier.SNAPSHOT
    assert (found.engine.error, found.s2n.status.value) == ("UnexpectedMessageError", "complete")
