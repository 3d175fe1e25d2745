"""Mutation operators for fuzzing: handshake messages, the plaintext records of a flight, and wire bytes.

Three levels, each addressed by integers so a fuzz scenario describes a mutation
compactly and every integer input is valid (op and index are taken modulo the choices
there are):

- ``apply_message_mutation``: one handshake message, through its field tree
  (``tlsdiff.mutate_message``);
- ``apply_record_mutation``: the plaintext records of one flight before they are sealed
  (``PlainRecord``: content type, content, zero padding): split, coalesce, interleave,
  insert, pad, over-long records;
- ``apply_wire_mutation``: the bytes of a flight as sent: truncate, flip a bit, change a
  header field, insert a raw record, rewrite a ClientHello in the SSLv2 format.

Every function is total (no input makes it raise: an atheris custom mutator must never
raise) and deterministic; ``mutate_*`` draw one mutation from a ``random.Random``.
Outputs stay within ``max_size`` (the op is skipped otherwise).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from engine.record.protection import MAX_PLAINTEXT
from engine.wire.handshake import HandshakeType
from engine.wire.record import RECORD_HEADER_SIZE, ContentType
from tlsdiff.decode import split_wire_records
from tlsdiff.fieldtree import Kind, find, parse_message
from tlsdiff.mutate_message import (
    DEFAULT_MAX_SIZE,
    KNOWN_EXTENSIONS,
    MessageOp,
    apply_message_mutation,
    bounded,
    filler,
    mutate_message,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "KNOWN_EXTENSIONS",
    "SEAL_OVERHEAD",
    "MessageOp",
    "PlainRecord",
    "RecordOp",
    "WireOp",
    "apply_message_mutation",
    "apply_record_mutation",
    "apply_wire_mutation",
    "mutate_message",
    "mutate_records",
    "mutate_wire",
    "record_op",
    "sslv2_client_hello",
]

SEAL_OVERHEAD = RECORD_HEADER_SIZE + 1 + 16
"""Bytes a sealed record adds to its content and padding: header, inner content type, AEAD tag."""

_MAX_CIPHERTEXT_CONTENT = MAX_PLAINTEXT + 256 - 16 - 1  # content + padding at the TLSCiphertext limit
_SSLV2_MAX_LENGTH = 0x7FFF


@dataclass(frozen=True, slots=True)
class PlainRecord:
    """One record of a flight before protection: its real content type, content and zero-padding length."""

    content_type: int
    content: bytes
    padding: int = 0


class RecordOp(IntEnum):
    """The record mutations over one flight's plaintext records."""

    SPLIT = 0
    COALESCE = 1
    INTERLEAVE = 2
    INSERT = 3
    INSERT_EMPTY = 4
    SET_PADDING = 5
    OVERSIZE = 6
    DELETE = 7
    DUPLICATE = 8
    SWAP = 9
    SET_TYPE = 10


class WireOp(IntEnum):
    """The mutations of a flight's wire bytes."""

    TRUNCATE = 0
    FLIP_BIT = 1
    SET_HEADER = 2
    INSERT_RECORD = 3
    SSLV2_CLIENT_HELLO = 4
    DELETE_RECORD = 5
    DUPLICATE_RECORD = 6


def _flight_size(records: Sequence[PlainRecord]) -> int:
    return sum(len(record.content) + max(record.padding, 0) + SEAL_OVERHEAD for record in records)


def _fragment_choice(records: list[PlainRecord], index: int) -> int:
    """A record to cut: handshake records first (a message split across records), else any."""
    handshake = [i for i, record in enumerate(records) if record.content_type == ContentType.HANDSHAKE]
    candidates = handshake or list(range(len(records)))
    return candidates[index % len(candidates)]


def _cut(records: list[PlainRecord], at: int, cut: int) -> list[PlainRecord]:
    record = records[at]
    halves = [
        PlainRecord(record.content_type, part, record.padding) for part in (record.content[:cut], record.content[cut:])
    ]
    return [*records[:at], *halves, *records[at + 1 :]]


