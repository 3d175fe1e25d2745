"""The mutating peer: an engine actor whose flights are changed on their way to the targets.

Mutations reach the peer's output at four stages (``fuzz_scenario.Stage``):

1. ``MESSAGE``: a handshake message as the peer builds it, *before* its transcript, so
   its later Finished and CertificateVerify are computed over the mutated bytes and the
   mutation reaches the targets' deeper checks instead of dying at Finished;
2. ``SENT_MESSAGE``: a handshake message after the transcript (the targets' transcript
   and the peer's part ways: a parse or validation check is the target);
3. ``RECORDS``: the flight's plaintext records (split, coalesce, interleave, insert,
   empty, padding, oversize), then sealed in order by the peer's own record protection,
   which holds the keys of the key log, so protected records stay decryptable;
4. ``WIRE``: the sealed bytes (truncation, bit flips, header fields, the SSLv2 format).

A flight is everything the peer writes between two deliveries; flights are counted
from 0 and a mutation's ``flight`` is taken modulo ``FLIGHT_MODULUS``.

An s2n peer (``WireMutatingPeer``) seals its records inside C, so only the ``WIRE``
stage reaches it; the other stages need the engine peer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from engine.connection import TLSConnection
from engine.instrument import Instrumentation, PlaintextRecord
from tlsdiff.fuzz_scenario import Mutation, Stage
from tlsdiff.harness import Endpoint, Outcome, Setup, open_engine
from tlsdiff.mutate import (
    PlainRecord,
    RecordOp,
    apply_message_mutation,
    apply_record_mutation,
    apply_wire_mutation,
    record_op,
)

__all__ = ["ACROSS_EPOCHS", "FLIGHT_MODULUS", "MutatingPeer", "WireMutatingPeer"]

FLIGHT_MODULUS = 16
_MESSAGES = 8
_HANDSHAKE = 22
_ALERT = 21
_APPLICATION_DATA = 23
# A bit of a COALESCE's value: merge across the key change before the epoch, not within it. A bit the
# mutators set in half of all values: the key-change boundary is where S2N-1 and S2N-7 live (docs/findings.md).
ACROSS_EPOCHS = 0x100
_MAX_FLIGHT = 1 << 17  # what one mutated flight may grow to (long lists, padding past the limits)


class MutatingPeer:
    """An engine endpoint for ``setup`` that applies ``mutations`` to its flights."""

    def __init__(self, setup: Setup, mutations: Sequence[Mutation]) -> None:
        self._mutations = tuple(mutations)
        self._flight = 0
        self._message = 0
        hooked = any(m.stage is Stage.MESSAGE for m in self._mutations)
        instrumentation = Instrumentation(message_hook=self._message_hook if hooked else None, defer_sealing=True)
        self.endpoint = open_engine(setup, self._take_output, instrumentation=instrumentation)

    @property
    def flights_sent(self) -> int:
        """How many flights the peer has written so far (the next one's number)."""
        return self._flight

    def use_mutations(self, mutations: Sequence[Mutation]) -> None:
        """Apply ``mutations`` to the flights still to come (a peer restored from a snapshot of its handshake).

        Whether a ``MESSAGE`` stage hook is installed was decided at construction: the caller
        keeps that the same.
        """
        self._mutations = tuple(mutations)

    def _at(self, stage: Stage) -> list[Mutation]:
        return _on_flight(self._mutations, stage, self._flight)

    def _message_hook(self, message_type: int, encoded: bytes) -> bytes:
        index, self._message = self._message, self._message + 1
        for mutation in self._at(Stage.MESSAGE):
            if mutation.target % _MESSAGES == index:
                encoded = apply_message_mutation(encoded, mutation.op, mutation.node, mutation.value, mutation.data)
        return encoded

    def _take_output(self, connection: TLSConnection) -> bytes:
        records = connection.take_plaintext_records()
        if not records:
            return b""
        records = self._mutate_sent_messages(records)
        for mutation in self._at(Stage.RECORDS):
            records = _mutate_records(records, mutation)
        wire = _mutate_wire(_seal(connection, records), self._at(Stage.WIRE))
        self._flight, self._message = self._flight + 1, 0
        return wire

    def _mutate_sent_messages(self, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        mutations = self._at(Stage.SENT_MESSAGE)
        if not mutations:
            return records
        handshake = [index for index, record in enumerate(records) if record.content_type == _HANDSHAKE]
        for mutation in mutations:
            if handshake:
                index = handshake[mutation.target % len(handshake)]
                content = apply_message_mutation(
                    records[index].content, mutation.op, mutation.node, mutation.value, mutation.data
                )
                records[index] = replace(records[index], content=content)
        return records

    def alert(self, description: int) -> bytes:
        """A fatal alert record from the peer, protected with its current write keys."""
        connection = self.endpoint.connection
        record = PlaintextRecord(_ALERT, bytes([2, description]), protection=connection.write_protection)
        return _seal(connection, [record])


class WireMutatingPeer:
    """An s2n peer whose flights (each non-empty output) get the ``WIRE`` mutations on their way out."""

    implementation = "s2n"

    def __init__(self, endpoint: Endpoint, mutations: Sequence[Mutation]) -> None:
        self._endpoint = endpoint
        self._mutations = tuple(mutations)
        self._flight = 0
        self.key_log = endpoint.key_log

    def _mutated(self, outcome: Outcome) -> Outcome:
        if not outcome.output:
            return outcome
        wire = _mutate_wire(outcome.output, _on_flight(self._mutations, Stage.WIRE, self._flight))
        self._flight += 1
        return replace(outcome, output=wire)

    def start(self) -> Outcome:
        """The peer's first flight, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.start())

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        """The peer's answer to ``data``, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.deliver(data, eof=eof))

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        """The peer's answer to the pieces, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.deliver_pieces(pieces, eof=eof))

    def send(self, data: bytes) -> Outcome:
        """The peer's data records, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.send(data))

    def key_update(self, *, request_peer: bool) -> Outcome:
        """The peer's KeyUpdate, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.key_update(request_peer=request_peer))

    def close(self) -> Outcome:
        """The peer's close_notify, with this flight's wire mutations applied."""
        return self._mutated(self._endpoint.close())


def _on_flight(mutations: Sequence[Mutation], stage: Stage, flight: int) -> list[Mutation]:
    """The mutations of ``stage`` that apply to flight number ``flight``."""
    return [m for m in mutations if m.stage is stage and m.flight % FLIGHT_MODULUS == flight]


def _mutate_wire(wire: bytes, mutations: Sequence[Mutation]) -> bytes:
    for mutation in mutations:
        wire = apply_wire_mutation(wire, mutation.op, mutation.target, mutation.value, mutation.data)
    return wire[:_MAX_FLIGHT]


def _sealable(record: PlaintextRecord) -> PlaintextRecord:
    """Clip a record no header can frame (the mutators may grow one past 2^16-1 bytes with its padding)."""
    room = 0xFFFF - (1 + 16 if record.protection is not None else 0)
    if len(record.content) + record.padding <= room:
        return record
    padding = min(record.padding, room)
    return replace(record, content=record.content[: room - padding], padding=padding)


def _seal(connection: TLSConnection, records: list[PlaintextRecord]) -> bytes:
    return connection.seal_records([_sealable(record) for record in records])


def _across_key_change(records: list[PlaintextRecord], first: int, end: int, count: int) -> list[PlaintextRecord]:
    """The epoch ``records[first:end]``'s first ``count`` records of one content type moved, in order, into the
    last record of that type before it: bytes sent under the keys the peer has left (a ServerHello's record
    carrying EncryptedExtensions in the clear). RFC 8446 section 5.1 wants those refused at the key change."""
    kind = records[first].content_type
    into = next((i for i in range(first - 1, -1, -1) if records[i].content_type == kind), None)
    if into is None:
        return records
    stop = first
    while stop < min(end, first + count) and records[stop].content_type == kind:
        stop += 1
    joined = replace(records[into], content=records[into].content + b"".join(r.content for r in records[first:stop]))
    return [*records[:into], joined, *records[into + 1 : first], *records[stop:]]


def _mutate_records(records: list[PlaintextRecord], mutation: Mutation) -> list[PlaintextRecord]:
    """Record mutations within one epoch (records sharing a protection), so every output record is sealable;
    a ``COALESCE`` with ``ACROSS_EPOCHS`` in its value crosses the key change before the epoch instead."""
    if not records:
        return records
    chosen = records[mutation.target % len(records)].protection
    run = [index for index, record in enumerate(records) if record.protection is chosen]
    first, last = run[0], run[-1]
    if first and record_op(mutation.op) is RecordOp.COALESCE and mutation.value & ACROSS_EPOCHS:
        return _across_key_change(records, first, last + 1, 1 + mutation.value % 4)
    plain = [PlainRecord(r.content_type, r.content, r.padding) for r in records[first : last + 1]]
    changed = apply_record_mutation(plain, mutation.op, mutation.target % len(plain), mutation.value, mutation.data)
    template = records[first]
    rebuilt = [replace(template, content_type=r.content_type, content=r.content, padding=r.padding) for r in changed]
    return records[:first] + rebuilt + records[last + 1 :]
