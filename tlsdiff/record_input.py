"""The record-layer target's input: records the peer seals after the handshake, then edits of the sealed bytes.

Every byte string decodes to a ``RecordInput`` (total decoding), and ``encode`` writes its
one canonical form: ``decode(encode(x)) == x``. Binary layout (missing bytes read as zero;
numbers are big-endian)::

    0      flags: bit 0 the suite (SUITE_POLICIES), bits 1..3 how the targets receive the bytes
           (CHUNKS: whole, or in pieces of that many bytes), bit 4 the stream then ends (EOF),
           bit 5 the targets then send application data (a KeyUpdate they owe goes out with it)
    1..    items until the end, each led by a tag byte:
           even tag: a record the peer seals: content type u8, padding u16, length u16, content
           odd tag:  an edit of the sealed bytes (``tlsdiff.mutate.apply_wire_mutation``):
                     op u8, record index u8, value u16, data length u8, data

``encode`` writes records before edits; both keep their order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from tlsdiff.mutate import PlainRecord, WireOp
from tlsdiff.scenario_mutator import ByteMutate, byte_mutate, mutate_or_bytes
from tlsdiff.total_reader import TotalReader

__all__ = ["CHUNKS", "SUITE_POLICIES", "RecordInput", "RecordInputMutator", "WireEdit", "seed_inputs"]

# The suite is the policy's: AES-128-GCM under default_tls13, AES-256-GCM under 20190801 (no TLS 1.3
# policy makes an engine peer and an s2n server agree on ChaCha20-Poly1305).
SUITE_POLICIES = ("default_tls13", "20190801")
# Whole in half the inputs: a delivery in pieces costs a round trip per piece (up to 64 of them).
CHUNKS = (0, 0, 0, 0, 1, 3, 7, 16)
_FLAG_EOF, _FLAG_ANSWER = 16, 32
_CHUNK_SHIFT = 1
# A sealed record's header frames at most 2^16-1 bytes: content, inner type, padding and a 16-byte tag.
_MAX_INNER = 0xFFFF - 1 - 16
_MAX_EDIT_DATA = 255


@dataclass(frozen=True)
class WireEdit:
    """One ``apply_wire_mutation`` of the sealed bytes; every field is taken modulo what it addresses."""

    op: int = 0
    index: int = 0
    value: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class RecordInput:
    """What the peer sends the established targets, and how it reaches them."""

    suite: int = 0  # index into SUITE_POLICIES
    chunk: int = 0  # bytes per delivery (0: all at once); one of CHUNKS
    eof: bool = False
    answer: bool = False
    records: tuple[PlainRecord, ...] = ()
    edits: tuple[WireEdit, ...] = ()

    @property
    def policy(self) -> str:
        """The s2n policy whose handshake this input's suite comes from."""
        return SUITE_POLICIES[self.suite]

    @classmethod
    def decode(cls, data: bytes) -> RecordInput:
        """The input any byte string stands for."""
        flags = data[0] if data else 0
        reader = TotalReader(data[1:])
        records: list[PlainRecord] = []
        edits: list[WireEdit] = []
        while not reader.done:
            if reader.uint(1) % 2 == 0:
                records.append(_read_record(reader))
            else:
                edits.append(_read_edit(reader))
        return cls(
            suite=flags % len(SUITE_POLICIES),
            chunk=CHUNKS[(flags >> _CHUNK_SHIFT) % len(CHUNKS)],
            eof=bool(flags & _FLAG_EOF),
            answer=bool(flags & _FLAG_ANSWER),
            records=tuple(records),
            edits=tuple(edits),
        )

    def encode(self) -> bytes:
        """The canonical byte string of this input."""
        flags = self.suite | CHUNKS.index(self.chunk) << _CHUNK_SHIFT
        flags |= (_FLAG_EOF if self.eof else 0) | (_FLAG_ANSWER if self.answer else 0)
        out = bytearray([flags])
        for record in self.records:
            out += bytes([0, record.content_type]) + record.padding.to_bytes(2, "big")
            out += len(record.content).to_bytes(2, "big") + record.content
        for edit in self.edits:
            out += bytes([1, edit.op, edit.index]) + edit.value.to_bytes(2, "big")
            out += bytes([len(edit.data)]) + edit.data
        return bytes(out)

    def to_json(self) -> dict[str, Any]:
        """The readable form (bytes as hex, edits by operation name)."""
        return {
            "policy": self.policy, "chunk": self.chunk, "eof": self.eof, "answer": self.answer,
            "records": [{"type": r.content_type, "padding": r.padding, "content": r.content.hex()}
                        for r in self.records],
            "edits": [{"op": WireOp(e.op % len(WireOp)).name.lower(), "index": e.index, "value": e.value,
                       "data": e.data.hex()} for e in self.edits],
        }  # fmt: skip


