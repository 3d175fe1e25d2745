"""An s2n peer's flights take the scenario's wire mutations on their way to both targets."""

from __future__ import annotations

import pytest

from tlsdiff.fuzz_scenario import Mutation, Peer, Scenario, Stage
from tlsdiff.harness import Role
from tlsdiff.lockstep import run_scenario
from tlsdiff.mutate import WireOp

pytestmark = pytest.mark.openssl_engine


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
def test_truncated_first_flight_of_an_s2n_peer_stops_both_targets_alike(role: Role) -> None:
    clean = run_scenario(Scenario(role=role, peer=Peer.S2N, seed=2))
    cut = Mutation(Stage.WIRE, flight=0, op=WireOp.TRUNCATE, value=40)
    mutated = run_scenario(Scenario(role=role, peer=Peer.S2N, seed=2, mutations=(cut,)))
    assert clean.divergence is None and clean.handshake_complete
    assert mutated.divergence is None
    assert not mutated.handshake_complete
    # The targets saw the peer's flight cut to 40 bytes.
    to_target = "client->server" if role is Role.SERVER else "server->client"
    first = next(wire for direction, wire in mutated.transfers["engine"] if direction == to_target)
    assert len(first) == 40


def test_message_stages_need_the_engine_peer() -> None:
    # s2n seals inside C: a message-stage mutation leaves an s2n peer's flight as it was.
    mutation = Mutation(Stage.SENT_MESSAGE, flight=0, op=1, node=3, value=1)
    result = run_scenario(Scenario(peer=Peer.S2N, seed=2, mutations=(mutation,)))
    assert result.divergence is None and result.handshake_complete
