"""``tlsdiff.causes``: a new signature told apart as a known s2n bug (ablation, or what s2n wrote); triage saying so."""

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
_S2N_7_CAUSE, _S2N_1_CAUSE = KNOWN_CAUSES


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
    assert _S2N_7_CAUSE.shown(target, scenario)  # the ablated scenario agrees
    finding = target.check(scenario.encode())
    assert finding is not None and finding.signature == pin.signature


def test_a_signature_of_the_shape_whose_divergence_survives_is_not_explained() -> None:
    pin = pinned(*_S2N_1_AT_THE_KEY_CHANGE)
    assert pin.signature is not None and _S2N_7_CAUSE.signatures.match(pin.signature)
    assert explain(pin.target, pin.data, pin.signature) is None


def test_s2n_7_reached_without_the_feature_is_not_explained() -> None:
    # The ablation knows one way to the bug; a reproducer that takes another is left to the reader.
    pin = pinned(*_S2N_7_INSERTED)
    assert pin.signature is not None and _S2N_7_CAUSE.signatures.match(pin.signature)
    assert explain(pin.target, pin.data, pin.signature) is None


# S2N-1, the peer's bytes written back: as a server's HelloRetryRequest, a client's ChangeCipherSpec,
# a client's Finished under the handshake key (a protected record), a server's ServerHello.
_S2N_1_WRITES_BACK = [
    ("server_diff", "s2n-reflects-partial-handshake-bytes-hrr-then-sslv2-hello"),
    ("client_diff", "s2n-reflects-partial-handshake-bytes-as-ccs-one-byte"),
    ("client_diff", "s2n-reflects-partial-handshake-bytes-as-finished-after-hrr"),
    ("server_diff", "s2n-reflects-partial-handshake-bytes"),
]
# Other s2n bugs, whose s2n side writes nothing of the peer's: S2N-2, S2N-3, S2N-6.
_OTHER_S2N_BUGS = [
    ("server_diff", "s2n-finished-length-truncated"),
    ("server_diff", "s2n-ccs-read-through-partial-handshake-buffer"),
    ("client_diff", "s2n-client-takes-tls12-suite-with-tls13"),
]


@pytest.mark.parametrize("name", _S2N_1_WRITES_BACK, ids=lambda pin: pin[1])
def test_s2n_writing_the_peers_bytes_back_is_explained_by_s2n_1(name: tuple[str, str]) -> None:
    pin = pinned(*name)
    assert pin.signature is not None
    cause = explain(pin.target, pin.data, pin.signature)
    assert cause is _S2N_1_CAUSE
    assert cause.describe() == "like S2N-1: s2n wrote the peer's own bytes back as a message of its own"


@pytest.mark.parametrize("name", [*_OTHER_S2N_BUGS, _S2N_1_AT_THE_KEY_CHANGE], ids=lambda pin: pin[1])
def test_s2n_writing_only_its_own_messages_is_not_s2n_1(name: tuple[str, str]) -> None:
    # At the key change S2N-1 keeps the bytes and waits: nothing is written back, nothing to tell by.
    pin = pinned(*name)
    assert pin.signature is not None and _S2N_1_CAUSE.signatures.match(pin.signature)
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
