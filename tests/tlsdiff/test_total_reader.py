"""The total reader of fuzzer inputs (tlsdiff.total_reader): every byte string decodes."""

from __future__ import annotations

import random

from tlsdiff.record_input import RecordInput
from tlsdiff.total_reader import TotalReader


def test_numbers_read_whole_then_zero_filled_past_the_end() -> None:
    reader = TotalReader(b"\x01\x02\x03")
    assert reader.uint(2) == 0x0102
    assert not reader.done
    assert reader.uint(2) == 0x0300  # the missing byte reads as zero, on the right
    assert reader.done
    assert reader.uint(1) == 0 and reader.uint(2) == 0


def test_data_is_cut_short_at_the_end() -> None:
    reader = TotalReader(b"abc")
    assert reader.data(2) == b"ab"
    assert reader.data(5) == b"c"
    assert reader.data(1) == b""
    assert reader.done


def test_every_byte_string_decodes_to_an_input_that_encodes_back() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(48))
        value = RecordInput.decode(data)
        assert RecordInput.decode(value.encode()) == value
