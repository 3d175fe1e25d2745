"""The scenario's binary form is total and both forms are lossless."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdiff.fuzz_scenario import Action, Event, Mutation, Peer, Scenario, ScenarioError, Stage
from tlsdiff.harness import Role


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_every_byte_string_decodes_and_both_forms_are_lossless(data: bytes) -> None:
    scenario = Scenario.decode(data)
    assert Scenario.decode(scenario.encode()) == scenario
    assert Scenario.from_json(scenario.to_json()) == scenario
    assert scenario.encode() == Scenario.decode(scenario.encode()).encode()


def test_the_binary_form_holds_each_field() -> None:
    scenario = Scenario(
        role=Role.CLIENT, policy="20190801", cert_type="rsa-2048", seed=0xDEADBEEF, peer=Peer.S2N,
        peer_policy="test_all_tls13", peer_compat="rfc", chunk=7,
        mutations=(Mutation(Stage.WIRE, 1, 2, 3, 400, 500, b"xyz"),),
        events=(Event(Action.PEER_KEY_UPDATE, 1, 3), Event(Action.TARGET_CLOSE)),
    )  # fmt: skip
    assert Scenario.decode(scenario.encode()) == scenario
    text = scenario.to_json_text()
    assert '"stage": "wire"' in text and '"action": "peer_key_update"' in text


def test_empty_input_is_the_default_scenario() -> None:
    assert Scenario.decode(b"") == Scenario(policy=Scenario.decode(b"").policy)
    assert Scenario.decode(b"").role is Role.SERVER


@pytest.mark.parametrize(
    "document",
    [
        {"policy": "no-such-policy"},
        {"cert": "dsa-1024"},
        {"seed": -1},
        {"role": "middlebox"},
        {"mutations": [{"stage": "nowhere"}]},
        {"mutations": [{"stage": "wire", "data": "zz"}]},
        {"events": [{"action": "dance"}]},
    ],
)
def test_bad_json_names_what_is_wrong(document: dict[str, object]) -> None:
    with pytest.raises(ScenarioError):
        Scenario.from_json(document)
