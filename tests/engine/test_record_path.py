"""The copy-free record path reads and writes what the straightforward one did.

- ``Deframer`` reads the records of one feed in place and copies only a record split
  between feeds: any split of a stream gives the same records, in order, also after the
  caller stopped reading half-way, after a deep copy, and when the fed buffer changes later.
- ``RecordLayer.write`` cuts content through views and queues header and body apart;
  ``RecordProtection.seal_parts`` is ``seal`` in two pieces; an unpadded record is stripped
  without a copy of its padding and a padded one as before.
- ``Vector`` of numbers packs and unpacks at once, with the errors one number at a time gave;
  ``Reader.uint`` reads every size; the key schedule's cached no-PSK constants and its one-block
  HKDF-Expand are the RFC's computations.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from engine.crypto.key_schedule import KeySchedule, TrafficKeys, hkdf_expand_label, hkdf_extract
from engine.crypto.suites import TLS13_SUITES
from engine.errors import DecodeError, InternalError, UnexpectedMessageError
from engine.record.deframer import Deframer
from engine.record.layer import ContentType, RecordLayer
from engine.record.protection import RecordProtection
from engine.wire.codec import U8, U16, U24, U32, Uint, Vector
from engine.wire.reader import Reader

_SUITE = TLS13_SUITES[0x1301]


def _keys() -> TrafficKeys:
    return TrafficKeys(b"s" * 32, bytes(range(16)), bytes(range(12)))


def _record(content_type: int, body: bytes) -> bytes:
    return bytes([content_type, 3, 3]) + len(body).to_bytes(2, "big") + body


_STREAM = b"".join(
    _record(content_type, bytes([index]) * length)
    for index, (content_type, length) in enumerate([(22, 1), (23, 300), (21, 2), (23, 16401), (20, 1), (23, 0)])
)


def _records(deframer: Deframer) -> list[tuple[int, int, bytes, bytes]]:
    found = []
    while (record := deframer.next_record()) is not None:
        found.append((record.content_type, record.legacy_version, record.header, bytes(record.body)))
    return found


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(points)]


def _fed(deframer: Deframer, data: bytes) -> Deframer:
    deframer.feed(data)
    return deframer


@pytest.mark.parametrize("seed", range(12))
def test_any_split_gives_the_same_records(seed: int) -> None:
    whole = _records(_fed(Deframer(), _STREAM))
    assert [record[0] for record in whole] == [22, 23, 21, 23, 20, 23]
    chooser = random.Random(seed)
    cuts = chooser.sample(range(1, len(_STREAM)), chooser.choice([1, 2, 5, 40]))
    deframer, found = Deframer(), []
    for piece in _split(_STREAM, cuts):
        deframer.feed(piece)
        found += _records(deframer)
    assert found == whole
    assert deframer.pending == 0


def test_a_byte_at_a_time() -> None:
    deframer, found = Deframer(), []
    for index in range(len(_STREAM)):
        deframer.feed(_STREAM[index : index + 1])
        found += _records(deframer)
        assert deframer.pending < 16406  # never more than one record waits
    assert found == _records(_fed(Deframer(), _STREAM))


@pytest.mark.parametrize("seed", range(6))
def test_a_feed_that_says_nothing_to_read_is_right(seed: int) -> None:
    # feed's False is the connection's short cut past next_record: it must never hide a whole record.
    chooser = random.Random(seed)
    cuts = chooser.sample(range(1, len(_STREAM)), 300)
    deframer, quiet = Deframer(), 0
    for piece in _split(_STREAM, cuts):
        if not deframer.feed(piece):
            quiet += 1
            assert deframer.next_record() is None
        _records(deframer)
    assert quiet > 100  # most pieces of a trickle take the short cut


def test_reading_stopped_half_way_goes_on_in_order_after_more_bytes_and_a_copy() -> None:
    deframer = Deframer()
    deframer.feed(_STREAM[:1000])
    first = deframer.next_record()
    assert first is not None and first.content_type == 22
    twin = copy.deepcopy(deframer)  # snapshots copy a connection between calls
    for reader in (deframer, twin):
        reader.feed(_STREAM[1000:])
        assert [record[0] for record in _records(reader)] == [23, 21, 23, 20, 23]


def test_a_fed_buffer_changed_afterwards_changes_nothing() -> None:
    buffer = bytearray(_record(23, b"hello") + _record(23, b"world")[:4])
    deframer = Deframer()
    deframer.feed(buffer)
    buffer[5:10] = b"XXXXX"
    buffer.clear()  # no view of it is held: it can even shrink
    deframer.feed(_record(23, b"world")[4:])
    assert [record[3] for record in _records(deframer)] == [b"hello", b"world"]


def test_a_header_is_refused_before_its_body_arrives() -> None:
    deframer = Deframer()
    deframer.feed(b"\x63\x03\x03\x00\x10")
    with pytest.raises(UnexpectedMessageError):
        deframer.next_record()


@pytest.mark.parametrize("more", [b"", b"\x00"], ids=["no-more-bytes", "one-more-byte"])
def test_an_incomplete_record_is_checked_again_once_the_version_is_established(more: bytes) -> None:
    # s2n parses the header again on every read: a TLS 1.0 header waiting for its body passes before
    # the version is known and is refused after, whether or not more of its body has arrived.
    deframer = Deframer(s2n_framing=True, check_version=True)
    deframer.feed(b"\x17\x03\x01\x00\x10" + bytes(4))
    assert deframer.next_record() is None
    deframer.version_established = True
    deframer.feed(more)
    with pytest.raises(UnexpectedMessageError, match="once the version is established"):
        deframer.next_record()


def test_sslv2_records_split_anywhere() -> None:
    sslv2 = bytes([0x80, 8, 1, 3, 3, 0, 0, 0, 0, 0])  # length 8 from the third byte: msg_type 1, version 0x0303
    stream = sslv2 + _record(22, b"abc")
    whole = _records(_fed(Deframer(s2n_framing=True), stream))
    assert whole[0][:2] == (1, 0x0303) and whole[1][3] == b"abc"
    for cut in range(1, len(stream)):
        deframer = Deframer(s2n_framing=True)
        found = []
        for piece in (stream[:cut], stream[cut:]):
            deframer.feed(piece)
            found += _records(deframer)
        assert found == whole


def test_seal_parts_is_seal_and_opens_from_a_view() -> None:
    sealer, twin, opener = (RecordProtection(_SUITE, _keys()) for _ in range(3))
    for padding in (0, 3):
        header, body = sealer.seal_parts(23, memoryview(b"data"), padding)
        assert header + body == twin.seal(23, b"data", padding)
        assert opener.open(header, memoryview(header + body)[5:]) == (23, b"data")


def test_padding_and_an_all_zero_plaintext_are_read_as_before() -> None:
    sealer, opener = RecordProtection(_SUITE, _keys()), RecordProtection(_SUITE, _keys())
    record = sealer.seal(22, b"\x01\x00", 7)
    assert opener.open(record[:5], record[5:]) == (22, b"\x01\x00")
    empty = sealer.seal(0, b"", 4)  # no non-zero byte at all: no content type
    with pytest.raises(UnexpectedMessageError):
        opener.open(empty[:5], empty[5:])


def test_a_long_write_is_the_records_sealed_one_by_one() -> None:
    layer = RecordLayer(16384)
    layer.write_protection = RecordProtection(_SUITE, _keys())
    content = bytearray(bytes(range(256)) * 200)  # 51200 bytes: 4 records, the last one short
    layer.write(ContentType.APPLICATION_DATA, content)
    expected_from = RecordProtection(_SUITE, _keys())
    expected = b"".join(
        expected_from.seal(23, bytes(content[start : start + 16384])) for start in range(0, 51200, 16384)
    )
    content[:] = b"changed after the write"
    wire = layer.take_outgoing()
    assert type(wire) is bytes and wire == expected
    assert layer.wire_bytes_out == len(wire) and layer.take_outgoing() == b""


def test_plaintext_records_and_the_change_cipher_spec_are_queued_in_order() -> None:
    layer = RecordLayer(4)
    layer.write(ContentType.HANDSHAKE, b"abcdef", legacy_version=0x0301)
    layer.write_change_cipher_spec()
    assert (
        layer.take_outgoing() == b"\x16\x03\x01\x00\x04abcd" + b"\x16\x03\x01\x00\x02ef" + b"\x14\x03\x03\x00\x01\x01"
    )


@pytest.mark.parametrize(("form", "values"), [(U8, (0, 7, 255)), (U16, (0x1301, 0xFFFF)), (U32, (1, 1 << 31))])
def test_vectors_of_numbers_round_trip(form: Uint, values: tuple[int, ...]) -> None:
    vector = Vector(form, 2)
    out = bytearray()
    vector.write(values, out)
    assert out == len(values * form.size).to_bytes(2, "big") + b"".join(v.to_bytes(form.size, "big") for v in values)
    assert vector.read(Reader(bytes(out))) == values


def test_vectors_of_numbers_keep_their_errors() -> None:
    with pytest.raises(InternalError):
        Vector(U16, 2).write((0x10000,), bytearray())
    with pytest.raises(DecodeError, match="need 2 bytes, 1 left"):
        Vector(U16, 1).read(Reader(b"\x03\x13\x01\x13"))
    with pytest.raises(DecodeError):
        Vector(U16, 1, 0, 4).read(Reader(b"\x06" + bytes(6)))
    three = bytearray()
    Vector(U24, 1).write((1, 2), three)  # no struct code for 3 bytes: one number at a time
    assert three == b"\x06\x00\x00\x01\x00\x00\x02" and Vector(U24, 1).read(Reader(bytes(three))) == (1, 2)


def test_reader_uint_of_every_size() -> None:
    reader = Reader(b"\x01\x02\x03\x04\x05\x06")
    assert [reader.uint(0), reader.uint(1), reader.uint(2), reader.uint(3)] == [0, 1, 0x0203, 0x040506]
    with pytest.raises(DecodeError):
        reader.uint(1)
    with pytest.raises(DecodeError):
        Reader(b"\x00").uint(-1)


@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
def test_the_cached_no_psk_secrets_are_the_rfcs(hash_name: str) -> None:
    size = hashlib.new(hash_name).digest_size
    zeros = bytes(size)
    early = hmac.digest(zeros, zeros, hash_name)
    schedule = KeySchedule(hash_name)
    assert schedule.early_secret == early
    schedule.enter_handshake(b"shared")
    salt = hkdf_expand_label(hash_name, early, b"derived", hashlib.new(hash_name).digest(), size)
    assert schedule.handshake_secret == hkdf_extract(hash_name, salt, b"shared")
    with_psk = KeySchedule(hash_name, psk=b"k" * size)
    assert with_psk.early_secret == hkdf_extract(hash_name, zeros, b"k" * size)


@pytest.mark.parametrize("length", [12, 32, 33, 100])
def test_hkdf_expand_label_one_block_or_more(length: int) -> None:
    label = b"tls13 key"
    info = length.to_bytes(2, "big") + bytes([len(label)]) + label + b"\x00"
    expected = HKDFExpand(hashes.SHA256(), length, info).derive(b"p" * 32)
    assert hkdf_expand_label("sha256", b"p" * 32, b"key", b"", length) == expected
