"""``tlsdiff.causes``: a new signature told apart as a known s2n bug by ablation, and triage saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

import tlsdiff.triage as triage_module
from tests.tlsdiff.triage_fixtures import pinned
from tlsdiff.causes import KNOWN_CAUSES, explain
from tlsdiff.findings import FindingStore
from tlsdiff.targets import TARGETS, LockstepTarget
from tlsdiff.triage import TriageOptions, triage

# The reproducers are lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine

# S2N-7 through a coalesce across the key change: s2n then stops at the CertificateVerify, or after a
# HelloRetryRequest at the Certificate.
_S2N_7 = ("client_diff", "s2n-client-reads-protected-messages-flight0-at-verify")
_S2N_7_AFTER_HRR = ("client_diff", "s2n-client-reads-protected-messages-after-hrr-at-cert")
# S2N-7 another way: an EncryptedExtensions inserted into the ServerHello's record (no coalesce).
_S2N_7_INSERTED = ("client_diff", "s2n-client-reads-protected-messages-from-server-hello-record")
# S2N-1 with a signature of S2N-7's shape (the engine refuses at EncryptedExtensions), another bug.
_S2N_1_AT_THE_KEY_CHANGE = ("client_diff", "s2n-partial-bytes-at-key-change-then-sslv2-frame")


@pytest.mark.parametrize("name", [_S2N_7, _S2N_7_AFTER_HRR], ids=lambda pin: pin[1])
def test_an_s2n_7_reproducer_is_explained_by_s2n_7(name: tuple[str, str]) -> None:
    pin = pinned(*name)
    assert pin.signature is not None
    cause = explain(pin.target, pin.data, pin.signature)
    assert cause is not None and cause.finding == "S2N-7"
    assert cause.describe().startswith("like S2N-7: the targets agree once the coalesce")


def test_without_the_crossing_the_targets_agree_and_with_it_they_part() -> None:
    pin = pinned(*_S2N_7)
    target = TARGETS[pin.target]
    assert isinstance(target, LockstepTarget)
    scenario = target.scenario(pin.data)
    ablated = KNOWN_CAUSES[0].without(scenario)
    assert ablated is not None and ablated != scenario
    assert target.check(ablated.encode()) is None
    finding = target.check(scenario.encode())
    assert finding is not None and finding.signature == pin.signature


def test_a_signature_of_the_shape_whose_divergence_survives_is_not_explained() -> None:
    pin = pinned(*_S2N_1_AT_THE_KEY_CHANGE)
    assert pin.signature is not None and KNOWN_CAUSES[0].signatures.match(pin.signature)
    assert explain(pin.target, pin.data, pin.signature) is None


def test_s2n_7_reached_without_the_feature_is_not_explained() -> None:
    # The ablation knows one way to the bug; a reproducer that takes another is left to the reader.
    pin = pinned(*_S2N_7_INSERTED)
    assert pin.signature is not None and KNOWN_CAUSES[0].signatures.match(pin.signature)
    assert explain(pin.target, pin.data, pin.signature) is None


def test_another_shape_or_a_target_without_scenarios_is_not_explained() -> None:
    pin = pinned(*_S2N_7)
    assert explain(pin.target, pin.data, "verdict/client/flight0/SERVER_HELLO/engine=DecodeError|s2n=complete") is None
    assert pin.signature is not None and explain("record_diff", pin.data, pin.signature) is None


def test_triage_shows_a_new_group_that_s2n_7_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin = pinned(*_S2N_7)
    finding = TARGETS[pin.target].check(pin.data)
    assert finding is not None
    FindingStore(tmp_path / "findings" / pin.target).save(finding, pin.data)
    monkeypatch.setattr(triage_module, "regression_pins", dict)  # as if nobody had pinned it yet
    options = TriageOptions(minimize=False, progress=lambda line: None)
    (group,) = triage(tmp_path / "findings", tmp_path / "report", options).groups
    assert group.known == "new, like S2N-7" and group.pinned == ""
    assert group.cause.startswith("like S2N-7")
    assert "<td>new, like S2N-7</td>" in (tmp_path / "report" / "index.html").read_text()