def _split(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """One record cut in two at ``value`` modulo its size + 1 (an end may be empty)."""
    at = _fragment_choice(records, index)
    return _cut(records, at, value % (len(records[at].content) + 1))


def _coalesce(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """A record and up to ``1 + value % 8`` following records of the same type made one."""
    at = index % len(records)
    first = records[at]
    end = at + 1
    while end < len(records) and end - at < 2 + value % 8 and records[end].content_type == first.content_type:
        end += 1
    merged = PlainRecord(first.content_type, b"".join(record.content for record in records[at:end]), first.padding)
    return [*records[:at], merged, *records[end:]]


def _intruder(choice: int, data: bytes) -> PlainRecord:
    """A record to put between fragments: CCS, a warning alert, application data, empty handshake, any type."""
    intruders = (
        PlainRecord(ContentType.CHANGE_CIPHER_SPEC, b"\x01"),
        PlainRecord(ContentType.ALERT, b"\x01\x00"),
        PlainRecord(ContentType.APPLICATION_DATA, data),
        PlainRecord(ContentType.HANDSHAKE, b""),
        PlainRecord((choice // 5) & 0xFF, data),
    )
    return intruders[choice % len(intruders)]


def _interleave(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """A record cut in two with another record between the halves (the cut from ``value``, the intruder after)."""
    at = _fragment_choice(records, index)
    size = len(records[at].content) + 1
    split = _cut(records, at, value % size)
    return [*split[: at + 1], _intruder(value // size, data), *split[at + 1 :]]


def _insert(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """A record of content type ``value & 0xFF`` holding ``data``, at position ``index`` modulo n + 1."""
    at = index % (len(records) + 1)
    return [*records[:at], PlainRecord(value & 0xFF, data), *records[at:]]


def _insert_empty(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """An empty handshake, application data, alert, CCS or any-type record (by ``value % 5``)."""
    types = (ContentType.HANDSHAKE, ContentType.APPLICATION_DATA, ContentType.ALERT, ContentType.CHANGE_CIPHER_SPEC)
    content_type = types[value % 5] if value % 5 < len(types) else (value // 5) & 0xFF
    at = index % (len(records) + 1)
    return [*records[:at], PlainRecord(content_type, b""), *records[at:]]


def _set_padding(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """Padding: none, a little, up to the 2^14 plaintext limit, one past it, past the ciphertext limit, or random."""
    at = index % len(records)
    record = records[at]
    at_limit = MAX_PLAINTEXT - len(record.content)
    amounts = (0, 1 + (value // 6) % 256, at_limit, at_limit + 1, _MAX_CIPHERTEXT_CONTENT + 1 - len(record.content))
    padding = amounts[value % 6] if value % 6 < len(amounts) else (value // 6) % (1 << 16)
    return [*records[:at], PlainRecord(record.content_type, record.content, max(padding, 0)), *records[at + 1 :]]


def _oversize(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    """A record's content grown (with ``data`` repeated, else zeros) to 2^14, 2^14 + 1 or further past the limit."""
    at = index % len(records)
    record = records[at]
    target = (MAX_PLAINTEXT, MAX_PLAINTEXT + 1, MAX_PLAINTEXT + 1 + (value // 3) % 4096)[value % 3]
    grown = record.content + filler(data, target - len(record.content), 0)
    return [*records[:at], PlainRecord(record.content_type, grown, record.padding), *records[at + 1 :]]


def _delete(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    at = index % len(records)
    return [*records[:at], *records[at + 1 :]]


def _duplicate(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    at = index % len(records)
    return [*records[: at + 1], *records[at:]]


def _swap(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    at, other = index % len(records), value % len(records)
    swapped = list(records)
    swapped[at], swapped[other] = swapped[other], swapped[at]
    return swapped


def _set_type(records: list[PlainRecord], index: int, value: int, data: bytes) -> list[PlainRecord]:
    at = index % len(records)
    record = records[at]
    return [*records[:at], PlainRecord(value & 0xFF, record.content, record.padding), *records[at + 1 :]]


_RECORD_OPS = {
    RecordOp.SPLIT: _split,
    RecordOp.COALESCE: _coalesce,
    RecordOp.INTERLEAVE: _interleave,
    RecordOp.INSERT: _insert,
    RecordOp.INSERT_EMPTY: _insert_empty,
    RecordOp.SET_PADDING: _set_padding,
    RecordOp.OVERSIZE: _oversize,
    RecordOp.DELETE: _delete,
    RecordOp.DUPLICATE: _duplicate,
    RecordOp.SWAP: _swap,
    RecordOp.SET_TYPE: _set_type,
}
_NEED_NO_RECORDS = frozenset({RecordOp.INSERT, RecordOp.INSERT_EMPTY})


def record_op(op: int) -> RecordOp:
    """The record mutation an integer ``op`` names (modulo the number of them)."""
    return RecordOp(op % len(RecordOp))


def apply_record_mutation(
    records: Sequence[PlainRecord], op: int, index: int, value: int, data: bytes, *, max_size: int = DEFAULT_MAX_SIZE
) -> list[PlainRecord]:
    """The flight's plaintext records with ``RecordOp(op % n)`` applied at record ``index`` (modulo).

    ``value`` picks the variant (cut point, padding amount, content type, ...) and
    ``data`` is the content of inserted records. If the sealed flight would exceed
    ``max_size`` bytes (``SEAL_OVERHEAD`` per record), the records come back unchanged.

    >>> apply_record_mutation([PlainRecord(22, b"abcd")], RecordOp.SPLIT, 0, 1, b"")
    [PlainRecord(content_type=22, content=b'a', padding=0), PlainRecord(content_type=22, content=b'bcd', padding=0)]
    """
    original = [PlainRecord(int(record.content_type), bytes(record.content), int(record.padding)) for record in records]
    chosen = record_op(op)
    if not original and chosen not in _NEED_NO_RECORDS:
        return original
    mutated = _RECORD_OPS[chosen](original, index, value, bytes(data)[: max(max_size, 0)])
    return mutated if _flight_size(mutated) <= max_size else original


def _wire_pieces(data: bytes) -> list[bytes]:
    """The flight's records, the incomplete rest as a last piece: joined they are ``data`` again."""
    records, rest = split_wire_records(data)
    return [*records, rest] if rest else records


def _flip_bit(pieces: list[bytes], index: int, value: int) -> list[bytes]:
    """One bit flipped in a record's body (in its header if the body is empty)."""
    at = index % len(pieces)
    piece = bytearray(pieces[at])
    start = RECORD_HEADER_SIZE if len(piece) > RECORD_HEADER_SIZE else 0
    bit = value % (8 * (len(piece) - start))
    piece[start + bit // 8] ^= 0x80 >> (bit % 8)
    return [*pieces[:at], bytes(piece), *pieces[at + 1 :]]


def _set_header(pieces: list[bytes], index: int, value: int) -> list[bytes]:
    """By ``value % 3``: the content type, the legacy version or the length field of a record header."""
    whole = [i for i, piece in enumerate(pieces) if len(piece) >= RECORD_HEADER_SIZE]
    if not whole:
        return pieces
    at = whole[index % len(whole)]
    piece = pieces[at]
    field, arg = value % 3, value // 3
    if field == 0:
        header = bytes([arg & 0xFF]) + piece[1:5]
    elif field == 1:
        version = (0x0300, 0x0301, 0x0304, (arg // 4) & 0xFFFF)[arg % 4]
        header = piece[:1] + version.to_bytes(2, "big") + piece[3:5]
    else:
        declared = int.from_bytes(piece[3:5], "big")
        length = (declared + 1, declared - 1, 0, 0xFFFF, arg // 5)[arg % 5] % (1 << 16)
        header = piece[:3] + length.to_bytes(2, "big")
    return [*pieces[:at], header + piece[5:], *pieces[at + 1 :]]


def _insert_raw_record(pieces: list[bytes], index: int, value: int, body: bytes) -> list[bytes]:
    """A record of content type ``value & 0xFF``, version 0x0303 and body ``body``, at a record boundary."""
    at = index % (len(pieces) + 1)
    body = body[:0xFFFF]
    record = bytes([value & 0xFF, 3, 3]) + len(body).to_bytes(2, "big") + body
    return [*pieces[:at], record, *pieces[at:]]


def _sslv2(pieces: list[bytes], index: int, value: int) -> list[bytes]:
    hellos = [
        i
        for i, piece in enumerate(pieces)
        if len(piece) > RECORD_HEADER_SIZE
        and piece[0] == ContentType.HANDSHAKE
        and piece[RECORD_HEADER_SIZE] == HandshakeType.CLIENT_HELLO
    ]
    if not hellos:
        return pieces
    at = hellos[index % len(hellos)]
    rewritten = sslv2_client_hello(pieces[at][RECORD_HEADER_SIZE:], session_id=bool(value & 1))
    return [*pieces[:at], rewritten, *pieces[at + 1 :]]


def sslv2_client_hello(message: bytes, *, session_id: bool = False) -> bytes:
    """A ClientHello handshake message rewritten as an SSLv2 CLIENT-HELLO record (RFC 5246 appendix E.2).

    Layout: ``msg_length`` (u16 with the high bit set: the bytes that follow), ``msg_type``
    1, ``version`` (the ClientHello's legacy_version), ``cipher_spec_length``,
    ``session_id_length``, ``challenge_length`` (u16 each), the cipher specs (3 bytes
    each: 0x00 then the TLS suite), the session id (empty, as E.2 requires of a client
    that claims TLS 1.2, unless ``session_id``), and the challenge: the ClientHello's
    random. Cipher specs that would overflow the 15-bit length are dropped. Any bytes
    are accepted: missing fields read as empty.

    >>> sslv2_client_hello(b"").hex()
    '8009010303000000000000'
    """
    tree = parse_message(message)
    version = find(tree, "ClientHello.legacy_version")
    suites = find(tree, "ClientHello.cipher_suites")
    random_node = find(tree, "ClientHello.random")
    session = find(tree, "ClientHello.legacy_session_id")
    specs = b"".join(
        b"\x00" + (suite.value & 0xFFFF).to_bytes(2, "big")
        for suite in (suites.children if suites is not None else ())
        if suite.kind is Kind.UINT
    )
    challenge = random_node.data if random_node is not None else b""
    session_bytes = session.data if session is not None and session_id else b""
    fixed = 9 + len(session_bytes) + len(challenge)
    specs = specs[: max(_SSLV2_MAX_LENGTH - fixed, 0) // 3 * 3]
    body = (
        bytes([HandshakeType.CLIENT_HELLO])
        + ((version.value & 0xFFFF) if version is not None else 0x0303).to_bytes(2, "big")
        + len(specs).to_bytes(2, "big")
        + len(session_bytes).to_bytes(2, "big")
        + len(challenge).to_bytes(2, "big")
        + specs
        + session_bytes
        + challenge
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def apply_wire_mutation(
    data: bytes, op: int, index: int, value: int, data_arg: bytes, *, max_size: int = DEFAULT_MAX_SIZE
) -> bytes:
    """A flight's wire bytes with ``WireOp(op % n)`` applied to record ``index`` (modulo).

    TRUNCATE keeps ``value`` modulo size + 1 bytes; FLIP_BIT flips bit ``value`` of a
    record's body; SET_HEADER sets a header field (see ``_set_header``); INSERT_RECORD
    puts a record with body ``data_arg`` at a record boundary; SSLV2_CLIENT_HELLO
    rewrites a plaintext ClientHello record (session id kept if ``value`` is odd);
    DELETE_RECORD and DUPLICATE_RECORD act on whole records. Output over ``max_size``
    skips the op.

    >>> apply_wire_mutation(bytes.fromhex("140303000101"), WireOp.SET_HEADER, 0, 0, b"").hex()
    '000303000101'
    """
    data, data_arg = bytes(data), bytes(data_arg)
    chosen = WireOp(op % len(WireOp))
    if chosen is WireOp.TRUNCATE:
        return bounded(data[: value % (len(data) + 1)], data, max_size)
    pieces = _wire_pieces(data)
    if chosen is WireOp.INSERT_RECORD:
        pieces = _insert_raw_record(pieces, index, value, data_arg[: max(max_size - len(data), 0)])
    elif not pieces:
        return bounded(data, data, max_size)
    elif chosen is WireOp.FLIP_BIT:
        pieces = _flip_bit(pieces, index, value)
    elif chosen is WireOp.SET_HEADER:
        pieces = _set_header(pieces, index, value)
    elif chosen is WireOp.SSLV2_CLIENT_HELLO:
        pieces = _sslv2(pieces, index, value)
    elif chosen is WireOp.DELETE_RECORD:
        pieces = [piece for i, piece in enumerate(pieces) if i != index % len(pieces)]
    else:
        at = index % len(pieces)
        pieces = [*pieces[: at + 1], *pieces[at:]]
    return bounded(b"".join(pieces), data, max_size)


def _draw(rng: random.Random) -> tuple[int, int, bytes]:
    index, value = rng.getrandbits(16), rng.getrandbits(64)
    return index, value, rng.randbytes(rng.choice((0, 1, 2, 5, 16, 64, 512)))


def mutate_records(records: Sequence[PlainRecord], rng: random.Random, max_size: int) -> list[PlainRecord]:
    """One record mutation drawn from ``rng``."""
    op = rng.randrange(len(RecordOp))
    index, value, data = _draw(rng)
    return apply_record_mutation(records, op, index, value, data, max_size=max_size)


def mutate_wire(data: bytes, rng: random.Random, max_size: int) -> bytes:
    """One wire mutation drawn from ``rng``."""
    op = rng.randrange(len(WireOp))
    index, value, data_arg = _draw(rng)
    return apply_wire_mutation(data, op, index, value, data_arg, max_size=max_size)
