"""The lockstep driver and the oracle against C s2n-tls: agreement where the two agree, named divergences where not."""

from __future__ import annotations

import json
import traceback

import pytest

from tlsdiff.fuzz_cli import project_root
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Peer, Scenario, Stage
from tlsdiff.fuzzing import replay
from tlsdiff.harness import Role
from tlsdiff.lockstep import run_scenario
from tlsdiff.mutate import RecordOp
from tlsdiff.oracle import DivergenceError, Tier, divergence_error_class

pytestmark = pytest.mark.openssl_engine

_CONVERSATION = (
    Event(Action.PEER_DATA, 5120),
    Event(Action.TARGET_DATA, 20000),
    Event(Action.TARGET_KEY_UPDATE, 0),
    Event(Action.PEER_DATA, 300, 7),
    Event(Action.PEER_CLOSE),
)


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(),
        Scenario(role=Role.CLIENT, cert_type="rsa-2048", seed=3),
        Scenario(policy="20250211", peer_policy="default_tls13", cert_type="ecdsa-p384", seed=4),
        Scenario(role=Role.CLIENT, policy="default_tls13", peer_policy="20250211", cert_type="ecdsa-p384"),
        Scenario(peer=Peer.S2N, seed=5),
        Scenario(role=Role.CLIENT, peer=Peer.S2N, seed=6),
        Scenario(chunk=3, seed=7),
        Scenario(seed=8, events=_CONVERSATION),
        Scenario(role=Role.CLIENT, seed=9, events=(*_CONVERSATION[:2], Event(Action.TARGET_CLOSE))),
    ],
    ids=["server", "client", "server-hrr", "client-hrr", "s2n-peer", "client-s2n-peer", "chunked", "conversation",
         "client-conversation"],
)  # fmt: skip
def test_the_engine_and_s2n_agree_on_unmutated_scenarios(scenario: Scenario) -> None:
    result = run_scenario(scenario)
    assert result.divergence is None, result.divergence
    assert result.handshake_complete
    assert len(result.steps) >= 2


def test_a_corrupted_finished_is_refused_alike() -> None:
    # A bit flipped in the client's protected Finished: both servers fail the record's MAC.
    flip = Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40)
    result = run_scenario(Scenario(seed=10, mutations=(flip,)))
    assert result.divergence is None
    assert not result.handshake_complete


def test_the_rfc_switches_show_as_an_alert_divergence() -> None:
    # s2n answers a bad record MAC with close_notify (Compat.generic_close_notify); the RFC engine with bad_record_mac.
    flip = Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40)
    result = run_scenario(Scenario(seed=10, mutations=(flip,)), target_compat="rfc")
    divergence = result.divergence
    assert divergence is not None
    assert divergence.tier is Tier.ALERT
    assert divergence.engine.error == "BadRecordMacError" and divergence.s2n.error == "S2N_ERR_DECRYPT"
    assert divergence.signature.startswith("alert/server/flight1/alert/")


@pytest.mark.parametrize(("count", "signature"), [
    (3, "verdict/client/flight0/ENCRYPTED_EXTENSIONS/engine=UnexpectedMessageError|s2n=complete"),
    # The Finished in the clear too: s2n reads it, then fails past it (S2N_ERR_BAD_MESSAGE).
    (4, "verdict/client/flight0/ENCRYPTED_EXTENSIONS!=APPLICATION_DATA/engine=UnexpectedMessageError"
        "|s2n=S2N_ERR_BAD_MESSAGE"),
])  # fmt: skip
def test_a_coalesce_across_the_key_change_reaches_s2n_7(count: int, signature: str) -> None:
    # The server's flight 0 is ServerHello, CCS, then EncryptedExtensions... under the handshake key (record 2 on):
    # a COALESCE with the across-epochs bit moves the first `count` protected records into the ServerHello's.
    across = Mutation(Stage.RECORDS, flight=0, target=2, op=RecordOp.COALESCE, value=0x100 | (count - 1))
    result = run_scenario(Scenario(role=Role.CLIENT, seed=3, mutations=(across,)))
    assert result.divergence is not None and result.divergence.signature == signature


def test_each_signature_has_its_own_stable_exception_class_raised_from_a_frame_of_its_name() -> None:
    first = divergence_error_class("bytes/server/flight0/ServerHello/ServerHello.random")
    assert first is divergence_error_class("bytes/server/flight0/ServerHello/ServerHello.random")
    assert first is not divergence_error_class("bytes/server/flight0/ServerHello/ServerHello.session_id")
    assert first.__name__.startswith("Divergence_bytes_server_flight0_ServerHello_ServerHello_random_")
    flip = Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40)
    divergence = run_scenario(Scenario(seed=10, mutations=(flip,)), target_compat="rfc").divergence
    assert divergence is not None
    with pytest.raises(DivergenceError) as caught:
        divergence.raise_error()
    assert type(caught.value).__name__ == divergence.error().__class__.__name__
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert frames[-1].name == type(caught.value).__name__


def test_a_plaintext_alert_during_the_handshake_is_read_as_s2n_reads_it() -> None:
    # The engine client refuses an RSA-2048 chain under 20260720 and alerts in the clear; the servers have keys by then.
    # The engine client refuses an RSA-2048 chain under 20260720 and alerts in the clear: the servers have keys.
    scenario = Scenario(policy="20260720", cert_type="rsa-2048", seed=15)
    assert run_scenario(scenario).divergence is None
    divergence = run_scenario(scenario, target_compat="rfc").divergence
    assert divergence is not None and divergence.tier is Tier.VERDICT
    assert divergence.engine.error == "UnexpectedMessageError" and divergence.s2n.status.value == "peer_closed"


def test_the_regression_corpus_replays_as_pinned() -> None:
    # Every past finding: fixed ones must agree, pinned ones (s2n bugs, unsupported features) keep their signature.
    pins = sorted((project_root() / "corpus" / "regression").glob("*/*.json"))
    assert len(pins) >= 8
    for pin in pins:
        [(_, signature)] = replay(pin.parent.name, [pin.with_suffix(".bin")])
        assert signature == json.loads(pin.read_text())["signature"], pin.name


def test_a_run_does_a_bounded_amount_of_work() -> None:
    # Forty 32 KiB transfers in 1-byte pieces would outlast libFuzzer's timeout; the budget stops well before.
    greedy = Scenario(seed=11, events=tuple(Event(Action.PEER_DATA, 32767, 1) for _ in range(40)))
    result = run_scenario(greedy)
    assert result.divergence is None
    assert 0 < sum(step.startswith("event") for step in result.steps) < 16