def _read_record(reader: TotalReader) -> PlainRecord:
    content_type, padding = reader.uint(1), reader.uint(2)
    content = reader.data(reader.uint(2))[:_MAX_INNER]
    return PlainRecord(content_type, content, min(padding, _MAX_INNER - len(content)))


def _read_edit(reader: TotalReader) -> WireEdit:
    op, index, value = reader.uint(1), reader.uint(1), reader.uint(2)
    return WireEdit(op, index, value, reader.data(reader.uint(1)))


# Contents worth starting from: KeyUpdate (not requested, requested, bad value), alerts (close_notify,
# a fatal one, a short one), a Finished-shaped message, a ChangeCipherSpec body, application data.
_CONTENTS = (
    (22, b"\x18\x00\x00\x01\x00"), (22, b"\x18\x00\x00\x01\x01"), (22, b"\x18\x00\x00\x01\x02"),
    (21, b"\x01\x00"), (21, b"\x02\x28"), (21, b"\x01"), (22, b"\x14\x00\x00\x20" + bytes(32)),
    (20, b"\x01"), (23, b"hello"), (23, b""), (24, b"\x01\x00\x10"), (0, b""),
)  # fmt: skip
_PADDINGS = (0, 1, 255, 16384, 16384 - 5, 16385, 0xFFFF)
_MAX_ITEMS = 16


class RecordInputMutator:
    """The structure-aware mutator over ``RecordInput`` (with ``atheris.Mutate`` kept live, as
    ``ScenarioMutator`` does): never raises, never returns more than ``max_size`` bytes."""

    def __init__(self, byte_mutate: ByteMutate = byte_mutate) -> None:
        self._byte_mutate = byte_mutate

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        def structural(rng: random.Random) -> bytes:
            return self._structural(RecordInput.decode(data), rng, max_size).encode()

        return mutate_or_bytes(data, max_size, seed, structural, self._byte_mutate)

    def _structural(self, value: RecordInput, rng: random.Random, max_size: int) -> RecordInput:
        records, edits = list(value.records), list(value.edits)
        choice = rng.randrange(8)
        if choice <= 1 and len(records) < _MAX_ITEMS:
            records.insert(rng.randrange(len(records) + 1), PlainRecord(*rng.choice(_CONTENTS)))
        elif choice <= 3 and records:
            at = rng.randrange(len(records))
            records[at] = self._changed_record(records[at], rng, choice == 2, max_size)
        elif choice == 4 and len(edits) < _MAX_ITEMS:
            edits.insert(rng.randrange(len(edits) + 1), _random_edit(rng))
        elif choice == 5 and (records or edits):
            if records and (not edits or rng.random() < 0.5):
                del records[rng.randrange(len(records))]
            else:
                del edits[rng.randrange(len(edits))]
        else:
            return RecordInput.decode(bytes([rng.randrange(256)]) + value.encode()[1:])
        return replace(value, records=tuple(records), edits=tuple(edits))

    def _changed_record(self, record: PlainRecord, rng: random.Random, content: bool, max_size: int) -> PlainRecord:
        if content:
            return replace(record, content=self._byte_mutate(record.content, max(max_size // 2, 1)))
        content_type = rng.choice((20, 21, 22, 23, 24, record.content_type))
        return replace(record, padding=rng.choice(_PADDINGS), content_type=content_type)


def _random_edit(rng: random.Random) -> WireEdit:
    data = rng.randbytes(rng.choice((0, 1, 5, 32)))
    return WireEdit(rng.randrange(len(WireOp)), rng.randrange(256), rng.choice((0, 1, 5, rng.randrange(1 << 16))), data)


def seed_inputs() -> list[RecordInput]:
    """The seed corpus: each record kind, each edit, each way of delivery, on both suites."""
    data, key_update = PlainRecord(23, b"hello"), PlainRecord(22, b"\x18\x00\x00\x01\x01")
    single = [PlainRecord(content_type, content) for content_type, content in _CONTENTS]
    sizes = [PlainRecord(23, b"", 300), PlainRecord(23, bytes(4000), 12384), PlainRecord(23, bytes(4000), 12385)]
    seeds = [RecordInput(records=(record, data), answer=True) for record in [*single, *sizes]]
    seeds += [RecordInput(records=(data, data), edits=(WireEdit(op, 1, 3, b"\x01"),)) for op in range(len(WireOp))]
    seeds += [RecordInput(records=(key_update, data), answer=True, chunk=chunk) for chunk in dict.fromkeys(CHUNKS)]
    seeds += [RecordInput(records=(data,), eof=True), RecordInput(records=(PlainRecord(21, b"\x01\x00"),), eof=True)]
    return [*seeds, *(replace(seed, suite=1) for seed in seeds[:: len(SUITE_POLICIES) + 1])]
