"""The record-layer target (record_diff): its input form, its mutator, and the behaviours it found, in lockstep.

Each lockstep case runs the input against the established engine server and s2n server
(``tlsdiff.target_record.run_records``) and checks both the agreement and what they did.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import pytest

from engine.crypto.key_schedule import TrafficKeys
from engine.crypto.suites import TLS13_SUITES
from engine.errors import DecodeError, RecordOverflowError
from engine.record.protection import MAX_INNER_PLAINTEXT, MAX_PLAINTEXT, RecordProtection
from engine.wire.handshake import HandshakeBuffer
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.harness import Endpoint, Outcome, Role, S2NSnapshot, Status, restore_s2n
from tlsdiff.lockstep import RunResult, established
from tlsdiff.mutate import PlainRecord, WireOp
from tlsdiff.record_input import CHUNKS, RecordInput, RecordInputMutator, WireEdit, seed_inputs
from tlsdiff.target_record import RecordLayerTarget, RecordRun, run_records, sealed_stream

pytestmark = pytest.mark.openssl_engine

_HELLO = PlainRecord(23, b"hello")


def _byte_mutate(data: bytes, max_size: int) -> bytes:
    return (data + b"\x07")[:max_size]


def test_every_byte_string_decodes_and_encode_is_canonical() -> None:
    rng = random.Random(5)
    for _ in range(500):
        value = RecordInput.decode(rng.randbytes(rng.randrange(60)))
        assert RecordInput.decode(value.encode()) == value
        assert value.chunk in CHUNKS


def test_a_record_never_exceeds_what_a_header_can_frame() -> None:
    value = RecordInput.decode(bytes([0, 0, 23, 0xFF, 0xFF, 0, 3]) + b"abc")
    (record,) = value.records
    assert len(record.content) + 1 + record.padding + 16 <= 0xFFFF


def test_the_mutator_stays_within_max_size_and_is_deterministic() -> None:
    mutator = RecordInputMutator(byte_mutate=_byte_mutate)
    seeds = [seed.encode() for seed in seed_inputs()]
    for index, data in enumerate(seeds * 5):
        mutated = mutator(data, 64, index)
        assert len(mutated) <= 64
        assert mutated == mutator(data, 64, index)


def test_the_seed_corpus_agrees() -> None:
    target = RecordLayerTarget()
    assert [seed for seed in seed_inputs() if target.check(seed.encode()) is not None] == []


def _answers(values: list[RecordInput]) -> list[list[tuple[Outcome, Outcome]]]:
    return [run_records(value).outcomes for value in values]


def test_a_restored_s2n_server_keeps_nothing_of_the_input_before() -> None:
    # The s2n servers are wiped and reused from input to input (restore_s2n): in another order, after
    # other failures, alerts and closes, every input must get the answers it got before.
    values = [*seed_inputs(), RecordInput(records=(_HELLO,), edits=(WireEdit(1, 0, 5),), chunk=1)]
    forward = _answers(values)
    assert _answers(values[::-1]) == forward[::-1]
    assert _answers(values) == forward


def test_nested_restores_of_one_snapshot_are_independent_and_a_released_endpoint_refuses_use() -> None:
    start = established(Scenario(role=Role.SERVER, policy="default_tls13", cert_type="ecdsa-p256", seed=0))
    assert not isinstance(start, RunResult)
    wire = sealed_stream(RecordInput(records=(_HELLO,)))
    with restore_s2n(start.s2n) as outer:
        with restore_s2n(start.s2n) as inner:
            assert inner.deliver(wire).data == b"hello"
        assert outer.deliver(wire).data == b"hello"  # the inner one's records did not move the outer's keys
    with pytest.raises(RuntimeError, match="after its restore_s2n block"):
        outer.deliver(wire)


def test_nothing_delivered_is_not_the_end_of_the_stream() -> None:
    run = run_records(RecordInput(answer=True))
    assert run.divergence is None
    assert run.steps == ["records", "answer"]


@pytest.mark.parametrize(
    ("inner", "refused"),
    [(MAX_INNER_PLAINTEXT, False), (MAX_INNER_PLAINTEXT + 16, False), (MAX_INNER_PLAINTEXT + 17, True)],
    ids=["at-the-rfc-limit", "at-s2n-slack", "past-s2n-slack"],
)
def test_an_inner_plaintext_past_the_limit_is_refused_as_s2n_refuses_it(inner: int, refused: bool) -> None:
    # Compat.inner_plaintext_slack: content, type and padding may run 16 bytes past 2^14 + 1 (Java's padding).
    padded = PlainRecord(23, b"x", inner - 2)
    run = run_records(RecordInput(records=(padded, _HELLO)))
    assert run.divergence is None, run.divergence
    engine, s2n = _last_outcomes(run)
    assert (s2n == "S2N_ERR_MAX_INNER_PLAINTEXT_SIZE") is refused
    assert (engine == "RecordOverflowError") is refused


def test_the_rfc_reading_refuses_an_inner_plaintext_past_two_to_the_fourteen_plus_one() -> None:
    suite = TLS13_SUITES[0x1301]
    keys = TrafficKeys(bytes(32), bytes(16), bytes(12))
    record = RecordProtection(suite, keys).seal(23, b"x" * MAX_PLAINTEXT, 1)
    with pytest.raises(RecordOverflowError):
        RecordProtection(suite, keys).open(record[:5], record[5:])
    assert RecordProtection(suite, keys).open(record[:5], record[5:], max_inner=MAX_INNER_PLAINTEXT + 16)[0] == 23


def test_the_header_of_an_oversized_post_handshake_message_waits_for_a_body_byte() -> None:
    # tls/s2n_post_handshake.c:101-102 (Compat.lenient_key_update): the length is checked once a body byte is in.
    header = PlainRecord(22, bytes([24, 0x20, 0x01, 0x02]))
    waiting = run_records(RecordInput(records=(_HELLO, header), answer=True))
    assert waiting.divergence is None
    refused = run_records(RecordInput(records=(_HELLO, header, PlainRecord(22, b"\x00"))))
    assert refused.divergence is None
    assert _last_outcomes(refused) == ("DecodeError", "S2N_ERR_BAD_MESSAGE")


def test_the_rfc_reading_refuses_the_header_at_once() -> None:
    buffer = HandshakeBuffer()
    buffer.feed(bytes([24, 0x20, 0x01, 0x02]))
    with pytest.raises(DecodeError):
        buffer.next_message()
    buffer.check_length_on_header = False
    assert buffer.next_message() is None


def test_data_read_before_an_alert_in_one_delivery_is_handed_up_by_both() -> None:
    run = run_records(RecordInput(records=(_HELLO, PlainRecord(21, b"\x02\x28"))))
    assert run.divergence is None
    step = _outcomes(run)
    assert step[0].status is step[1].status is Status.PEER_ALERT
    assert step[0].data == step[1].data == b"hello"


def test_data_read_before_a_failure_is_handed_up_by_both() -> None:
    flipped = RecordInput(records=(_HELLO, _HELLO), edits=(WireEdit(1, 1, 40),))  # FLIP_BIT in the second record
    run = run_records(flipped)
    assert run.divergence is None
    engine, s2n = _outcomes(run)
    assert (engine.error, s2n.error) == ("BadRecordMacError", "S2N_ERR_DECRYPT")
    assert engine.data == s2n.data == b"hello"


def _outcomes(run: RecordRun) -> tuple[Outcome, Outcome]:
    return run.outcomes[-1]


def _last_outcomes(run: RecordRun) -> tuple[str, str]:
    engine, s2n = _outcomes(run)
    return engine.error, s2n.error


# ---- a divergence is confirmed on an s2n server that made the handshake itself ----


class _Forgetful:
    """A restored s2n server that drops what it would write: what a deserialization bug could do."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        return replace(self._endpoint.deliver_pieces(pieces, eof=eof), output=b"")

    def __getattr__(self, name: str) -> object:
        return getattr(self._endpoint, name)


def test_a_divergence_only_the_restored_s2n_shows_is_of_the_snapshot_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def forgetful(snapshot: S2NSnapshot) -> Iterator[object]:
        with restore_s2n(snapshot) as endpoint:
            yield _Forgetful(endpoint)

    monkeypatch.setattr("tlsdiff.target_record.restore_s2n", forgetful)
    # A record that fails to decrypt: both servers close; the forgetful one writes nothing, the live one
    # writes what the engine writes.
    value = RecordInput(records=(_HELLO,), edits=(WireEdit(op=WireOp.FLIP_BIT, index=0, value=60),))
    run = run_records(value)
    assert run.divergence is not None
    assert run.divergence.signature.startswith("snapshot/server/records/")
    monkeypatch.undo()
    assert run_records(value).divergence is None  # the real restored server agrees
